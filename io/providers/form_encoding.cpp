#include "io/providers/form_encoding.hpp"

namespace eventstripe::io::providers {

namespace {

constexpr char hex_digits[] = "0123456789ABCDEF";

bool is_alphanumeric(unsigned char byte) {
  return (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z') || (byte >= '0' && byte <= '9');
}

void append_escaped(std::string& out, unsigned char byte) {
  out += '%';
  out += hex_digits[byte >> 4];
  out += hex_digits[byte & 0x0f];
}

}  // namespace

std::string form_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (is_alphanumeric(byte) || c == '*' || c == '-' || c == '.' || c == '_') {
      out += c;
    } else if (c == ' ') {
      out += '+';
    } else {
      append_escaped(out, byte);
    }
  }
  return out;
}

std::string form_body(const form_fields& fields) {
  std::string body;
  for (const auto& [name, value] : fields) {
    if (!body.empty()) body += '&';
    body += form_encode(name);
    body += '=';
    body += form_encode(value);
  }
  return body;
}

std::string path_segment(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (is_alphanumeric(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      append_escaped(out, byte);
    }
  }
  return out;
}

}  // namespace eventstripe::io::providers
