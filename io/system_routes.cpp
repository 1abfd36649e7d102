#include "io/system_routes.hpp"

#include <charconv>

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/node_status.hpp"
#include "actors/time_format.hpp"
#include "io/metrics.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"

namespace eventstripe::io {
namespace {

using wake_atom = caf::atom_constant<caf::atom("wake")>;


void add_health_routes(router& routes, const system_routes_context& context) {
  routes.add("GET", "/healthz", [](http_request&, responder respond) {
    respond(json_response(200, R"({"status":"alive"})"));
  });
  routes.add("GET", "/readyz", [status = context.status](http_request&, responder respond) {
    if (status->ready()) return respond(json_response(200, R"({"status":"ready"})"));
    auto answer = problem(503, "not-ready", "Not ready", status->reason());
    answer.headers.emplace_back("Retry-After", "1");
    respond(std::move(answer));
  });
  routes.add("GET", "/metrics", [stats = context.stats](http_request&, responder respond) {
    respond({200, "text/plain; version=0.0.4; charset=utf-8", stats->scrape(), {}});
  });
  routes.add("GET", "/api/v1/node", [context](http_request&, responder respond) {
    auto now = std::chrono::system_clock::now();
    nlohmann::json body = {
        {"node_id", context.node_id},
        {"version", context.version},
        {"started_at", actors::iso8601_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                                              context.started_at.time_since_epoch())
                                              .count())},
        {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(now - context.started_at).count()},
        {"ready", context.status->ready()},
        {"reason", context.status->ready() ? "ready" : context.status->reason()},
    };
    respond(json_response(200, body.dump()));
  });
}

// Answers once its timer fires. Spawned with arguments: CAF 0.17.6's function-actor factory
// trips UBSan when spawn gets none.
caf::behavior sleeper(caf::event_based_actor* self, responder respond, std::chrono::milliseconds duration) {
  self->delayed_send(self, duration, wake_atom::value);
  return {[self, respond, duration](wake_atom) {
    respond(json_response(200, nlohmann::json{{"slept_ms", duration.count()}}.dump()));
    self->quit();
  }};
}

class echo_handler : public websocket_handler {
 public:
  explicit echo_handler(std::shared_ptr<websocket_channel> channel) : channel_(std::move(channel)) {}
  void on_message(std::string text) override { channel_->send(std::move(text)); }

 private:
  std::shared_ptr<websocket_channel> channel_;
};

void add_debug_routes(router& routes, const system_routes_context& context) {
  routes.add("POST", "/api/v1/debug/echo", [](http_request& request, responder respond) {
    auto parsed = nlohmann::json::parse(request.body, nullptr, false);
    if (parsed.is_discarded())
      return respond(problem(400, "malformed-json", "Malformed JSON", "The request body is not valid JSON."));
    respond(json_response(200, nlohmann::json{{"received", parsed}}.dump()));
  });
  // Holds a request in flight for `ms` without holding a gateway thread: a short-lived actor
  // answers after a timer, the way every domain request will cross into the actor world.
  routes.add("GET", "/api/v1/debug/sleep", [system = context.system](http_request& request, responder respond) {
    auto text = request.query_value("ms").value_or("");
    long long ms = -1;
    auto [end, errc] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (errc != std::errc{} || end != text.data() + text.size() || ms < 0 || ms > debug_sleep_max_ms.count())
      return respond(problem(400, "invalid-parameter", "Invalid parameter",
                             "ms must be a whole number of milliseconds from 0 to " +
                                 std::to_string(debug_sleep_max_ms.count()) + "."));
    system->spawn(sleeper, std::move(respond), std::chrono::milliseconds{ms});
  });
  routes.add_websocket("/ws/debug/echo", [](const http_request&, std::shared_ptr<websocket_channel> channel,
                                            http_response&) -> std::unique_ptr<websocket_handler> {
    return std::make_unique<echo_handler>(std::move(channel));
  });
}

}  // namespace

void add_system_routes(router& routes, system_routes_context context) {
  add_health_routes(routes, context);
  if (context.debug_endpoints) add_debug_routes(routes, context);
}

}  // namespace eventstripe::io
