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
  check_object(parsed, known_fields);
}

json_body::json_body(const nlohmann::json& element, std::string path,
                     std::initializer_list<std::string_view> known_fields)
    : path_(std::move(path)) {
  check_object(element, known_fields);
}

void json_body::check_object(const nlohmann::json& value, std::initializer_list<std::string_view> known_fields) {
  if (!value.is_object()) {
    fail(422, path_.empty() ? "invalid-body" : "invalid-field", path_.empty() ? "Invalid body" : "Invalid field",
         path_.empty() ? "The request body must be a JSON object."
                       : "'" + path_.substr(0, path_.size() - 1) + "' must be a JSON object.");
    return;
  }
  for (const auto& [name, member_value] : value.items()) {
    bool known = false;
    for (auto field : known_fields) known = known || name == field;
    if (!known) {
      fail(422, "unknown-field", "Unknown field",
           "The body has an unknown member " + quoted_name(path_ + name) + ".");
      return;
    }
  }
  object_ = std::make_unique<nlohmann::json>(value);
}

json_body::~json_body() = default;

std::optional<std::string> json_body::required_string(std::string_view field) {
  if (!ok()) return std::nullopt;
  const auto* value = member(field);
  if (value == nullptr || value->is_null()) {
    fail(422, "missing-field", "Missing field", "The body needs a member '" + name_of(field) + "'.");
    return std::nullopt;
  }
  return optional_string(field);
}

std::optional<std::string> json_body::optional_string(std::string_view field) {
  if (!ok()) return std::nullopt;
  const auto* value = member(field);
  if (value == nullptr || value->is_null()) return std::nullopt;
  if (!value->is_string()) {
    fail(422, "invalid-field", "Invalid field", "'" + name_of(field) + "' must be a string.");
    return std::nullopt;
  }
  return value->get<std::string>();
}

void json_body::reject(std::string_view field, std::string_view rule) {
  if (ok()) fail(422, "invalid-field", "Invalid field", "'" + name_of(field) + "' " + std::string{rule} + ".");
}

std::string json_body::name_of(std::string_view field) const { return path_ + std::string{field}; }

bool json_body::has(std::string_view field) const {
  if (!object_) return false;
  const auto* value = member(field);
  return value != nullptr && !value->is_null();
}

std::optional<std::int64_t> json_body::optional_integer(std::string_view field, std::int64_t minimum,
                                                        std::int64_t maximum) {
  if (!ok() || !has(field)) return std::nullopt;
  const auto* value = member(field);
  bool integral = value->is_number_integer() || value->is_number_unsigned();
  if (integral && value->is_number_unsigned() && value->get<std::uint64_t>() > static_cast<std::uint64_t>(maximum))
    integral = false;
  if (!integral || value->get<std::int64_t>() < minimum || value->get<std::int64_t>() > maximum) {
    reject(field, "must be a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum));
    return std::nullopt;
  }
  return value->get<std::int64_t>();
}

std::optional<std::int64_t> json_body::required_integer(std::string_view field, std::int64_t minimum,
                                                        std::int64_t maximum) {
  if (ok() && !has(field)) {
    fail(422, "missing-field", "Missing field", "The body needs a member '" + name_of(field) + "'.");
    return std::nullopt;
  }
  return optional_integer(field, minimum, maximum);
}

std::optional<bool> json_body::optional_boolean(std::string_view field) {
  if (!ok() || !has(field)) return std::nullopt;
  const auto* value = member(field);
  if (!value->is_boolean()) {
    reject(field, "must be true or false");
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<double> json_body::optional_number(std::string_view field, double minimum, double maximum) {
  if (!ok() || !has(field)) return std::nullopt;
  const auto* value = member(field);
  if (!value->is_number() || value->get<double>() < minimum || value->get<double>() > maximum) {
    reject(field, "must be a number from " + std::to_string(minimum) + " to " + std::to_string(maximum));
    return std::nullopt;
  }
  return value->get<double>();
}

std::optional<std::vector<std::string>> json_body::optional_string_array(std::string_view field,
                                                                         std::size_t items_max) {
  if (!ok() || !has(field)) return std::nullopt;
  const auto* value = member(field);
  if (!value->is_array() || value->size() > items_max) {
    reject(field, "must be an array of at most " + std::to_string(items_max) + " strings");
    return std::nullopt;
  }
  std::vector<std::string> items;
  for (const auto& item : *value) {
    if (!item.is_string()) {
      reject(field, "must contain only strings");
      return std::nullopt;
    }
    items.push_back(item.get<std::string>());
  }
  return items;
}

std::optional<std::vector<std::unique_ptr<json_body>>> json_body::required_object_array(
    std::string_view field, std::size_t items_min, std::size_t items_max,
    std::initializer_list<std::string_view> known_fields) {
  if (!ok()) return std::nullopt;
  if (!has(field)) {
    fail(422, "missing-field", "Missing field", "The body needs a member '" + name_of(field) + "'.");
    return std::nullopt;
  }
  const auto* value = member(field);
  if (!value->is_array() || value->size() < items_min || value->size() > items_max) {
    reject(field, "must be an array of " + std::to_string(items_min) + " to " + std::to_string(items_max) + " objects");
    return std::nullopt;
  }
  std::vector<std::unique_ptr<json_body>> elements;
  for (std::size_t i = 0; i < value->size(); ++i) {
    auto path = name_of(field) + "[" + std::to_string(i) + "].";
    elements.push_back(std::unique_ptr<json_body>(new json_body((*value)[i], path, known_fields)));
    if (!elements.back()->ok()) {
      adopt_failure(*elements.back());
      return std::nullopt;
    }
  }
  return elements;
}

std::unique_ptr<json_body> json_body::optional_object(std::string_view field,
                                                      std::initializer_list<std::string_view> known_fields) {
  if (!ok() || !has(field)) return nullptr;
  std::unique_ptr<json_body> inner(new json_body(*member(field), name_of(field) + ".", known_fields));
  if (!inner->ok()) {
    adopt_failure(*inner);
    return nullptr;
  }
  return inner;
}

void json_body::adopt_failure(const json_body& inner) {
  if (ok() && !inner.ok()) failure_ = inner.failure();
}

void json_body::fail(int status, std::string_view slug, std::string_view title, std::string detail) {
  if (ok()) failure_ = problem(status, slug, title, detail);
}

const nlohmann::json* json_body::member(std::string_view field) const {
  auto found = object_->find(std::string{field});
  return found == object_->end() ? nullptr : &*found;
}

}  // namespace eventstripe::io
