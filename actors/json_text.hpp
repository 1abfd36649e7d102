#pragma once

// Writing JSON text by hand, for the few answers on the hot path of a ticket drop (a checkout
// is written for every hold): building an nlohmann::json tree first costs a map node per field.
// Everything else uses nlohmann::json.
#include <cstdint>
#include <string>
#include <string_view>

namespace eventstripe::actors {

// Appends `text` as a JSON string, quoted and escaped (RFC 8259: quote, backslash and control
// characters). `text` is UTF-8 already: every string here came through a JSON parser or the
// database.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20) {
      out += "\\u00";
      out += hex[byte >> 4];
      out += hex[byte & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
}

// Appends `"name":` for a field name that needs no escaping.
inline void append_json_key(std::string& out, std::string_view name) {
  out += '"';
  out += name;
  out += "\":";
}

// Appends `,"name":`, or `"name":` for the first field of an object.
inline void append_json_field(std::string& out, std::string_view name, bool first = false) {
  if (!first) out += ',';
  append_json_key(out, name);
}

}  // namespace eventstripe::actors
