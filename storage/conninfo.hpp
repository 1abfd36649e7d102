#pragma once

#include "storage/error.hpp"

#include <chrono>
#include <string>
#include <string_view>

// Helpers for PostgreSQL connection strings. Both forms libpq accepts are handled: URLs
// (`postgresql://user:password@host:port/database?key=value`) and key/value conninfo
// (`host=... password=...`). Every message storage writes names a database through
// describe_target() or config::redact_url(), so a password never reaches a log.
namespace eventstripe::storage {

// Returns `host:port/database` for messages, e.g. `127.0.0.1:5432/eventstripe`; libpq's
// defaults fill what the string leaves out. Unparsable input gives `config::redact_url(url)`.
std::string describe_target(std::string_view url);

// Returns `text` with any occurrence of the password held in `url` replaced by `***`. Used on
// messages that come from libpq, as a second line of defence.
std::string scrub_password(std::string_view text, std::string_view url);

struct conninfo_settings {
  // libpq counts whole seconds and treats anything below 2 as 2; zero would mean "forever",
  // so zero is raised to the minimum.
  std::chrono::seconds connect_timeout{5};
  // Server-side limit on one statement; zero leaves the server's setting alone.
  std::chrono::milliseconds statement_timeout{0};
  // Shown in pg_stat_activity so operators can tell EventStripe's connections apart.
  std::string application_name = "eventstripe";
  // Replaces the database named in the URL when not empty (tests use fresh databases).
  std::string database_name = {};
};

// Parses `url` (either form) and returns an equivalent key/value conninfo with the settings
// applied; settings win over the same keys in the URL. The result may contain a password.
result<std::string> make_conninfo(std::string_view url, conninfo_settings const& settings);

} // namespace eventstripe::storage
