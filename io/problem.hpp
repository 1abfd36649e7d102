#pragma once

#include <string>
#include <string_view>

#include "io/http_types.hpp"

namespace eventstripe::io {

// Base of every problem `type` URI; the slug after it is stable and documented in the OpenAPI
// document, so clients can switch on it.
inline constexpr std::string_view problem_type_base = "https://eventstripe.dev/problems/";

// An RFC 9457 `application/problem+json` response.
http_response problem(int status, std::string_view slug, std::string_view title, std::string_view detail);

// A JSON response with the given body (already serialised).
http_response json_response(int status, std::string body);

}  // namespace eventstripe::io
