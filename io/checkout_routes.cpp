// Buyers' side of the inventory: checkouts (holds) and the public event with its availability.
#include <algorithm>
#include <chrono>
#include <set>

#include <caf/send.hpp>

#include "actors/checkout_actor.hpp"
#include "actors/protocol.hpp"
#include "io/credentials.hpp"
#include "io/entity_call.hpp"
#include "io/inventory_http.hpp"
#include "io/inventory_routes.hpp"
#include "io/json_body.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"

namespace eventstripe::io {
namespace {

using actors::entity_kind;

// Longest Idempotency-Key accepted (Stripe allows 255 characters too).
constexpr std::size_t idempotency_key_size_max = 255;
// Tickets of one type in one order, before the ticket type's own maximum is even looked at.
constexpr std::int64_t quantity_max = 1000;
// WebSocket close code for "no such checkout/event" (4000-4999 are the application's).
constexpr int close_not_found = 4404;
constexpr std::size_t promo_code_size_max = 64;
constexpr std::size_t vat_id_size_max = 32;

// Creating a checkout takes up to three entity round trips (event, quotas, releases), each
// bounded by the request timeout; the HTTP caller waits for all of them, or it could answer 503
// for a hold that then commits.
std::chrono::milliseconds creation_timeout(const inventory_routes_context& context) {
  return context.limits.request_timeout_ms * 3 + std::chrono::milliseconds{1'000};
}

bool acceptable_idempotency_key(const std::string& key) {
  if (key.empty() || key.size() > idempotency_key_size_max) return false;
  return std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

http_response checkout_response(int status, const actors::checkout_view& view) {
  http_response answer{status, "application/json", actors::checkout_json(view), {}};
  if (view.replayed) answer.headers.emplace_back("Idempotent-Replayed", "true");
  if (status == 201) answer.headers.emplace_back("Location", "/api/v1/checkouts/" + view.id);
  return answer;
}

// Reads the buyer's body into `checkout`; false (with the problem in `body`) on bad input.
bool read_checkout(json_body& body, const inventory_routes_context& context, actors::checkout_request& checkout) {
  auto event_id = body.required_string("event_id");
  auto email = body.required_string("email");
  auto items = body.required_object_array("items", 1, context.limits.checkout_items_max, {"ticket_type_id", "quantity"});
  if (!body.ok()) return false;
  if (!is_random_id(*event_id, "ev_")) body.reject("event_id", "must be an event id (ev_...)");
  auto normalized = normalize_email(*email);
  if (!normalized) body.reject("email", "must be a valid email address");
  std::set<std::string> seen;
  for (auto& item : *items) {
    auto ticket_type = item->required_string("ticket_type_id");
    auto quantity = item->required_integer("quantity", 1, quantity_max);
    if (item->ok() && !is_random_id(*ticket_type, "tt_")) item->reject("ticket_type_id", "must be a ticket type id (tt_...)");
    if (item->ok() && !seen.insert(*ticket_type).second)
      item->reject("ticket_type_id", "appears twice; give one item per ticket type");
    body.adopt_failure(*item);
    if (!body.ok()) return false;
    checkout.items.push_back({*ticket_type, static_cast<std::int32_t>(*quantity)});
  }
  // A promo code and a business buyer's VAT id are checked by the event (it knows its codes and
  // tax country); here only their size is bounded.
  auto promo_code = body.optional_string("promo_code");
  if (promo_code && (promo_code->empty() || promo_code->size() > promo_code_size_max))
    body.reject("promo_code", "must be 1 to 64 characters");
  auto vat_id = body.optional_string("vat_id");
  if (vat_id && (vat_id->empty() || vat_id->size() > vat_id_size_max)) body.reject("vat_id", "must be 1 to 32 characters");
  if (!body.ok()) return false;
  checkout.event_id = *event_id;
  checkout.buyer_email = *normalized;
  checkout.promo_code = promo_code.value_or("");
  checkout.buyer_vat_id = vat_id.value_or("");
  return true;
}

// The request's identity for Idempotency-Key replays: event, buyer and items in a fixed order.
std::string canonical_form(const actors::checkout_request& checkout) {
  auto items = checkout.items;
  std::sort(items.begin(), items.end(), [](auto& a, auto& b) { return a.ticket_type_id < b.ticket_type_id; });
  std::string text = checkout.event_id + "\n" + checkout.buyer_email + "\n";
  for (const auto& item : items) text += item.ticket_type_id + ":" + std::to_string(item.quantity) + ";";
  if (!checkout.promo_code.empty()) text += "\npromo:" + checkout.promo_code;
  if (!checkout.buyer_vat_id.empty()) text += "\nvat:" + checkout.buyer_vat_id;
  return text;
}

template <class Reply>
void ask_entity(const inventory_routes_context& context, entity_kind kind, std::string key, caf::message message,
                const std::string& request_id, responder respond, std::function<http_response(Reply&)> answer,
                std::chrono::milliseconds timeout = std::chrono::milliseconds{0}) {
  if (timeout.count() == 0) timeout = context.limits.request_timeout_ms;
  call_entity<Reply>(
      *context.system, *context.directory, kind, std::move(key), std::move(message), timeout,
      [respond, answer](Reply& reply) { respond(answer(reply)); },
      [respond, request_id](caf::error& failure) { respond(inventory_problem(failure, request_id)); });
}

bool sold_out_here(const inventory_routes_context& context, const actors::checkout_request& checkout) {
  if (!context.board) return false;
  return std::any_of(checkout.items.begin(), checkout.items.end(), [&](const actors::checkout_item& item) {
    auto available = context.board->available(item.ticket_type_id);
    return available && *available < item.quantity;
  });
}

void create_checkout(const inventory_routes_context& context, http_request& request, responder respond) {
  json_body body{request.body, {"event_id", "email", "items", "promo_code", "vat_id"}};
  actors::checkout_request checkout;
  if (!read_checkout(body, context, checkout)) return respond(body.failure());
  const auto* key = request.header("idempotency-key");
  if (key != nullptr && !acceptable_idempotency_key(*key))
    return respond(problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                           "An Idempotency-Key is 1 to 255 printable ASCII characters."));
  checkout.request_hash = sha256_hex(canonical_form(checkout));
  checkout.idempotency_key = key ? *key : "";
  // A key is scoped to the event and the buyer: the same key from another buyer is another
  // checkout, and guessing a checkout's id needs its buyer's email as well as the key.
  checkout.checkout_id =
      key ? derived_id("co_", checkout.event_id + "\n" + checkout.buyer_email + "\n" + *key) : random_id("co_");
  checkout.client_address = request.client_address;
  // Sold out as far as this node's quotas committed: answer now, without waking any actor. Not
  // with an Idempotency-Key, whose checkout may exist and must be replayed.
  if (!key && sold_out_here(context, checkout))
    return respond(inventory_problem(caf::make_error(actors::inventory_errc::sold_out), request.request_id));
  auto id = checkout.checkout_id;
  ask_entity<actors::checkout_view>(context, entity_kind::checkout, id,
                                    caf::make_message(actors::create_atom::value, std::move(checkout)),
                                    request.request_id, respond,
                                    [](actors::checkout_view& view) { return checkout_response(201, view); },
                                    creation_timeout(context));
}

// GET, DELETE and POST .../extension: the same shape with a different message.
http_handler checkout_call(const inventory_routes_context& context, caf::message message) {
  return [context, message](http_request& request, responder respond) {
    const auto& id = request.path_parameters.at("checkout_id");
    if (!is_random_id(id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
    ask_entity<actors::checkout_view>(context, entity_kind::checkout, id, message, request.request_id, respond,
                                      [](actors::checkout_view& view) { return checkout_response(200, view); });
  };
}

// PUT .../promo-code {"promo_code": "..."} applies a code to a held checkout; DELETE removes it.
// Either way the checkout is priced again and answers its new quote.
void apply_promo_code(const inventory_routes_context& context, http_request& request, responder respond) {
  const auto& id = request.path_parameters.at("checkout_id");
  if (!is_random_id(id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
  json_body body{request.body, {"promo_code"}};
  auto code = body.required_string("promo_code");
  if (code && (code->empty() || code->size() > promo_code_size_max)) body.reject("promo_code", "must be 1 to 64 characters");
  if (!body.ok()) return respond(body.failure());
  ask_entity<actors::checkout_view>(context, entity_kind::checkout, id,
                                    caf::make_message(actors::requote_atom::value, *code), request.request_id,
                                    respond, [](actors::checkout_view& view) { return checkout_response(200, view); });
}

// Pushes from an entity actor to one WebSocket; once the socket is gone, push() says so.
class channel_sink final : public actors::push_sink {
 public:
  explicit channel_sink(std::weak_ptr<websocket_channel> channel) : channel_(std::move(channel)) {}
  bool push(std::string json) override {
    auto channel = channel_.lock();
    return channel && channel->send(std::move(json));
  }

 private:
  std::weak_ptr<websocket_channel> channel_;
};

// A WebSocket that only listens: it subscribes to an entity when it opens.
class subscription_handler final : public websocket_handler {
 public:
  subscription_handler(inventory_routes_context context, entity_kind kind, std::string key,
                       std::shared_ptr<websocket_channel> channel)
      : context_(std::move(context)), kind_(kind), key_(std::move(key)), channel_(std::move(channel)) {}

  void on_open() override {
    auto sink = std::make_shared<channel_sink>(channel_);
    std::weak_ptr<websocket_channel> channel = channel_;
    call_entity<caf::ok_atom>(
        *context_.system, *context_.directory, kind_, key_,
        caf::make_message(actors::subscribe_atom::value, actors::push_sink_pointer{sink}),
        context_.limits.request_timeout_ms, [sink](caf::ok_atom&) {},
        [channel](caf::error&) {
          if (auto open = channel.lock()) open->close(close_not_found, "not found");
        });
  }
  void on_message(std::string) override {}  // nothing to say to us; pings are answered by Beast

 private:
  inventory_routes_context context_;
  entity_kind kind_;
  std::string key_;
  std::shared_ptr<websocket_channel> channel_;
};

websocket_factory subscription(const inventory_routes_context& context, entity_kind kind, std::string parameter,
                               std::string prefix) {
  return [context, kind, parameter, prefix](const http_request& request, std::shared_ptr<websocket_channel> channel,
                                            http_response& refusal) -> std::unique_ptr<websocket_handler> {
    const auto& key = request.path_parameters.at(parameter);
    if (!is_random_id(key, prefix)) {
      refusal = problem(404, "not-found", "Not found", "No such resource.");
      return nullptr;
    }
    return std::make_unique<subscription_handler>(context, kind, key, std::move(channel));
  };
}

void add_crash_route(router& routes, const inventory_routes_context& context) {
  routes.add("POST", "/api/v1/debug/crash", [context](http_request& request, responder respond) {
    json_body body{request.body, {"kind", "key"}};
    auto kind = body.required_string("kind");
    auto key = body.required_string("key");
    if (body.ok() && *kind != "quota" && *kind != "checkout" && *kind != "event")
      body.reject("kind", "must be quota, checkout or event");
    if (!body.ok()) return respond(body.failure());
    auto entity = *kind == "quota" ? entity_kind::quota : *kind == "checkout" ? entity_kind::checkout : entity_kind::event;
    if (auto region = context.directory->region_for(*key))
      caf::anon_send(region, actors::tell_atom::value, entity, *key, caf::make_message(actors::crash_atom::value));
    respond(json_response(202, R"({"status":"crash requested"})"));
  });
}

}  // namespace

void add_checkout_routes(router& routes, const inventory_routes_context& context) {
  routes.add("POST", "/api/v1/checkouts", [context](http_request& request, responder respond) {
    create_checkout(context, request, std::move(respond));
  });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}", checkout_call(context, caf::make_message(actors::view_atom::value)));
  routes.add("DELETE", "/api/v1/checkouts/{checkout_id}",
             checkout_call(context, caf::make_message(actors::release_atom::value)));
  routes.add("POST", "/api/v1/checkouts/{checkout_id}/extension",
             checkout_call(context, caf::make_message(actors::extend_atom::value)));
  routes.add("PUT", "/api/v1/checkouts/{checkout_id}/promo-code",
             [context](http_request& request, responder respond) { apply_promo_code(context, request, respond); });
  routes.add("DELETE", "/api/v1/checkouts/{checkout_id}/promo-code",
             checkout_call(context, caf::make_message(actors::requote_atom::value, std::string{})));
  routes.add_websocket("/ws/checkouts/{checkout_id}", subscription(context, entity_kind::checkout, "checkout_id", "co_"));

  routes.add("GET", "/api/v1/events/{event_id}", [context](http_request& request, responder respond) {
    const auto& id = request.path_parameters.at("event_id");
    if (!is_random_id(id, "ev_")) return respond(problem(404, "not-found", "Not found", "No such event."));
    ask_entity<actors::event_view>(context, entity_kind::event, id,
                                   caf::make_message(actors::view_atom::value, std::string{}), request.request_id,
                                   respond, [](actors::event_view& view) {
                                     return json_response(200, event_json(view, false).dump());
                                   });
  });
  routes.add_websocket("/ws/events/{event_id}/availability",
                       subscription(context, entity_kind::event, "event_id", "ev_"));
  if (context.fault_injection) add_crash_route(routes, context);
}

}  // namespace eventstripe::io
