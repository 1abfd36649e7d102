#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace eventstripe::actors {

// Unix milliseconds as an RFC 3339 UTC timestamp with milliseconds ("2026-11-26T12:00:00.000Z").
std::string iso8601_ms(std::int64_t unix_ms);

// An RFC 3339 date-time with a zone ("Z" or "+01:00"; fractions up to milliseconds are kept)
// as unix milliseconds; nullopt when it is not one (a missing zone is refused: a local time
// without its offset is ambiguous).
std::optional<std::int64_t> parse_rfc3339(std::string_view text);

// Whether `name` is an IANA time zone known to this machine's tz database ("Europe/Berlin").
bool is_time_zone(std::string_view name);

}  // namespace eventstripe::actors
