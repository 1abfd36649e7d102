#include "io/problem.hpp"

#include <nlohmann/json.hpp>

namespace eventstripe::io {

http_response problem(int status, std::string_view slug, std::string_view title, std::string_view detail) {
  nlohmann::json body = {
      {"type", std::string{problem_type_base} + std::string{slug}},
      {"title", title},
      {"status", status},
      {"detail", detail},
  };
  // The detail may quote the request (a path with invalid UTF-8): replace, never throw.
  return {status, "application/problem+json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), {}};
}

http_response json_response(int status, std::string body) { return {status, "application/json", std::move(body), {}}; }

}  // namespace eventstripe::io
