#pragma once

// Helpers shared by the provider tests: reading a form body back, and capturing the log lines
// the adapters write (to prove no secret ever reaches them).
#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "actors/payment_provider.hpp"

// Outcomes print by name when a check fails.
namespace Catch {
template <>
struct StringMaker<eventstripe::actors::provider_outcome> {
  static std::string convert(eventstripe::actors::provider_outcome outcome) {
    return std::string{eventstripe::actors::to_string(outcome)};
  }
};
template <>
struct StringMaker<eventstripe::actors::webhook_verdict> {
  static std::string convert(eventstripe::actors::webhook_verdict verdict) {
    return std::string{eventstripe::actors::to_string(verdict)};
  }
};
}  // namespace Catch

namespace eventstripe::test {

inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

inline std::string form_decode(const std::string& text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// name -> value of an application/x-www-form-urlencoded body (names are unique in our bodies).
inline std::map<std::string, std::string> form_fields_of(const std::string& body) {
  std::map<std::string, std::string> fields;
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('&', start);
    auto pair = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
    auto equals = pair.find('=');
    fields[form_decode(pair.substr(0, equals))] = equals == std::string::npos ? "" : form_decode(pair.substr(equals + 1));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return fields;
}

// The adapters warn about every call without a verdict; the test output stays readable when
// only log_capture (below) sees those lines.
inline const bool quiet_default_logger = [] {
  spdlog::default_logger()->set_level(spdlog::level::off);
  return true;
}();

// Routes the process's log lines into a string for the lifetime of the object.
class log_capture {
 public:
  log_capture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_);
    auto logger = std::make_shared<spdlog::logger>("providers_test", sink);
    logger->set_level(spdlog::level::trace);
    logger->set_pattern("%v");
    spdlog::set_default_logger(logger);
  }
  ~log_capture() {
    spdlog::set_default_logger(previous_);
    spdlog::drop("providers_test");  // its sink writes into this object
  }
  log_capture(const log_capture&) = delete;
  log_capture& operator=(const log_capture&) = delete;

  std::string text() const {
    spdlog::default_logger()->flush();
    return lines_.str();
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream lines_;
};

}  // namespace eventstripe::test
