#pragma once

// Hex and base64 for the payment rules: signatures travel as lower-case hex (Stripe), base64
// (Adyen) and unpadded base64url (ticket payloads). Decoding is strict — one canonical text per
// byte string, no whitespace, no stray padding — so a changed character never decodes to the
// same bytes and a signature check cannot be fooled by an alternative spelling.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace eventstripe::actors::payments {

using bytes = std::vector<std::uint8_t>;

// Longest text any decoder accepts; the payment rules never need more (keys, signatures, claims).
inline constexpr std::size_t encoded_text_length_max = 64 * 1024;

std::span<const std::uint8_t> as_bytes(std::string_view text);

std::string hex_lower(std::span<const std::uint8_t> data);
// Upper- or lower-case digits, even length; nullopt otherwise.
std::optional<bytes> decode_hex(std::string_view text);

// RFC 4648 section 4, with '=' padding (Adyen's signatures).
std::string base64_encode(std::span<const std::uint8_t> data);
std::optional<bytes> decode_base64(std::string_view text);

// RFC 4648 section 5, without padding (ticket payloads, where every character costs QR modules).
std::string base64url_encode(std::span<const std::uint8_t> data);
std::optional<bytes> decode_base64url(std::string_view text);

}  // namespace eventstripe::actors::payments
