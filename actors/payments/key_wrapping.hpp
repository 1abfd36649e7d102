#pragma once

// Ticket signing seeds wrapped at rest. With `payments.ticket_key_wrapping_key` configured (32
// bytes, hex), each event's Ed25519 seed is stored in PostgreSQL only encrypted under that
// key-encryption key, so a copy of the database (a backup, a replica, a dump) does not let anyone
// sign tickets.
//
// Format: XChaCha20-Poly1305 (libsodium's IETF AEAD) with a random 24-byte nonce per seed; the
// associated data is "es-ticket-key/v1|<length>:<event_id>|<length>:<key_id>" (lengths in decimal
// bytes, so no two rows share it), so a wrapped seed copied into another event's row does not
// open. Stored bytes: nonce (24) || ciphertext (32) || tag (16) = 72 bytes, beside the wrapping
// key's id, which names the key without revealing it: "kek_" and the first 16 hex digits of
// SHA-256 over "eventstripe/ticket-key-wrapping/v1" followed by the key.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "actors/expected.hpp"
#include "actors/payments/ticket_signing.hpp"

namespace eventstripe::actors::payments {

inline constexpr std::size_t wrapping_key_size_bytes = 32;
inline constexpr std::size_t wrapped_seed_size_bytes = 24 + ed25519_key_size_bytes + 16;

enum class wrap_errc : std::uint8_t {
  invalid_key = 1,  // not 64 hex digits, or one byte repeated 32 times (not a generated key)
  malformed,        // stored bytes of the wrong size
  cannot_open,      // another wrapping key, another event's or key's row, or altered bytes
  crypto_failure,   // libsodium could not start
};

// Stable snake_case name ("cannot_open").
const char* to_string(wrap_errc code);

using seed_bytes = std::array<std::uint8_t, ed25519_key_size_bytes>;

class key_wrapper {
 public:
  // From 64 hex digits (either case); invalid_key otherwise.
  static expected<key_wrapper, wrap_errc> from_hex(std::string_view hex);
  key_wrapper(const key_wrapper&) = default;
  key_wrapper& operator=(const key_wrapper&) = default;
  ~key_wrapper();

  // "kek_" + 16 hex digits: stored beside each wrapped seed.
  const std::string& id() const { return id_; }

  // The 72 stored bytes of `seed` for the event's key `key_id` (a fresh nonce each call); throws
  // std::runtime_error if libsodium refuses (it does not for these sizes).
  std::string wrap(std::span<const std::uint8_t, ed25519_key_size_bytes> seed, std::string_view event_id,
                   std::string_view key_id) const;
  // The seed back as a key that wipes itself, or malformed / cannot_open.
  expected<ticket_private_key, wrap_errc> unwrap(std::string_view stored, std::string_view event_id,
                                                 std::string_view key_id) const;

 private:
  key_wrapper() = default;
  std::array<std::uint8_t, wrapping_key_size_bytes> key_{};
  std::string id_;
};

}  // namespace eventstripe::actors::payments
