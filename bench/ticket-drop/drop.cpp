#include "bench/ticket-drop/drop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Connection attempts in flight at once: far below the node's listen backlog (somaxconn), so
// no SYN is dropped and retried a second later.
constexpr std::size_t connects_in_flight_max = 256;
constexpr std::size_t read_chunk_bytes = 16 * 1024;
constexpr std::size_t error_samples_max = 5;
constexpr std::size_t error_sample_size_max_bytes = 300;
constexpr int events_per_wait_max = 256;
constexpr int idle_wait_ms = 50;
constexpr std::chrono::seconds setup_timeout_s{60};
constexpr std::int64_t warm_up_request = -1;  // the unmeasured GET /healthz of each connection

enum class phase { connecting, idle, busy, closed };

struct connection {
  int fd = -1;
  phase state = phase::connecting;
  std::string out;
  std::size_t written = 0;
  bool watching_writes = false;
  std::string in;
  std::int64_t request = warm_up_request;
  std::int64_t latency_from_ns = 0;
};

// Request `index` of this generator is the drop's request offset + index·stride: one buyer each.
std::size_t global_index(const drop_plan& plan, std::size_t index) { return plan.offset + index * plan.stride; }

std::string hold_request(const drop_plan& plan, std::size_t index) {
  auto buyer = global_index(plan, index);
  nlohmann::json body = {{"event_id", plan.event_id},
                         {"email", "buyer" + std::to_string(buyer) + "@bench.eventstripe.dev"},
                         {"items", {{{"ticket_type_id", plan.ticket_type_id}, {"quantity", 1}}}}};
  if (!plan.promo_code.empty() && buyer % 2 == 0) body["promo_code"] = plan.promo_code;
  return format_request("POST", "/api/v1/checkouts", body.dump());
}

class drop_runner {
 public:
  explicit drop_runner(const drop_plan& plan);
  ~drop_runner();
  drop_runner(const drop_runner&) = delete;
  drop_runner& operator=(const drop_runner&) = delete;
  drop_result run();

 private:
  void open_connections();
  void begin_connect(std::size_t index);
  void warm_up();
  void fire();
  void wait_for_events(int timeout_ms);
  void on_event(std::size_t index, std::uint32_t events);
  void on_connected(std::size_t index);
  void on_readable(std::size_t index);
  void on_reply(std::size_t index, const http_reply& reply);
  void record(const connection& link, const http_reply& reply, std::int64_t answered_ns);
  void send(std::size_t index, std::string bytes, std::int64_t request, std::int64_t latency_from_ns);
  void flush(std::size_t index);
  void watch_writes(std::size_t index, bool on);
  void close_with_error(std::size_t index, const std::string& why);
  void shut(std::size_t index);
  void launch_due(std::int64_t now);
  void count_error(const std::string& kind, const std::string& sample, std::size_t how_many = 1);
  int wait_budget_ms(std::int64_t now) const;
  void check_setup(std::int64_t deadline_ns, const char* step);
  bool sustained() const { return plan_.duration_ms.count() > 0; }
  bool more_to_send(std::int64_t now) const;

  drop_plan plan_;
  int epoll_fd_ = -1;
  std::vector<connection> connections_;
  std::vector<std::int64_t> due_ns_;
  std::vector<std::size_t> idle_;
  std::size_t next_request_ = 0;
  std::size_t answered_ = 0;
  std::size_t connecting_ = 0;
  std::size_t open_ = 0;
  std::size_t warming_ = 0;
  std::string setup_failure_;
  std::int64_t start_ns_ = 0;
  std::int64_t stop_sending_ns_ = 0;  // sustained: no request is sent from then on
  drop_result result_;
  char chunk_[read_chunk_bytes];
};

drop_runner::drop_runner(const drop_plan& plan) : plan_(plan) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error(std::string{"epoll_create1: "} + std::strerror(errno));
  if (plan_.total == 0) plan_.total = plan_.requests;
  if (!sustained()) result_.latencies_ns.reserve(plan_.requests);
}

drop_runner::~drop_runner() {
  for (auto& link : connections_)
    if (link.fd >= 0) ::close(link.fd);
  ::close(epoll_fd_);
}

drop_result drop_runner::run() {
  open_connections();
  warm_up();
  fire();
  return std::move(result_);
}

void drop_runner::check_setup(std::int64_t deadline_ns, const char* step) {
  if (!setup_failure_.empty()) throw std::runtime_error(std::string{step} + ": " + setup_failure_);
  if (now_ns() > deadline_ns)
    throw std::runtime_error(std::string{step} + ": not done within " + std::to_string(setup_timeout_s.count()) + " s");
}

void drop_runner::open_connections() {
  auto deadline = now_ns() + std::chrono::nanoseconds{setup_timeout_s}.count();
  connections_.resize(plan_.connections);
  for (std::size_t i = 0; i < plan_.connections; ++i) {
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

void drop_runner::begin_connect(std::size_t index) {
  auto& link = connections_[index];
  link.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (link.fd < 0) {
    setup_failure_ = std::string{"socket: "} + std::strerror(errno) + " (raise the open-files limit?)";
    return;
  }
  int on = 1;
  ::setsockopt(link.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(plan_.port);
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

void drop_runner::warm_up() {
  auto deadline = now_ns() + std::chrono::nanoseconds{setup_timeout_s}.count();
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i].state != phase::idle) continue;
    ++warming_;
    send(i, format_request("GET", "/healthz", ""), warm_up_request, 0);
  }
  while (warming_ > 0) {
    wait_for_events(idle_wait_ms);
    check_setup(deadline, "checking connections with GET /healthz");
  }
  if (open_ != plan_.connections)
    throw std::runtime_error("only " + std::to_string(open_) + " of " + std::to_string(plan_.connections) +
                             " connections stayed open");
}

void drop_runner::fire() {
  auto start = plan_.start_at ? plan_.start_at() : now_ns();
  while (now_ns() < start) wait_for_events(static_cast<int>((start - now_ns() + 999'999) / 1'000'000));
  plan_.on_fire_start();
  start_ns_ = now_ns();
  stop_sending_ns_ = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms}.count();
  if (!sustained()) {
    // Due times on the drop's common clock: this generator's request i is the drop's request
    // offset + i·stride, due at start + that·window/total.
    auto window_ns = std::chrono::nanoseconds{plan_.window_ms}.count();
    auto total = static_cast<std::int64_t>(plan_.total);
    due_ns_.resize(plan_.requests);
    for (std::size_t i = 0; i < plan_.requests; ++i)
      due_ns_[i] = start + window_ns * static_cast<std::int64_t>(global_index(plan_, i)) / total;
  }
  auto deadline = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms + plan_.timeout_s}.count();
  launch_due(start_ns_);
  while (open_ > 0 && (more_to_send(now_ns()) || answered_ < next_request_)) {
    auto now = now_ns();
    if (now >= deadline) break;
    wait_for_events(wait_budget_ms(now));
    launch_due(now_ns());
  }
  plan_.on_fire_end();
  auto expected = sustained() ? next_request_ : plan_.requests;
  if (answered_ < expected)
    count_error(open_ == 0 ? "no connection left" : "no answer within the timeout", "", expected - answered_);
}

bool drop_runner::more_to_send(std::int64_t now) const {
  return sustained() ? now < stop_sending_ns_ : next_request_ < plan_.requests;
}

int drop_runner::wait_budget_ms(std::int64_t now) const {
  if (sustained())  // wake up for the end of the sending time, then only for answers
    return now >= stop_sending_ns_ ? idle_wait_ms
                                   : std::clamp<int>(static_cast<int>((stop_sending_ns_ - now) / 1'000'000), 1, idle_wait_ms);
  if (idle_.empty() || next_request_ >= plan_.requests) return idle_wait_ms;
  auto wait_ns = due_ns_[next_request_] - now;
  return wait_ns <= 0 ? 0 : static_cast<int>((wait_ns + 999'999) / 1'000'000);
}

void drop_runner::launch_due(std::int64_t now) {
  while (!idle_.empty() && more_to_send(now) && (sustained() || due_ns_[next_request_] <= now)) {
    auto index = idle_.back();
    idle_.pop_back();
    if (connections_[index].state != phase::idle) continue;
    auto request = next_request_++;
    auto from = plan_.window_ms.count() > 0 && !sustained() ? due_ns_[request] : now_ns();
    send(index, hold_request(plan_, request), static_cast<std::int64_t>(request), from);
  }
}

void drop_runner::wait_for_events(int timeout_ms) {
  epoll_event events[events_per_wait_max];
  auto ready = ::epoll_wait(epoll_fd_, events, events_per_wait_max, timeout_ms);
  if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string{"epoll_wait: "} + std::strerror(errno));
  for (int i = 0; i < ready; ++i) on_event(static_cast<std::size_t>(events[i].data.u64), events[i].events);
}

void drop_runner::on_event(std::size_t index, std::uint32_t events) {
  auto& link = connections_[index];
  if (link.state == phase::closed) return;
  if (link.state == phase::connecting) return on_connected(index);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(index);
  if (link.state == phase::busy && (events & EPOLLOUT)) flush(index);
}

void drop_runner::on_connected(std::size_t index) {
  auto& link = connections_[index];
  int failure = 0;
  socklen_t size = sizeof failure;
  ::getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &failure, &size);
  if (failure != 0) return close_with_error(index, std::string{"connect: "} + std::strerror(failure));
  --connecting_;
  ++open_;
  link.state = phase::idle;
  watch_writes(index, false);
}

void drop_runner::send(std::size_t index, std::string bytes, std::int64_t request, std::int64_t latency_from_ns) {
  auto& link = connections_[index];
  link.out = std::move(bytes);
  link.written = 0;
  link.request = request;
  link.latency_from_ns = latency_from_ns;
  link.state = phase::busy;
  flush(index);
}

void drop_runner::flush(std::size_t index) {
  auto& link = connections_[index];
  while (link.written < link.out.size()) {
    auto sent = ::send(link.fd, link.out.data() + link.written, link.out.size() - link.written, MSG_NOSIGNAL);
    if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return watch_writes(index, true);
    if (sent < 0) return close_with_error(index, std::string{"send: "} + std::strerror(errno));
    link.written += static_cast<std::size_t>(sent);
  }
  if (link.watching_writes) watch_writes(index, false);
}

void drop_runner::watch_writes(std::size_t index, bool on) {
  auto& link = connections_[index];
  epoll_event interest{};
  interest.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  interest.data.u64 = index;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, link.fd, &interest);
  link.watching_writes = on;
}

void drop_runner::on_readable(std::size_t index) {
  auto& link = connections_[index];
  for (;;) {
    auto received = ::recv(link.fd, chunk_, sizeof chunk_, 0);
    if (received > 0) {
      link.in.append(chunk_, static_cast<std::size_t>(received));
      continue;
    }
    if (received == 0) return close_with_error(index, "connection closed by the node");
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return close_with_error(index, std::string{"recv: "} + std::strerror(errno));
  }
  while (link.state == phase::busy) {
    http_reply reply;
    auto parsed = parse_reply(link.in, reply);
    if (parsed == parse_status::incomplete) return;
    if (parsed == parse_status::malformed) return close_with_error(index, "malformed answer");
    on_reply(index, reply);
  }
}

void drop_runner::on_reply(std::size_t index, const http_reply& reply) {
  auto answered_ns = now_ns();
  auto& link = connections_[index];
  if (link.request == warm_up_request) {
    --warming_;
    if (reply.status != 200 && setup_failure_.empty())
      setup_failure_ = "GET /healthz answered " + std::to_string(reply.status) + ": " + reply.body;
  } else {
    record(link, reply, answered_ns);
  }
  link.state = phase::idle;
  link.out.clear();
  if (!reply.keep_alive) return shut(index);
  idle_.push_back(index);
}

void drop_runner::record(const connection& link, const http_reply& reply, std::int64_t answered_ns) {
  result_.latencies_ns.push_back(answered_ns - link.latency_from_ns);
  ++answered_;
  result_.wall_ns = answered_ns - start_ns_;
  if (reply.status == 201) {
    ++result_.held;
    result_.last_hold_ns = answered_ns - start_ns_;
    return;
  }
  auto slug = problem_slug(reply.body);
  if (reply.status == 409 && slug == "sold-out") {
    ++result_.sold_out;
    return;
  }
  count_error("HTTP " + std::to_string(reply.status) + (slug.empty() ? "" : " " + slug), reply.body);
}

void drop_runner::close_with_error(std::size_t index, const std::string& why) {
  auto& link = connections_[index];
  if (link.state == phase::connecting) {
    --connecting_;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else if (link.state == phase::busy && link.request == warm_up_request) {
    --warming_;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else if (link.state == phase::busy) {
    ++answered_;
    count_error(why, "");
  }
  shut(index);
}

void drop_runner::shut(std::size_t index) {
  auto& link = connections_[index];
  if (link.state == phase::idle || link.state == phase::busy) --open_;
  link.state = phase::closed;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, link.fd, nullptr);
  ::close(link.fd);
  link.fd = -1;
}

void drop_runner::count_error(const std::string& kind, const std::string& sample, std::size_t how_many) {
  result_.errors += how_many;
  result_.error_kinds[kind] += how_many;
  if (result_.error_samples.size() < error_samples_max)
    result_.error_samples.push_back(kind + (sample.empty() ? "" : ": " + sample.substr(0, error_sample_size_max_bytes)));
}

}  // namespace

drop_result run_drop(const drop_plan& plan) {
  drop_runner runner{plan};
  return runner.run();
}

}  // namespace eventstripe::bench
