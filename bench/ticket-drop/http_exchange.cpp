#include "bench/ticket-drop/http_exchange.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace eventstripe::bench {
namespace {

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

struct reply_head {
  int status = 0;
  std::size_t content_length = 0;
  bool keep_alive = true;
};

// Reads the status line and the headers the client needs; false when they make no sense.
bool read_head(std::string_view head, reply_head& parsed) {
  auto line_end = head.find("\r\n");
  auto status_line = head.substr(0, line_end);
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) return false;
  auto status_text = status_line.substr(9, 3);
  if (std::from_chars(status_text.data(), status_text.data() + 3, parsed.status).ec != std::errc{}) return false;
  parsed.keep_alive = status_line.starts_with("HTTP/1.1");
  while (line_end != std::string_view::npos && line_end + 2 < head.size()) {
    auto begin = line_end + 2;
    line_end = head.find("\r\n", begin);
    auto line = head.substr(begin, line_end == std::string_view::npos ? std::string_view::npos : line_end - begin);
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return false;
    auto name = line.substr(0, colon);
    auto value = trim(line.substr(colon + 1));
    if (equal_ignoring_case(name, "content-length")) {
      if (std::from_chars(value.data(), value.data() + value.size(), parsed.content_length).ec != std::errc{})
        return false;
    } else if (equal_ignoring_case(name, "connection")) {
      if (equal_ignoring_case(value, "close")) parsed.keep_alive = false;
      if (equal_ignoring_case(value, "keep-alive")) parsed.keep_alive = true;
    } else if (equal_ignoring_case(name, "transfer-encoding")) {
      return false;  // see the header: the gateway never chunks
    }
  }
  return true;
}

}  // namespace

std::string format_request(const std::string& method, const std::string& path, const std::string& body,
                           const header_list& headers) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (const auto& [name, value] : headers) request += name + ": " + value + "\r\n";
  if (!body.empty() || method == "POST")
    request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  request += "\r\n";
  request += body;
  return request;
}

parse_status parse_reply(std::string& buffer, http_reply& reply) {
  auto head_end = buffer.find("\r\n\r\n");
  if (head_end == std::string::npos)
    return buffer.size() > reply_head_size_max_bytes ? parse_status::malformed : parse_status::incomplete;
  reply_head head;
  if (!read_head(std::string_view{buffer}.substr(0, head_end), head)) return parse_status::malformed;
  auto body_begin = head_end + 4;
  if (buffer.size() < body_begin + head.content_length) return parse_status::incomplete;
  reply.status = head.status;
  reply.keep_alive = head.keep_alive;
  reply.body.assign(buffer, body_begin, head.content_length);
  buffer.erase(0, body_begin + head.content_length);
  return parse_status::complete;
}

std::string problem_slug(const std::string& body) {
  static constexpr std::string_view marker = "/problems/";
  auto at = body.find(marker);
  if (at == std::string::npos) return {};
  auto begin = at + marker.size();
  auto end = body.find('"', begin);
  return body.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

}  // namespace eventstripe::bench
