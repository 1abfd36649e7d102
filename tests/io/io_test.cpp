#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "io/metrics.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"

using namespace eventstripe::io;

namespace {

http_request request_for(std::string method, std::string path) {
  http_request request;
  request.method = std::move(method);
  request.path = std::move(path);
  return request;
}

http_handler answering(int status) {
  return [status](http_request&, responder respond) { respond({status, "text/plain", "", {}}); };
}

int call(const router::match& match, http_request& request) {
  int status = 0;
  (*match.handler)(request, [&status](http_response response) { status = response.status; });
  return status;
}

}  // namespace

TEST_CASE("the router picks the route by method and path and extracts parameters") {
  router routes;
  routes.add("GET", "/api/v1/events/{event_id}", answering(200));
  routes.add("DELETE", "/api/v1/events/{event_id}", answering(204));
  routes.add("GET", "/api/v1/events/{event_id}/ticket-types/{ticket_type_id}", answering(201));

  auto request = request_for("GET", "/api/v1/events/ev_1/ticket-types/tt_9");
  auto match = routes.find(request, false);
  REQUIRE(match.handler != nullptr);
  CHECK(call(match, request) == 201);
  CHECK(match.pattern == "/api/v1/events/{event_id}/ticket-types/{ticket_type_id}");
  CHECK(request.path_parameters.at("event_id") == "ev_1");
  CHECK(request.path_parameters.at("ticket_type_id") == "tt_9");

  auto removal = request_for("DELETE", "/api/v1/events/ev_2");
  auto removal_match = routes.find(removal, false);
  REQUIRE(removal_match.handler != nullptr);
  CHECK(call(removal_match, removal) == 204);
}

TEST_CASE("an unknown path matches nothing; a known path with another method lists the allowed ones") {
  router routes;
  routes.add("GET", "/healthz", answering(200));
  routes.add("POST", "/api/v1/things", answering(201));
  routes.add("GET", "/api/v1/things", answering(200));

  auto unknown = request_for("GET", "/nothing/here");
  auto none = routes.find(unknown, false);
  CHECK(none.handler == nullptr);
  CHECK(none.allowed_methods.empty());

  auto wrong_method = request_for("PUT", "/api/v1/things");
  auto not_allowed = routes.find(wrong_method, false);
  CHECK(not_allowed.handler == nullptr);
  CHECK(not_allowed.allowed_methods == "POST, GET");
}

TEST_CASE("a literal segment never matches a longer or shorter path") {
  router routes;
  routes.add("GET", "/api/v1/node", answering(200));
  for (const char* path : {"/api/v1", "/api/v1/node/extra", "/api/v1/nodes", "/"}) {
    auto request = request_for("GET", path);
    CHECK(routes.find(request, false).handler == nullptr);
  }
  auto trailing_slash = request_for("GET", "/api/v1/node/");
  CHECK(routes.find(trailing_slash, false).handler != nullptr);
}

TEST_CASE("WebSocket routes match only upgrade requests") {
  router routes;
  routes.add_websocket("/ws/checkouts/{checkout_id}",
                       [](const http_request&, std::shared_ptr<websocket_channel>, http_response&) {
                         return std::unique_ptr<websocket_handler>{};
                       });
  auto upgrade = request_for("GET", "/ws/checkouts/co_1");
  auto match = routes.find(upgrade, true);
  CHECK(match.websocket != nullptr);
  CHECK(upgrade.path_parameters.at("checkout_id") == "co_1");

  auto plain = request_for("GET", "/ws/checkouts/co_1");
  auto plain_match = routes.find(plain, false);
  CHECK(plain_match.websocket == nullptr);
  CHECK(plain_match.handler == nullptr);
  CHECK(plain_match.allowed_methods == "GET");  // the gateway answers 426 Upgrade Required
}

TEST_CASE("problem responses are RFC 9457 documents with a stable type") {
  auto response = problem(413, "body-too-large", "Request body too large", "limit 1 MiB");
  CHECK(response.status == 413);
  CHECK(response.content_type == "application/problem+json");
  auto body = nlohmann::json::parse(response.body);
  CHECK(body["type"] == "https://eventstripe.dev/problems/body-too-large");
  CHECK(body["title"] == "Request body too large");
  CHECK(body["status"] == 413);
  CHECK(body["detail"] == "limit 1 MiB");
}

TEST_CASE("metrics count requests by route pattern and status and run collect hooks on scrape") {
  metrics stats;
  stats.observe_request("/api/v1/events/{event_id}", "GET", 200, std::chrono::microseconds{1500});
  stats.observe_request("/api/v1/events/{event_id}", "GET", 200, std::chrono::microseconds{2500});
  stats.observe_request("unmatched", "GET", 404, std::chrono::microseconds{100});
  int hook_calls = 0;
  stats.add_collect_hook([&hook_calls](metrics& m) {
    ++hook_calls;
    m.set_gauge("eventstripe_test_gauge", "a gauge set by a hook", 42);
  });
  auto text = stats.scrape();
  CHECK(hook_calls == 1);
  CHECK_THAT(text, Catch::Contains(
                       R"(eventstripe_http_requests_total{method="GET",route="/api/v1/events/{event_id}",status="200"} 2)"));
  CHECK_THAT(text, Catch::Contains(R"(eventstripe_http_requests_total{method="GET",route="unmatched",status="404"} 1)"));
  CHECK_THAT(text, Catch::Contains("eventstripe_http_request_duration_seconds_bucket"));
  CHECK_THAT(text, Catch::Contains("eventstripe_test_gauge 42"));
}
