#include "bench/ticket-drop/setup_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace eventstripe::bench {

setup_client::setup_client(std::uint16_t port, std::chrono::milliseconds reply_timeout_ms)
    : port_(port), reply_timeout_ms_(reply_timeout_ms) {}

setup_client::~setup_client() { close_connection(); }

void setup_client::connect_to_node() {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    auto reason = std::string{std::strerror(errno)};
    close_connection();
    throw std::runtime_error("cannot connect to the node on 127.0.0.1:" + std::to_string(port_) + ": " + reason);
  }
  int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
}

void setup_client::close_connection() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  unread_.clear();
}

http_reply setup_client::call(const std::string& method, const std::string& path, const std::string& body,
                              const header_list& headers) {
  if (fd_ < 0) connect_to_node();
  auto request = format_request(method, path, body, headers);
  for (std::size_t sent = 0; sent < request.size();) {
    auto written = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (written < 0) {
      close_connection();
      throw std::runtime_error(method + " " + path + ": send failed: " + std::strerror(errno));
    }
    sent += static_cast<std::size_t>(written);
  }
  auto deadline = std::chrono::steady_clock::now() + reply_timeout_ms_;
  http_reply reply;
  char chunk[16 * 1024];
  for (;;) {
    auto parsed = parse_reply(unread_, reply);
    if (parsed == parse_status::complete) break;
    if (parsed == parse_status::malformed) throw std::runtime_error(method + " " + path + ": malformed answer");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd wait{fd_, POLLIN, 0};
    if (left.count() <= 0 || ::poll(&wait, 1, static_cast<int>(left.count())) <= 0)
      throw std::runtime_error(method + " " + path + ": no answer within " +
                               std::to_string(reply_timeout_ms_.count()) + " ms");
    auto received = ::recv(fd_, chunk, sizeof chunk, 0);
    if (received <= 0) {
      close_connection();
      throw std::runtime_error(method + " " + path + ": the node closed the connection");
    }
    unread_.append(chunk, static_cast<std::size_t>(received));
  }
  if (!reply.keep_alive) close_connection();
  return reply;
}

}  // namespace eventstripe::bench
