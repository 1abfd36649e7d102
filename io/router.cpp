#include "io/router.hpp"

#include <algorithm>
#include <cctype>

namespace eventstripe::io {

const std::string* http_request::header(std::string_view lower_case_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_case_name) return &value;
  return nullptr;
}

std::optional<std::string> http_request::query_value(const std::string& name) const {
  auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t begin = 0;
  while (begin <= path.size()) {
    auto end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    if (end > begin) segments.emplace_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  return segments;
}

void router::add(std::string method, std::string pattern, http_handler handler) {
  routes_.push_back({std::move(method), split_path(pattern), pattern, std::move(handler), {}});
}

void router::add_websocket(std::string pattern, websocket_factory factory) {
  routes_.push_back({"GET", split_path(pattern), pattern, {}, std::move(factory)});
}

bool router::matches(const route& candidate, const std::vector<std::string>& segments,
                     std::map<std::string, std::string>& parameters) {
  if (candidate.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto& expected = candidate.segments[i];
    if (expected.size() > 2 && expected.front() == '{' && expected.back() == '}')
      parameters[expected.substr(1, expected.size() - 2)] = segments[i];
    else if (expected != segments[i])
      return false;
  }
  return true;
}

router::match router::find(http_request& request, bool websocket_upgrade) const {
  auto segments = split_path(request.path);
  match result;
  for (const auto& candidate : routes_) {
    std::map<std::string, std::string> parameters;
    if (!matches(candidate, segments, parameters)) continue;
    bool is_websocket_route = static_cast<bool>(candidate.websocket);
    if (candidate.method == request.method && is_websocket_route == websocket_upgrade) {
      request.path_parameters = std::move(parameters);
      result.pattern = candidate.pattern;
      result.handler = is_websocket_route ? nullptr : &candidate.handler;
      result.websocket = is_websocket_route ? &candidate.websocket : nullptr;
      result.allowed_methods.clear();
      return result;
    }
    if (result.allowed_methods.find(candidate.method) == std::string::npos)
      result.allowed_methods += (result.allowed_methods.empty() ? "" : ", ") + candidate.method;
    result.pattern = candidate.pattern;
  }
  return result;
}

}  // namespace eventstripe::io
