#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace eventstripe::io {

// A parsed request as handlers see it: Beast stays inside the gateway's sources, so the router,
// the API handlers and their tests never pay for (or depend on) Beast's headers.
struct http_request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded path without the query string
  std::multimap<std::string, std::string> query;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::string request_id;  // from X-Request-Id or generated; echoed on the response
  std::string client_address;
  std::map<std::string, std::string> path_parameters;  // filled by the router

  const std::string* header(std::string_view lower_case_name) const;
  std::optional<std::string> query_value(const std::string& name) const;
};

struct http_response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Delivers a handler's answer. It may be called from any thread (an actor's reply, a database
// job), exactly once; the gateway posts it onto the connection's strand.
using responder = std::function<void(http_response)>;
using http_handler = std::function<void(http_request&, responder)>;

// What the gateway sends to a WebSocket from any thread. `send` never blocks: when the
// connection's bounded queue is full it returns false and the socket is closed as too slow.
class websocket_channel {
 public:
  virtual ~websocket_channel() = default;
  virtual bool send(std::string text) = 0;
  virtual void close(int code, std::string reason) = 0;
};

// One accepted WebSocket's application side. Calls arrive on the connection's strand, one at a
// time; `on_message` gets whole text messages within the configured size limit.
class websocket_handler {
 public:
  virtual ~websocket_handler() = default;
  virtual void on_open() {}
  virtual void on_message(std::string text) = 0;
  virtual void on_close() {}
};

// Given the upgrade request and its channel, makes the handler; returning nullptr refuses the
// upgrade with the problem response put in `refusal`.
using websocket_factory = std::function<std::unique_ptr<websocket_handler>(
    const http_request&, std::shared_ptr<websocket_channel>, http_response& refusal)>;

}  // namespace eventstripe::io
