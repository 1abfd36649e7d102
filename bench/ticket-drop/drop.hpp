#pragma once

// One generator of one-ticket hold requests for one ticket type over `connections` keep-alive
// connections: a burst, an open-loop drop spread over a window, or a sustained closed loop;
// each request's latency measured. One thread, epoll, plain sockets: the generator shares the node's two cores, so it
// must cost little, and it must not be the thing that limits the measurement.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace eventstripe::bench {

struct drop_plan {
  std::uint16_t port = 0;
  std::string event_id;
  std::string ticket_type_id;
  std::size_t requests = 10'000;
  std::size_t connections = 1'000;
  // 0: burst — every connection sends at once and again as soon as it is answered (closed loop),
  // latency from sending. Otherwise request i is due at i·window/requests (open loop) and its
  // latency counts from when it was due, including any wait for a free connection.
  std::chrono::milliseconds window_ms{0};
  // > 0: sustained — a closed loop for this long, `requests` ignored: every connection sends
  // its next hold as soon as the previous one is answered; answers still in flight at the end
  // are awaited and counted.
  std::chrono::milliseconds duration_ms{0};
  // This generator's share of a drop spread over several processes: its request i is request
  // offset + i·stride of the drop's `total` (0: `requests`), which decides its due time and its
  // buyer's email.
  std::size_t offset = 0;
  std::size_t stride = 1;
  std::size_t total = 0;
  std::chrono::seconds timeout_s{120};
  // Non-empty: every second buyer (even drop index) sends this promo code.
  std::string promo_code;
  // Returns the steady-clock instant (ns since its epoch) at which to fire, once every
  // connection is open and checked; the default is at once. A child process of a spread drop
  // reports ready here and waits for the common start.
  std::function<std::int64_t()> start_at;
  // Called right before the first request is sent and right after the last answer (or the
  // timeout): the measured part, without opening and checking the connections.
  std::function<void()> on_fire_start = [] {};
  std::function<void()> on_fire_end = [] {};
};

struct drop_result {
  std::vector<std::int64_t> latencies_ns;  // every answered request, in answer order
  std::size_t held = 0;                    // 201
  std::size_t sold_out = 0;                // 409 sold-out
  std::size_t errors = 0;                  // anything else, including requests never answered
  std::map<std::string, std::size_t> error_kinds;
  std::vector<std::string> error_samples;  // the first few error answers, verbatim
  std::int64_t wall_ns = 0;                // from the first send to the last answer
  std::int64_t last_hold_ns = 0;           // from the first send to the last 201
};

// Opens the connections, checks each with GET /healthz (not measured), then fires. Throws when
// the connections cannot be opened; failures of the drop itself are counted in the result.
drop_result run_drop(const drop_plan& plan);

}  // namespace eventstripe::bench
