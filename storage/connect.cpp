#include "storage/connect.hpp"

#include <pqxx/connection>
#include <pqxx/except>

#include <cctype>
#include <string>

namespace eventstripe::storage {
namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server running...");
// a log line should not.
std::string single_line(std::string_view message) {
  std::string line;
  bool pending_space = false;
  for (char const character : message) {
    if (std::isspace(static_cast<unsigned char>(character))) {
      pending_space = !line.empty();
      continue;
    }
    if (pending_space)
      line.push_back(' ');
    pending_space = false;
    line.push_back(character);
  }
  return line;
}

error connect_error(std::string_view url, std::string_view reason) {
  std::string message = "cannot connect to PostgreSQL at " + describe_target(url) + ": "
                        + single_line(reason);
  return error{error_code::connect_failed, scrub_password(message, url)};
}

} // namespace

result<std::unique_ptr<pqxx::connection>> open_connection(std::string_view url,
                                                          conninfo_settings const& settings) {
  auto conninfo = make_conninfo(url, settings);
  if (!conninfo)
    return conninfo.error();
  try {
    return std::make_unique<pqxx::connection>(conninfo.value());
  } catch (std::exception const& failure) {
    return connect_error(url, failure.what());
  } catch (...) {
    return connect_error(url, "unknown failure while connecting");
  }
}

std::optional<error> check_connection(std::string_view url, std::chrono::seconds connect_timeout) {
  conninfo_settings settings;
  settings.connect_timeout = connect_timeout;
  auto connection = open_connection(url, settings);
  if (!connection)
    return connection.error();
  return std::nullopt;
}

} // namespace eventstripe::storage
