#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace eventstripe::log {

// One structured field of a log line, named with Elastic Common Schema names
// (`url.path`, `http.response.status_code`, `event.duration`, `trace.id`, ...).
struct field {
  enum class kind { text, integer, boolean };
  field(std::string_view key, std::string_view value) : key(key), text(value), type(kind::text) {}
  field(std::string_view key, const char* value) : key(key), text(value), type(kind::text) {}
  field(std::string_view key, const std::string& value) : key(key), text(value), type(kind::text) {}
  field(std::string_view key, std::int64_t value) : key(key), integer(value), type(kind::integer) {}
  field(std::string_view key, int value) : key(key), integer(value), type(kind::integer) {}
  field(std::string_view key, unsigned value) : key(key), integer(value), type(kind::integer) {}
  field(std::string_view key, std::uint64_t value)
      : key(key), integer(static_cast<std::int64_t>(value)), type(kind::integer) {}
  field(std::string_view key, bool value) : key(key), integer(value ? 1 : 0), type(kind::boolean) {}

  std::string_view key;
  std::string_view text;
  std::int64_t integer = 0;
  kind type;
};

enum class level { trace, debug, info, warning, error, critical };

// Installs the process-wide JSON-lines logger on stdout. `level_name` is one of trace, debug,
// info, warning, error, critical, off (validated by config before it gets here).
void configure(const std::string& level_name);

// Writes one JSON object: `@timestamp`, `log.level`, `message`, then the fields in order.
void write(level severity, std::string_view message, std::initializer_list<field> fields = {});

inline void info(std::string_view message, std::initializer_list<field> fields = {}) {
  write(level::info, message, fields);
}
inline void warn(std::string_view message, std::initializer_list<field> fields = {}) {
  write(level::warning, message, fields);
}
inline void error(std::string_view message, std::initializer_list<field> fields = {}) {
  write(level::error, message, fields);
}
inline void debug(std::string_view message, std::initializer_list<field> fields = {}) {
  write(level::debug, message, fields);
}

// JSON string escaping, shared by the log writer and anyone building JSON by hand.
void append_json_string(std::string& out, std::string_view text);

}  // namespace eventstripe::log
