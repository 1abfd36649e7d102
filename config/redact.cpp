#include "config/redact.hpp"

#include <algorithm>
#include <cctype>

namespace eventstripe::config {
namespace {

using span = password_span;



bool starts_with_url_scheme(std::string_view text) {
  return text.starts_with("postgresql://") || text.starts_with("postgres://");
}

void add_query_password_spans(std::string_view url, std::size_t query_begin, std::vector<span>& spans) {
  std::size_t parameter_begin = query_begin;
  while (parameter_begin < url.size()) {
    std::size_t parameter_end = url.find('&', parameter_begin);
    if (parameter_end == std::string_view::npos)
      parameter_end = url.size();
    std::string_view parameter = url.substr(parameter_begin, parameter_end - parameter_begin);
    constexpr std::string_view key = "password=";
    if (parameter.starts_with(key) && parameter.size() > key.size())
      spans.push_back({parameter_begin + key.size(), parameter_end});
    parameter_begin = parameter_end + 1;
  }
}

// Why "last '@' before the first '?'": a password typed without percent-encoding may itself
// contain '@' or '/', and over-redacting is harmless while under-redacting leaks.
std::vector<span> find_url_password_spans(std::string_view url) {
  std::vector<span> spans;
  std::size_t const authority_begin = url.find("://") + 3;
  std::size_t const query_mark = url.find('?', authority_begin);
  std::size_t const region_end = query_mark == std::string_view::npos ? url.size() : query_mark;
  std::string_view const region = url.substr(authority_begin, region_end - authority_begin);
  std::size_t const at = region.rfind('@');
  if (at != std::string_view::npos) {
    std::size_t const colon = region.substr(0, at).find(':');
    if (colon != std::string_view::npos && colon + 1 < at)
      spans.push_back({authority_begin + colon + 1, authority_begin + at});
  }
  if (query_mark != std::string_view::npos)
    add_query_password_spans(url, query_mark + 1, spans);
  return spans;
}

std::size_t skip_spaces(std::string_view text, std::size_t position) {
  while (position < text.size() && std::isspace(static_cast<unsigned char>(text[position])))
    ++position;
  return position;
}

// Returns the end of a conninfo value starting at `position`: quoted ('...' with backslash
// escapes) or bare (up to whitespace), following libpq's own rules.
std::size_t conninfo_value_end(std::string_view text, std::size_t position) {
  bool const quoted = position < text.size() && text[position] == '\'';
  if (quoted)
    ++position;
  while (position < text.size()) {
    char const current = text[position];
    if (current == '\\') {
      position += 2;
      continue;
    }
    if (quoted && current == '\'')
      return position + 1;
    if (!quoted && std::isspace(static_cast<unsigned char>(current)))
      return position;
    ++position;
  }
  return text.size();
}

std::vector<span> find_conninfo_password_spans(std::string_view text) {
  std::vector<span> spans;
  std::size_t position = skip_spaces(text, 0);
  while (position < text.size()) {
    std::size_t keyword_end = position;
    while (keyword_end < text.size() && text[keyword_end] != '='
           && !std::isspace(static_cast<unsigned char>(text[keyword_end])))
      ++keyword_end;
    std::string_view const keyword = text.substr(position, keyword_end - position);
    std::size_t const equals = skip_spaces(text, keyword_end);
    if (equals >= text.size() || text[equals] != '=')
      break; // malformed from here on: libpq will reject it; nothing more to find
    std::size_t const value_begin = skip_spaces(text, equals + 1);
    std::size_t const value_end = conninfo_value_end(text, value_begin);
    if (keyword == "password" && value_end > value_begin)
      spans.push_back({value_begin, value_end});
    position = skip_spaces(text, value_end);
  }
  return spans;
}

std::string replace_spans(std::string_view text, std::vector<span> spans) {
  std::sort(spans.begin(), spans.end(), [](span a, span b) { return a.begin < b.begin; });
  std::string output;
  std::size_t copied_until = 0;
  for (span const& secret : spans) {
    if (secret.begin < copied_until)
      continue; // overlaps a span already replaced
    output.append(text.substr(copied_until, secret.begin - copied_until));
    output.append(redacted_marker);
    copied_until = secret.end;
  }
  output.append(text.substr(std::min(copied_until, text.size())));
  return output;
}

} // namespace

// Spans are relative to `url` itself; leading spaces are allowed as libpq allows them.
std::vector<password_span> password_spans(std::string_view url) {
  std::size_t const leading = std::min(url.size(), skip_spaces(url, 0));
  std::string_view const trimmed = url.substr(leading);
  std::vector<span> spans = starts_with_url_scheme(trimmed) ? find_url_password_spans(trimmed)
                                                            : find_conninfo_password_spans(trimmed);
  for (span& secret : spans) {
    secret.begin += leading;
    secret.end += leading;
  }
  return spans;
}

std::string redact_url(std::string_view url) {
  return replace_spans(url, password_spans(url));
}

} // namespace eventstripe::config
