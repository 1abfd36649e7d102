#include "actors/payments/ticket_signing.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "actors/payments/encoding.hpp"

namespace eventstripe::actors::payments {
namespace {

constexpr char claims_separator = '|';
constexpr std::size_t claims_field_count = 6;
constexpr std::size_t time_digits_max = 12;
constexpr std::size_t public_key_pem_length_max = 4096;

struct pkey_deleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct pkey_context_deleter {
  void operator()(EVP_PKEY_CTX* context) const { EVP_PKEY_CTX_free(context); }
};
struct digest_context_deleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
struct bio_deleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_deleter>;
using pkey_context_ptr = std::unique_ptr<EVP_PKEY_CTX, pkey_context_deleter>;
using digest_context_ptr = std::unique_ptr<EVP_MD_CTX, digest_context_deleter>;
using bio_ptr = std::unique_ptr<BIO, bio_deleter>;

// OpenSSL queues an error record per failure on the calling thread; a refused key or signature
// is an expected answer here, so the queue is emptied instead of leaking into the next caller.
template <class T>
T after_clearing_errors(T value) {
  ERR_clear_error();
  return value;
}

pkey_ptr private_pkey(const ticket_private_key& private_key) {
  return pkey_ptr(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, private_key.bytes().data(),
                                               private_key.bytes().size()));
}

pkey_ptr public_pkey(const ticket_public_key& public_key) {
  return pkey_ptr(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, public_key.bytes().data(), public_key.bytes().size()));
}

std::optional<std::array<std::uint8_t, ed25519_key_size_bytes>> raw_public_key(EVP_PKEY* key) {
  std::array<std::uint8_t, ed25519_key_size_bytes> raw{};
  std::size_t size = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, raw.data(), &size) != 1 || size != raw.size()) return std::nullopt;
  return raw;
}

bool is_id_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_valid_id(std::string_view id) {
  return !id.empty() && id.size() <= ticket_claim_id_length_max && std::all_of(id.begin(), id.end(), is_id_character);
}

bool is_valid_time(std::int64_t unix_s) { return unix_s >= 0 && unix_s <= ticket_time_unix_s_max; }

bool are_valid_claims(const ticket_claims& claims) {
  return is_valid_id(claims.ticket_id) && is_valid_id(claims.event_id) && is_valid_id(claims.ticket_type_id) &&
         is_valid_id(claims.key_id) && is_valid_time(claims.valid_from_unix_s) &&
         is_valid_time(claims.valid_until_unix_s) && claims.valid_from_unix_s < claims.valid_until_unix_s;
}

std::optional<std::int64_t> parse_canonical_time(std::string_view text) {
  if (text.empty() || text.size() > time_digits_max || (text.size() > 1 && text.front() == '0')) return std::nullopt;
  std::int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

std::vector<std::string_view> split_claims(std::string_view text) {
  std::vector<std::string_view> fields;
  while (fields.size() < claims_field_count + 1) {
    auto separator = text.find(claims_separator);
    fields.push_back(text.substr(0, separator));
    if (separator == std::string_view::npos) break;
    text.remove_prefix(separator + 1);
  }
  return fields;
}

}  // namespace

const char* to_string(ticket_errc code) {
  switch (code) {
    case ticket_errc::invalid_claims: return "invalid_claims";
    case ticket_errc::malformed: return "malformed";
    case ticket_errc::bad_signature: return "bad_signature";
    case ticket_errc::invalid_key: return "invalid_key";
    case ticket_errc::crypto_failure: return "crypto_failure";
  }
  return "unknown_ticket_error";
}

// ---- keys --------------------------------------------------------------------------------------

ticket_private_key::~ticket_private_key() { OPENSSL_cleanse(seed_.data(), seed_.size()); }

expected<ticket_private_key, ticket_errc> ticket_private_key::from_bytes(std::span<const std::uint8_t> stored) {
  if (stored.size() != ed25519_key_size_bytes) return ticket_errc::invalid_key;
  std::array<std::uint8_t, ed25519_key_size_bytes> seed{};
  std::copy(stored.begin(), stored.end(), seed.begin());
  ticket_private_key key(seed);
  OPENSSL_cleanse(seed.data(), seed.size());
  return key;
}

expected<ticket_public_key, ticket_errc> ticket_public_key::from_bytes(std::span<const std::uint8_t> stored) {
  if (stored.size() != ed25519_key_size_bytes) return ticket_errc::invalid_key;
  std::array<std::uint8_t, ed25519_key_size_bytes> key{};
  std::copy(stored.begin(), stored.end(), key.begin());
  return ticket_public_key(key);
}

expected<ticket_key_pair, ticket_errc> generate_ticket_key_pair() {
  pkey_context_ptr context(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* generated = nullptr;
  if (!context || EVP_PKEY_keygen_init(context.get()) != 1 || EVP_PKEY_keygen(context.get(), &generated) != 1)
    return after_clearing_errors(ticket_errc::crypto_failure);
  pkey_ptr key(generated);
  std::array<std::uint8_t, ed25519_key_size_bytes> seed{};
  std::size_t seed_size = seed.size();
  auto public_raw = raw_public_key(key.get());
  if (EVP_PKEY_get_raw_private_key(key.get(), seed.data(), &seed_size) != 1 || seed_size != seed.size() ||
      !public_raw)
    return after_clearing_errors(ticket_errc::crypto_failure);
  ticket_key_pair pair{ticket_private_key(seed), ticket_public_key(*public_raw)};
  OPENSSL_cleanse(seed.data(), seed.size());
  return pair;
}

expected<ticket_public_key, ticket_errc> derive_public_key(const ticket_private_key& private_key) {
  auto key = private_pkey(private_key);
  if (!key) return after_clearing_errors(ticket_errc::crypto_failure);
  auto raw = raw_public_key(key.get());
  if (!raw) return after_clearing_errors(ticket_errc::crypto_failure);
  return ticket_public_key(*raw);
}

expected<ed25519_signature, ticket_errc> ed25519_sign(const ticket_private_key& private_key,
                                                      std::span<const std::uint8_t> message) {
  auto key = private_pkey(private_key);
  digest_context_ptr context(EVP_MD_CTX_new());
  if (!key || !context) return after_clearing_errors(ticket_errc::crypto_failure);
  ed25519_signature signature{};
  std::size_t size = signature.size();
  // Ed25519 hashes internally: no digest (NULL md) and one-shot EVP_DigestSign only.
  if (EVP_DigestSignInit(context.get(), nullptr, nullptr, nullptr, key.get()) != 1 ||
      EVP_DigestSign(context.get(), signature.data(), &size, message.data(), message.size()) != 1 ||
      size != signature.size())
    return after_clearing_errors(ticket_errc::crypto_failure);
  return signature;
}

bool ed25519_verify(const ticket_public_key& public_key, std::span<const std::uint8_t> message,
                    std::span<const std::uint8_t> signature) {
  if (signature.size() != ed25519_signature_size_bytes) return false;
  auto key = public_pkey(public_key);
  digest_context_ptr context(EVP_MD_CTX_new());
  if (!key || !context) return after_clearing_errors(false);
  bool valid = EVP_DigestVerifyInit(context.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
               EVP_DigestVerify(context.get(), signature.data(), signature.size(), message.data(), message.size()) == 1;
  return after_clearing_errors(valid);
}

expected<std::string, ticket_errc> public_key_pem(const ticket_public_key& public_key) {
  auto key = public_pkey(public_key);
  bio_ptr bio(BIO_new(BIO_s_mem()));
  if (!key || !bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1)
    return after_clearing_errors(ticket_errc::crypto_failure);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) return after_clearing_errors(ticket_errc::crypto_failure);
  return std::string(data, static_cast<std::size_t>(size));
}

expected<ticket_public_key, ticket_errc> parse_public_key_pem(std::string_view pem) {
  if (pem.empty() || pem.size() > public_key_pem_length_max) return ticket_errc::invalid_key;
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return after_clearing_errors(ticket_errc::crypto_failure);
  pkey_ptr key(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key || EVP_PKEY_get_id(key.get()) != EVP_PKEY_ED25519) return after_clearing_errors(ticket_errc::invalid_key);
  auto raw = raw_public_key(key.get());
  if (!raw) return after_clearing_errors(ticket_errc::invalid_key);
  return ticket_public_key(*raw);
}

// ---- claims and payloads -----------------------------------------------------------------------

expected<std::string, ticket_errc> canonical_ticket_claims(const ticket_claims& claims) {
  if (!are_valid_claims(claims)) return ticket_errc::invalid_claims;
  std::string text;
  for (std::string_view part : {std::string_view(claims.ticket_id), std::string_view(claims.event_id),
                                std::string_view(claims.ticket_type_id)}) {
    text.append(part);
    text += claims_separator;
  }
  text += std::to_string(claims.valid_from_unix_s);
  text += claims_separator;
  text += std::to_string(claims.valid_until_unix_s);
  text += claims_separator;
  text += claims.key_id;
  return text;
}

expected<ticket_claims, ticket_errc> parse_ticket_claims(std::string_view text) {
  auto fields = split_claims(text);
  if (fields.size() != claims_field_count) return ticket_errc::malformed;
  auto valid_from = parse_canonical_time(fields[3]);
  auto valid_until = parse_canonical_time(fields[4]);
  if (!valid_from || !valid_until) return ticket_errc::malformed;
  ticket_claims claims{std::string(fields[0]), std::string(fields[1]), std::string(fields[2]), *valid_from,
                       *valid_until,           std::string(fields[5])};
  if (!are_valid_claims(claims)) return ticket_errc::malformed;
  return claims;
}

bool ticket_valid_at(const ticket_claims& claims, std::int64_t now_unix_s) {
  return claims.valid_from_unix_s <= now_unix_s && now_unix_s < claims.valid_until_unix_s;
}

expected<std::string, ticket_errc> make_ticket_payload(const ticket_claims& claims,
                                                       const ticket_private_key& private_key) {
  auto text = canonical_ticket_claims(claims);
  if (!text) return text.error();
  std::string payload(ticket_payload_prefix);
  payload += base64url_encode(as_bytes(*text));
  auto signature = ed25519_sign(private_key, as_bytes(payload));
  if (!signature) return signature.error();
  payload += '.';
  payload += base64url_encode(*signature);
  return payload;
}

expected<parsed_ticket_payload, ticket_errc> parse_ticket_payload(std::string_view text) {
  if (text.size() > ticket_payload_length_max || !text.starts_with(ticket_payload_prefix)) return ticket_errc::malformed;
  auto dot = text.find('.', ticket_payload_prefix.size());
  if (dot == std::string_view::npos) return ticket_errc::malformed;
  auto claims_bytes = decode_base64url(text.substr(ticket_payload_prefix.size(), dot - ticket_payload_prefix.size()));
  auto signature_bytes = decode_base64url(text.substr(dot + 1));  // a second '.' fails to decode
  if (!claims_bytes || !signature_bytes || signature_bytes->size() != ed25519_signature_size_bytes)
    return ticket_errc::malformed;
  auto claims = parse_ticket_claims(
      std::string_view(reinterpret_cast<const char*>(claims_bytes->data()), claims_bytes->size()));
  if (!claims) return claims.error();
  parsed_ticket_payload parsed{std::move(claims.value()), {}, std::string(text.substr(0, dot))};
  std::copy(signature_bytes->begin(), signature_bytes->end(), parsed.signature.begin());
  return parsed;
}

expected<ticket_claims, ticket_errc> verify_ticket_payload(std::string_view text, const ticket_public_key& public_key) {
  auto parsed = parse_ticket_payload(text);
  if (!parsed) return parsed.error();
  if (!ed25519_verify(public_key, as_bytes(parsed->signed_part), parsed->signature)) return ticket_errc::bad_signature;
  return std::move(parsed->claims);
}

}  // namespace eventstripe::actors::payments
