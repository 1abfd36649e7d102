#pragma once

// Signed ticket payloads for QR codes. Each event has its own Ed25519 key pair: the node signs a
// ticket's claims with the event's private key when the ticket is issued, and a scanner checks
// the QR code offline with the event's public key (downloaded as PEM before doors open). A key
// per event limits what one leaked key can forge to that event's tickets.
//
// Payload: "ES1." base64url(claims) "." base64url(signature), unpadded, where claims is the
// canonical text "ticket_id|event_id|ticket_type_id|valid_from_unix_s|valid_until_unix_s|key_id"
// and the Ed25519 signature covers the bytes "ES1." base64url(claims). Full rules in README.md.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "actors/expected.hpp"

namespace eventstripe::actors::payments {

inline constexpr std::size_t ed25519_key_size_bytes = 32;
inline constexpr std::size_t ed25519_signature_size_bytes = 64;

inline constexpr std::string_view ticket_payload_prefix = "ES1.";
// Ids (ticket, event, ticket type, key) are 1..64 characters of [A-Za-z0-9_-].
inline constexpr std::size_t ticket_claim_id_length_max = 64;
// Validity times are unix seconds in 0..9999-12-31T23:59:59Z.
inline constexpr std::int64_t ticket_time_unix_s_max = 253402300799;
// The longest payload accepted; the longest valid one is well below it (about 470 characters).
inline constexpr std::size_t ticket_payload_length_max = 512;

enum class ticket_errc : std::uint8_t {
  invalid_claims = 1,  // claims that cannot be signed: an empty, over-long or non-[A-Za-z0-9_-] id, bad times
  malformed,           // not a payload: wrong prefix, bad base64url, wrong sizes, unreadable claims
  bad_signature,       // well-formed, but not signed by this key (forged, altered or another event's)
  invalid_key,         // key bytes or PEM that are not an Ed25519 key
  crypto_failure,      // OpenSSL refused (out of memory, no entropy)
};

// Stable snake_case name ("bad_signature").
const char* to_string(ticket_errc code);

// The raw 32-byte Ed25519 seed, as stored in PostgreSQL (bytea). Wiped when destroyed.
class ticket_private_key {
 public:
  explicit ticket_private_key(const std::array<std::uint8_t, ed25519_key_size_bytes>& seed) : seed_(seed) {}
  ticket_private_key(const ticket_private_key&) = default;
  ticket_private_key& operator=(const ticket_private_key&) = default;
  ~ticket_private_key();

  // From stored bytes; invalid_key unless exactly 32 bytes.
  static expected<ticket_private_key, ticket_errc> from_bytes(std::span<const std::uint8_t> stored);
  std::span<const std::uint8_t, ed25519_key_size_bytes> bytes() const { return seed_; }

 private:
  std::array<std::uint8_t, ed25519_key_size_bytes> seed_;
};

// The raw 32-byte Ed25519 public key, as stored in PostgreSQL (bytea).
class ticket_public_key {
 public:
  explicit ticket_public_key(const std::array<std::uint8_t, ed25519_key_size_bytes>& key) : key_(key) {}

  // From stored bytes; invalid_key unless exactly 32 bytes.
  static expected<ticket_public_key, ticket_errc> from_bytes(std::span<const std::uint8_t> stored);
  std::span<const std::uint8_t, ed25519_key_size_bytes> bytes() const { return key_; }
  friend bool operator==(const ticket_public_key&, const ticket_public_key&) = default;

 private:
  std::array<std::uint8_t, ed25519_key_size_bytes> key_;
};

struct ticket_key_pair {
  ticket_private_key private_key;
  ticket_public_key public_key;
};

// A fresh key pair from OpenSSL's CSPRNG, one per event.
expected<ticket_key_pair, ticket_errc> generate_ticket_key_pair();
// The public half of a stored seed.
expected<ticket_public_key, ticket_errc> derive_public_key(const ticket_private_key& private_key);

using ed25519_signature = std::array<std::uint8_t, ed25519_signature_size_bytes>;

// Plain Ed25519 (RFC 8032, no pre-hash) over `message`.
expected<ed25519_signature, ticket_errc> ed25519_sign(const ticket_private_key& private_key,
                                                      std::span<const std::uint8_t> message);
bool ed25519_verify(const ticket_public_key& public_key, std::span<const std::uint8_t> message,
                    std::span<const std::uint8_t> signature);

// The public key as PEM ("-----BEGIN PUBLIC KEY-----", SubjectPublicKeyInfo) for scanners.
expected<std::string, ticket_errc> public_key_pem(const ticket_public_key& public_key);
// Reads such a PEM back; invalid_key for anything but one Ed25519 public key.
expected<ticket_public_key, ticket_errc> parse_public_key_pem(std::string_view pem);

struct ticket_claims {
  std::string ticket_id;
  std::string event_id;
  std::string ticket_type_id;
  std::int64_t valid_from_unix_s = 0;   // first second the ticket admits
  std::int64_t valid_until_unix_s = 0;  // first second it no longer admits (> valid_from)
  std::string key_id;                   // which of the event's keys signed it (event_ticket_keys.key_id)
  friend bool operator==(const ticket_claims&, const ticket_claims&) = default;
};

// The canonical claims text; invalid_claims when a field breaks the rules above.
expected<std::string, ticket_errc> canonical_ticket_claims(const ticket_claims& claims);
// The inverse: only canonical text is accepted (decimal without sign or leading zeros), so one
// set of claims has exactly one text. malformed otherwise.
expected<ticket_claims, ticket_errc> parse_ticket_claims(std::string_view text);

// valid_from <= now < valid_until. The scanner's check after verify_ticket_payload.
bool ticket_valid_at(const ticket_claims& claims, std::int64_t now_unix_s);

// "ES1.<claims>.<signature>" signed with the event's private key. invalid_claims, crypto_failure.
expected<std::string, ticket_errc> make_ticket_payload(const ticket_claims& claims,
                                                       const ticket_private_key& private_key);

struct parsed_ticket_payload {
  ticket_claims claims;
  ed25519_signature signature{};
  std::string signed_part;  // "ES1.<claims>": the bytes the signature covers
};

// Splits and decodes a payload without checking its signature: a scanner reads key_id (and
// event_id) from it to pick the public key, then calls verify_ticket_payload. malformed only.
expected<parsed_ticket_payload, ticket_errc> parse_ticket_payload(std::string_view text);

// The claims of a payload signed by `public_key`'s private key; malformed or bad_signature
// otherwise. Does not look at the validity window (see ticket_valid_at) or at revocation.
expected<ticket_claims, ticket_errc> verify_ticket_payload(std::string_view text, const ticket_public_key& public_key);

}  // namespace eventstripe::actors::payments
