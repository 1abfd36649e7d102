#pragma once

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

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
  // nullopt also when the member is absent or null; ok() tells the cases apart.
  std::optional<std::string> optional_string(std::string_view field);
  // Records that `field`'s value breaks a rule ("must be at most 200 characters").
  void reject(std::string_view field, std::string_view rule);

  bool ok() const { return !failure_.has_value(); }
  const http_response& failure() const { return *failure_; }

 private:
  void fail(int status, std::string_view slug, std::string_view title, std::string detail);
  const nlohmann::json* member(std::string_view field) const;

  std::unique_ptr<nlohmann::json> object_;
  std::optional<http_response> failure_;
};

}  // namespace eventstripe::io
