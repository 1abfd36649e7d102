#pragma once

// A blocking keep-alive HTTP client for the few calls that prepare a drop (sign-up, event,
// ticket type, publish). Not for measuring: the drop has its own event loop.
#include <chrono>
#include <cstdint>
#include <string>

#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {

class setup_client {
 public:
  setup_client(std::uint16_t port, std::chrono::milliseconds reply_timeout_ms);
  ~setup_client();
  setup_client(const setup_client&) = delete;
  setup_client& operator=(const setup_client&) = delete;

  // Sends one request and waits for its answer; throws std::runtime_error when the node cannot
  // be reached or does not answer in time.
  http_reply call(const std::string& method, const std::string& path, const std::string& body,
                  const header_list& headers = {});

 private:
  void connect_to_node();
  void close_connection();

  std::uint16_t port_;
  std::chrono::milliseconds reply_timeout_ms_;
  int fd_ = -1;
  std::string unread_;
};

}  // namespace eventstripe::bench
