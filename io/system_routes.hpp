#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/fwd.hpp>

namespace eventstripe::actors {
class node_status;
}

namespace eventstripe::io {

class router;
class metrics;

struct system_routes_context {
  std::shared_ptr<actors::node_status> status;
  metrics* stats = nullptr;
  caf::actor_system* system = nullptr;
  std::string node_id;
  std::string version;
  std::chrono::system_clock::time_point started_at;
  bool debug_endpoints = false;
};

// The node's own endpoints: /healthz, /readyz, /metrics, GET /api/v1/node, and — only with
// http.debug_endpoints — /api/v1/debug/echo, /api/v1/debug/sleep and /ws/debug/echo, which
// the integration tests use to send JSON, hold a request in flight, and round-trip a WebSocket.
void add_system_routes(router& routes, system_routes_context context);

// Longest sleep /api/v1/debug/sleep accepts.
inline constexpr std::chrono::milliseconds debug_sleep_max_ms{60'000};

}  // namespace eventstripe::io
