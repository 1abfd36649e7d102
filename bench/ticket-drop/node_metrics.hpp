#pragma once

// What the node says about itself after a run, to see where a purchase's time went: its own
// request timings per route (the gateway's Prometheus histogram, from a complete request to its
// answer being written, so the difference to the bench's figure is time spent before the
// gateway read the request: accept and socket queues on a saturated machine), and the warnings
// and errors in its log, counted by message.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace eventstripe::bench {

struct route_timing {
  std::string route;  // "POST /api/v1/checkouts/{checkout_id}/payments"
  std::int64_t count = 0;
  double mean_ms = 0;
  double p99_at_most_ms = 0;  // the histogram bucket bound that holds the 99th percentile
  double over_100ms_share = 0;  // answers slower than the 0.1 s bucket, as a fraction of all
};

// GET /metrics of the node on `port`, the request-duration histogram summed over statuses.
// Throws when the node does not answer.
std::vector<route_timing> scrape_route_timings(std::uint16_t port);

// "warning: payment step did not commit; retrying" → how often, from the node's JSON log lines.
std::map<std::string, std::int64_t> log_warnings_and_errors(const std::string& log_path);

// What the node's database pool and the sandbox looked like while a purchase phase ran.
struct load_samples {
  std::vector<double> pool_queue_depth;        // database jobs waiting for a connection
  std::vector<double> pool_connections_busy;   // of database.pool_size
  std::vector<std::int64_t> metrics_answer_ns;  // GET /metrics of the node, sent → answered
  std::vector<std::int64_t> sandbox_answer_ns;  // GET /_sandbox/health, sent → answered: the provider's own delay
  // Provider calls in flight: the node opens one connection per call (Connection: close), so its
  // established connections to the sandbox's port, at most payments.provider_threads.
  std::vector<double> provider_calls_in_flight;
  std::size_t failures = 0;                    // samples that got no answer in time
};

// Samples both every `interval` on its own thread, from start() to stop(): a few small requests
// a second, next to thousands of the buyers'.
class load_sampler {
 public:
  load_sampler(std::uint16_t node_port, std::uint16_t sandbox_port, std::chrono::milliseconds interval);
  ~load_sampler();
  load_sampler(const load_sampler&) = delete;
  load_sampler& operator=(const load_sampler&) = delete;

  void start();
  load_samples stop();

 private:
  void sample_until_stopped();

  std::uint16_t node_port_;
  std::uint16_t sandbox_port_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  load_samples samples_;
};

}  // namespace eventstripe::bench
