// Organizers' side of the inventory: events and ticket types, each write through the event's
// actor (the single writer), scoped to the caller's workspace.
#include <regex>

#include "actors/event_actor.hpp"
#include "actors/money.hpp"
#include "actors/protocol.hpp"
#include "actors/time_format.hpp"
#include "io/auth.hpp"
#include "io/credentials.hpp"
#include "io/database_job.hpp"
#include "io/entity_call.hpp"
#include "io/inventory_http.hpp"
#include "io/inventory_routes.hpp"
#include "io/json_body.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"
#include "storage/events.hpp"

namespace eventstripe::io {
namespace {

using actors::entity_kind;
using actors::event_view;

// Limits of what an organizer may store, each with its unit.
constexpr std::size_t slug_size_max_characters = 100;
constexpr std::size_t title_size_max_characters = 200;
constexpr std::size_t description_size_max_bytes = 20'000;
constexpr std::size_t venue_address_size_max_bytes = 500;
constexpr std::size_t images_max = 20;
constexpr std::size_t image_url_size_max_bytes = 2'000;
constexpr std::int64_t capacity_max = 1'000'000;
constexpr std::int64_t price_minor_max = 100'000'000'000;  // 1e9 units of a 2-decimal currency
constexpr std::int64_t per_order_max = 100;
constexpr std::size_t events_listed_max = 200;

bool valid_slug(const std::string& slug) {
  static const std::regex pattern{"^[a-z0-9]+(-[a-z0-9]+)*$"};
  return !slug.empty() && slug.size() <= slug_size_max_characters && std::regex_match(slug, pattern);
}

// Reads a text member with a size bound into `target` when present.
void read_text(json_body& body, std::string_view field, std::size_t size_max, std::string& target, bool required) {
  auto value = required ? body.required_string(field) : body.optional_string(field);
  if (!value) return;
  if (value->size() > size_max) return body.reject(field, "must be at most " + std::to_string(size_max) + " bytes");
  target = *value;
}

void read_time(json_body& body, std::string_view field, std::int64_t& target, bool required) {
  auto value = required ? body.required_string(field) : body.optional_string(field);
  if (!value) return;
  auto parsed = actors::parse_rfc3339(*value);
  if (!parsed) return body.reject(field, "must be an RFC 3339 date-time with a zone, like 2027-03-01T19:30:00+01:00");
  target = *parsed;
}

void read_venue(json_body& body, storage::event_row& event) {
  auto venue = body.optional_object("venue", {"name", "address", "latitude", "longitude"});
  if (!venue) return;
  read_text(*venue, "name", title_size_max_characters, event.venue_name, false);
  read_text(*venue, "address", venue_address_size_max_bytes, event.venue_address, false);
  if (venue->has("latitude")) event.venue_latitude = venue->optional_number("latitude", -90, 90);
  if (venue->has("longitude")) event.venue_longitude = venue->optional_number("longitude", -180, 180);
  body.adopt_failure(*venue);
}

// Applies the body's fields to `event` (all required when creating); false on bad input.
bool read_event(json_body& body, storage::event_row& event, bool creating) {
  read_text(body, "slug", slug_size_max_characters, event.slug, creating);
  if (body.ok() && body.has("slug") && !valid_slug(event.slug))
    body.reject("slug", "must be lower-case letters and digits separated by single hyphens");
  read_text(body, "title", title_size_max_characters, event.title, creating);
  if (body.ok() && body.has("title") && event.title.empty()) body.reject("title", "must not be empty");
  read_text(body, "description", description_size_max_bytes, event.description, false);
  read_venue(body, event);
  read_text(body, "time_zone", 64, event.time_zone, creating);
  if (body.ok() && body.has("time_zone") && !actors::is_time_zone(event.time_zone))
    body.reject("time_zone", "must be an IANA time zone such as Europe/Berlin");
  read_time(body, "starts_at", event.starts_at_ms, creating);
  read_time(body, "ends_at", event.ends_at_ms, creating);
  if (body.ok() && event.ends_at_ms <= event.starts_at_ms) body.reject("ends_at", "must be after starts_at");
  read_text(body, "currency", 3, event.currency, creating);
  if (body.ok() && body.has("currency") && !actors::currency_exponent(event.currency))
    body.reject("currency", "must be an ISO 4217 currency code such as EUR");
  read_text(body, "tax_country", 2, event.tax_country, creating);
  if (body.ok() && body.has("tax_country") && !actors::is_country_code(event.tax_country))
    body.reject("tax_country", "must be an ISO 3166-1 alpha-2 country code such as DE");
  if (auto images = body.optional_string_array("images", images_max)) {
    for (const auto& url : *images)
      if (url.size() > image_url_size_max_bytes || !(url.starts_with("https://") || url.starts_with("http://")))
        body.reject("images", "must hold http(s) URLs of at most 2000 bytes");
    event.image_urls = *images;
  }
  return body.ok();
}

const std::initializer_list<std::string_view> event_fields = {
    "slug", "title", "description", "venue", "time_zone", "starts_at", "ends_at", "currency", "tax_country", "images"};
const std::initializer_list<std::string_view> event_patch_fields = {
    "version", "slug",     "title",    "description", "venue", "time_zone",
    "starts_at", "ends_at", "currency", "tax_country", "images"};
const std::initializer_list<std::string_view> ticket_type_fields = {
    "name", "description", "capacity", "price", "sale_starts_at", "sale_ends_at", "min_per_order", "max_per_order",
    "hidden"};

void read_optional_time(json_body& body, std::string_view field, std::optional<std::int64_t>& target) {
  if (!body.has(field)) return;
  std::int64_t value = 0;
  read_time(body, field, value, false);
  if (body.ok()) target = value;
}

// Applies the body's fields to `type`; on create name, capacity and price are required.
bool read_ticket_type(json_body& body, storage::ticket_type_row& type, bool creating) {
  read_text(body, "name", title_size_max_characters, type.name, creating);
  if (body.ok() && body.has("name") && type.name.empty()) body.reject("name", "must not be empty");
  read_text(body, "description", description_size_max_bytes, type.description, false);
  auto capacity = creating ? body.required_integer("capacity", 0, capacity_max)
                           : body.optional_integer("capacity", 0, capacity_max);
  if (capacity) type.capacity = static_cast<std::int32_t>(*capacity);
  if (creating && body.ok() && !body.has("price")) body.required_string("price");  // reports the missing member
  if (auto price = body.optional_object("price", {"minor", "currency"})) {
    auto minor = price->required_integer("minor", 0, price_minor_max);
    auto currency = price->required_string("currency");
    body.adopt_failure(*price);
    if (minor) type.price_minor = *minor;
    if (currency) type.currency = *currency;  // checked against the event's by its actor
  }
  read_optional_time(body, "sale_starts_at", type.sale_starts_at_ms);
  read_optional_time(body, "sale_ends_at", type.sale_ends_at_ms);
  if (body.ok() && type.sale_starts_at_ms && type.sale_ends_at_ms && *type.sale_ends_at_ms <= *type.sale_starts_at_ms)
    body.reject("sale_ends_at", "must be after sale_starts_at");
  if (auto minimum = body.optional_integer("min_per_order", 1, per_order_max)) type.min_per_order = static_cast<std::int32_t>(*minimum);
  if (auto maximum = body.optional_integer("max_per_order", 1, per_order_max)) type.max_per_order = static_cast<std::int32_t>(*maximum);
  if (body.ok() && type.max_per_order < type.min_per_order) body.reject("max_per_order", "must be at least min_per_order");
  if (auto hidden = body.optional_boolean("hidden")) type.hidden = *hidden;
  return body.ok();
}

// Calls the event actor and answers with the organizer's view of the event.
void ask_event(const inventory_routes_context& context, const std::string& event_id, caf::message message,
               const http_request& request, responder respond, int status = 200) {
  auto request_id = request.request_id;
  call_entity<event_view>(
      *context.system, *context.directory, entity_kind::event, event_id, std::move(message),
      context.limits.request_timeout_ms,
      [respond, status](event_view& view) { respond(json_response(status, event_json(view, true).dump())); },
      [respond, request_id](caf::error& failure) { respond(inventory_problem(failure, request_id)); });
}

// Reads the organizer's current view first (for PATCH merges), then calls `next` with it.
void with_current_event(const inventory_routes_context& context, const std::string& event_id,
                        const principal& caller, const http_request& request, responder respond,
                        std::function<void(event_view&)> next) {
  auto request_id = request.request_id;
  call_entity<event_view>(
      *context.system, *context.directory, entity_kind::event, event_id,
      caf::make_message(actors::view_atom::value, caller.workspace_id), context.limits.request_timeout_ms, next,
      [respond, request_id](caf::error& failure) { respond(inventory_problem(failure, request_id)); });
}

bool known_event_id(const http_request& request, const responder& respond) {
  if (is_random_id(request.path_parameters.at("event_id"), "ev_")) return true;
  respond(problem(404, "not-found", "Not found", "No such event."));
  return false;
}

void create_event(const inventory_routes_context& context, const http_request& request, const principal& caller,
                  responder respond) {
  json_body body{request.body, event_fields};
  storage::event_row event;
  if (!read_event(body, event, true)) return respond(body.failure());
  event.workspace_id = caller.workspace_id;
  auto id = random_id("ev_");
  ask_event(context, id, caf::make_message(actors::create_atom::value, std::move(event)), request, respond, 201);
}

void update_event(const inventory_routes_context& context, const http_request& request, const principal& caller,
                  responder respond) {
  if (!known_event_id(request, respond)) return;
  const auto& id = request.path_parameters.at("event_id");
  auto text = request.body;
  with_current_event(context, id, caller, request, respond, [context, text, request, respond, id](event_view& current) {
    json_body body{text, event_patch_fields};
    auto version = body.required_integer("version", 1, std::numeric_limits<std::int64_t>::max());
    auto event = current.event;
    if (!body.ok() || !read_event(body, event, false)) return respond(body.failure());
    event.version = *version;
    ask_event(context, id, caf::make_message(actors::event_update_atom::value, std::move(event)), request, respond);
  });
}

void add_ticket_type(const inventory_routes_context& context, const http_request& request, const principal& caller,
                     responder respond) {
  if (!known_event_id(request, respond)) return;
  json_body body{request.body, ticket_type_fields};
  storage::ticket_type_row type;
  if (!read_ticket_type(body, type, true)) return respond(body.failure());
  type.id = random_id("tt_");
  ask_event(context, request.path_parameters.at("event_id"),
            caf::make_message(actors::type_add_atom::value, caller.workspace_id, std::move(type)), request, respond,
            201);
}

void update_ticket_type(const inventory_routes_context& context, const http_request& request, const principal& caller,
                        responder respond) {
  if (!known_event_id(request, respond)) return;
  const auto& event_id = request.path_parameters.at("event_id");
  auto type_id = request.path_parameters.at("ticket_type_id");
  auto text = request.body;
  auto workspace = caller.workspace_id;
  with_current_event(context, event_id, caller, request, respond,
                     [context, text, request, respond, event_id, type_id, workspace](event_view& current) {
                       auto found = std::find_if(current.ticket_types.begin(), current.ticket_types.end(),
                                                 [&](auto& type) { return type.id == type_id; });
                       if (found == current.ticket_types.end())
                         return respond(problem(404, "not-found", "Not found", "No such ticket type."));
                       json_body body{text, ticket_type_fields};
                       auto type = *found;
                       type.currency.clear();
                       if (!read_ticket_type(body, type, false)) return respond(body.failure());
                       ask_event(context, event_id,
                                 caf::make_message(actors::type_update_atom::value, workspace, std::move(type)),
                                 request, respond);
                     });
}

void list_events(const inventory_routes_context& context, const http_request& request, const principal& caller,
                 responder respond) {
  auto workspace = caller.workspace_id;
  answer_from_database(*context.pool, request.request_id, [workspace](pqxx::connection& connection) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& event : storage::list_events(connection, workspace, events_listed_max))
      items.push_back({{"id", event.id},
                       {"slug", event.slug},
                       {"title", event.title},
                       {"status", event.status},
                       {"starts_at", actors::iso8601_ms(event.starts_at_ms)}});
    return json_response(200, nlohmann::json{{"data", items}}.dump());
  }, std::move(respond));
}

authenticated_handler status_change(const inventory_routes_context& context, std::string status) {
  return [context, status](const http_request& request, const principal& caller, responder respond) {
    if (!known_event_id(request, respond)) return;
    ask_event(context, request.path_parameters.at("event_id"),
              caf::make_message(actors::event_status_atom::value, caller.workspace_id, status), request, respond);
  };
}

}  // namespace

void add_event_routes(router& routes, const inventory_routes_context& context) {
  auto& credentials = *context.credentials;
  auto bind = [context](auto handler) {
    return [context, handler](const http_request& request, const principal& caller, responder respond) {
      handler(context, request, caller, std::move(respond));
    };
  };
  routes.add("POST", "/api/v1/organizer/events", require_authentication(credentials, bind(create_event)));
  routes.add("GET", "/api/v1/organizer/events", require_authentication(credentials, bind(list_events)));
  routes.add("GET", "/api/v1/organizer/events/{event_id}",
             require_authentication(credentials, [context](const http_request& request, const principal& caller,
                                                           responder respond) {
               if (!known_event_id(request, respond)) return;
               ask_event(context, request.path_parameters.at("event_id"),
                         caf::make_message(actors::view_atom::value, caller.workspace_id), request, respond);
             }));
  routes.add("PATCH", "/api/v1/organizer/events/{event_id}", require_authentication(credentials, bind(update_event)));
  routes.add("POST", "/api/v1/organizer/events/{event_id}/publish",
             require_authentication(credentials, status_change(context, "published")));
  routes.add("POST", "/api/v1/organizer/events/{event_id}/close",
             require_authentication(credentials, status_change(context, "closed")));
  routes.add("POST", "/api/v1/organizer/events/{event_id}/ticket-types",
             require_authentication(credentials, bind(add_ticket_type)));
  routes.add("PATCH", "/api/v1/organizer/events/{event_id}/ticket-types/{ticket_type_id}",
             require_authentication(credentials, bind(update_ticket_type)));
}

}  // namespace eventstripe::io
