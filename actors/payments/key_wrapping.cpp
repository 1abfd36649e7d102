#include "actors/payments/key_wrapping.hpp"

#include <algorithm>
#include <stdexcept>

#include <sodium.h>

namespace eventstripe::actors::payments {
namespace {

constexpr std::size_t nonce_size = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t tag_size = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(nonce_size + ed25519_key_size_bytes + tag_size == wrapped_seed_size_bytes);
static_assert(crypto_aead_xchacha20poly1305_ietf_KEYBYTES == wrapping_key_size_bytes);

std::string associated_data(std::string_view event_id, std::string_view key_id) {
  std::string data = "es-ticket-key/v1|";
  data += std::to_string(event_id.size()) + ":";
  data += event_id;
  data += "|" + std::to_string(key_id.size()) + ":";
  data += key_id;
  return data;
}

constexpr std::string_view id_domain = "eventstripe/ticket-key-wrapping/v1";

const unsigned char* bytes_of(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

}  // namespace

const char* to_string(wrap_errc code) {
  switch (code) {
    case wrap_errc::invalid_key: return "invalid_key";
    case wrap_errc::malformed: return "malformed";
    case wrap_errc::cannot_open: return "cannot_open";
    case wrap_errc::crypto_failure: return "crypto_failure";
  }
  return "unknown";
}

expected<key_wrapper, wrap_errc> key_wrapper::from_hex(std::string_view hex) {
  if (sodium_init() < 0) return wrap_errc::crypto_failure;
  key_wrapper wrapper;
  std::size_t size = 0;
  const char* end = nullptr;
  if (hex.size() != 2 * wrapping_key_size_bytes ||
      sodium_hex2bin(wrapper.key_.data(), wrapper.key_.size(), hex.data(), hex.size(), nullptr, &size, &end) != 0 ||
      size != wrapping_key_size_bytes || end != hex.data() + hex.size())
    return wrap_errc::invalid_key;
  bool one_byte = std::all_of(wrapper.key_.begin(), wrapper.key_.end(), [&](auto b) { return b == wrapper.key_[0]; });
  if (one_byte) return wrap_errc::invalid_key;
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256_state hashing;
  crypto_hash_sha256_init(&hashing);
  crypto_hash_sha256_update(&hashing, bytes_of(id_domain), id_domain.size());
  crypto_hash_sha256_update(&hashing, wrapper.key_.data(), wrapper.key_.size());
  crypto_hash_sha256_final(&hashing, digest.data());
  sodium_memzero(&hashing, sizeof hashing);
  std::array<char, 2 * 8 + 1> digits{};
  sodium_bin2hex(digits.data(), digits.size(), digest.data(), 8);
  wrapper.id_ = std::string{"kek_"} + digits.data();
  return wrapper;
}

key_wrapper::~key_wrapper() { sodium_memzero(key_.data(), key_.size()); }

std::string key_wrapper::wrap(std::span<const std::uint8_t, ed25519_key_size_bytes> seed, std::string_view event_id,
                              std::string_view key_id) const {
  std::string stored(wrapped_seed_size_bytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(stored.data());
  randombytes_buf(out, nonce_size);
  auto data = associated_data(event_id, key_id);
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + nonce_size, &written, seed.data(), seed.size(), bytes_of(data),
                                                 data.size(), nullptr, out, key_.data()) != 0 ||
      written != ed25519_key_size_bytes + tag_size)
    throw std::runtime_error("libsodium refused to wrap a ticket key");
  return stored;
}

expected<ticket_private_key, wrap_errc> key_wrapper::unwrap(std::string_view stored, std::string_view event_id,
                                                            std::string_view key_id) const {
  if (stored.size() != wrapped_seed_size_bytes) return wrap_errc::malformed;
  auto data = associated_data(event_id, key_id);
  seed_bytes seed{};
  unsigned long long written = 0;
  const auto* in = bytes_of(stored);
  bool opened = crypto_aead_xchacha20poly1305_ietf_decrypt(seed.data(), &written, nullptr, in + nonce_size,
                                                           stored.size() - nonce_size, bytes_of(data), data.size(), in,
                                                           key_.data()) == 0 &&
                written == seed.size();
  ticket_private_key key{seed};
  sodium_memzero(seed.data(), seed.size());
  if (!opened) return wrap_errc::cannot_open;
  return key;
}

}  // namespace eventstripe::actors::payments
