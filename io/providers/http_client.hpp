#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "actors/payment_provider.hpp"

// A small blocking HTTP/1.1 client for the payment provider adapters, on POSIX sockets and
// OpenSSL (no Beast/Asio: these calls run on provider worker threads, one request at a time).
// It exists because failover correctness needs to know exactly how far a request got: "nothing
// was sent" may be retried elsewhere, "sent but no complete answer" may have moved money.
//
// One request is one connection (`Connection: close`): simpler than pooling, at the price of a
// TCP and TLS handshake per call, which is small next to a provider's own latency. Every request
// has ONE deadline covering connect, TLS handshake, send and receive: sockets are non-blocking
// and every wait is a poll() on the time left. Name resolution (getaddrinfo) cannot be
// interrupted; it runs first and the deadline is checked right after it.
namespace eventstripe::io::providers {

// Limits of one response.
inline constexpr std::size_t response_head_size_max_bytes = 64 * 1024;  // status line + headers
inline constexpr std::size_t response_body_size_max_bytes_default = 1024 * 1024;
inline constexpr std::size_t chunk_size_line_size_max_bytes = 1024;
inline constexpr std::size_t interim_responses_max = 8;  // 1xx answers skipped before the real one

// Where a provider account lives, parsed from its configured API base URL
// (`https://api.stripe.com`, `http://127.0.0.1:12111/stripe`).
struct http_endpoint {
  bool tls = false;
  std::string host;       // name or address literal, without IPv6 brackets
  std::uint16_t port = 0;
  std::string base_path;  // "" or "/prefix", never ending in '/'
};

// nullopt when `url` is not an absolute http(s) URL without user info, query or fragment.
std::optional<http_endpoint> parse_http_endpoint(std::string_view url);

struct outbound_request {
  std::string method;  // "GET", "POST"
  std::string path;    // starts with '/', appended to the endpoint's base path; already encoded
  std::vector<std::pair<std::string, std::string>> headers;  // Host, Connection, Content-Length are added
  std::string body;
};

// How far a request got. Only `connect_failed` and `timeout_before_send` (and `invalid_request`)
// mean the provider cannot have seen the request.
enum class http_outcome : std::uint8_t {
  response = 1,         // a complete HTTP response arrived (any status)
  invalid_request,      // refused locally (CR/LF in a header, bad path): nothing was sent
  connect_failed,       // resolution, refused, unreachable, TLS handshake or certificate: nothing was sent
  timeout_before_send,  // the deadline passed before any byte of the request left: nothing was sent
  send_failed,          // the connection broke while the request was being sent: partly sent
  timeout_after_send,   // the deadline passed after (part of) the request left: outcome UNKNOWN
  bad_response,         // the answer was malformed, too large or cut off: outcome UNKNOWN
};

std::string_view to_string(http_outcome outcome);

struct outbound_response {
  http_outcome outcome = http_outcome::bad_response;
  int status = 0;              // set when outcome == response
  actors::header_map headers;  // names lower-cased; repeated headers joined with ", "
  std::string body;            // de-chunked
  std::string detail;          // why it failed (system or TLS error); never request content

  bool nothing_sent() const {
    return outcome == http_outcome::invalid_request || outcome == http_outcome::connect_failed ||
           outcome == http_outcome::timeout_before_send;
  }
};

struct http_client_options {
  std::string ca_file;  // PEM bundle trusted for https; empty: OpenSSL's default system paths
  std::chrono::milliseconds timeout_ms{5'000};  // one deadline per request
  std::size_t response_body_size_max_bytes = response_body_size_max_bytes_default;
};

// Thread-safe: `send` may be called from several threads at once (each call has its own
// connection; the TLS context is shared read-only).
class http_client {
 public:
  // Throws std::invalid_argument when the TLS context cannot be made or the CA file cannot be
  // loaded (a configuration error, reported at start).
  http_client(http_endpoint endpoint, http_client_options options);
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  outbound_response send(const outbound_request& request) const;

  const http_endpoint& endpoint() const { return endpoint_; }

 private:
  struct tls_context;

  http_endpoint endpoint_;
  http_client_options options_;
  std::unique_ptr<tls_context> tls_;  // null for plain http
};

}  // namespace eventstripe::io::providers
