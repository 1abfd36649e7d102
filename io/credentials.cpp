#include "io/credentials.hpp"

#include <mutex>
#include <stdexcept>

#include <sodium.h>

namespace eventstripe::io {
namespace {

constexpr std::string_view base32_alphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::string_view email_local_specials = "!#$%&'*+-/=?^_`{|}~";
constexpr std::size_t dns_label_size_max_bytes = 63;
constexpr std::size_t api_key_secret_hex_digits = 2 * api_key_secret_size_bytes;

// libsodium must be initialised once before use; sodium_init is thread-safe and idempotent,
// the static makes later calls free.
void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium could not be initialised");
}

bool is_ascii_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_lower_hex(std::string_view text) {
  for (char c : text)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool valid_local_part(std::string_view local) {
  if (local.empty() || local.size() > email_local_part_size_max_bytes) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (char c : local)
    if (!is_ascii_alnum(c) && c != '.' && email_local_specials.find(c) == std::string_view::npos) return false;
  return true;
}

bool valid_dns_label(std::string_view label) {
  if (label.empty() || label.size() > dns_label_size_max_bytes) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  for (char c : label)
    if (!is_ascii_alnum(c) && c != '-') return false;
  return true;
}

bool valid_domain(std::string_view domain) {
  std::size_t labels = 0;
  std::string_view last;
  std::size_t begin = 0;
  while (begin <= domain.size()) {
    auto end = domain.find('.', begin);
    if (end == std::string_view::npos) end = domain.size();
    last = domain.substr(begin, end - begin);
    if (!valid_dns_label(last)) return false;
    ++labels;
    begin = end + 1;
  }
  // A top-level label of digits only would be an IP address in disguise.
  bool has_letter = false;
  for (char c : last) has_letter = has_letter || !(c >= '0' && c <= '9');
  return labels >= 2 && has_letter;
}

}  // namespace

std::string random_id(std::string_view prefix) {
  ensure_sodium();
  unsigned char bytes[random_id_characters];
  randombytes_buf(bytes, sizeof bytes);
  std::string id{prefix};
  // 256 is a multiple of 32, so masking keeps every character equally likely.
  for (unsigned char byte : bytes) id += base32_alphabet[byte & 31u];
  sodium_memzero(bytes, sizeof bytes);
  return id;
}

std::string derived_id(std::string_view prefix, std::string_view material) {
  ensure_sodium();
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(material.data()), material.size());
  std::string id{prefix};
  for (std::size_t i = 0; i < random_id_characters; ++i) id += base32_alphabet[hash[i] & 31u];
  return id;
}

std::string sha256_hex(std::string_view text) {
  ensure_sodium();
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : hash) hex += {digits[byte >> 4], digits[byte & 15u]};
  return hex;
}

bool is_random_id(std::string_view text, std::string_view prefix) {
  if (text.size() != prefix.size() + random_id_characters || !text.starts_with(prefix)) return false;
  for (char c : text.substr(prefix.size()))
    if (base32_alphabet.find(c) == std::string_view::npos) return false;
  return true;
}

std::optional<std::string> normalize_email(std::string_view email) {
  if (email.empty() || email.size() > email_size_max_bytes) return std::nullopt;
  auto at = email.find('@');
  if (at == std::string_view::npos || email.rfind('@') != at) return std::nullopt;
  if (!valid_local_part(email.substr(0, at)) || !valid_domain(email.substr(at + 1))) return std::nullopt;
  std::string lowered;
  lowered.reserve(email.size());
  for (char c : email) lowered += ascii_lower(c);
  return lowered;
}

std::optional<std::string> display_name_problem(std::string_view name) {
  if (name.empty()) return "must not be empty";
  std::size_t characters = 0;
  bool blank = true;
  for (std::size_t i = 0; i < name.size(); ++i) {
    auto byte = static_cast<unsigned char>(name[i]);
    if ((byte & 0xC0u) != 0x80u) ++characters;  // not a UTF-8 continuation byte
    if (byte < 0x20u || byte == 0x7Fu) return "must not contain control characters";
    // U+0080..U+009F (C1 controls) are encoded as 0xC2 0x80..0x9F.
    if (byte == 0xC2u && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) <= 0x9Fu)
      return "must not contain control characters";
    if (byte != ' ') blank = false;
  }
  if (blank) return "must not be blank";
  if (characters > display_name_size_max_characters)
    return "must be at most " + std::to_string(display_name_size_max_characters) + " characters";
  return std::nullopt;
}

std::string hash_password(std::string_view password) {
  ensure_sodium();
  char encoded[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(encoded, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return encoded;
}

bool verify_password(std::string_view encoded_hash, std::string_view password) {
  ensure_sodium();
  // crypto_pwhash_str_verify reads a NUL-terminated string.
  std::string terminated{encoded_hash};
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(), password.size()) == 0;
}

bool verify_password_of_nobody(std::string_view password) {
  static std::once_flag made;
  static std::string nobody_hash;
  std::call_once(made, [] {
    unsigned char secret[api_key_secret_size_bytes];
    randombytes_buf(secret, sizeof secret);
    nobody_hash = hash_password(std::string_view{reinterpret_cast<const char*>(secret), sizeof secret});
  });
  verify_password(nobody_hash, password);
  return false;
}

generated_api_key generate_api_key() {
  ensure_sodium();
  unsigned char secret[api_key_secret_size_bytes];
  randombytes_buf(secret, sizeof secret);
  char hex[api_key_secret_hex_digits + 1];
  sodium_bin2hex(hex, sizeof hex, secret, sizeof secret);
  generated_api_key generated;
  generated.key_id = random_id(api_key_id_prefix);
  generated.key = std::string{api_key_prefix} + generated.key_id + "_" + hex;
  generated.secret_hash = hash_api_key_secret({reinterpret_cast<const char*>(secret), sizeof secret});
  sodium_memzero(secret, sizeof secret);
  sodium_memzero(hex, sizeof hex);
  return generated;
}

std::optional<api_key_parts> parse_api_key(std::string_view key) {
  ensure_sodium();
  if (!key.starts_with(api_key_prefix)) return std::nullopt;
  auto rest = key.substr(api_key_prefix.size());
  auto separator = rest.rfind('_');
  if (separator == std::string_view::npos) return std::nullopt;
  auto key_id = rest.substr(0, separator);
  auto hex = rest.substr(separator + 1);
  if (!is_random_id(key_id, api_key_id_prefix) || hex.size() != api_key_secret_hex_digits || !is_lower_hex(hex))
    return std::nullopt;
  api_key_parts parts;
  parts.key_id = std::string{key_id};
  parts.secret.resize(api_key_secret_size_bytes);
  std::size_t decoded = 0;
  if (sodium_hex2bin(reinterpret_cast<unsigned char*>(parts.secret.data()), parts.secret.size(), hex.data(),
                     hex.size(), nullptr, &decoded, nullptr) != 0 ||
      decoded != api_key_secret_size_bytes)
    return std::nullopt;
  return parts;
}

storage::api_key_secret_hash hash_api_key_secret(std::string_view secret) {
  ensure_sodium();
  static_assert(storage::api_key_secret_hash_size_bytes == crypto_hash_sha256_BYTES);
  storage::api_key_secret_hash hash{};
  crypto_hash_sha256(hash.data(), reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
  return hash;
}

bool api_key_secret_matches(std::string_view secret, const storage::api_key_secret_hash& stored) {
  auto presented = hash_api_key_secret(secret);
  return sodium_memcmp(presented.data(), stored.data(), stored.size()) == 0;
}

password_hashing_gate::password_hashing_gate(std::size_t concurrency_max)
    : concurrency_max_(concurrency_max), counter_(std::make_shared<counter>()) {
  if (concurrency_max_ == 0) throw std::invalid_argument("password_hashing_gate: concurrency_max must be at least 1");
}

std::shared_ptr<void> password_hashing_gate::try_enter() {
  auto current = counter_->in_use.load();
  do {
    if (current >= concurrency_max_) return nullptr;
  } while (!counter_->in_use.compare_exchange_weak(current, current + 1));
  // The slot is given back when the last copy of the token goes, wherever that happens. The
  // token points at the counter only to be non-null; its deleter frees nothing.
  return std::shared_ptr<void>(counter_.get(), [shared = counter_](void*) { shared->in_use.fetch_sub(1); });
}

std::size_t password_hashing_gate::in_use() const { return counter_->in_use.load(); }

}  // namespace eventstripe::io
