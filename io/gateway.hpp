#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

namespace eventstripe::io {

class router;
class metrics;

// The gateway's limits, each named with its unit; filled from config::settings by the caller.
struct gateway_limits {
  std::size_t header_size_max_bytes;
  std::size_t body_size_max_bytes;
  std::chrono::milliseconds read_timeout_ms;
  std::chrono::milliseconds idle_timeout_ms;
  std::size_t connections_max;
  std::size_t websocket_message_size_max_bytes;
  std::size_t websocket_send_queue_max;
  // Lower-case name of the header a trusted proxy sets to the client's address; empty: use the
  // TCP peer. Only set it behind a proxy that overwrites the header, or clients can forge it.
  std::string client_address_header;
};

// The Boost.Beast HTTP/1.1 + WebSocket server. Beast and Asio live only in gateway.cpp; this
// header is what the rest of the node sees.
//
// Shutdown is staged so the node can drain: stop_accepting() closes the listener and idle
// keep-alive connections; wait_for_drain() waits until in-flight requests are answered;
// close_all() closes WebSockets with 1001 (going away) and whatever is left; stop() joins the
// I/O threads.
class gateway {
 public:
  gateway(std::string host, unsigned short port, std::size_t threads, gateway_limits limits,
          const router& routes, metrics& metrics);
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  // Binds and starts the I/O threads. Returns an error sentence when the address cannot be
  // bound (in use, not local, no permission).
  std::string start();
  unsigned short port() const;  // the bound port (useful with port 0 in tests)

  void stop_accepting();
  bool wait_for_drain(std::chrono::milliseconds deadline);  // false: deadline passed
  void close_all();
  void stop();

  std::size_t requests_in_flight() const;

  struct state;  // defined in gateway.cpp; public only so its sessions can name it

 private:
  std::shared_ptr<state> state_;
};

}  // namespace eventstripe::io
