#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

// Reading provider answers and notifications field by field: a field that is absent or has
// another type reads as empty, so a surprising answer becomes an `unknown` outcome or a
// `malformed` webhook rather than an exception. Plus the ASCII case rules of the wire formats
// (currencies are upper case in our model, lower case at Stripe; header names are lower-cased).
namespace eventstripe::io::providers {

// The string at `key` of `object`, or "" when `object` is not an object or the field is absent
// or not a string.
std::string text_at(const nlohmann::json& object, const char* key);
// The object at `key`, or null.
const nlohmann::json* object_at(const nlohmann::json& object, const char* key);
// The integer at `key`, or nullopt.
std::optional<std::int64_t> integer_at(const nlohmann::json& object, const char* key);

// `text` without leading and trailing spaces and tabs (HTTP's optional whitespace).
std::string_view trim_spaces(std::string_view text);

std::string ascii_lower(std::string_view text);
std::string ascii_upper(std::string_view text);

}  // namespace eventstripe::io::providers
