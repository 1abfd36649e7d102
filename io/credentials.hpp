#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/organizers.hpp"

// The organizer's secrets and the rules for the values that identify them: random ids, emails,
// Argon2id password hashes and API keys. Pure functions on libsodium, no I/O, so the routes, the
// authenticator and the tests share one definition of each rule.
namespace eventstripe::io {

// Input limits of the organizer API.
inline constexpr std::size_t email_size_max_bytes = 254;
inline constexpr std::size_t email_local_part_size_max_bytes = 64;
inline constexpr std::size_t password_size_min_bytes = 12;
inline constexpr std::size_t password_size_max_bytes = 256;
inline constexpr std::size_t display_name_size_max_characters = 200;  // workspace and API key names

// Ids are a prefix ("ws_", "org_", "key_") and this many characters of lower-case base32:
// 100 random bits, so collisions are not a practical concern.
inline constexpr std::size_t random_id_characters = 20;
inline constexpr std::size_t api_key_secret_size_bytes = 32;
inline constexpr std::string_view api_key_prefix = "es_";
inline constexpr std::string_view workspace_id_prefix = "ws_";
inline constexpr std::string_view organizer_id_prefix = "org_";
inline constexpr std::string_view api_key_id_prefix = "key_";

// A fresh random id: `prefix` followed by random_id_characters of [a-z2-7].
std::string random_id(std::string_view prefix);
// An id of the same shape derived from `material` (SHA-256): the same material always gives the
// same id. Used for checkouts created with an Idempotency-Key.
std::string derived_id(std::string_view prefix, std::string_view material);
// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);
// Whether `text` has the shape random_id(prefix) makes (checked before any database lookup).
bool is_random_id(std::string_view text, std::string_view prefix);

// The email lower-cased (ASCII) when its syntax is sane: printable ASCII, at most
// email_size_max_bytes, one '@', a dot-atom local part of at most 64 bytes, and a domain of at
// least two DNS labels. Internationalised addresses must be sent with a punycode domain.
std::optional<std::string> normalize_email(std::string_view email);

// Why a workspace or key name is unacceptable (empty, only spaces, control characters, more
// than display_name_size_max_characters code points); nullopt when it is fine.
std::optional<std::string> display_name_problem(std::string_view name);

// Argon2id (crypto_pwhash_str, OPSLIMIT/MEMLIMIT_INTERACTIVE): about 0.1 s of CPU and 64 MiB
// each, so call these only on a pool thread and only inside a password_hashing_gate slot.
// hash_password throws std::runtime_error when the memory cannot be allocated.
std::string hash_password(std::string_view password);
bool verify_password(std::string_view encoded_hash, std::string_view password);
// Spends the same time as verify_password on a made-up hash, so a sign-in attempt for an
// unknown email takes as long as one with a wrong password. Always false.
bool verify_password_of_nobody(std::string_view password);

// API keys look like es_<key id>_<secret>: the id names the row, the secret (64 lower-case hex
// digits, api_key_secret_size_bytes random bytes) is checked against its stored SHA-256.
struct api_key_parts {
  std::string key_id;
  std::string secret;  // raw bytes, api_key_secret_size_bytes of them
};

struct generated_api_key {
  std::string key_id;
  std::string key;  // the whole key, shown to its owner once
  storage::api_key_secret_hash secret_hash;
};

generated_api_key generate_api_key();
// nullopt unless `key` has exactly the shape generate_api_key makes.
std::optional<api_key_parts> parse_api_key(std::string_view key);
storage::api_key_secret_hash hash_api_key_secret(std::string_view secret);
// Constant-time comparison of the presented secret's hash with the stored one.
bool api_key_secret_matches(std::string_view secret, const storage::api_key_secret_hash& stored);

// Bounds how many Argon2id computations run at once: each takes 64 MiB and a core for ~0.1 s,
// and a burst of sign-ins must not take the node's memory or every database thread with it.
class password_hashing_gate {
 public:
  explicit password_hashing_gate(std::size_t concurrency_max);
  // A slot held until the returned token (and every copy of it) is destroyed; null when all
  // slots are taken. Copyable, so it can ride in a std::function job.
  std::shared_ptr<void> try_enter();
  std::size_t in_use() const;

 private:
  struct counter {
    std::atomic<std::size_t> in_use{0};
  };
  std::size_t concurrency_max_;
  std::shared_ptr<counter> counter_;
};

}  // namespace eventstripe::io
