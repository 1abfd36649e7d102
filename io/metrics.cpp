#include "io/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace eventstripe::io {

metrics::metrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("eventstripe_http_requests_total")
                   .Help("HTTP requests answered, by route pattern, method and status")
                   .Register(*registry_);
  request_duration_ = &prometheus::BuildHistogram()
                           .Name("eventstripe_http_request_duration_seconds")
                           .Help("Time from a complete request to its answer being written")
                           .Register(*registry_);
  open_connections_ = &prometheus::BuildGauge()
                           .Name("eventstripe_http_open_connections")
                           .Help("TCP connections open on the gateway")
                           .Register(*registry_)
                           .Add({});
  websocket_sessions_ = &prometheus::BuildGauge()
                             .Name("eventstripe_websocket_sessions")
                             .Help("WebSocket sessions open on the gateway")
                             .Register(*registry_)
                             .Add({});
}

metrics::~metrics() = default;

void metrics::observe_request(const std::string& route, const std::string& method, int status,
                              std::chrono::microseconds duration) {
  const std::map<std::string, std::string> labels = {
      {"route", route}, {"method", method}, {"status", std::to_string(status)}};
  requests_->Add(labels).Increment();
  // Buckets from 0.5 ms to 10 s: ticket holds should answer in milliseconds, a release under
  // load in tens of milliseconds; anything past 10 s is a failure whatever its exact length.
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  request_duration_->Add(labels, buckets).Observe(static_cast<double>(duration.count()) / 1e6);
}

void metrics::connection_opened() { open_connections_->Increment(); }
void metrics::connection_closed() { open_connections_->Decrement(); }
void metrics::websocket_opened() { websocket_sessions_->Increment(); }
void metrics::websocket_closed() { websocket_sessions_->Decrement(); }

void metrics::set_gauge(const std::string& name, const std::string& help, double value) {
  // Registry::Register returns the existing family when name and help match.
  prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add({}).Set(value);
}

void metrics::set_gauge(const std::string& name, const std::string& help,
                        const std::map<std::string, std::string>& labels, double value) {
  prometheus::BuildGauge().Name(name).Help(help).Register(*registry_).Add(labels).Set(value);
}

void metrics::set_counter(const std::string& name, const std::string& help, double total) {
  auto& counter = prometheus::BuildCounter().Name(name).Help(help).Register(*registry_).Add({});
  if (total > counter.Value()) counter.Increment(total - counter.Value());
}

void metrics::add_collect_hook(std::function<void(metrics&)> hook) {
  std::lock_guard lock{hooks_mutex_};
  hooks_.push_back(std::move(hook));
}

std::string metrics::scrape() {
  {
    std::lock_guard lock{hooks_mutex_};
    for (auto& hook : hooks_) hook(*this);
  }
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

}  // namespace eventstripe::io
