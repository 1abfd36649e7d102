#pragma once

// The whole purchase of issue 5, made the way a buyer's page makes it: hold one seat
// (POST /api/v1/checkouts), pay it at once with the sandbox provider's test card
// (POST /api/v1/checkouts/{id}/payments, with an Idempotency-Key), then wait until the order's
// tickets are issued, either by polling GET /api/v1/checkouts/{id}/tickets or by listening on
// the checkout's WebSocket (/ws/checkouts/{id}, upgraded on the same connection after the
// payment's answer). Every buyer-facing step is timed on its own. One thread, epoll and plain
// sockets, like drop.hpp: the generator shares the node's two cores. A buyer may pause between
// its hold and its payment, as a real one types its card details (purchase_plan::pay_think_*).
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace eventstripe::bench {

enum class tickets_wait { poll, websocket };

struct purchase_plan {
  std::uint16_t port = 0;
  std::string event_id;
  std::string ticket_type_id;
  // Open loop (duration_ms 0): `buyers` buyers, one connection each; buyer i's hold is due at
  // i·window/total and its hold latency counts from then. A buyer who gets a seat pays after its
  // think time (below; none: at once).
  std::size_t buyers = 0;
  std::chrono::milliseconds window_ms{1'000};
  // Closed loop (duration_ms > 0): `connections` keep-alive connections, each buying one seat
  // after another (hold → pay → tickets) until the time is up; purchases under way then finish.
  std::size_t connections = 0;
  std::chrono::milliseconds duration_ms{0};
  // A buyer who gets a seat types its card details before paying: a think time drawn uniformly
  // from [pay_think_min_ms, pay_think_max_ms], the same for a buyer in every round and process
  // (splitmix64 of its index in the drop). Its keep-alive connection stays open and idle
  // meanwhile, as a browser's would; the node's http.idle_timeout_ms must be longer (main.cpp
  // checks), a close by the node fails the purchase. 0-0: pays the moment its hold is answered,
  // the worst case, where a drop's payments all arrive together.
  std::chrono::milliseconds pay_think_min_ms{0};
  std::chrono::milliseconds pay_think_max_ms{0};
  // websocket only in the open loop: the upgraded connection is not reused.
  tickets_wait wait = tickets_wait::poll;
  std::chrono::milliseconds poll_interval_ms{20};
  // This generator's share of an open loop spread over processes, as in drop_plan: its buyer i
  // is the drop's buyer offset + i·stride of `total`.
  std::size_t offset = 0;
  std::size_t stride = 1;
  std::size_t total = 0;
  // Closed loop: this generator's connection c buys as buyer c, c + connections, ...; emails
  // are "<buyer_prefix><n>@bench.eventstripe.dev".
  std::string buyer_prefix = "buyer";
  std::chrono::seconds timeout_s{120};
  std::function<std::int64_t()> start_at;  // as in drop_plan
  std::function<void()> on_fire_start = [] {};
  std::function<void()> on_fire_end = [] {};
};

// One purchase that got a seat, on the system clock (µs since the epoch), so that it can be set
// beside the database's timestamps of the same checkout (PostgreSQL's now() reads the same
// clock). 0: did not happen.
struct purchase_trace {
  std::string checkout_id;
  std::int64_t hold_from_us = 0;  // when the hold was due (open loop) or sent (closed loop)
  std::int64_t hold_answered_us = 0;
  std::int64_t pay_sent_us = 0;  // after the think time, if any
  std::int64_t pay_answered_us = 0;
  std::int64_t issued_seen_us = 0;  // the buyer learnt that the tickets are issued
};

struct purchase_result {
  std::vector<std::int64_t> hold_ns;      // every answered hold (201 or 409 sold-out)
  std::vector<std::int64_t> pay_ns;       // every answered payment, from sending it
  std::vector<std::int64_t> tickets_ns;   // the payment's answer → tickets issued seen
  // hold due (or sent) → tickets issued seen, less the think time (hold answer → pay sent) of a
  // buyer who had one: hold + pay + tickets.
  std::vector<std::int64_t> purchase_ns;
  std::size_t holds = 0;        // 201
  std::size_t sold_out = 0;     // 409 sold-out
  std::size_t paid = 0;         // 201 with status succeeded
  std::size_t pay_pending = 0;  // 202: not settled within the node's wait; its tickets are still awaited
  std::size_t issued = 0;       // tickets_issued seen (polling: with a ticket per seat)
  std::size_t polls = 0;        // GET .../tickets sent
  std::size_t errors = 0;       // any other answer, or none; each ends its purchase
  std::map<std::string, std::size_t> error_kinds;
  std::vector<std::string> error_samples;
  std::int64_t wall_ns = 0;         // first hold sent → last answer or push
  std::int64_t last_issued_ns = 0;  // first hold sent → the last tickets issued seen
  std::vector<purchase_trace> traces;
};

// Opens the connections, checks each with GET /healthz (not measured), then buys. Throws when
// the connections cannot be opened; failures of purchases are counted in the result.
purchase_result run_purchases(const purchase_plan& plan);

}  // namespace eventstripe::bench
