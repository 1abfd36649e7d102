#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "io/http_types.hpp"

namespace eventstripe::io {

// Reads a request's JSON object body member by member, so every endpoint answers bad input with
// the same problems: 400 `malformed-json` (not JSON), 422 `invalid-body` (JSON but not an
// object), 422 `unknown-field` (a member the endpoint does not know), 422 `missing-field`, 422
// `invalid-field` (wrong type, or a value that breaks the endpoint's rule). The first failure
// is kept; once there is one, readers return nullopt and the handler answers `failure()`.
class json_body {
 public:
  json_body(std::string_view text, std::initializer_list<std::string_view> known_fields);
  ~json_body();
  json_body(const json_body&) = delete;
  json_body& operator=(const json_body&) = delete;

  std::optional<std::string> required_string(std::string_view field);
  // Whether the member is present and not null.
  bool has(std::string_view field) const;
  // A whole number within [minimum, maximum] (JSON integers only: 2.0 and "2" are refused).
  std::optional<std::int64_t> optional_integer(std::string_view field, std::int64_t minimum, std::int64_t maximum);
  std::optional<std::int64_t> required_integer(std::string_view field, std::int64_t minimum, std::int64_t maximum);
  std::optional<bool> optional_boolean(std::string_view field);
  std::optional<double> optional_number(std::string_view field, double minimum, double maximum);
  // An array of at most `items_max` strings.
  std::optional<std::vector<std::string>> optional_string_array(std::string_view field, std::size_t items_max);
  // The objects of an array member, each read with its own known fields; errors name the
  // element (`items[2].quantity`). nullopt when absent, not an array, or out of [min, max] items.
  std::optional<std::vector<std::unique_ptr<json_body>>> required_object_array(
      std::string_view field, std::size_t items_min, std::size_t items_max,
      std::initializer_list<std::string_view> known_fields);
  // A nested object read with its own known fields (errors name `venue.latitude`); nullptr when
  // absent or null, or on failure (then this body has failed too).
  std::unique_ptr<json_body> optional_object(std::string_view field, std::initializer_list<std::string_view> known_fields);
  // The first failure of `inner` (an element read from this body) becomes this body's failure.
  void adopt_failure(const json_body& inner);
  // nullopt also when the member is absent or null; ok() tells the cases apart.
  std::optional<std::string> optional_string(std::string_view field);
  // Records that `field`'s value breaks a rule ("must be at most 200 characters").
  void reject(std::string_view field, std::string_view rule);

  bool ok() const { return !failure_.has_value(); }
  const http_response& failure() const { return *failure_; }

 private:
  json_body(const nlohmann::json& element, std::string path, std::initializer_list<std::string_view> known_fields);
  void check_object(const nlohmann::json& value, std::initializer_list<std::string_view> known_fields);
  std::string name_of(std::string_view field) const;
  void fail(int status, std::string_view slug, std::string_view title, std::string detail);
  const nlohmann::json* member(std::string_view field) const;

  std::unique_ptr<nlohmann::json> object_;
  std::string path_;  // "items[2]." for an element, empty for the body itself
  std::optional<http_response> failure_;
};

}  // namespace eventstripe::io
