#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "io/http_types.hpp"

namespace eventstripe::storage {
class connection_pool;
}

namespace eventstripe::io {

class password_hashing_gate;

// Who is calling an organizer endpoint. Every organizer endpoint scopes what it reads and writes
// to `workspace_id`; a resource of another workspace answers 404, as if it did not exist.
struct principal {
  std::string workspace_id;
  std::string api_key_id;    // set when authenticated by an API key
  std::string organizer_id;  // set when authenticated by email and password (HTTP Basic)
};

enum class accepted_credentials {
  api_key,              // `Authorization: Bearer es_...`: every organizer endpoint
  api_key_or_password,  // also `Authorization: Basic` email:password; only for managing API keys,
                        // since each costs an Argon2id verification
};

// Called exactly once: with the caller, or with nullopt and the answer to send — 401
// `unauthenticated` (with `WWW-Authenticate: Bearer`), 503 `overloaded` or
// `database-unavailable`. It may run on the calling thread (a cached key) or on a database pool
// thread, so it must not block; submitting another pool job from it is fine.
using authentication_callback = std::function<void(std::optional<principal>, http_response)>;

struct authenticator_settings {
  // A verified key's id, workspace and secret hash are remembered this long, so most requests
  // need no database round trip. Revoking a key forgets it on this node at once; another node
  // may accept it until its cache entry expires. Zero disables the cache.
  std::chrono::milliseconds verified_key_cache_ttl_ms{5'000};
  std::size_t verified_key_cache_size_max = 10'000;
  // Argon2id computations (64 MiB, ~0.1 s of a core each) running at once; more get 503.
  std::size_t password_hashing_concurrency_max = 2;
};

// An `Authorization` header longer than this is refused without decoding (401).
inline constexpr std::size_t authorization_header_size_max_bytes = 1024;

// Checks organizer credentials. The database lookup runs as a connection_pool job; Argon2id runs
// there too, inside a password_hashing_gate slot. One per node, shared by every organizer route.
class authenticator {
 public:
  explicit authenticator(storage::connection_pool& pool, authenticator_settings settings = {});
  ~authenticator();
  authenticator(const authenticator&) = delete;
  authenticator& operator=(const authenticator&) = delete;

  void authenticate(const http_request& request, accepted_credentials accepted, authentication_callback done);

  // Drops a revoked key from the cache, and makes lookups already in flight not cache it.
  void forget_api_key(std::string_view key_id);
  // The same, as a callable that stays safe in a database job that outlives this authenticator
  // (the pool is closed after the authenticator is destroyed when a node stops abnormally).
  std::function<void(std::string_view key_id)> api_key_forgetter();

  storage::connection_pool& pool();
  password_hashing_gate& password_hashing();

 private:
  struct state;
  std::shared_ptr<state> state_;
};

void authenticate(const http_request& request, authenticator& credentials, authentication_callback done,
                  accepted_credentials accepted = accepted_credentials::api_key);

// A handler that runs only for an authenticated caller; every other request gets the
// authenticator's answer. The request is a copy that lives while the handler runs; a handler that
// answers later must copy what it needs.
using authenticated_handler = std::function<void(const http_request&, const principal&, responder)>;

http_handler require_authentication(authenticator& credentials, authenticated_handler handler,
                                    accepted_credentials accepted = accepted_credentials::api_key);

// 401 `unauthenticated` with `WWW-Authenticate: Bearer realm="eventstripe"` (and
// `error="invalid_token"` when a presented token was wrong).
http_response unauthenticated_problem(std::string_view detail, bool invalid_token);

}  // namespace eventstripe::io
