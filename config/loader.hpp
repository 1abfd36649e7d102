#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/settings.hpp"

namespace eventstripe::config {

// Where an effective value came from; printed next to it so an operator can see which layer won.
enum class source { defaults, file, environment, flag };

// The outcome of reading every layer. `error` is one sentence naming the offending key; when it
// is set, `values` must not be used.
struct load_result {
  settings values;
  std::map<std::string, source> sources;  // key -> layer that set it last
  std::optional<std::string> error;
  bool help_requested = false;
  bool print_config_requested = false;
};

// The environment as name=value pairs, injected so tests do not depend on the process's own.
using environment = std::map<std::string, std::string>;

// Layers, lowest first: defaults < file (`--config PATH` or EVENTSTRIPE_CONFIG) < environment
// (EVENTSTRIPE_HTTP_PORT for http.port) < command-line flags (`--http.port=8080`).
load_result load(const std::vector<std::string>& arguments, const environment& env);

// Reads the real process environment's EVENTSTRIPE_* variables.
environment process_environment();

// `--help`: every key with its default, unit and meaning.
std::string help_text();

// Every key and its effective value, one per line; secrets are shown as "***".
std::string describe(const load_result& result);

// Exit codes of the `eventstripe` binary, documented in the README.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_config_error = 2;
inline constexpr int exit_database_unavailable = 3;

}  // namespace eventstripe::config
