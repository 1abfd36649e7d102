#include "io/auth.hpp"

#include <atomic>
#include <cctype>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <sodium.h>

#include "config/log.hpp"
#include "io/credentials.hpp"
#include "io/database_job.hpp"
#include "io/problem.hpp"
#include "storage/connection_pool.hpp"
#include "storage/organizers.hpp"

namespace eventstripe::io {
namespace {

using clock_type = std::chrono::steady_clock;

constexpr std::string_view bearer_challenge = "Bearer realm=\"eventstripe\"";

struct cached_key {
  std::string workspace_id;
  storage::api_key_secret_hash secret_hash;
  clock_type::time_point expires_at;
};

// Guarantees the callback's "exactly once" even if a job's report throws and the pool then
// calls the job's failure callback as well.
class once_callback {
 public:
  explicit once_callback(authentication_callback done) : done_(std::move(done)) {}
  void operator()(std::optional<principal> caller, http_response answer) {
    if (called_.exchange(true)) return;
    done_(std::move(caller), std::move(answer));
  }

 private:
  authentication_callback done_;
  std::atomic<bool> called_{false};
};

bool starts_with_case_insensitive(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  return true;
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  return text;
}

struct basic_credentials {
  std::string email;  // normalised
  std::string password;
};

// Decodes `Basic base64(email:password)`; nullopt when it is not well formed or breaks the
// sign-up rules (such a pair cannot match an organizer, so no hashing is spent on it).
std::optional<basic_credentials> decode_basic(std::string_view encoded) {
  std::string decoded(encoded.size(), '\0');
  std::size_t decoded_size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(decoded.data()), decoded.size(), encoded.data(),
                        encoded.size(), nullptr, &decoded_size, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != encoded.data() + encoded.size())
    return std::nullopt;
  decoded.resize(decoded_size);
  auto colon = decoded.find(':');  // an email has no ':', a password may
  if (colon == std::string::npos) return std::nullopt;
  auto email = normalize_email(std::string_view{decoded}.substr(0, colon));
  auto password = decoded.substr(colon + 1);
  sodium_memzero(decoded.data(), decoded.size());
  if (!email || password.size() < password_size_min_bytes || password.size() > password_size_max_bytes)
    return std::nullopt;
  return basic_credentials{std::move(*email), std::move(password)};
}

}  // namespace

struct authenticator::state {
  state(storage::connection_pool& pool, authenticator_settings settings)
      : pool(pool), settings(settings), hashing(settings.password_hashing_concurrency_max) {}

  // The cached entry for a key, if fresh.
  std::optional<cached_key> cached(const std::string& key_id) {
    std::lock_guard lock(mutex);
    auto found = keys.find(key_id);
    if (found == keys.end()) return std::nullopt;
    if (clock_type::now() >= found->second.expires_at) {
      keys.erase(found);
      return std::nullopt;
    }
    return found->second;
  }

  std::uint64_t generation() {
    std::lock_guard lock(mutex);
    return invalidations;
  }

  // Caches a verified key unless a revocation happened since the lookup began (`generation`).
  void remember(const std::string& key_id, cached_key entry, std::uint64_t generation) {
    if (settings.verified_key_cache_ttl_ms.count() <= 0) return;
    std::lock_guard lock(mutex);
    if (generation != invalidations) return;
    if (keys.size() >= settings.verified_key_cache_size_max) {
      auto now = clock_type::now();
      std::erase_if(keys, [now](const auto& item) { return now >= item.second.expires_at; });
      if (keys.size() >= settings.verified_key_cache_size_max) return;
    }
    entry.expires_at = clock_type::now() + settings.verified_key_cache_ttl_ms;
    keys.insert_or_assign(key_id, std::move(entry));
  }

  void forget(std::string_view key_id) {
    std::lock_guard lock(mutex);
    keys.erase(std::string{key_id});
    ++invalidations;
  }

  void check_api_key(std::string_view token, const std::string& request_id, std::shared_ptr<once_callback> done);
  void check_password(std::string_view encoded, const std::string& request_id, std::shared_ptr<once_callback> done);

  storage::connection_pool& pool;
  const authenticator_settings settings;
  password_hashing_gate hashing;
  std::mutex mutex;
  std::unordered_map<std::string, cached_key> keys;
  std::uint64_t invalidations = 0;
  std::weak_ptr<state> self;
};

void authenticator::state::check_api_key(std::string_view token, const std::string& request_id,
                                         std::shared_ptr<once_callback> done) {
  auto parts = parse_api_key(token);
  if (!parts) return (*done)(std::nullopt, unauthenticated_problem("The API key is malformed.", true));
  if (auto entry = cached(parts->key_id)) {
    if (!api_key_secret_matches(parts->secret, entry->secret_hash))
      return (*done)(std::nullopt, unauthenticated_problem("The API key is invalid or revoked.", true));
    return (*done)(principal{entry->workspace_id, parts->key_id, {}}, {});
  }
  auto lookup = [shared = self.lock(), parts = std::move(*parts), generation = generation(),
                 done](pqxx::connection& connection) {
    auto stored = storage::find_api_key(connection, parts.key_id);
    if (!stored || stored->key.revoked_at || !api_key_secret_matches(parts.secret, stored->secret_hash))
      return (*done)(std::nullopt, unauthenticated_problem("The API key is invalid or revoked.", true));
    shared->remember(parts.key_id, {stored->key.workspace_id, stored->secret_hash, {}}, generation);
    (*done)(principal{stored->key.workspace_id, parts.key_id, {}}, {});
  };
  auto status = pool.submit(std::move(lookup), [done, request_id](const storage::error& failure) {
    (*done)(std::nullopt, database_failure_problem(failure, request_id));
  });
  if (status != storage::submit_status::accepted)
    (*done)(std::nullopt, overloaded_problem("Too many database requests are waiting; try again shortly."));
}

void authenticator::state::check_password(std::string_view encoded, const std::string& request_id,
                                          std::shared_ptr<once_callback> done) {
  auto credentials = decode_basic(encoded);
  if (!credentials) return (*done)(std::nullopt, unauthenticated_problem("The email or password is wrong.", false));
  auto slot = hashing.try_enter();
  if (!slot) return (*done)(std::nullopt, overloaded_problem("Too many password checks are running; try again shortly."));
  auto verify = [slot, credentials = std::move(*credentials), done](pqxx::connection& connection) mutable {
    auto organizer = storage::find_organizer_by_email(connection, credentials.email);
    bool matches = organizer ? verify_password(organizer->password_hash, credentials.password)
                             : verify_password_of_nobody(credentials.password);
    sodium_memzero(credentials.password.data(), credentials.password.size());
    slot.reset();  // the hashing is over; the slot is free before the caller's work starts
    if (!matches)
      return (*done)(std::nullopt, unauthenticated_problem("The email or password is wrong.", false));
    (*done)(principal{organizer->workspace_id, {}, organizer->id}, {});
  };
  auto status = pool.submit(std::move(verify), [done, request_id](const storage::error& failure) {
    (*done)(std::nullopt, database_failure_problem(failure, request_id));
  });
  if (status != storage::submit_status::accepted)
    (*done)(std::nullopt, overloaded_problem("Too many database requests are waiting; try again shortly."));
}

authenticator::authenticator(storage::connection_pool& pool, authenticator_settings settings)
    : state_(std::make_shared<state>(pool, settings)) {
  state_->self = state_;
}

authenticator::~authenticator() = default;

void authenticator::authenticate(const http_request& request, accepted_credentials accepted,
                                 authentication_callback done) {
  auto once = std::make_shared<once_callback>(std::move(done));
  const auto* header = request.header("authorization");
  if (header == nullptr)
    return (*once)(std::nullopt,
                   unauthenticated_problem("Send an API key: Authorization: Bearer es_<key id>_<secret>.", false));
  if (header->size() > authorization_header_size_max_bytes)
    return (*once)(std::nullopt, unauthenticated_problem("The Authorization header is too long.", true));
  std::string_view value{*header};
  if (starts_with_case_insensitive(value, "bearer "))
    return state_->check_api_key(trim_spaces(value.substr(7)), request.request_id, once);
  if (starts_with_case_insensitive(value, "basic ")) {
    if (accepted != accepted_credentials::api_key_or_password)
      return (*once)(std::nullopt, unauthenticated_problem("This endpoint takes an API key, not a password.", false));
    return state_->check_password(trim_spaces(value.substr(6)), request.request_id, once);
  }
  (*once)(std::nullopt, unauthenticated_problem("The Authorization scheme must be Bearer.", false));
}

void authenticator::forget_api_key(std::string_view key_id) { state_->forget(key_id); }

std::function<void(std::string_view)> authenticator::api_key_forgetter() {
  return [shared = state_](std::string_view key_id) { shared->forget(key_id); };
}

storage::connection_pool& authenticator::pool() { return state_->pool; }

password_hashing_gate& authenticator::password_hashing() { return state_->hashing; }

void authenticate(const http_request& request, authenticator& credentials, authentication_callback done,
                  accepted_credentials accepted) {
  credentials.authenticate(request, accepted, std::move(done));
}

http_handler require_authentication(authenticator& credentials, authenticated_handler handler,
                                    accepted_credentials accepted) {
  return [&credentials, handler = std::move(handler), accepted](http_request& request, responder respond) {
    auto copy = std::make_shared<const http_request>(request);
    credentials.authenticate(*copy, accepted,
                             [copy, handler, respond](std::optional<principal> caller, http_response refusal) {
                               if (!caller) return respond(std::move(refusal));
                               try {
                                 handler(*copy, *caller, respond);
                               } catch (const std::exception& failure) {
                                 // May run on a pool thread, out of reach of the gateway's guard.
                                 log::error("handler threw", {{"trace.id", copy->request_id},
                                                              {"error.message", failure.what()}});
                                 respond(problem(500, "internal-error", "Internal error",
                                                 "The request could not be handled."));
                               }
                             });
  };
}

http_response unauthenticated_problem(std::string_view detail, bool invalid_token) {
  auto answer = problem(401, "unauthenticated", "Unauthenticated", detail);
  std::string challenge{bearer_challenge};
  if (invalid_token) challenge += ", error=\"invalid_token\"";
  answer.headers.emplace_back("WWW-Authenticate", std::move(challenge));
  return answer;
}

}  // namespace eventstripe::io
