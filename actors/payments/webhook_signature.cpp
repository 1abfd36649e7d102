#include "actors/payments/webhook_signature.hpp"

#include <array>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "actors/payments/encoding.hpp"

namespace eventstripe::actors::payments {
namespace {

constexpr std::size_t hmac_sha256_size_bytes = 32;
constexpr std::size_t timestamp_digits_max = 12;  // year 33658; Stripe sends 10

using hmac_sha256_digest = std::array<std::uint8_t, hmac_sha256_size_bytes>;

// The one-shot HMAC() is not deprecated in OpenSSL 3 and fails only on allocation failure.
std::optional<hmac_sha256_digest> hmac_sha256(std::span<const std::uint8_t> key, std::string_view message) {
  hmac_sha256_digest digest{};
  unsigned int size = 0;
  static constexpr std::uint8_t empty_key = 0;
  const std::uint8_t* key_data = key.empty() ? &empty_key : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), as_bytes(message).data(), message.size(),
           digest.data(), &size) == nullptr ||
      size != digest.size())
    return std::nullopt;
  return digest;
}

bool equal_constant_time(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Canonical decimal: digits only, no sign, no leading zero (so the signed "{t}" is unambiguous).
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  if (text.empty() || text.size() > timestamp_digits_max) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::string stripe_signed_payload(std::int64_t timestamp_unix_s, std::string_view raw_body) {
  std::string payload = std::to_string(timestamp_unix_s);
  payload += '.';
  payload.append(raw_body);
  return payload;
}

}  // namespace

// ---- Stripe ------------------------------------------------------------------------------------

std::optional<stripe_signature> parse_stripe_signature_header(std::string_view header) {
  if (header.empty() || header.size() > stripe_signature_header_length_max) return std::nullopt;
  stripe_signature parsed;
  bool has_timestamp = false;
  while (true) {
    auto comma = header.find(',');
    auto element = trim_spaces(header.substr(0, comma));
    auto equals = element.find('=');
    if (equals == std::string_view::npos || equals == 0 || equals + 1 == element.size()) return std::nullopt;
    auto key = element.substr(0, equals);
    auto value = element.substr(equals + 1);
    if (key == "t") {
      auto timestamp = parse_timestamp(value);
      if (has_timestamp || !timestamp) return std::nullopt;
      has_timestamp = true;
      parsed.timestamp_unix_s = *timestamp;
    } else if (key == "v1") {
      if (parsed.v1_signatures.size() == stripe_signatures_per_header_max) return std::nullopt;
      parsed.v1_signatures.emplace_back(value);
    }  // v0 and schemes Stripe may add later carry nothing we check
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  if (!has_timestamp) return std::nullopt;
  return parsed;
}

const char* to_string(stripe_verification result) {
  switch (result) {
    case stripe_verification::ok: return "ok";
    case stripe_verification::malformed: return "malformed";
    case stripe_verification::no_v1_signature: return "no_v1_signature";
    case stripe_verification::timestamp_too_old: return "timestamp_too_old";
    case stripe_verification::timestamp_in_future: return "timestamp_in_future";
    case stripe_verification::no_match: return "no_match";
  }
  return "unknown_stripe_verification";
}

stripe_verification verify_stripe(std::string_view header, std::string_view raw_body,
                                  const std::vector<std::string>& secrets, std::int64_t now_unix_s,
                                  std::int64_t tolerance_s, std::int64_t future_skew_s) {
  auto parsed = parse_stripe_signature_header(header);
  if (!parsed) return stripe_verification::malformed;
  if (parsed->v1_signatures.empty()) return stripe_verification::no_v1_signature;
  // 128 bits: now comes from the caller's clock and t is at most 12 digits, so no overflow.
  auto age_s = static_cast<__int128>(now_unix_s) - parsed->timestamp_unix_s;
  if (age_s > tolerance_s) return stripe_verification::timestamp_too_old;
  if (-age_s > future_skew_s) return stripe_verification::timestamp_in_future;

  auto payload = stripe_signed_payload(parsed->timestamp_unix_s, raw_body);
  bool matched = false;
  for (const auto& secret : secrets) {
    if (secret.empty()) continue;
    auto digest = hmac_sha256(as_bytes(secret), payload);
    if (!digest) continue;
    auto expected_hex = hex_lower(*digest);
    // Every candidate is compared (no early exit), each in constant time.
    for (const auto& candidate : parsed->v1_signatures)
      matched = equal_constant_time(as_bytes(expected_hex), as_bytes(candidate)) || matched;
  }
  return matched ? stripe_verification::ok : stripe_verification::no_match;
}

std::string sign_stripe(std::string_view secret, std::int64_t timestamp_unix_s, std::string_view raw_body) {
  auto digest = hmac_sha256(as_bytes(secret), stripe_signed_payload(timestamp_unix_s, raw_body));
  return digest ? hex_lower(*digest) : std::string{};
}

std::string stripe_signature_header(std::int64_t timestamp_unix_s, const std::vector<std::string>& v1_signatures) {
  std::string header = "t=" + std::to_string(timestamp_unix_s);
  for (const auto& signature : v1_signatures) {
    header += ",v1=";
    header += signature;
  }
  return header;
}

// ---- Adyen -------------------------------------------------------------------------------------

std::string adyen_signing_message(std::string_view psp_reference, std::string_view original_reference,
                                  std::string_view merchant_account_code, std::string_view merchant_reference,
                                  std::int64_t value_minor, std::string_view currency, std::string_view event_code,
                                  bool success) {
  std::string message;
  for (std::string_view field : {psp_reference, original_reference, merchant_account_code, merchant_reference}) {
    message.append(field);
    message += ':';
  }
  message += std::to_string(value_minor);
  message += ':';
  message.append(currency);
  message += ':';
  message.append(event_code);
  message += ':';
  message += success ? "true" : "false";
  return message;
}

bool is_valid_adyen_hmac_key(std::string_view hex_key) {
  if (hex_key.empty() || hex_key.size() > 2 * adyen_hmac_key_size_bytes_max) return false;
  return decode_hex(hex_key).has_value();
}

std::optional<std::string> sign_adyen(std::string_view hex_key, std::string_view message) {
  if (!is_valid_adyen_hmac_key(hex_key)) return std::nullopt;
  auto key = decode_hex(hex_key);
  auto digest = hmac_sha256(*key, message);
  OPENSSL_cleanse(key->data(), key->size());
  if (!digest) return std::nullopt;
  return base64_encode(*digest);
}

const char* to_string(adyen_verification result) {
  switch (result) {
    case adyen_verification::ok: return "ok";
    case adyen_verification::malformed_signature: return "malformed_signature";
    case adyen_verification::malformed_key: return "malformed_key";
    case adyen_verification::no_match: return "no_match";
  }
  return "unknown_adyen_verification";
}

adyen_verification verify_adyen(const std::vector<std::string>& hex_keys, std::string_view message,
                                std::string_view base64_signature) {
  auto signature = decode_base64(base64_signature);
  if (!signature || signature->size() != hmac_sha256_size_bytes) return adyen_verification::malformed_signature;
  bool matched = false;
  bool some_key_invalid = false;
  for (const auto& hex_key : hex_keys) {
    if (!is_valid_adyen_hmac_key(hex_key)) {
      some_key_invalid = true;
      continue;
    }
    auto key = decode_hex(hex_key);
    auto digest = hmac_sha256(*key, message);
    OPENSSL_cleanse(key->data(), key->size());
    if (digest) matched = equal_constant_time(*digest, *signature) || matched;
  }
  if (matched) return adyen_verification::ok;
  return some_key_invalid ? adyen_verification::malformed_key : adyen_verification::no_match;
}

}  // namespace eventstripe::actors::payments
