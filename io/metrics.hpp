#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Registry;
class Gauge;
template <typename T>
class Family;
class Counter;
class Histogram;
}  // namespace prometheus

namespace eventstripe::io {

// The node's Prometheus registry and the gateway's own series. Other subsystems report through
// collect hooks that run just before each scrape, so they need not link prometheus-cpp.
class metrics {
 public:
  metrics();
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  // `route` is the router's pattern (bounded cardinality), never the raw path.
  void observe_request(const std::string& route, const std::string& method, int status,
                       std::chrono::microseconds duration);
  void connection_opened();
  void connection_closed();
  void websocket_opened();
  void websocket_closed();

  // Sets a gauge by name (created on first use, with the given help text).
  void set_gauge(const std::string& name, const std::string& help, double value);
  // The same for one labelled series of the gauge (`labels` of bounded cardinality).
  void set_gauge(const std::string& name, const std::string& help, const std::map<std::string, std::string>& labels,
                 double value);
  // A counter whose total is kept elsewhere (a subsystem's own count since start): it moves up to
  // `total` and never down.
  void set_counter(const std::string& name, const std::string& help, double total);

  // Runs before every scrape; hooks typically call set_gauge.
  void add_collect_hook(std::function<void(metrics&)> hook);

  // The Prometheus text exposition format of every series.
  std::string scrape();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_ = nullptr;
  prometheus::Family<prometheus::Histogram>* request_duration_ = nullptr;
  prometheus::Gauge* open_connections_ = nullptr;
  prometheus::Gauge* websocket_sessions_ = nullptr;
  std::mutex hooks_mutex_;
  std::vector<std::function<void(metrics&)>> hooks_;
};

}  // namespace eventstripe::io
