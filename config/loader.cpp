#include "config/loader.hpp"

#include "config/redact.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <variant>

extern char** environ;

namespace eventstripe::config {
namespace {

using std::chrono::milliseconds;

// A typed pointer into `settings`: the loader parses a text value into whichever member the key
// names, with the bounds that key allows.
using member = std::variant<std::string settings::*, std::uint16_t settings::*, std::size_t settings::*,
                            milliseconds settings::*, bool settings::*>;

struct key_spec {
  const char* name;
  member target;
  const char* unit;
  const char* description;
  std::uint64_t minimum = 0;
  std::uint64_t maximum = std::numeric_limits<std::uint32_t>::max();
  bool secret = false;
  std::vector<std::string> choices = {};
};

const std::vector<key_spec>& key_table() {
  static const std::vector<key_spec> table = {
      {"http.host", &settings::http_host, "address", "address the gateway listens on"},
      {"http.port", &settings::http_port, "port", "TCP port of HTTP, WebSocket and /metrics (0: any free port)", 0, 65535},
      {"http.threads", &settings::http_threads, "threads", "I/O threads of the gateway", 1, 64},
      {"http.header_size_max_bytes", &settings::http_header_size_max_bytes, "bytes",
       "largest request head accepted (431 beyond)", 1024, 1024 * 1024},
      {"http.body_size_max_bytes", &settings::http_body_size_max_bytes, "bytes",
       "largest request body accepted (413 beyond)", 0, 64 * 1024 * 1024},
      {"http.read_timeout_ms", &settings::http_read_timeout_ms, "ms",
       "time allowed to receive a whole request once it started", 1, 3'600'000},
      {"http.idle_timeout_ms", &settings::http_idle_timeout_ms, "ms",
       "keep-alive connection closed after this long without a request", 1, 3'600'000},
      {"http.connections_max", &settings::http_connections_max, "connections",
       "open connections beyond this are answered 503 and closed", 1, 1'000'000},
      {"http.debug_endpoints", &settings::http_debug_endpoints, "bool",
       "serve /api/v1/debug/* (echo, slow request) for tests; never in production"},
      {"http.client_address_header", &settings::http_client_address_header, "header",
       "header a trusted proxy puts the client address in (e.g. X-Forwarded-For; its first entry); "
       "empty: the TCP peer"},
      {"websocket.message_size_max_bytes", &settings::websocket_message_size_max_bytes, "bytes",
       "largest WebSocket message accepted (closed with 1009 beyond)", 16, 16 * 1024 * 1024},
      {"websocket.send_queue_max", &settings::websocket_send_queue_max, "messages",
       "outgoing messages queued per WebSocket before it is closed as too slow", 1, 65536},
      {"database.url", &settings::database_url, "url", "PostgreSQL URL or conninfo", 0, 0, true},
      {"database.password", &settings::database_password, "secret",
       "PostgreSQL password, used when database.url carries none", 0, 0, true},
      {"database.pool_size", &settings::database_pool_size, "connections",
       "PostgreSQL connections, each on its own blocking thread", 1, 256},
      {"database.payments_pool_size", &settings::database_payments_pool_size, "connections",
       "PostgreSQL connections of payments, refunds and tickets (apart from the holds' pool)", 1, 256},
      {"database.queue_size_max", &settings::database_queue_size_max, "jobs",
       "database jobs waiting for a connection before new ones are refused", 1, 1'000'000},
      {"database.connect_timeout_ms", &settings::database_connect_timeout_ms, "ms",
       "time allowed to open one PostgreSQL connection", 1000, 600'000},
      {"database.readiness_probe_interval_ms", &settings::readiness_probe_interval_ms, "ms",
       "how often /readyz re-checks the database", 50, 600'000},
      {"inventory.hold_ttl_ms", &settings::hold_ttl_ms, "ms", "how long a hold lasts before it expires", 1000,
       86'400'000},
      {"inventory.hold_extension_ms", &settings::hold_extension_ms, "ms",
       "what the one extension of a hold adds", 0, 86'400'000},
      {"inventory.batch_size_max", &settings::quota_batch_size_max, "requests",
       "requests one quota commits in one transaction", 1, 10'000},
      {"inventory.request_timeout_ms", &settings::entity_request_timeout_ms, "ms",
       "time an entity actor gets to answer before the caller gives up", 100, 600'000},
      {"inventory.buyer_checkouts_max", &settings::buyer_checkouts_max, "checkouts",
       "live checkouts one buyer email may hold per event", 1, 1000},
      {"inventory.address_checkouts_max", &settings::address_checkouts_max, "checkouts",
       "live checkouts one client address may hold per event", 1, 10'000'000},
      {"inventory.checkout_items_max", &settings::checkout_items_max, "items",
       "ticket types in one checkout", 1, 20},
      {"inventory.availability_push_interval_ms", &settings::availability_push_interval_ms, "ms",
       "availability WebSockets get at most one update per interval", 10, 60'000},
      {"inventory.expiry_warning_ms", &settings::expiry_warning_ms, "ms",
       "how long before expiry a checkout's WebSocket hears expiring_soon", 0, 3'600'000},
      {"inventory.entity_idle_timeout_ms", &settings::entity_idle_timeout_ms, "ms",
       "an entity actor idle this long passivates (it reloads on demand)", 1000, 86'400'000},
      {"cluster.shard_count", &settings::shard_count, "shards",
       "shards entity keys map to; fixed for the life of a deployment", 1, 65'536},
      {"testing.fault_injection", &settings::fault_injection, "bool",
       "lets tests make entity actors crash (POST /api/v1/debug/crash); never in production"},
      {"payments.stripe.api_base", &settings::stripe_api_base, "url",
       "Stripe API base URL (https://api.stripe.com, or the sandbox's); empty: no Stripe account"},
      {"payments.stripe.secret_key", &settings::stripe_secret_key, "secret", "Stripe secret API key", 0, 0, true},
      {"payments.stripe.webhook_secrets", &settings::stripe_webhook_secrets, "secret",
       "Stripe webhook signing secrets, comma-separated (several while rotating)", 0, 0, true},
      {"payments.adyen.api_base", &settings::adyen_api_base, "url",
       "Adyen Checkout API base URL; empty: no Adyen account"},
      {"payments.adyen.api_key", &settings::adyen_api_key, "secret", "Adyen API key (X-API-Key)", 0, 0, true},
      {"payments.adyen.hmac_keys", &settings::adyen_hmac_keys, "secret",
       "Adyen notification HMAC keys in hex, comma-separated (several while rotating)", 0, 0, true},
      {"payments.adyen.merchant_account", &settings::adyen_merchant_account, "name", "Adyen merchant account"},
      {"payments.ticket_key_wrapping_key", &settings::ticket_key_wrapping_key, "secret",
       "32-byte key in hex that wraps the events' ticket signing keys at rest; empty: stored unwrapped", 0, 0, true},
      {"payments.ca_file", &settings::payments_ca_file, "path",
       "PEM file of CAs trusted for provider TLS; empty: the system's trust store"},
      {"payments.default_providers", &settings::payments_default_providers, "names",
       "provider order for workspaces without their own routing, comma-separated"},
      {"payments.provider_timeout_ms", &settings::provider_timeout_ms, "ms",
       "time one provider call may take before its outcome counts as unknown", 100, 600'000},
      {"payments.provider_threads", &settings::provider_threads, "threads",
       "threads making blocking provider calls", 1, 256},
      {"payments.attempts_max", &settings::payment_attempts_max, "calls",
       "provider calls one payment step makes (retries included) before it fails", 1, 100},
      {"payments.retry_initial_ms", &settings::payment_retry_initial_ms, "ms",
       "first retry delay; doubles per retry, with jitter", 1, 600'000},
      {"payments.retry_max_ms", &settings::payment_retry_max_ms, "ms", "largest retry delay", 1, 3'600'000},
      {"payments.webhook_tolerance_s", &settings::webhook_tolerance_s, "s",
       "how old a signed webhook timestamp may be", 1, 86'400},
      {"payments.webhook_future_skew_s", &settings::webhook_future_skew_s, "s",
       "how far in the future a signed webhook timestamp may be", 0, 3'600},
      {"payments.action_recheck_ms", &settings::payment_action_recheck_ms, "ms",
       "how often a payment waiting for the buyer's 3-D Secure step is read again without a webhook; "
       "a Stripe one still waiting after twice inventory.hold_ttl_ms is cancelled at Stripe", 100, 3'600'000},
      {"payments.reconciliation_interval_ms", &settings::reconciliation_interval_ms, "ms",
       "how often the reconciliation job runs (0: only on demand)", 0, 86'400'000},
      {"node.id", &settings::node_id, "name", "this node's name; empty: host name and port"},
      {"log.level", &settings::log_level, "level", "least severe log level written", 0, 0, false,
       {"trace", "debug", "info", "warning", "error", "critical", "off"}},
      {"actors.threads", &settings::actor_threads, "threads", "CAF scheduler worker threads", 1, 256},
      {"shutdown.deadline_ms", &settings::shutdown_deadline_ms, "ms",
       "time in-flight requests get to finish after SIGTERM", 0, 3'600'000},
  };
  return table;
}

const key_spec* find_key(std::string_view name) {
  for (const auto& spec : key_table())
    if (name == spec.name) return &spec;
  return nullptr;
}

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, errc] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (errc != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::string quoted(std::string_view text) { return "'" + std::string{text} + "'"; }

// Assigns `text` to the member `spec` names; returns the error sentence when it does not fit.
std::optional<std::string> assign(settings& values, const key_spec& spec, std::string_view text) {
  const std::string prefix = std::string{spec.name} + ": ";
  auto bounded = [&]() -> std::optional<std::uint64_t> {
    auto number = parse_unsigned(text);
    if (!number || *number < spec.minimum || *number > spec.maximum) return std::nullopt;
    return number;
  };
  auto range_error = [&](std::string_view what) {
    return prefix + "expected " + std::string{what} + " from " + std::to_string(spec.minimum) + " to " +
           std::to_string(spec.maximum) + ", got " + quoted(text);
  };
  return std::visit(
      [&](auto pointer) -> std::optional<std::string> {
        using type = std::remove_reference_t<decltype(values.*pointer)>;
        if constexpr (std::is_same_v<type, std::string>) {
          if (!spec.choices.empty() &&
              std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
            std::string allowed;
            for (const auto& choice : spec.choices) allowed += (allowed.empty() ? "" : ", ") + choice;
            return prefix + "expected one of " + allowed + ", got " + quoted(text);
          }
          values.*pointer = std::string{text};
        } else if constexpr (std::is_same_v<type, bool>) {
          if (text == "true" || text == "1" || text == "yes") values.*pointer = true;
          else if (text == "false" || text == "0" || text == "no") values.*pointer = false;
          else return prefix + "expected true or false, got " + quoted(text);
        } else if constexpr (std::is_same_v<type, milliseconds>) {
          auto number = bounded();
          if (!number) return range_error("a whole number of milliseconds");
          values.*pointer = milliseconds{static_cast<milliseconds::rep>(*number)};
        } else {
          auto number = bounded();
          if (!number) return range_error(std::string{"a whole number of "} + spec.unit);
          values.*pointer = static_cast<type>(*number);
        }
        return std::nullopt;
      },
      spec.target);
}

std::string trim(std::string_view text) {
  auto begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  auto end = text.find_last_not_of(" \t\r");
  return std::string{text.substr(begin, end - begin + 1)};
}

// `PREFIX_HTTP_PORT` <-> `http.port`: upper case, dots and underscores both become '_', so the
// mapping is done from the key table rather than by reversing the string.
std::string environment_name(std::string_view key) {
  std::string name = "EVENTSTRIPE_";
  for (char c : key) name += (c == '.') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

struct layer_state {
  load_result& result;
  bool set(std::string_view key, std::string_view value, source from, std::string_view where) {
    const key_spec* spec = find_key(key);
    if (spec == nullptr) {
      result.error = "unknown configuration key " + quoted(key) + " in " + std::string{where} +
                     " (see --help for the list)";
      return false;
    }
    if (auto error = assign(result.values, *spec, value)) {
      result.error = *error + " (from " + std::string{where} + ")";
      return false;
    }
    result.sources[spec->name] = from;
    return true;
  }
};

bool load_file(layer_state& state, const std::string& path) {
  std::ifstream file{path};
  if (!file) {
    state.result.error = "config: cannot read configuration file " + quoted(path);
    return false;
  }
  std::string line;
  for (int number = 1; std::getline(file, line); ++number) {
    auto content = trim(line.substr(0, line.find('#')));
    if (content.empty()) continue;
    auto equals = content.find('=');
    std::string where = path + ":" + std::to_string(number);
    if (equals == std::string::npos) {
      state.result.error = "config: expected 'key = value' at " + where + ", got " + quoted(content);
      return false;
    }
    auto value = trim(content.substr(equals + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (!state.set(trim(content.substr(0, equals)), value, source::file, where)) return false;
  }
  return true;
}

bool load_environment(layer_state& state, const environment& env) {
  for (const auto& [name, value] : env) {
    if (name.rfind("EVENTSTRIPE_", 0) != 0 || name == "EVENTSTRIPE_CONFIG") continue;
    const key_spec* match = nullptr;
    for (const auto& spec : key_table())
      if (environment_name(spec.name) == name) match = &spec;
    if (match == nullptr) {
      state.result.error = "unknown configuration variable " + name + " in the environment (see --help)";
      return false;
    }
    if (!state.set(match->name, value, source::environment, "environment variable " + name)) return false;
  }
  return true;
}

// Splits `--key=value` / `--key value`; collects the config-file path first, since the file
// layer sits below the flags even though `--config` is itself a flag.
struct parsed_flag {
  std::string key;
  std::optional<std::string> value;
};

std::optional<std::vector<parsed_flag>> split_flags(const std::vector<std::string>& arguments, load_result& result) {
  std::vector<parsed_flag> flags;
  for (std::size_t i = 0; i < arguments.size(); ++i) {
    const std::string& argument = arguments[i];
    if (argument.rfind("--", 0) != 0 || argument.size() == 2) {
      result.error = "unexpected argument " + quoted(argument) + " (flags look like --http.port=8080)";
      return std::nullopt;
    }
    auto body = argument.substr(2);
    auto equals = body.find('=');
    if (equals != std::string::npos) {
      flags.push_back({body.substr(0, equals), body.substr(equals + 1)});
    } else if (body == "help" || body == "print-config") {
      flags.push_back({body, std::nullopt});
    } else if (i + 1 < arguments.size()) {
      flags.push_back({body, arguments[++i]});
    } else {
      result.error = "flag --" + body + " needs a value";
      return std::nullopt;
    }
  }
  return flags;
}

}  // namespace

load_result load(const std::vector<std::string>& arguments, const environment& env) {
  load_result result;
  for (const auto& spec : key_table()) result.sources[spec.name] = source::defaults;
  layer_state state{result};
  auto flags = split_flags(arguments, result);
  if (!flags) return result;

  std::optional<std::string> file_path;
  if (auto it = env.find("EVENTSTRIPE_CONFIG"); it != env.end()) file_path = it->second;
  for (const auto& flag : *flags) {
    if (flag.key == "help") result.help_requested = true;
    else if (flag.key == "print-config") result.print_config_requested = true;
    else if (flag.key == "config") file_path = flag.value;
  }
  if (result.help_requested) return result;
  if (file_path && !load_file(state, *file_path)) return result;
  if (!load_environment(state, env)) return result;
  for (const auto& flag : *flags) {
    if (flag.key == "help" || flag.key == "print-config" || flag.key == "config") continue;
    if (!state.set(flag.key, *flag.value, source::flag, "flag --" + flag.key)) return result;
  }
  return result;
}

environment process_environment() {
  environment env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    std::string_view text{*entry};
    if (text.rfind("EVENTSTRIPE_", 0) != 0) continue;
    auto equals = text.find('=');
    if (equals == std::string_view::npos) continue;
    env.emplace(std::string{text.substr(0, equals)}, std::string{text.substr(equals + 1)});
  }
  return env;
}

namespace {

std::string value_text(const settings& values, const key_spec& spec) {
  if (spec.secret) {
    if (spec.target == member{&settings::database_url}) return redact_url(values.database_url);
    // Every other secret is a string: shown as set or not, never its value.
    const auto* text = std::get_if<std::string settings::*>(&spec.target);
    return text && !(values.**text).empty() ? std::string{redacted_marker} : "";
  }
  return std::visit(
      [&](auto pointer) -> std::string {
        const auto& value = values.*pointer;
        using type = std::remove_cvref_t<decltype(value)>;
        if constexpr (std::is_same_v<type, std::string>) return value;
        else if constexpr (std::is_same_v<type, bool>) return value ? "true" : "false";
        else if constexpr (std::is_same_v<type, milliseconds>) return std::to_string(value.count());
        else return std::to_string(value);
      },
      spec.target);
}

const char* source_name(source from) {
  switch (from) {
    case source::defaults: return "default";
    case source::file: return "file";
    case source::environment: return "environment";
    case source::flag: return "flag";
  }
  return "?";
}

}  // namespace

std::string help_text() {
  const settings defaults;
  std::ostringstream out;
  out << "usage: eventstripe [--config FILE] [--KEY=VALUE ...] [--print-config] [--help]\n\n"
         "Layers, later wins: defaults < config file (KEY = VALUE lines; --config or\n"
         "EVENTSTRIPE_CONFIG) < environment (EVENTSTRIPE_HTTP_PORT for http.port) < flags.\n\n"
         "keys:\n";
  for (const auto& spec : key_table()) {
    out << "  --" << spec.name << " (" << spec.unit << ", default "
        << (spec.secret ? (value_text(defaults, spec).empty() ? "none" : value_text(defaults, spec))
                        : quoted(value_text(defaults, spec)))
        << ")\n      " << spec.description << "\n";
  }
  return out.str();
}

std::string describe(const load_result& result) {
  std::ostringstream out;
  for (const auto& spec : key_table())
    out << spec.name << " = " << value_text(result.values, spec) << "  # "
        << source_name(result.sources.at(spec.name)) << "\n";
  return out.str();
}

}  // namespace eventstripe::config
