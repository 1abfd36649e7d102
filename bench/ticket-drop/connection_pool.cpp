#include "bench/ticket-drop/connection_pool.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {
namespace {

// Connection attempts in flight at once: far below the node's listen backlog (somaxconn), so
// no SYN is dropped and retried a second later.
constexpr std::size_t connects_in_flight_max = 256;
constexpr int events_per_wait_max = 256;
constexpr std::chrono::seconds setup_timeout_s{60};

std::int64_t deadline_after_setup_timeout() { return now_ns() + std::chrono::nanoseconds{setup_timeout_s}.count(); }

}  // namespace

connection_pool::connection_pool(std::uint16_t port, std::size_t connections, handler& generator)
    : port_(port), generator_(generator), links_(connections) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error(std::string{"epoll_create1: "} + std::strerror(errno));
}

connection_pool::~connection_pool() {
  for (auto& link : links_)
    if (link.fd >= 0) ::close(link.fd);
  ::close(epoll_fd_);
}

std::int64_t connection_pool::open_and_wait_for_start(const std::function<std::int64_t()>& start_at) {
  open_connections();
  check_connections();
  auto start = start_at ? start_at() : now_ns();
  while (now_ns() < start) wait_for_events(static_cast<int>((start - now_ns() + 999'999) / 1'000'000));
  return start;
}

void connection_pool::check_setup(std::int64_t deadline_ns, const char* step) const {
  if (!setup_failure_.empty()) throw std::runtime_error(std::string{step} + ": " + setup_failure_);
  if (now_ns() > deadline_ns)
    throw std::runtime_error(std::string{step} + ": not done within " + std::to_string(setup_timeout_s.count()) + " s");
}

void connection_pool::open_connections() {
  auto deadline = deadline_after_setup_timeout();
  for (std::size_t i = 0; i < links_.size(); ++i) {
    while (connecting_ >= connects_in_flight_max) {
      wait_for_events(idle_wait_ms);
      check_setup(deadline, "opening connections");
    }
    begin_connect(i);
    check_setup(deadline, "opening connections");
  }
  while (connecting_ > 0) {
    wait_for_events(idle_wait_ms);
    check_setup(deadline, "opening connections");
  }
}

void connection_pool::begin_connect(std::size_t index) {
  auto& link = links_[index];
  link.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (link.fd < 0) {
    setup_failure_ = std::string{"socket: "} + std::strerror(errno) + " (raise the open-files limit?)";
    return;
  }
  int on = 1;
  ::setsockopt(link.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(link.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
    setup_failure_ = std::string{"connect: "} + std::strerror(errno);
    return;
  }
  epoll_event interest{};
  interest.events = EPOLLIN | EPOLLOUT;
  interest.data.u64 = index;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, link.fd, &interest);
  link.watching_writes = true;
  ++connecting_;
}

void connection_pool::check_connections() {
  auto deadline = deadline_after_setup_timeout();
  for (std::size_t i = 0; i < links_.size(); ++i) {
    if (links_[i].state != link_state::idle) continue;
    ++checking_;
    links_[i].checking = true;
    send(i, format_request("GET", "/healthz", ""));
  }
  while (checking_ > 0) {
    wait_for_events(idle_wait_ms);
    check_setup(deadline, "checking connections with GET /healthz");
  }
  if (open_ != links_.size())
    throw std::runtime_error("only " + std::to_string(open_) + " of " + std::to_string(links_.size()) +
                             " connections stayed open");
}

void connection_pool::on_check_reply(std::size_t index, const http_reply& reply) {
  --checking_;
  links_[index].checking = false;
  if (reply.status != 200 && setup_failure_.empty())
    setup_failure_ = "GET /healthz answered " + std::to_string(reply.status) + ": " + reply.body;
  if (!reply.keep_alive) return shut(index);
  release(index);
}

void connection_pool::wait_for_events(int timeout_ms) {
  epoll_event events[events_per_wait_max];
  auto ready = ::epoll_wait(epoll_fd_, events, events_per_wait_max, timeout_ms);
  if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string{"epoll_wait: "} + std::strerror(errno));
  for (int i = 0; i < ready; ++i) on_event(static_cast<std::size_t>(events[i].data.u64), events[i].events);
}

void connection_pool::on_event(std::size_t index, std::uint32_t events) {
  auto& link = links_[index];
  if (link.state == link_state::closed) return;
  if (link.state == link_state::connecting) return on_connected(index);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) generator_.on_readable(index);
  if (link.state != link_state::closed && !link.out.empty() && (events & EPOLLOUT)) flush(index);
}

void connection_pool::on_connected(std::size_t index) {
  auto& link = links_[index];
  int failure = 0;
  socklen_t size = sizeof failure;
  ::getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &failure, &size);
  if (failure != 0) return close_with_error(index, std::string{"connect: "} + std::strerror(failure));
  --connecting_;
  ++open_;
  link.state = link_state::idle;
  watch_writes(index, false);
}

std::size_t connection_pool::take_idle() {
  auto index = idle_.back();
  idle_.pop_back();
  return index;
}

void connection_pool::release(std::size_t index) {
  links_[index].state = link_state::idle;
  idle_.push_back(index);
}

void connection_pool::send(std::size_t index, std::string request) {
  auto& link = links_[index];
  link.out = std::move(request);
  link.written = 0;
  link.state = link_state::busy;
  flush(index);
}

void connection_pool::write(std::size_t index, const std::string& bytes) {
  links_[index].out += bytes;
  flush(index);
}

void connection_pool::flush(std::size_t index) {
  auto& link = links_[index];
  while (link.written < link.out.size()) {
    auto sent = ::send(link.fd, link.out.data() + link.written, link.out.size() - link.written, MSG_NOSIGNAL);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch_writes(index, true);
    if (sent < 0) return close_with_error(index, std::string{"send: "} + std::strerror(errno));
    link.written += static_cast<std::size_t>(sent);
  }
  link.out.clear();
  link.written = 0;
  if (link.watching_writes) watch_writes(index, false);
}

void connection_pool::watch_writes(std::size_t index, bool on) {
  auto& link = links_[index];
  epoll_event interest{};
  interest.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  interest.data.u64 = index;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, link.fd, &interest);
  link.watching_writes = on;
}

receive_status connection_pool::receive(std::size_t index) {
  auto& link = links_[index];
  for (;;) {
    auto received = ::recv(link.fd, chunk_, sizeof chunk_, 0);
    if (received > 0) {
      link.in.append(chunk_, static_cast<std::size_t>(received));
      continue;
    }
    if (received == 0) return receive_status::peer_closed;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return receive_status::open;
    close_with_error(index, std::string{"recv: "} + std::strerror(errno));
    return receive_status::failed;
  }
}

void connection_pool::read_replies(std::size_t index) {
  auto& link = links_[index];
  while (link.state == link_state::busy) {
    http_reply reply;
    auto parsed = parse_reply(link.in, reply);
    if (parsed == parse_status::incomplete) return;
    if (parsed == parse_status::malformed) return close_with_error(index, "malformed answer");
    if (link.checking)
      on_check_reply(index, reply);
    else
      generator_.on_reply(index, reply);
  }
}

void connection_pool::close_with_error(std::size_t index, const std::string& why) {
  auto& link = links_[index];
  if (link.state == link_state::connecting) {
    --connecting_;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else if (link.checking) {
    --checking_;
    link.checking = false;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else {
    generator_.on_lost(index, why);
  }
  shut(index);
}

void connection_pool::shut(std::size_t index) {
  auto& link = links_[index];
  if (link.state == link_state::closed) return;
  if (link.state != link_state::connecting) --open_;
  link.state = link_state::closed;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, link.fd, nullptr);
  ::close(link.fd);
  link.fd = -1;
}

}  // namespace eventstripe::bench
