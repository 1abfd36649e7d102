#include "bench/ticket-drop/purchase.hpp"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/ticket-drop/connection_pool.hpp"
#include "bench/ticket-drop/error_counts.hpp"
#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {
namespace {

std::int64_t system_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr std::size_t websocket_message_size_max_bytes = 1024 * 1024;
// Any 16 bytes in base64 will do (RFC 6455's example nonce); the bench does not check the accept.
constexpr const char* websocket_key = "dGhlIHNhbXBsZSBub25jZQ==";

enum class step { hold, think, pay, tickets, upgrade, push };

const char* name_of(step what) {
  switch (what) {
    case step::hold: return "hold";
    case step::think: return "think time before pay";
    case step::pay: return "pay";
    case step::tickets: return "tickets poll";
    case step::upgrade: return "WebSocket upgrade";
    case step::push: return "WebSocket wait";
  }
  return "?";
}

// How far the purchase under way on a connection has got.
struct purchase_progress {
  step current = step::hold;
  std::int64_t step_from_ns = 0;  // the current step's latency origin
  bool buying = false;
  std::size_t buyer = 0;
  std::int64_t purchase_from_ns = 0;
  std::int64_t hold_answered_ns = 0;
  std::int64_t think_ns = 0;  // hold answered → pay sent, when the buyer thought: not part of the purchase
  std::int64_t pay_answered_ns = 0;
  std::size_t seats = 1;
  purchase_trace trace;
  std::string websocket_message;  // fragments of the current message
};

// splitmix64 (Steele, Lea and Flood): a well-mixed 64-bit number from any seed, so that a
// buyer's think time depends on its index alone, not on the process or the round it runs in.
std::uint64_t splitmix64(std::uint64_t seed) {
  auto z = seed + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform over [min, max] to the nanosecond (the modulo's bias is below 1e-9 for any span).
std::int64_t think_time_ns(const purchase_plan& plan, std::size_t buyer) {
  auto min_ns = std::chrono::nanoseconds{plan.pay_think_min_ms}.count();
  auto span_ns = std::chrono::nanoseconds{plan.pay_think_max_ms - plan.pay_think_min_ms}.count();
  if (span_ns <= 0) return min_ns;
  return min_ns + static_cast<std::int64_t>(splitmix64(buyer) % static_cast<std::uint64_t>(span_ns + 1));
}

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

class purchase_runner final : public connection_pool::handler {
 public:
  explicit purchase_runner(const purchase_plan& plan);
  purchase_result run();

 private:
  bool closed_loop() const { return plan_.duration_ms.count() > 0; }
  std::size_t global_buyer(std::size_t index) const { return plan_.offset + index * plan_.stride; }
  bool more_to_start(std::int64_t now) const;
  void launch(std::int64_t now);
  void start_purchase(std::size_t index, std::size_t buyer, std::int64_t from_ns);
  void fire_timers(std::int64_t now);
  int wait_budget_ms(std::int64_t now) const;
  void on_readable(std::size_t index) override;
  void on_reply(std::size_t index, const http_reply& reply) override;
  void on_hold(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void pay(std::size_t index);
  void on_pay(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void on_tickets(std::size_t index, const http_reply& reply, std::int64_t answered_ns);
  void on_upgrade(std::size_t index, const http_reply& reply);
  void read_frames(std::size_t index);
  void on_push(std::size_t index, const std::string& message);
  void await_tickets(std::size_t index);
  void issued(std::size_t index, std::int64_t seen_ns);
  void finish(std::size_t index);
  void fail(std::size_t index, const std::string& kind, const std::string& sample);
  void on_lost(std::size_t index, const std::string& why) override;
  void send(std::size_t index, std::string bytes, step what, std::int64_t from_ns);

  purchase_plan plan_;
  connection_pool pool_;
  std::vector<purchase_progress> purchases_;  // by connection
  std::vector<std::int64_t> due_ns_;          // open loop
  using timer = std::pair<std::int64_t, std::size_t>;  // (when, connection) of a poll or of the pay after thinking
  std::priority_queue<timer, std::vector<timer>, std::greater<>> timers_;
  std::size_t next_buyer_ = 0;   // open loop: index into this generator's buyers; closed: purchases started
  std::size_t in_progress_ = 0;  // purchases started and not finished
  std::int64_t start_ns_ = 0;
  std::int64_t stop_starting_ns_ = 0;  // closed loop: no purchase starts from then on
  std::int64_t system_offset_us_ = 0;  // system clock µs − steady clock µs
  purchase_result result_;
};

// The plan as the runner reads it: the open loop has one connection per buyer.
purchase_plan completed(purchase_plan plan) {
  bool closed_loop = plan.duration_ms.count() > 0;
  if (plan.wait == tickets_wait::websocket && closed_loop)
    throw std::invalid_argument("the closed purchase loop polls for tickets; WebSocket waits are for the open loop");
  if (plan.total == 0) plan.total = plan.buyers;
  if (!closed_loop) plan.connections = plan.buyers;
  return plan;
}

purchase_runner::purchase_runner(const purchase_plan& plan)
    : plan_(completed(plan)), pool_(plan_.port, plan_.connections, *this), purchases_(plan_.connections) {}

// Opens and checks the connections, waits for the common start (on which the due times are
// reckoned), then fires.
purchase_result purchase_runner::run() {
  auto start = pool_.open_and_wait_for_start(plan_.start_at);
  plan_.on_fire_start();
  start_ns_ = now_ns();
  system_offset_us_ = system_now_us() - start_ns_ / 1'000;
  stop_starting_ns_ = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms}.count();
  if (!closed_loop())
    due_ns_ = due_times_ns(start, plan_.window_ms, plan_.buyers, plan_.offset, plan_.stride, plan_.total);
  // The timeout is for answers: the think time comes on top.
  auto run_time_max = plan_.duration_ms + plan_.window_ms + plan_.pay_think_max_ms + plan_.timeout_s;
  auto deadline = start_ns_ + std::chrono::nanoseconds{run_time_max}.count();
  launch(start_ns_);
  while (more_to_start(now_ns()) || in_progress_ > 0) {
    auto now = now_ns();
    if (now >= deadline) break;
    if (pool_.open() == 0) break;
    pool_.wait_for_events(wait_budget_ms(now));
    now = now_ns();
    fire_timers(now);
    launch(now);
  }
  plan_.on_fire_end();
  // Whatever is still under way has had its time.
  for (std::size_t i = 0; i < purchases_.size(); ++i)
    if (purchases_[i].buying)
      fail(i, std::string{pool_.open() == 0 ? "no connection left during " : "no answer within the timeout: "} +
                  name_of(purchases_[i].current),
           "");
  if (!closed_loop() && next_buyer_ < plan_.buyers)
    count_error(result_, "never sent: no connection left", "", plan_.buyers - next_buyer_);
  return std::move(result_);
}

bool purchase_runner::more_to_start(std::int64_t now) const {
  return closed_loop() ? now < stop_starting_ns_ : next_buyer_ < plan_.buyers;
}

void purchase_runner::launch(std::int64_t now) {
  while (pool_.has_idle() && more_to_start(now) && (closed_loop() || due_ns_[next_buyer_] <= now)) {
    auto index = pool_.take_idle();
    if (pool_.state(index) != link_state::idle || purchases_[index].buying) continue;
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
  auto& purchase = purchases_[index];
  purchase.buying = true;
  purchase.buyer = buyer;
  purchase.purchase_from_ns = from_ns;
  purchase.hold_answered_ns = 0;
  purchase.think_ns = 0;
  purchase.pay_answered_ns = 0;
  purchase.trace = purchase_trace{};
  purchase.trace.hold_from_us = from_ns / 1'000 + system_offset_us_;
  ++in_progress_;
  send(index, hold_request(plan_, buyer), step::hold, from_ns);
}

void purchase_runner::fire_timers(std::int64_t now) {
  while (!timers_.empty() && timers_.top().first <= now) {
    auto index = timers_.top().second;
    timers_.pop();
    auto& purchase = purchases_[index];
    if (pool_.state(index) != link_state::waiting) continue;
    if (purchase.current == step::think) {
      pay(index);
      continue;
    }
    ++result_.polls;
    send(index, tickets_request(purchase.trace.checkout_id), step::tickets, purchase.pay_answered_ns);
  }
}

int purchase_runner::wait_budget_ms(std::int64_t now) const {
  std::int64_t wake = now + std::int64_t{connection_pool::idle_wait_ms} * 1'000'000;
  if (!timers_.empty()) wake = std::min(wake, timers_.top().first);
  if (closed_loop() && now < stop_starting_ns_) wake = std::min(wake, stop_starting_ns_);
  if (!closed_loop() && pool_.has_idle() && next_buyer_ < plan_.buyers) wake = std::min(wake, due_ns_[next_buyer_]);
  return wake <= now ? 0 : static_cast<int>((wake - now + 999'999) / 1'000'000);
}

void purchase_runner::send(std::size_t index, std::string bytes, step what, std::int64_t from_ns) {
  auto& purchase = purchases_[index];
  purchase.current = what;
  purchase.step_from_ns = from_ns;
  pool_.send(index, std::move(bytes));
}

void purchase_runner::on_readable(std::size_t index) {
  auto received = pool_.receive(index);
  if (received == receive_status::failed) return;
  pool_.read_replies(index);
  if (pool_.state(index) == link_state::websocket) read_frames(index);
  if (received == receive_status::peer_closed && pool_.state(index) != link_state::closed)
    pool_.close_with_error(index, "connection closed by the node");
}

void purchase_runner::on_reply(std::size_t index, const http_reply& reply) {
  auto answered_ns = now_ns();
  result_.wall_ns = std::max(result_.wall_ns, answered_ns - start_ns_);
  switch (purchases_[index].current) {
    case step::hold: return on_hold(index, reply, answered_ns);
    case step::pay: return on_pay(index, reply, answered_ns);
    case step::tickets: return on_tickets(index, reply, answered_ns);
    case step::upgrade: return on_upgrade(index, reply);
    case step::think:  // nothing was asked: the connection is not busy, so no answer is read
    case step::push: return;
  }
}

std::string answer_kind(const char* what, const http_reply& reply) {
  auto slug = problem_slug(reply.body);
  return std::string{what} + ": HTTP " + std::to_string(reply.status) + (slug.empty() ? "" : " " + slug);
}

void purchase_runner::on_hold(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& purchase = purchases_[index];
  result_.hold_ns.push_back(answered_ns - purchase.step_from_ns);
  purchase.hold_answered_ns = answered_ns;
  purchase.trace.hold_answered_us = answered_ns / 1'000 + system_offset_us_;
  pool_.set_state(index, link_state::idle);
  if (reply.status == 409 && problem_slug(reply.body) == "sold-out") {
    ++result_.sold_out;
    return finish(index);
  }
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status != 201 || body.is_discarded() || !body.contains("id") || !body["id"].is_string())
    return fail(index, answer_kind("hold", reply), reply.body);
  ++result_.holds;
  purchase.trace.checkout_id = body["id"].get<std::string>();
  if (!reply.keep_alive) return fail(index, "hold: the node closed the connection after answering", "");
  auto think_ns = think_time_ns(plan_, purchase.buyer);
  if (think_ns == 0) return pay(index);
  // The buyer types its card details on the page; its connection waits, open and idle.
  purchase.current = step::think;
  pool_.set_state(index, link_state::waiting);
  timers_.emplace(answered_ns + think_ns, index);
}

void purchase_runner::pay(std::size_t index) {
  auto& purchase = purchases_[index];
  auto sent_ns = now_ns();
  // The whole purchase leaves out the think time as the buyer had it: drawn, plus however late
  // the timer fired (so it is exactly hold + pay + tickets).
  if (purchase.current == step::think) purchase.think_ns = sent_ns - purchase.hold_answered_ns;
  purchase.trace.pay_sent_us = sent_ns / 1'000 + system_offset_us_;
  send(index, pay_request(purchase.trace.checkout_id, purchase.buyer), step::pay, sent_ns);
}

void purchase_runner::on_pay(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& purchase = purchases_[index];
  result_.pay_ns.push_back(answered_ns - purchase.step_from_ns);
  purchase.trace.pay_answered_us = answered_ns / 1'000 + system_offset_us_;
  purchase.pay_answered_ns = answered_ns;
  pool_.set_state(index, link_state::idle);
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
  auto& purchase = purchases_[index];
  if (plan_.wait == tickets_wait::websocket) {
    purchase.websocket_message.clear();
    return send(index, upgrade_request(purchase.trace.checkout_id), step::upgrade, purchase.pay_answered_ns);
  }
  ++result_.polls;
  send(index, tickets_request(purchase.trace.checkout_id), step::tickets, purchase.pay_answered_ns);
}

void purchase_runner::on_tickets(std::size_t index, const http_reply& reply, std::int64_t answered_ns) {
  auto& purchase = purchases_[index];
  pool_.set_state(index, link_state::idle);
  auto body = nlohmann::json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || body.is_discarded() || !body.contains("order_status"))
    return fail(index, answer_kind("tickets", reply), reply.body);
  auto order_status = body["order_status"].is_string() ? body["order_status"].get<std::string>() : "null";
  if (order_status == "tickets_issued") {
    auto tickets = body.contains("tickets") && body["tickets"].is_array() ? body["tickets"].size() : 0;
    if (tickets != purchase.seats)
      return fail(index, "tickets: tickets_issued with " + std::to_string(tickets) + " tickets for " +
                             std::to_string(purchase.seats) + " seats",
                  reply.body);
    return issued(index, answered_ns);
  }
  if (order_status == "paid" || order_status == "payment_pending") {
    if (!reply.keep_alive) return fail(index, "tickets: the node closed the connection after answering", "");
    pool_.set_state(index, link_state::waiting);
    timers_.emplace(answered_ns + std::chrono::nanoseconds{plan_.poll_interval_ms}.count(), index);
    return;
  }
  fail(index, "tickets: order_status " + order_status, reply.body);
}

void purchase_runner::on_upgrade(std::size_t index, const http_reply& reply) {
  if (reply.status != 101) return fail(index, answer_kind("WebSocket upgrade", reply), reply.body);
  pool_.set_state(index, link_state::websocket);
  purchases_[index].current = step::push;
}

// Server frames are never masked; a text message may come in fragments; pings are answered.
void purchase_runner::read_frames(std::size_t index) {
  auto& purchase = purchases_[index];
  auto& in = pool_.input(index);
  while (pool_.state(index) == link_state::websocket && in.size() >= 2) {
    auto byte0 = static_cast<std::uint8_t>(in[0]);
    auto byte1 = static_cast<std::uint8_t>(in[1]);
    bool final_frame = (byte0 & 0x80) != 0;
    auto opcode = static_cast<std::uint8_t>(byte0 & 0x0f);
    std::size_t header = 2;
    std::uint64_t length = byte1 & 0x7f;
    if (length == 126 || length == 127) {
      std::size_t extra = length == 126 ? 2 : 8;
      if (in.size() < 2 + extra) return;
      length = 0;
      for (std::size_t i = 0; i < extra; ++i) length = (length << 8) | static_cast<std::uint8_t>(in[2 + i]);
      header += extra;
    }
    if ((byte1 & 0x80) != 0) return pool_.close_with_error(index, "WebSocket: the node sent a masked frame");
    if (length > websocket_message_size_max_bytes) return pool_.close_with_error(index, "WebSocket: frame too large");
    if (in.size() < header + length) return;
    auto payload = in.substr(header, length);
    in.erase(0, header + length);
    if (opcode == 0x9) {
      pool_.write(index, client_frame(0xA, payload.substr(0, 125)));
    } else if (opcode == 0x8) {
      return pool_.close_with_error(index, "WebSocket closed by the node before tickets_issued");
    } else if (opcode == 0x0 || opcode == 0x1) {
      purchase.websocket_message += payload;
      if (purchase.websocket_message.size() > websocket_message_size_max_bytes)
        return pool_.close_with_error(index, "WebSocket: message too large");
      if (final_frame) {
        auto message = std::move(purchase.websocket_message);
        purchase.websocket_message.clear();
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
  auto& purchase = purchases_[index];
  ++result_.issued;
  result_.tickets_ns.push_back(seen_ns - purchase.pay_answered_ns);
  result_.purchase_ns.push_back(seen_ns - purchase.purchase_from_ns - purchase.think_ns);
  result_.last_issued_ns = std::max(result_.last_issued_ns, seen_ns - start_ns_);
  purchase.trace.issued_seen_us = seen_ns / 1'000 + system_offset_us_;
  result_.traces.push_back(purchase.trace);
  if (pool_.state(index) == link_state::websocket) {
    // Closing politely: a close frame, then the socket (this connection has served its buyer).
    purchase.buying = false;
    --in_progress_;
    pool_.write(index, client_frame(0x8, std::string{"\x03\xe8", 2}));
    pool_.shut(index);
    return;
  }
  finish(index);
}

// The purchase on this connection is over (bought, sold out or failed); a keep-alive connection
// is free for the next one.
void purchase_runner::finish(std::size_t index) {
  auto& purchase = purchases_[index];
  if (purchase.buying) {
    purchase.buying = false;
    --in_progress_;
  }
  if (pool_.state(index) == link_state::idle) pool_.release(index);
}

void purchase_runner::fail(std::size_t index, const std::string& kind, const std::string& sample) {
  auto& purchase = purchases_[index];
  count_error(result_, kind, sample);
  if (!purchase.buying) return;
  if (!purchase.trace.checkout_id.empty()) result_.traces.push_back(purchase.trace);
  if (pool_.state(index) == link_state::idle) return finish(index);
  // The connection is in the middle of something (or upgraded): it cannot serve another buyer.
  purchase.buying = false;
  --in_progress_;
  pool_.shut(index);
}

// A purchase under way on a connection that failed ends with the failure.
void purchase_runner::on_lost(std::size_t index, const std::string& why) {
  const auto& purchase = purchases_[index];
  if (!purchase.buying) return;
  auto kind = std::string{name_of(purchase.current)} + ": " + why;
  if (purchase.current == step::think) kind += " (is the node's http.idle_timeout_ms shorter than the think time?)";
  pool_.shut(index);
  fail(index, kind, "");
}

}  // namespace

purchase_result run_purchases(const purchase_plan& plan) { return purchase_runner{plan}.run(); }

}  // namespace eventstripe::bench
