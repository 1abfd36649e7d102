#pragma once

#include "storage/conninfo.hpp"
#include "storage/error.hpp"
#include "storage/pqxx_fwd.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

// Opening connections, in one place, so every "cannot connect" message has the same shape:
//   cannot connect to PostgreSQL at 127.0.0.1:5432/eventstripe: <libpq's reason>
// and never contains a password.
namespace eventstripe::storage {

// Opens one connection to `url` (URL or conninfo) with `settings` applied. Blocks for at most
// about settings.connect_timeout per host, so call it from a pool thread or at start, never
// from a CAF scheduler thread.
result<std::unique_ptr<pqxx::connection>> open_connection(std::string_view url,
                                                          conninfo_settings const& settings);

// Connects once and disconnects: the start-up check that turns an unreachable database into
// one clear line instead of a stack of failed jobs. Returns nullopt when the database answered.
std::optional<error> check_connection(std::string_view url, std::chrono::seconds connect_timeout);

} // namespace eventstripe::storage
