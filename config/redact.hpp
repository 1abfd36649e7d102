#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

// Passwords in PostgreSQL connection strings, found without libpq so that configuration (which
// prints the effective settings) and storage (which writes connection errors) share one rule.
// Both forms libpq accepts are handled: URLs (`postgresql://user:password@host/db?password=...`)
// and key/value conninfo (`host=... password='...'`).
namespace eventstripe::config {

inline constexpr std::string_view redacted_marker = "***";

// A half-open byte range [begin, end) of a connection string that holds a password.
struct password_span {
  std::size_t begin;
  std::size_t end;
};

std::vector<password_span> password_spans(std::string_view url);

// Returns `url` with every password replaced by `***`. Text that cannot be parsed is still
// scrubbed as far as it goes.
std::string redact_url(std::string_view url);

} // namespace eventstripe::config
