#include "config/log.hpp"

#include <cstdio>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace eventstripe::log {
namespace {

spdlog::level::level_enum to_spdlog(level severity) {
  switch (severity) {
    case level::trace: return spdlog::level::trace;
    case level::debug: return spdlog::level::debug;
    case level::info: return spdlog::level::info;
    case level::warning: return spdlog::level::warn;
    case level::error: return spdlog::level::err;
    case level::critical: return spdlog::level::critical;
  }
  return spdlog::level::info;
}

}  // namespace

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

void configure(const std::string& level_name) {
  // The multi-threaded stdout sink serialises whole lines, so lines from the gateway threads,
  // actors and the database pool never interleave.
  auto logger = spdlog::stdout_logger_mt("eventstripe");
  logger->set_pattern(R"({"@timestamp":"%Y-%m-%dT%H:%M:%S.%fZ","log.level":"%l",%v})",
                      spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level_name));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(logger);
}

void write(level severity, std::string_view message, std::initializer_list<field> fields) {
  auto logger = spdlog::default_logger_raw();
  if (logger == nullptr || !logger->should_log(to_spdlog(severity))) return;
  std::string line = "\"message\":";
  line.reserve(128);
  append_json_string(line, message);
  for (const auto& item : fields) {
    line += ',';
    append_json_string(line, item.key);
    line += ':';
    switch (item.type) {
      case field::kind::text: append_json_string(line, item.text); break;
      case field::kind::integer: line += std::to_string(item.integer); break;
      case field::kind::boolean: line += item.integer != 0 ? "true" : "false"; break;
    }
  }
  logger->log(to_spdlog(severity), "{}", line);
}

}  // namespace eventstripe::log
