#include "actors/payments/encoding.hpp"

#include <sodium.h>

namespace eventstripe::actors::payments {
namespace {

// libsodium's codecs are constant-time and strict: with no ignore set and no end pointer they
// refuse any character outside the alphabet, trailing text and non-zero leftover bits.
std::optional<bytes> decode_base64_variant(std::string_view text, int variant) {
  if (text.size() > encoded_text_length_max) return std::nullopt;
  if (text.empty()) return bytes{};
  bytes out(text.size() / 4 * 3 + 3);
  std::size_t size = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &size, nullptr, variant) != 0)
    return std::nullopt;
  out.resize(size);
  return out;
}

std::string encode_base64_variant(std::span<const std::uint8_t> data, int variant) {
  if (data.empty()) return {};  // libsodium's pointers must not be null, as an empty span's may be
  std::string out(sodium_base64_encoded_len(data.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), data.data(), data.size(), variant);
  out.pop_back();  // the terminating NUL sodium writes
  return out;
}

}  // namespace

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex_lower(std::span<const std::uint8_t> data) {
  if (data.empty()) return {};
  std::string out(data.size() * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data.data(), data.size());
  out.pop_back();
  return out;
}

std::optional<bytes> decode_hex(std::string_view text) {
  if (text.size() > encoded_text_length_max || text.size() % 2 != 0) return std::nullopt;
  if (text.empty()) return bytes{};
  bytes out(text.size() / 2);
  std::size_t size = 0;
  if (sodium_hex2bin(out.data(), out.size(), text.data(), text.size(), nullptr, &size, nullptr) != 0 ||
      size != out.size())
    return std::nullopt;
  return out;
}

std::string base64_encode(std::span<const std::uint8_t> data) {
  return encode_base64_variant(data, sodium_base64_VARIANT_ORIGINAL);
}

std::optional<bytes> decode_base64(std::string_view text) {
  return decode_base64_variant(text, sodium_base64_VARIANT_ORIGINAL);
}

std::string base64url_encode(std::span<const std::uint8_t> data) {
  return encode_base64_variant(data, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

std::optional<bytes> decode_base64url(std::string_view text) {
  return decode_base64_variant(text, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

}  // namespace eventstripe::actors::payments
