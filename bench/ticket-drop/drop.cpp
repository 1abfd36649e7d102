#include "bench/ticket-drop/drop.hpp"

#include <algorithm>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "bench/ticket-drop/connection_pool.hpp"
#include "bench/ticket-drop/error_counts.hpp"
#include "bench/ticket-drop/http_exchange.hpp"

namespace eventstripe::bench {
namespace {

constexpr int idle_wait_ms = connection_pool::idle_wait_ms;

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

class drop_runner final : public connection_pool::handler {
 public:
  explicit drop_runner(const drop_plan& plan);
  drop_result run();

 private:
  void on_readable(std::size_t index) override;
  void on_reply(std::size_t index, const http_reply& reply) override;
  void record(std::int64_t latency_from_ns, const http_reply& reply, std::int64_t answered_ns);
  void send_hold(std::size_t index, std::size_t request, std::int64_t latency_from_ns);
  void on_lost(std::size_t index, const std::string& why) override;
  void launch_due(std::int64_t now);
  int wait_budget_ms(std::int64_t now) const;
  bool sustained() const { return plan_.duration_ms.count() > 0; }
  bool more_to_send(std::int64_t now) const;

  drop_plan plan_;
  connection_pool pool_;
  std::vector<std::int64_t> latency_from_ns_;  // by connection: where its awaited hold's latency counts from
  std::vector<std::int64_t> due_ns_;
  std::size_t next_request_ = 0;
  std::size_t answered_ = 0;
  std::int64_t start_ns_ = 0;
  std::int64_t stop_sending_ns_ = 0;  // sustained: no request is sent from then on
  drop_result result_;
};

drop_runner::drop_runner(const drop_plan& plan)
    : plan_(plan), pool_(plan.port, plan.connections, *this), latency_from_ns_(plan.connections) {
  if (plan_.total == 0) plan_.total = plan_.requests;
  if (!sustained()) result_.latencies_ns.reserve(plan_.requests);
}

// Opens and checks the connections, waits for the common start (on which the due times are
// reckoned), then fires.
drop_result drop_runner::run() {
  auto start = pool_.open_and_wait_for_start(plan_.start_at);
  plan_.on_fire_start();
  start_ns_ = now_ns();
  stop_sending_ns_ = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms}.count();
  if (!sustained())
    due_ns_ = due_times_ns(start, plan_.window_ms, plan_.requests, plan_.offset, plan_.stride, plan_.total);
  auto deadline = start_ns_ + std::chrono::nanoseconds{plan_.duration_ms + plan_.timeout_s}.count();
  launch_due(start_ns_);
  while (pool_.open() > 0 && (more_to_send(now_ns()) || answered_ < next_request_)) {
    auto now = now_ns();
    if (now >= deadline) break;
    pool_.wait_for_events(wait_budget_ms(now));
    launch_due(now_ns());
  }
  plan_.on_fire_end();
  auto expected = sustained() ? next_request_ : plan_.requests;
  if (answered_ < expected)
    count_error(result_, pool_.open() == 0 ? "no connection left" : "no answer within the timeout", "",
                expected - answered_);
  return std::move(result_);
}

bool drop_runner::more_to_send(std::int64_t now) const {
  return sustained() ? now < stop_sending_ns_ : next_request_ < plan_.requests;
}

int drop_runner::wait_budget_ms(std::int64_t now) const {
  if (sustained())  // wake up for the end of the sending time, then only for answers
    return now >= stop_sending_ns_ ? idle_wait_ms
                                   : std::clamp<int>(static_cast<int>((stop_sending_ns_ - now) / 1'000'000), 1, idle_wait_ms);
  if (!pool_.has_idle() || next_request_ >= plan_.requests) return idle_wait_ms;
  auto wait_ns = due_ns_[next_request_] - now;
  return wait_ns <= 0 ? 0 : static_cast<int>((wait_ns + 999'999) / 1'000'000);
}

void drop_runner::launch_due(std::int64_t now) {
  while (pool_.has_idle() && more_to_send(now) && (sustained() || due_ns_[next_request_] <= now)) {
    auto index = pool_.take_idle();
    if (pool_.state(index) != link_state::idle) continue;
    auto request = next_request_++;
    auto from = plan_.window_ms.count() > 0 && !sustained() ? due_ns_[request] : now_ns();
    send_hold(index, request, from);
  }
}

void drop_runner::send_hold(std::size_t index, std::size_t request, std::int64_t latency_from_ns) {
  latency_from_ns_[index] = latency_from_ns;
  pool_.send(index, hold_request(plan_, request));
}

void drop_runner::on_readable(std::size_t index) {
  auto received = pool_.receive(index);
  if (received == receive_status::failed) return;
  if (received == receive_status::peer_closed) return pool_.close_with_error(index, "connection closed by the node");
  pool_.read_replies(index);
}

void drop_runner::on_reply(std::size_t index, const http_reply& reply) {
  record(latency_from_ns_[index], reply, now_ns());
  if (!reply.keep_alive) return pool_.shut(index);
  pool_.release(index);
}

void drop_runner::record(std::int64_t latency_from_ns, const http_reply& reply, std::int64_t answered_ns) {
  result_.latencies_ns.push_back(answered_ns - latency_from_ns);
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
  count_error(result_, "HTTP " + std::to_string(reply.status) + (slug.empty() ? "" : " " + slug), reply.body);
}

// A hold awaited on a connection that failed is answered with the failure.
void drop_runner::on_lost(std::size_t index, const std::string& why) {
  if (pool_.state(index) != link_state::busy) return;
  ++answered_;
  count_error(result_, why, "");
}

}  // namespace

drop_result run_drop(const drop_plan& plan) { return drop_runner{plan}.run(); }

}  // namespace eventstripe::bench
