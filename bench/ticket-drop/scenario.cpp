#include "bench/ticket-drop/scenario.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "actors/time_format.hpp"
#include "bench/ticket-drop/setup_client.hpp"

namespace eventstripe::bench {
namespace {

// Sign-up hashes a password with Argon2id: give the setup calls time on a busy machine.
constexpr std::chrono::milliseconds setup_reply_timeout_ms{30'000};
constexpr std::int64_t ticket_price_minor = 4'900;
constexpr std::int64_t early_bird_price_minor = 3'900;
constexpr std::int64_t event_starts_in_days = 30;


std::string rfc3339_of(std::chrono::system_clock::time_point when) {
  return eventstripe::actors::iso8601_ms(
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count());
}

nlohmann::json expect(const http_reply& reply, int status, const std::string& what) {
  if (reply.status != status)
    throw std::runtime_error(what + ": expected " + std::to_string(status) + ", got " + std::to_string(reply.status) +
                             ": " + reply.body);
  return reply.body.empty() ? nlohmann::json{} : nlohmann::json::parse(reply.body);
}

}  // namespace

drop_target prepare_drop_target(std::uint16_t port, std::int64_t capacity, bool priced) {
  setup_client client{port, setup_reply_timeout_ms};
  nlohmann::json signup = {
      {"email", "organizer@bench.eventstripe.dev"}, {"password", "ticket-drop-bench"}, {"workspace_name", "Ticket drop"}};
  auto organizer = expect(client.call("POST", "/api/v1/organizers", signup.dump()), 201, "sign-up");
  header_list authorization = {{"Authorization", "Bearer " + organizer["api_key"]["key"].get<std::string>()}};

  auto starts = std::chrono::system_clock::now() + std::chrono::hours{24 * event_starts_in_days};
  nlohmann::json event = {{"slug", "ticket-drop"},           {"title", "Ticket drop"},
                          {"time_zone", "Europe/Berlin"},    {"starts_at", rfc3339_of(starts)},
                          {"ends_at", rfc3339_of(starts + std::chrono::hours{4})},
                          {"currency", "EUR"},               {"tax_country", "DE"}};
  auto created = expect(client.call("POST", "/api/v1/organizer/events", event.dump(), authorization), 201,
                        "create event");
  drop_target target;
  target.event_id = created["id"].get<std::string>();
  auto events_path = "/api/v1/organizer/events/" + target.event_id;

  nlohmann::json ticket_type = {{"name", "General admission"},
                                {"capacity", capacity},
                                {"price", {{"minor", ticket_price_minor}, {"currency", "EUR"}}}};
  if (priced)
    ticket_type["tiers"] = {{{"name", "Early bird"},
                             {"price", {{"minor", early_bird_price_minor}, {"currency", "EUR"}}},
                             {"quantity", std::max<std::int64_t>(1, capacity / 2)}},
                            {{"name", "Regular"}, {"price", {{"minor", ticket_price_minor}, {"currency", "EUR"}}}}};
  auto with_type = expect(client.call("POST", events_path + "/ticket-types", ticket_type.dump(), authorization), 201,
                          "create ticket type");
  target.ticket_type_id = with_type["ticket_types"].at(0)["id"].get<std::string>();
  if (priced) {
    nlohmann::json code = {{"code", "BENCH-10"}, {"kind", "percent_off"}, {"percent_off", "10"}};
    expect(client.call("POST", events_path + "/promo-codes", code.dump(), authorization), 201, "create promo code");
    target.promo_code = "bench-10";
  }
  expect(client.call("POST", events_path + "/publish", "", authorization), 200, "publish event");
  return target;
}

}  // namespace eventstripe::bench
