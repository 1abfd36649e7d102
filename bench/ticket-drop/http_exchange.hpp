#pragma once

// The little HTTP/1.1 the load generator speaks: requests it formats itself and responses it
// parses out of a byte stream. The gateway always answers with a Content-Length body, so chunked
// bodies are refused as malformed rather than half-supported.
#include <string>
#include <utility>
#include <vector>

namespace eventstripe::bench {

struct http_reply {
  int status = 0;
  std::string body;
  bool keep_alive = true;
};

using header_list = std::vector<std::pair<std::string, std::string>>;

// A whole request, ready to write to a keep-alive connection.
std::string format_request(const std::string& method, const std::string& path, const std::string& body,
                           const header_list& headers = {});

enum class parse_status { incomplete, complete, malformed };

// When `buffer` starts with a whole response: fills `reply`, removes its bytes from `buffer` and
// answers complete. Largest head accepted: reply_head_size_max_bytes.
parse_status parse_reply(std::string& buffer, http_reply& reply);

inline constexpr std::size_t reply_head_size_max_bytes = 64 * 1024;

// The slug of a problem+json answer ("sold-out" of ".../problems/sold-out"), or empty.
std::string problem_slug(const std::string& body);

}  // namespace eventstripe::bench
