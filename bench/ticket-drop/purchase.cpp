#include "bench/ticket-drop/purchase.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <queue>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {
namespace {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::int64_t system_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// As in drop.cpp: far below the node's listen backlog, so no SYN is dropped and retried.
constexpr std::size_t connects_in_flight_max = 256;
constexpr std::size_t read_chunk_bytes = 16 * 1024;
constexpr std::size_t error_samples_max = 5;
constexpr std::size_t error_sample_size_max_bytes = 300;
constexpr std::size_t websocket_message_size_max_bytes = 1024 * 1024;
constexpr int events_per_wait_max = 256;
constexpr int idle_wait_ms = 50;
constexpr std::chrono::seconds setup_timeout_s{60};
// Any 16 bytes in base64 will do (RFC 6455's example nonce); the bench does not check the accept.
constexpr const char* websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";

enum class link_state { connecting, idle, busy, waiting, websocket, closed };
enum class step { warm_up, hold, pay, tickets, upgrade, push };

const char* name_of(step what) {
  switch (what) {
    case step::warm_up: return "GET /healthz";
    case step::hold: return "hold";
    case step::pay: return "pay";
    case step::tickets: return "tickets poll";
    case step::upgrade: return "WebSocket upgrade";
    case step::push: return "WebSocket wait";
  }
  return "?";
}

struct connection {
  int fd = -1;
  link_state state = link_state::connecting;
  std::string out;
  std::size_t written = 0;
  bool watching_writes = false;
  std::string in;
  step current = step::warm_up;
  std::int64_t step_from_ns = 0;  // the current step's latency origin
  // The purchase under way on this connection.
  bool buying = false;
  std::size_t buyer = 0;
  std::int64_t purchase_from_ns = 0;
  std::int64_t pay_answered_ns = 0;
  std::size_t seats = 1;
  purchase_trace trace;
  std::string websocket_message;  // fragments of the current message
};

std::string buyer_email(const purchase_plan& plan, std::size_t buyer) {
  return plan.buyer_prefix + std::to_string(buyer) + "@bench.eventstripe.dev";
}

std::string hold_request(const purchase_plan& plan, std::size_t buyer) {
  nlohmann::json body = {{"event_id", plan.event_id},
                         {"email", buyer_email(plan, buyer)},
                         {"items", {{{"ticket_type_id", plan.ticket_type_id}, {"quantity", 1}}}}};
  return format_request("POST", "/api/v1/checkouts", body.dump());
}

// The sandbox's test card that always succeeds; the key makes a retried request safe, as a
// buyer's page would send it.
std::string pay_request(const std::string& checkout_id, std::size_t buyer) {
  nlohmann::json body = {{"method", "visa"},
                         {"method_token", "pm_card_visa"},
                         {"country", "DE"},
                         {"holder_name", "Bench Buyer " + std::to_string(buyer)}};
  return format_request("POST", "/api/v1/checkouts/" + checkout_id + "/payments", body.dump(),
                        {{"Idempotency-Key", "pay-" + checkout_id}});
}

std::string tickets_request(const std::string& checkout_id) {
  return format_request("GET", "/api/v1/checkouts/" + checkout_id + "/tickets", "");
}

std::string upgrade_request(const std::string& checkout_id) {
  return format_request("GET", "/ws/checkouts/" + checkout_id, "",
                        {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Key", websocket_key},
                         {"Sec-WebSocket-Version", "13"}});
}

// A client frame must be masked (RFC 6455 5.3); the all-zero key leaves the payload as it is.
std::string client_frame(std::uint8_t opcode, const std::string& payload) {
  std::string frame;
  frame += static_cast<char>(0x80 | opcode);
  frame += static_cast<char>(0x80 | payload.size());  // control frames only: < 126 bytes
  frame.append(4, '\0');
  frame += payload;
  return frame;
}

class purchase_runner {
 public:
  explicit purchase_runner(const purchase_plan& plan);
  ~purchase_runner();
  purchase_runner(const purchase_runner&) = delete;
  purchase_runner& operator=(const purchase_runner&) = delete;
  purchase_result run();

 private:
  bool closed_loop() const { return plan_.duration_ms.count() > 0; }
  std::size_t global_buyer(std::size_t index) const { return plan_.offset + index * plan_.stride; }
  void open_connections();
  void begin_connect(std::size_t index);
  void warm_up();
  void fire();
  bool more_to_start(std::int64_t now) const;
  void launch(std::int64_t now);
  void start_purchase(std::size_t index, std::size_t buyer, std::int64_t from_ns);
  void fire_timers(std::int64_t now);
  int wait_budget_ms(std::int64_t now) const;
  void wait_for_events(int timeout_ms);
  void on_event(std::size_t index, std::uint32_t events);
  void on_connected(std::size_t index);
  void on_readable(std::size_t index);
  void on_reply(std::size_t index, const http_reply& reply);
  void on_hold(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void on_pay(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void on_tickets(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void on_upgrade(std::size_t index, const http_reply& reply);
  void read_frames(std::size_t index);
  void on_push(std::size_t index, const std::string& message);
  void await_tickets(std::size_t index);
  void issued(std::size_t index, std::int64_t seen_ns);
  void finish(std::size_t index);
  void fail(std::size_t index, const std::string& kind, const std::string& sample);
  void send(std::size_t index, std::string bytes, step what, std::int64_t from_ns);
  void flush(std::size_t index);
  void watch_writes(std::size_t index, bool on);
  void close_with_error(std::size_t index, const std::string& why);
  void shut(std::size_t index);
  void count_error(const std::string& kind, const std::string& sample, std::size_t how_many = 1);
  void check_setup(std::int64_t deadline_ns, const char* step_name);

  purchase_plan plan_;
  int epoll_fd_ = -1;
  std::vector<connection> connections_;
  std::vector<std::int64_t> due_ns_;  // open loop
  std::vector<std::size_t> idle_;
  using timer = std::pair<std::int64_t, std::size_t>;  // (when, connection) of a poll
  std::priority_queue<timer, std::vector<timer>, std::greater<>> timers_;
  std::size_t next_buyer_ = 0;   // open loop: index into this generator's buyers; closed: purchases started
  std::size_t in_progress_ = 0;  // purchases started and not finished
  std::size_t connecting_ = 0;
  std::size_t open_ = 0;
  std::size_t warming_ = 0;
  std::string setup_failure_;
  std::int64_t start_ns_ = 0;
  std::int64_t stop_starting_ns_ = 0;  // closed loop: no purchase starts from then on
  std::int64_t system_offset_us_ = 0;  // system clock µs − steady clock µs
  purchase_result result_;
  char chunk_[read_chunk_bytes];
};

purchase_runner::purchase_runner(const purchase_plan& plan) : plan_(plan) {
  if (plan_.wait == tickets_wait::websocket && closed_loop())
    throw std::invalid_argument("the closed purchase loop polls for tickets; WebSocket waits are for the open loop");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::runtime_error(std::string{"epoll_create1: "} + std::strerror(errno));
  if (plan_.total == 0) plan_.total = plan_.buyers;
  if (!closed_loop()) plan_.connections = plan_.buyers;
}

purchase_runner::~purchase_runner() {
  for (auto& link : connections_)
    if (link.fd >= 0) ::close(link.fd);
  ::close(epoll_fd_);
}

purchase_result purchase_runner::run() {
  open_connections();
  warm_up();
  fire();
  return std::move(result_);
}

void purchase_runner::check_setup(std::int64_t deadline_ns, const char* step_name) {
  if (!setup_failure_.empty()) throw std::runtime_error(std::string{step_name} + ": " + setup_failure_);
  if (now_ns() > deadline_ns)
    throw std::runtime_error(std::string{step_name} + ": not done within " + std::to_string(setup_timeout_s.count()) +
                             " s");
}

void purchase_runner::open_connections() {
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

void purchase_runner::begin_connect(std::size_t index) {
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

void purchase_runner::warm_up() {
  auto deadline = now_ns() + std::chrono::nanoseconds{setup_timeout_s}.count();
  for (std::size_t i = 0; i < connections_.size(); ++i) {
    if (connections_[i].state != link_state::idle) continue;
    ++warming_;
    send(i, format_request("GET", "/healthz", ""), step::warm_up, 0);
  }
  while (warming_ > 0) {
    wait_for_events(idle_wait_ms);
    check_setup(deadline, "checking connections with GET /healthz");
  }
  if (open_ != plan_.connections)
    throw std::runtime_error("only " + std::to_string(open_) + " of " + std::to_string(plan_.connections) +
                             " connections stayed open");
}

void purchase_runner::fire() {
  auto start = plan_.start_at ? plan_.start_at() : now_ns();
  while (now_ns() < start) wait_for_events(static_cast<int>((start - now_ns() + 999'999) / 1'000'000));
  plan_.on_fire_start();
  start_ns_ = now_ns();
  system_offset_us_ = system_now_us() - start_ns_ / 1'000;
  stop_starting_ns_ = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms}.count();
  if (!closed_loop()) {
    auto window_ns = std::chrono::nanoseconds{plan_.window_ms}.count();
    auto total = static_cast<std::int64_t>(std::max<std::size_t>(1, plan_.total));
    due_ns_.resize(plan_.buyers);
    for (std::size_t i = 0; i < plan_.buyers; ++i)
      due_ns_[i] = start + window_ns * static_cast<std::int64_t>(global_buyer(i)) / total;
  }
  auto deadline = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms + plan_.window_ms + plan_.timeout_s}.count();
  launch(start_ns_);
  while (more_to_start(now_ns()) || in_progress_ > 0) {
    auto now = now_ns();
    if (now >= deadline) break;
    if (open_ == 0) break;
    wait_for_events(wait_budget_ms(now));
    now = now_ns();
    fire_timers(now);
    launch(now);
  }
  plan_.on_fire_end();
  // Whatever is still under way has had its time.
  for (std::size_t i = 0; i < connections_.size(); ++i)
    if (connections_[i].buying)
      fail(i, std::string{open_ == 0 ? "no connection left during " : "no answer within the timeout: "} +
                  name_of(connections_[i].current),
           "");
  if (!closed_loop() && next_buyer_ < plan_.buyers)
    count_error("never sent: no connection left", "", plan_.buyers - next_buyer_);
}

bool purchase_runner::more_to_start(std::int64_t now) const {
  return closed_loop() ? now < stop_starting_ns_ : next_buyer_ < plan_.buyers;
}

void purchase_runner::launch(std::int64_t now) {
  while (!idle_.empty() && more_to_start(now) && (closed_loop() || due_ns_[next_buyer_] <= now)) {
    auto index = idle_.back();
    idle_.pop_back();
    if (connections_[index].state != link_state::idle || connections_[index].buying) continue;
    if (closed_loop()) {
      // Connection c of this generator buys as buyer c, c + C, c + 2C, ...: distinct emails.
      start_purchase(index, plan_.offset + next_buyer_ * plan_.stride, now_ns());
      ++next_buyer_;
    } else {
      auto buyer = next_buyer_++;
      start_purchase(index, global_buyer(buyer), due_ns_[buyer]);
    }
  }
}

void purchase_runner::start_purchase(std::size_t index, std::size_t buyer, std::int64_t from_ns) {
  auto& link = connections_[index];
  link.buying = true;
  link.buyer = buyer;
  link.purchase_from_ns = from_ns;
  link.pay_answered_ns = 0;
  link.trace = purchase_trace{};
  link.trace.hold_from_us = from_ns / 1'000 + system_offset_us_;
  ++in_progress_;
  send(index, hold_request(plan_, buyer), step::hold, from_ns);
}

void purchase_runner::fire_timers(std::int64_t now) {
  while (!timers_.empty() && timers_.top().first <= now) {
    auto index = timers_.top().second;
    timers_.pop();
    auto& link = connections_[index];
    if (link.state != link_state::waiting) continue;
    ++result_.polls;
    send(index, tickets_request(link.trace.checkout_id), step::tickets, link.pay_answered_ns);
  }
}

int purchase_runner::wait_budget_ms(std::int64_t now) const {
  std::int64_t wake = now + std::int64_t{idle_wait_ms} * 1'000'000;
  if (!timers_.empty()) wake = std::min(wake, timers_.top().first);
  if (closed_loop() && now < stop_starting_ns_) wake = std::min(wake, stop_starting_ns_);
  if (!closed_loop() && !idle_.empty() && next_buyer_ < plan_.buyers) wake = std::min(wake, due_ns_[next_buyer_]);
  return wake <= now ? 0 : static_cast<int>((wake - now + 999'999) / 1'000'000);
}

void purchase_runner::wait_for_events(int timeout_ms) {
  epoll_event events[events_per_wait_max];
  auto ready = ::epoll_wait(epoll_fd_, events, events_per_wait_max, timeout_ms);
  if (ready < 0 && errno != EINTR) throw std::runtime_error(std::string{"epoll_wait: "} + std::strerror(errno));
  for (int i = 0; i < ready; ++i) on_event(static_cast<std::size_t>(events[i].data.u64), events[i].events);
}

void purchase_runner::on_event(std::size_t index, std::uint32_t events) {
  auto& link = connections_[index];
  if (link.state == link_state::closed) return;
  if (link.state == link_state::connecting) return on_connected(index);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(index);
  if (link.state != link_state::closed && !link.out.empty() && (events & EPOLLOUT)) flush(index);
}

void purchase_runner::on_connected(std::size_t index) {
  auto& link = connections_[index];
  int failure = 0;
  socklen_t size = sizeof failure;
  ::getsockopt(link.fd, SOL_SOCKET, SO_ERROR, &failure, &size);
  if (failure != 0) return close_with_error(index, std::string{"connect: "} + std::strerror(failure));
  --connecting_;
  ++open_;
  link.state = link_state::idle;
  watch_writes(index, false);
}

void purchase_runner::send(std::size_t index, std::string bytes, step what, std::int64_t from_ns) {
  auto& link = connections_[index];
  link.out = std::move(bytes);
  link.written = 0;
  link.current = what;
  link.step_from_ns = from_ns;
  link.state = link_state::busy;
  flush(index);
}

void purchase_runner::flush(std::size_t index) {
  auto& link = connections_[index];
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

void purchase_runner::watch_writes(std::size_t index, bool on) {
  auto& link = connections_[index];
  epoll_event interest{};
  interest.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  interest.data.u64 = index;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, link.fd, &interest);
  link.watching_writes = on;
}

void purchase_runner::on_readable(std::size_t index) {
  auto& link = connections_[index];
  bool peer_closed = false;
  for (;;) {
    auto received = ::recv(link.fd, chunk_, sizeof chunk_, 0);
    if (received > 0) {
      link.in.append(chunk_, static_cast<std::size_t>(received));
      continue;
    }
    if (received == 0) {
      peer_closed = true;
      break;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return close_with_error(index, std::string{"recv: "} + std::strerror(errno));
  }
  while (link.state == link_state::busy) {
    http_reply reply;
    auto parsed = parse_reply(link.in, reply);
    if (parsed == parse_status::incomplete) break;
    if (parsed == parse_status::malformed) return close_with_error(index, "malformed answer");
    on_reply(index, reply);
    if (link.state == link_state::closed) return;
  }
  if (link.state == link_state::websocket) read_frames(index);
  if (peer_closed && link.state != link_state::closed) close_with_error(index, "connection closed by the node");
}

void purchase_runner::on_reply(std::size_t index, const http_reply& reply) {
  auto answered_ns = now_ns();
  auto& link = connections_[index];
  if (link.current != step::warm_up) result_.wall_ns = std::max(result_.wall_ns, answered_ns - start_ns_);
  switch (link.current) {
    case step::warm_up:
      --warming_;
      if (reply.status != 200 && setup_failure_.empty())
        setup_failure_ = "GET /healthz answered " + std::to_string(reply.status) + ": " + reply.body;
      link.state = link_state::idle;
      if (!reply.keep_alive) return shut(index);
      idle_.push_back(index);
      return;
    case step::hold: return on_hold(index, reply, answered_ns);
    case step::pay: return on_pay(index, reply, answered_ns);
    case step::tickets: return on_tickets(index, reply, answered_ns);
    case step::upgrade: return on_upgrade(index, reply);
    case step::push: return;
  }
}

std::string answer_kind(const char* what, const http_reply& reply) {
  auto slug = problem_slug(reply.body);
  return std::string{what} + ": HTTP " + std::to_string(reply.status) + (slug.empty() ? "" : " " + slug);
}

void purchase_runner::on_hold(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& link = connections_[index];
  result_.hold_ns.push_back(answered_ns - link.step_from_ns);
  link.trace.hold_answered_us = answered_ns / 1'000 + system_offset_us_;
  link.state = link_state::idle;
  if (reply.status == 409 && problem_slug(reply.body) == "sold-out") {
    ++result_.sold_out;
    return finish(index);
  }
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status != 201 || body.is_discarded() || !body.contains("id") || !body["id"].is_string())
    return fail(index, answer_kind("hold", reply), reply.body);
  ++result_.holds;
  link.trace.checkout_id = body["id"].get<std::string>();
  link.trace.pay_sent_us = system_now_us();
  if (!reply.keep_alive) return fail(index, "hold: the node closed the connection after answering", "");
  send(index, pay_request(link.trace.checkout_id, link.buyer), step::pay, now_ns());
}

void purchase_runner::on_pay(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& link = connections_[index];
  result_.pay_ns.push_back(answered_ns - link.step_from_ns);
  link.trace.pay_answered_us = answered_ns / 1'000 + system_offset_us_;
  link.pay_answered_ns = answered_ns;
  link.state = link_state::idle;
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  auto status = !body.is_discarded() && body.contains("status") && body["status"].is_string()
                    ? body["status"].get<std::string>()
                    : std::string{};
  if (reply.status == 201 && status == "succeeded") {
    ++result_.paid;
  } else if (reply.status == 202) {
    ++result_.pay_pending;  // the node's wait passed first: the tickets will tell
  } else {
    return fail(index, answer_kind("pay", reply) + (status.empty() ? "" : " status " + status), reply.body);
  }
  if (!reply.keep_alive) return fail(index, "pay: the node closed the connection after answering", "");
  await_tickets(index);
}

void purchase_runner::await_tickets(std::size_t index) {
  auto& link = connections_[index];
  if (plan_.wait == tickets_wait::websocket) {
    link.websocket_message.clear();
    return send(index, upgrade_request(link.trace.checkout_id), step::upgrade, link.pay_answered_ns);
  }
  ++result_.polls;
  send(index, tickets_request(link.trace.checkout_id), step::tickets, link.pay_answered_ns);
}

void purchase_runner::on_tickets(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& link = connections_[index];
  link.state = link_state::idle;
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || body.is_discarded() || !body.contains("order_status"))
    return fail(index, answer_kind("tickets", reply), reply.body);
  auto order_status = body["order_status"].is_string() ? body["order_status"].get<std::string>() : "null";
  if (order_status == "tickets_issued") {
    auto tickets = body.contains("tickets") && body["tickets"].is_array() ? body["tickets"].size() : 0;
    if (tickets != link.seats)
      return fail(index, "tickets: tickets_issued with " + std::to_string(tickets) + " tickets for " +
                             std::to_string(link.seats) + " seats",
                  reply.body);
    return issued(index, answered_ns);
  }
  if (order_status == "paid" || order_status == "payment_pending") {
    if (!reply.keep_alive) return fail(index, "tickets: the node closed the connection after answering", "");
    link.state = link_state::waiting;
    timers_.emplace(answered_ns + std::chrono::nanoseconds{plan_.poll_interval_ms}.count(), index);
    return;
  }
  fail(index, "tickets: order_status " + order_status, reply.body);
}

void purchase_runner::on_upgrade(std::size_t index, const http_reply& reply) {
  auto& link = connections_[index];
  if (reply.status != 101) return fail(index, answer_kind("WebSocket upgrade", reply), reply.body);
  link.state = link_state::websocket;
  link.current = step::push;
}

// Server frames are never masked; a text message may come in fragments; pings are answered.
void purchase_runner::read_frames(std::size_t index) {
  auto& link = connections_[index];
  while (link.state == link_state::websocket && link.in.size() >= 2) {
    auto byte0 = static_cast<std::uint8_t>(link.in[0]);
    auto byte1 = static_cast<std::uint8_t>(link.in[1]);
    bool final_frame = (byte0 & 0x80) != 0;
    auto opcode = static_cast<std::uint8_t>(byte0 & 0x0f);
    std::size_t header = 2;
    std::uint64_t length = byte1 & 0x7f;
    if (length == 126 || length == 127) {
      std::size_t extra = length == 126 ? 2 : 8;
      if (link.in.size() < 2 + extra) return;
      length = 0;
      for (std::size_t i = 0; i < extra; ++i) length = (length << 8) | static_cast<std::uint8_t>(link.in[2 + i]);
      header += extra;
    }
    if ((byte1 & 0x80) != 0) return close_with_error(index, "WebSocket: the node sent a masked frame");
    if (length > websocket_message_size_max_bytes) return close_with_error(index, "WebSocket: frame too large");
    if (link.in.size() < header + length) return;
    auto payload = link.in.substr(header, length);
    link.in.erase(0, header + length);
    if (opcode == 0x9) {
      link.out += client_frame(0xA, payload.substr(0, 125));
      flush(index);
    } else if (opcode == 0x8) {
      return close_with_error(index, "WebSocket closed by the node before tickets_issued");
    } else if (opcode == 0x0 || opcode == 0x1) {
      link.websocket_message += payload;
      if (link.websocket_message.size() > websocket_message_size_max_bytes)
        return close_with_error(index, "WebSocket: message too large");
      if (final_frame) {
        auto message = std::move(link.websocket_message);
        link.websocket_message.clear();
        on_push(index, message);
      }
    }
  }
}

// The first message is the checkout's state (its status is the order's once a payment started);
// then one per change. The tickets are there once it says tickets_issued.
void purchase_runner::on_push(std::size_t index, const std::string& message) {
  auto seen_ns = now_ns();
  result_.wall_ns = std::max(result_.wall_ns, seen_ns - start_ns_);
  auto json = nlohmann::json::parse(message, nullptr, false);
  if (json.is_discarded() || !json.contains("checkout") || !json["checkout"].is_object())
    return fail(index, "WebSocket: unreadable message", message);
  auto type = json.contains("type") && json["type"].is_string() ? json["type"].get<std::string>() : "";
  const auto& checkout = json["checkout"];
  auto status = checkout.contains("status") && checkout["status"].is_string() ? checkout["status"].get<std::string>() : "";
  if (type == "tickets_issued" || status == "tickets_issued") return issued(index, seen_ns);
  if (status == "paid" || status == "payment_pending") return;
  fail(index, "WebSocket: push " + type + " with status " + status, message);
}

void purchase_runner::issued(std::size_t index, std::int64_t seen_ns) {
  auto& link = connections_[index];
  ++result_.issued;
  result_.tickets_ns.push_back(seen_ns - link.pay_answered_ns);
  result_.purchase_ns.push_back(seen_ns - link.purchase_from_ns);
  result_.last_issued_ns = std::max(result_.last_issued_ns, seen_ns - start_ns_);
  link.trace.issued_seen_us = seen_ns / 1'000 + system_offset_us_;
  result_.traces.push_back(link.trace);
  if (link.state == link_state::websocket) {
    // Closing politely: a close frame, then the socket (this connection has served its buyer).
    link.buying = false;
    --in_progress_;
    link.out += client_frame(0x8, std::string{"\x03\xe8", 2});
    flush(index);
    if (link.state != link_state::closed) shut(index);
    return;
  }
  finish(index);
}

// The purchase on this connection is over (bought, sold out or failed); a keep-alive connection
// is free for the next one.
void purchase_runner::finish(std::size_t index) {
  auto& link = connections_[index];
  if (link.buying) {
    link.buying = false;
    --in_progress_;
  }
  if (link.state == link_state::idle) idle_.push_back(index);
}

void purchase_runner::fail(std::size_t index, const std::string& kind, const std::string& sample) {
  auto& link = connections_[index];
  count_error(kind, sample);
  if (!link.buying) return;
  if (!link.trace.checkout_id.empty()) result_.traces.push_back(link.trace);
  if (link.state == link_state::idle) return finish(index);
  // The connection is in the middle of something (or upgraded): it cannot serve another buyer.
  link.buying = false;
  --in_progress_;
  if (link.state != link_state::closed) shut(index);
}

void purchase_runner::close_with_error(std::size_t index, const std::string& why) {
  auto& link = connections_[index];
  if (link.state == link_state::connecting) {
    --connecting_;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else if (link.current == step::warm_up && link.state == link_state::busy) {
    --warming_;
    if (setup_failure_.empty()) setup_failure_ = why;
  } else if (link.buying) {
    auto kind = std::string{name_of(link.current)} + ": " + why;
    shut(index);
    return fail(index, kind, "");
  }
  shut(index);
}

void purchase_runner::shut(std::size_t index) {
  auto& link = connections_[index];
  if (link.state == link_state::closed) return;
  if (link.state != link_state::connecting) --open_;
  link.state = link_state::closed;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, link.fd, nullptr);
  ::close(link.fd);
  link.fd = -1;
}

void purchase_runner::count_error(const std::string& kind, const std::string& sample, std::size_t how_many) {
  result_.errors += how_many;
  result_.error_kinds[kind] += how_many;
  if (result_.error_samples.size() < error_samples_max)
    result_.error_samples.push_back(kind + (sample.empty() ? "" : ": " + sample.substr(0, error_sample_size_max_bytes)));
}

}  // namespace

purchase_result run_purchases(const purchase_plan& plan) {
  purchase_runner runner{plan};
  return runner.run();
}

}  // namespace eventstripe::bench
