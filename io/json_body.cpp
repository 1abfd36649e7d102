#include "io/json_body.hpp"

#include <nlohmann/json.hpp>

#include "io/problem.hpp"

namespace eventstripe::io {
namespace {

// A client-chosen member name quoted in a problem's detail is cut to this many bytes.
constexpr std::size_t quoted_name_size_max_bytes = 64;

std::string quoted_name(std::string_view name) {
  if (name.size() <= quoted_name_size_max_bytes) return "'" + std::string{name} + "'";
  auto end = quoted_name_size_max_bytes;
  // Cut at a code point boundary: problem() serialises the detail, which must stay valid UTF-8.
  while (end > 0 && (static_cast<unsigned char>(name[end]) & 0xC0u) == 0x80u) --end;
  return "'" + std::string{name.substr(0, end)} + "...'";
}

}  // namespace

json_body::json_body(std::string_view text, std::initializer_list<std::string_view> known_fields) {
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_discarded()) {
    fail(400, "malformed-json", "Malformed JSON", "The request body is not valid JSON.");
    return;
  }
  if (!parsed.is_object()) {
    fail(422, "invalid-body", "Invalid body", "The request body must be a JSON object.");
    return;
  }
  for (const auto& [name, value] : parsed.items()) {
    bool known = false;
    for (auto field : known_fields) known = known || name == field;
    if (!known) {
      fail(422, "unknown-field", "Unknown field", "The body has an unknown member " + quoted_name(name) + ".");
      return;
    }
  }
  object_ = std::make_unique<nlohmann::json>(std::move(parsed));
}

json_body::~json_body() = default;

std::optional<std::string> json_body::required_string(std::string_view field) {
  if (!ok()) return std::nullopt;
  const auto* value = member(field);
  if (value == nullptr || value->is_null()) {
    fail(422, "missing-field", "Missing field", "The body needs a member '" + std::string{field} + "'.");
    return std::nullopt;
  }
  return optional_string(field);
}

std::optional<std::string> json_body::optional_string(std::string_view field) {
  if (!ok()) return std::nullopt;
  const auto* value = member(field);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_string()) {
    fail(422, "invalid-field", "Invalid field", "'" + std::string{field} + "' must be a string.");
    return std::nullopt;
  }
  return value->get<std::string>();
}

void json_body::reject(std::string_view field, std::string_view rule) {
  if (ok()) fail(422, "invalid-field", "Invalid field", "'" + std::string{field} + "' " + std::string{rule} + ".");
}

void json_body::fail(int status, std::string_view slug, std::string_view title, std::string detail) {
  if (ok()) failure_ = problem(status, slug, title, detail);
}

const nlohmann::json* json_body::member(std::string_view field) const {
  auto found = object_->find(std::string{field});
  return found == object_->end() ? nullptr : &*found;
}

}  // namespace eventstripe::io
