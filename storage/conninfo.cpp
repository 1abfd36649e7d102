#include "storage/conninfo.hpp"

#include "config/redact.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <utility>
#include <vector>

namespace eventstripe::storage {
namespace {

constexpr std::chrono::seconds libpq_connect_timeout_min{2};
constexpr std::string_view redacted_marker = config::redacted_marker;

void replace_all(std::string& text, std::string_view secret) {
  if (secret.empty())
    return;
  for (std::size_t found = text.find(secret); found != std::string::npos;
       found = text.find(secret, found + redacted_marker.size()))
    text.replace(found, secret.size(), redacted_marker);
}

using parsed_options = std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)>;

// Parses with libpq itself so that both forms and all of libpq's quoting rules are honoured.
result<parsed_options> parse_conninfo(std::string_view url) {
  std::string const text(url);
  char* message = nullptr;
  parsed_options options(PQconninfoParse(text.c_str(), &message), &PQconninfoFree);
  if (!options) {
    std::string reason = message ? message : "out of memory";
    PQfreemem(message);
    while (!reason.empty() && std::isspace(static_cast<unsigned char>(reason.back())))
      reason.pop_back();
    return error{error_code::invalid_url, scrub_password(
      "cannot parse database URL " + config::redact_url(url) + ": " + reason, url)};
  }
  return options;
}

std::string option_value(PQconninfoOption const* options, std::string_view keyword) {
  for (PQconninfoOption const* option = options; option->keyword; ++option)
    if (keyword == option->keyword && option->val)
      return option->val;
  return {};
}

void append_conninfo_pair(std::string& conninfo, std::string_view keyword, std::string_view value) {
  if (!conninfo.empty())
    conninfo.push_back(' ');
  conninfo.append(keyword);
  conninfo.append("='");
  for (char const character : value) {
    if (character == '\\' || character == '\'')
      conninfo.push_back('\\');
    conninfo.push_back(character);
  }
  conninfo.push_back('\'');
}

} // namespace

std::string scrub_password(std::string_view text, std::string_view url) {
  std::string scrubbed(text);
  for (auto const& secret : config::password_spans(url))
    replace_all(scrubbed, url.substr(secret.begin, secret.end - secret.begin));
  // libpq may have decoded the password (percent-encoding, quotes): scrub that form too.
  std::string const text_copy(url);
  parsed_options options(PQconninfoParse(text_copy.c_str(), nullptr), &PQconninfoFree);
  if (options)
    replace_all(scrubbed, option_value(options.get(), "password"));
  return scrubbed;
}

std::string describe_target(std::string_view url) {
  auto parsed = parse_conninfo(url);
  if (!parsed)
    return config::redact_url(url);
  PQconninfoOption const* options = parsed.value().get();
  std::string host = option_value(options, "host");
  if (host.empty())
    host = option_value(options, "hostaddr");
  if (host.empty())
    host = "local-socket";
  std::string port = option_value(options, "port");
  if (port.empty())
    port = "5432";
  std::string database = option_value(options, "dbname");
  if (database.empty())
    database = option_value(options, "user");
  return scrub_password(host + ":" + port + "/" + database, url);
}

result<std::string> make_conninfo(std::string_view url, conninfo_settings const& settings) {
  auto parsed = parse_conninfo(url);
  if (!parsed)
    return parsed.error();
  std::vector<std::pair<std::string, std::string>> pairs;
  for (PQconninfoOption const* option = parsed.value().get(); option->keyword; ++option)
    if (option->val && *option->val)
      pairs.emplace_back(option->keyword, option->val);
  auto set = [&pairs](std::string const& keyword, std::string value) {
    auto found = std::find_if(pairs.begin(), pairs.end(),
                              [&](auto const& pair) { return pair.first == keyword; });
    if (found == pairs.end())
      pairs.emplace_back(keyword, std::move(value));
    else
      found->second = std::move(value);
  };
  auto const connect_timeout = std::max(settings.connect_timeout, libpq_connect_timeout_min);
  set("connect_timeout", std::to_string(connect_timeout.count()));
  if (!settings.application_name.empty())
    set("application_name", settings.application_name);
  if (!settings.database_name.empty())
    set("dbname", settings.database_name);
  if (settings.statement_timeout.count() > 0) {
    std::string options = option_value(parsed.value().get(), "options");
    options += (options.empty() ? "" : " ");
    options += "-c statement_timeout=" + std::to_string(settings.statement_timeout.count());
    set("options", std::move(options));
  }
  std::string conninfo;
  for (auto const& [keyword, value] : pairs)
    append_conninfo_pair(conninfo, keyword, value);
  return conninfo;
}

} // namespace eventstripe::storage
