#pragma once

#include <string>
#include <vector>

#include "io/http_types.hpp"

namespace eventstripe::io {

// Maps method + path to a handler. Patterns are literal segments and `{name}` parameters
// (`/api/v1/events/{event_id}`); a path that matches no pattern is 404, a path that matches
// with another method is 405 with an `Allow` header.
class router {
 public:
  void add(std::string method, std::string pattern, http_handler handler);
  void add_websocket(std::string pattern, websocket_factory factory);

  struct match {
    const http_handler* handler = nullptr;
    const websocket_factory* websocket = nullptr;
    std::string pattern;  // the route's pattern, a bounded label for metrics
    std::string allowed_methods;  // set when the path matched but the method did not
  };
  // Fills `request.path_parameters` on success.
  match find(http_request& request, bool websocket_upgrade) const;

 private:
  struct route {
    std::string method;
    std::vector<std::string> segments;
    std::string pattern;
    http_handler handler;
    websocket_factory websocket;
  };
  static bool matches(const route& candidate, const std::vector<std::string>& segments,
                      std::map<std::string, std::string>& parameters);
  std::vector<route> routes_;
};

// Splits "/a/b/c" into {"a","b","c"}; shared by the router and its tests.
std::vector<std::string> split_path(std::string_view path);

}  // namespace eventstripe::io
