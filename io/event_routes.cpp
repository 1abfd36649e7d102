// Organizers' side of the inventory: events and ticket types with their pricing (tax settings,
// fees, price tiers) and the events' promo codes, each write through the event's actor (the single
// writer), scoped to the caller's workspace. The pricing rules are the actor's (actors/pricing/):
// this file reads the JSON, checks types, shapes and currencies, and answers the rules' refusals.
#include <limits>
#include <regex>
#include <set>

#include "actors/event_actor.hpp"
#include "actors/money.hpp"
#include "actors/pricing/tax_table.hpp"
#include "actors/pricing_config.hpp"
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
#include "storage/pricing.hpp"

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
// Bounds on the size of what is parsed; the pricing rules set the real limits (20 tiers, 100 scoped
// ticket types) and answer with their own problem types.
constexpr std::size_t tiers_in_body_max = 100;
constexpr std::size_t scope_in_body_max = 1'000;
constexpr std::int64_t money_minor_in_body_max = actors::pricing::amount_minor_max;

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
  if (!parsed)
    return body.reject(field,
                       "must be an RFC 3339 date-time with an explicit offset (Z or +hh:mm), like "
                       "2027-03-01T19:30:00+01:00; a local time without an offset is refused");
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

// --- pricing members ---------------------------------------------------------------------------

// The top-level members sent as JSON null: on PATCH, null clears an optional setting ("tax_rate":
// null goes back to the shipped table). json_body treats null like absent, so this looks once more.
std::set<std::string> null_members(std::string_view text) {
  std::set<std::string> names;
  auto parsed = nlohmann::json::parse(text, nullptr, false);
  if (parsed.is_object())
    for (const auto& [name, value] : parsed.items())
      if (value.is_null()) names.insert(name);
  return names;
}

// Every amount a body names, with its currency: all must be the event's (checked where the event's
// currency is known), and a mismatch is its own problem type.
struct money_mention {
  std::string field;
  std::string currency;
};
using money_mentions = std::vector<money_mention>;

http_response currency_mismatch_problem(const money_mention& mention, const std::string& expected) {
  return problem(422, "currency-mismatch", "Currency mismatch",
                 "'" + mention.field + ".currency' is '" + mention.currency + "', not " + expected +
                     ": every amount must be in the event's currency.");
}

std::optional<http_response> first_currency_mismatch(const money_mentions& mentions, const std::string& expected) {
  for (const auto& mention : mentions)
    if (mention.currency != expected) return currency_mismatch_problem(mention, expected);
  return std::nullopt;
}

// {minor, currency} at `field` of `body`; `path` names it in problems ("tiers[1].price"). The
// amount's range is the pricing rules' business (they name the tier or code); this only bounds it.
std::optional<std::int64_t> read_money(json_body& body, std::string_view field, std::string path,
                                       money_mentions& mentions, bool required = false) {
  if (required && body.ok() && !body.has(field)) body.required_string(field);  // reports the missing member
  auto money = body.optional_object(field, {"minor", "currency"});
  if (!money) return std::nullopt;
  auto minor = money->required_integer("minor", -money_minor_in_body_max, money_minor_in_body_max);
  auto currency = money->required_string("currency");
  body.adopt_failure(*money);
  if (!minor || !currency) return std::nullopt;
  mentions.push_back({std::move(path), *currency});
  return minor;
}

// A percentage as a decimal string, "19" or "5.5" or "0.25" (at most two decimals, 0 to 100), in
// basis points. A string, not a JSON number, so that no binary fraction ever stands for a rate.
std::optional<std::int32_t> parse_percent(std::string_view text) {
  auto point = text.find('.');
  auto whole = text.substr(0, point);
  auto fraction = point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  bool has_point = point != std::string_view::npos;
  if (whole.empty() || whole.size() > 3 || (has_point && (fraction.empty() || fraction.size() > 2)))
    return std::nullopt;
  std::int32_t value = 0;
  for (char digit : whole) {
    if (digit < '0' || digit > '9') return std::nullopt;
    value = value * 10 + (digit - '0');
  }
  for (std::size_t i = 0; i < 2; ++i) {
    char digit = i < fraction.size() ? fraction[i] : '0';
    if (digit < '0' || digit > '9') return std::nullopt;
    value = value * 10 + (digit - '0');
  }
  if (value > actors::pricing::rate_max.value) return std::nullopt;
  return value;
}

std::optional<std::int32_t> read_percent(json_body& body, std::string_view field) {
  auto text = body.optional_string(field);
  if (!text) return std::nullopt;
  auto basis_points = parse_percent(*text);
  if (!basis_points)
    body.reject(field, "must be a percentage from \"0\" to \"100\" as a decimal string with at most 2 decimals, "
                       "like \"19\" or \"5.5\"");
  return basis_points;
}

// "tax_rate": the organizer's override in percent; null (on PATCH) clears it.
void read_tax_rate(json_body& body, const std::set<std::string>& nulls, std::optional<std::int32_t>& target) {
  if (nulls.count("tax_rate")) return target.reset();
  if (auto rate = read_percent(body, "tax_rate")) target = *rate;
}

// "fees" replaces the whole fee rule: members left out are no fixed part, no percentage, no cap,
// mode "added"; null (on PATCH) removes the fee.
void read_fees(json_body& body, const std::set<std::string>& nulls, storage::event_row& event,
               money_mentions& mentions) {
  auto fees = body.optional_object("fees", {"fixed", "percent", "cap", "mode"});
  if (!fees && !nulls.count("fees")) return;
  event.fee_fixed_minor = 0;
  event.fee_percent_bp = 0;
  event.fee_cap_minor.reset();
  event.fee_mode = "added";
  if (!fees) return;
  if (auto fixed = read_money(*fees, "fixed", "fees.fixed", mentions)) event.fee_fixed_minor = *fixed;
  if (auto percent = read_percent(*fees, "percent")) event.fee_percent_bp = *percent;
  if (auto cap = read_money(*fees, "cap", "fees.cap", mentions)) event.fee_cap_minor = *cap;
  if (auto mode = fees->optional_string("mode")) {
    if (actors::fee_mode_of(*mode))
      event.fee_mode = *mode;
    else
      fees->reject("mode", "must be \"added\" or \"absorbed\"");
  }
  body.adopt_failure(*fees);
}

void read_event_pricing(json_body& body, const std::set<std::string>& nulls, storage::event_row& event,
                        money_mentions& mentions) {
  if (auto mode = body.optional_string("tax_mode")) {
    if (actors::tax_mode_of(*mode))
      event.tax_mode = *mode;
    else
      body.reject("tax_mode", "must be \"inclusive\" (prices include tax) or \"exclusive\" (tax is added)");
  }
  read_tax_rate(body, nulls, event.tax_rate_bp);
  read_fees(body, nulls, event, mentions);
}

constexpr std::string_view tier_time_rule =
    "must be an RFC 3339 date-time with an explicit offset (Z or +hh:mm), like 2027-03-01T10:00:00+01:00: a tier "
    "starts and ends at the event's local time written with that zone's offset, and a time without an offset is "
    "refused";

// An RFC 3339 date-time with its offset as unix milliseconds; `rule` says what was expected.
std::optional<std::int64_t> read_instant(json_body& body, std::string_view field, std::string_view rule) {
  auto text = body.optional_string(field);
  if (!text) return std::nullopt;
  auto parsed = actors::parse_rfc3339(*text);
  if (!parsed) body.reject(field, rule);
  return parsed;
}

// "tiers" replaces the ticket type's whole list ([] or null: no tiers, the fixed price).
void read_tiers(json_body& body, const std::set<std::string>& nulls, std::vector<storage::price_tier_row>& target,
                money_mentions& mentions) {
  if (nulls.count("tiers")) return target.clear();
  if (!body.ok() || !body.has("tiers")) return;
  auto elements =
      body.required_object_array("tiers", 0, tiers_in_body_max, {"name", "price", "from", "until", "quantity"});
  if (!elements) return;
  std::vector<storage::price_tier_row> tiers;
  for (std::size_t i = 0; i < elements->size() && body.ok(); ++i) {
    auto& element = *(*elements)[i];
    storage::price_tier_row tier;
    if (auto name = element.required_string("name")) tier.name = *name;
    auto path = "tiers[" + std::to_string(i) + "].price";
    if (auto price = read_money(element, "price", path, mentions, true)) tier.price_minor = *price;
    tier.from_ms = read_instant(element, "from", tier_time_rule);
    tier.until_ms = read_instant(element, "until", tier_time_rule);
    if (auto quantity = element.optional_integer("quantity", std::numeric_limits<std::int32_t>::min(),
                                                 std::numeric_limits<std::int32_t>::max()))
      tier.quantity = static_cast<std::int32_t>(*quantity);
    body.adopt_failure(element);
    tiers.push_back(std::move(tier));
  }
  if (body.ok()) target = std::move(tiers);
}

// Applies the body's fields to `event` (all required when creating); false on bad input.
bool read_event(json_body& body, const std::set<std::string>& nulls, storage::event_row& event, bool creating,
                money_mentions& mentions) {
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
  read_event_pricing(body, nulls, event, mentions);
  return body.ok();
}

const std::initializer_list<std::string_view> event_fields = {
    "slug",    "title",    "description", "venue",  "time_zone", "starts_at", "ends_at",
    "currency", "tax_country", "images", "tax_mode", "tax_rate",  "fees"};
const std::initializer_list<std::string_view> event_patch_fields = {
    "version", "slug",     "title",       "description", "venue",    "time_zone", "starts_at",
    "ends_at", "currency", "tax_country", "images",      "tax_mode", "tax_rate",  "fees"};
const std::initializer_list<std::string_view> ticket_type_fields = {
    "name",          "description",   "capacity", "price", "sale_starts_at", "sale_ends_at",
    "min_per_order", "max_per_order", "hidden",   "tiers", "tax_rate"};

void read_optional_time(json_body& body, std::string_view field, std::optional<std::int64_t>& target) {
  if (!body.has(field)) return;
  std::int64_t value = 0;
  read_time(body, field, value, false);
  if (body.ok()) target = value;
}

// Applies the body's fields to `type`; on create name, capacity and price are required.
bool read_ticket_type(json_body& body, const std::set<std::string>& nulls, storage::ticket_type_row& type,
                      bool creating, money_mentions& mentions) {
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
  read_tax_rate(body, nulls, type.tax_rate_bp);
  read_tiers(body, nulls, type.tiers, mentions);
  return body.ok();
}

// --- answers ---------------------------------------------------------------------------------

nlohmann::json optional_percent(const std::optional<std::int32_t>& basis_points) {
  if (!basis_points) return nullptr;
  return actors::pricing::percent_string(actors::pricing::basis_points{*basis_points});
}

nlohmann::json optional_time(const std::optional<std::int64_t>& unix_ms) {
  return unix_ms ? nlohmann::json(actors::iso8601_ms(*unix_ms)) : nlohmann::json(nullptr);
}

// The rate a line is taxed at (override or the shipped table's admission rate); null when the tax
// country is not in the table and no override is set.
nlohmann::json effective_tax_rate(const std::string& country,
                                  std::optional<actors::pricing::basis_points> override_rate) {
  auto rate = actors::pricing::line_tax_rate(country, actors::pricing::tax_category::admission, override_rate);
  if (!rate) return nullptr;
  return actors::pricing::percent_string(*rate);
}

nlohmann::json tiers_json(const storage::ticket_type_row& type) {
  nlohmann::json tiers = nlohmann::json::array();
  for (const auto& tier : type.tiers)
    tiers.push_back({{"name", tier.name},
                     {"price", actors::money_json(tier.price_minor, type.currency)},
                     {"from", optional_time(tier.from_ms)},
                     {"until", optional_time(tier.until_ms)},
                     {"quantity", tier.quantity ? nlohmann::json(*tier.quantity) : nlohmann::json(nullptr)}});
  return tiers;
}

// The organizer's view: the shared event JSON plus the pricing configuration.
nlohmann::json organizer_event_json(const event_view& view) {
  const auto& event = view.event;
  auto json = event_json(view, true);
  json["tax_mode"] = event.tax_mode;
  json["tax_rate"] = optional_percent(event.tax_rate_bp);
  auto event_override = event.tax_rate_bp ? std::optional{actors::pricing::basis_points{*event.tax_rate_bp}}
                                          : std::nullopt;
  json["tax_rate_effective"] = effective_tax_rate(event.tax_country, event_override);
  json["fees"] = {{"fixed", actors::money_json(event.fee_fixed_minor, event.currency)},
                  {"percent", optional_percent(event.fee_percent_bp)},
                  {"cap", event.fee_cap_minor ? actors::money_json(*event.fee_cap_minor, event.currency)
                                              : nlohmann::json(nullptr)},
                  {"mode", event.fee_mode}};
  auto& types = json["ticket_types"];
  for (std::size_t i = 0; i < view.ticket_types.size() && i < types.size(); ++i) {
    const auto& type = view.ticket_types[i];
    types[i]["tax_rate"] = optional_percent(type.tax_rate_bp);
    types[i]["tax_rate_effective"] = effective_tax_rate(event.tax_country, actors::tax_override_of(event, type));
    types[i]["tiers"] = tiers_json(type);
  }
  return json;
}

nlohmann::json promo_code_json(const storage::promo_code_row& code) {
  auto money = [&code](const std::optional<std::int64_t>& minor) {
    return minor ? actors::money_json(*minor, code.currency) : nlohmann::json(nullptr);
  };
  auto count = [](const std::optional<std::int32_t>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  return {{"id", code.id},
          {"event_id", code.event_id},
          {"code", code.code},
          {"kind", code.kind},
          {"percent_off", optional_percent(code.percent_off_bp)},
          {"amount", money(code.amount_minor)},
          {"ticket_type_ids", code.ticket_type_ids},
          {"valid_from", optional_time(code.valid_from_ms)},
          {"valid_until", optional_time(code.valid_until_ms)},
          {"max_uses", count(code.max_uses)},
          {"max_uses_per_buyer", count(code.max_uses_per_buyer)},
          {"budget", money(code.budget_minor)},
          {"active", code.active},
          {"usage",
           {{"uses", code.uses}, {"discount_spent", actors::money_json(code.discount_spent_minor, code.currency)}}},
          {"created_at", actors::iso8601_ms(code.created_at_ms)},
          {"updated_at", actors::iso8601_ms(code.updated_at_ms)}};
}

struct problem_entry {
  int status;
  const char* title;
};

problem_entry pricing_entry(actors::pricing::pricing_errc code) {
  using actors::pricing::pricing_errc;
  switch (code) {
    case pricing_errc::invalid_tier: return {422, "Invalid tier"};
    case pricing_errc::overlapping_tiers: return {422, "Overlapping tiers"};
    case pricing_errc::too_many_tiers: return {422, "Too many tiers"};
    case pricing_errc::invalid_promo_code: return {422, "Invalid promo code"};
    case pricing_errc::invalid_fee: return {422, "Invalid fee"};
    case pricing_errc::rate_out_of_range: return {422, "Rate out of range"};
    case pricing_errc::amount_out_of_range: return {422, "Amount out of range"};
    default: return {422, "Pricing refused"};
  }
}

problem_entry pricing_config_entry(actors::pricing_config_errc code) {
  switch (code) {
    case actors::pricing_config_errc::duplicate_promo_code: return {409, "Duplicate promo code"};
    case actors::pricing_config_errc::tier_below_taken: return {409, "Tier below taken"};
    case actors::pricing_config_errc::promo_below_usage: return {409, "Limit below usage"};
    case actors::pricing_config_errc::too_many_promo_codes: return {422, "Too many promo codes"};
  }
  return {500, "Internal error"};
}

// "overlapping_tiers" -> "overlapping-tiers": the problem type of a pricing refusal.
std::string problem_slug(std::string name) {
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

// An entity's refusal as a problem: the pricing rules' and the configuration's own with their
// detail (naming the tier, code or field), everything else as inventory_problem answers it.
http_response organizer_problem(const caf::error& failure, const std::string& request_id) {
  if (actors::is_pricing_error(failure)) {
    auto code = static_cast<actors::pricing::pricing_errc>(failure.code());
    auto entry = pricing_entry(code);
    return problem(entry.status, problem_slug(actors::pricing::to_string(code)), entry.title,
                   actors::failure_detail(failure));
  }
  if (actors::is_pricing_config_error(failure)) {
    auto code = static_cast<actors::pricing_config_errc>(failure.code());
    auto entry = pricing_config_entry(code);
    return problem(entry.status, problem_slug(actors::to_string(code)), entry.title, actors::failure_detail(failure));
  }
  return inventory_problem(failure, request_id);
}

// --- events and ticket types -------------------------------------------------------------------

// Calls the event actor and answers with the organizer's view of the event.
void ask_event(const inventory_routes_context& context, const std::string& event_id, caf::message message,
               const http_request& request, responder respond, int status = 200) {
  auto request_id = request.request_id;
  call_entity<event_view>(
      *context.system, *context.directory, entity_kind::event, event_id, std::move(message),
      context.limits.request_timeout_ms,
      [respond, status](event_view& view) { respond(json_response(status, organizer_event_json(view).dump())); },
      [respond, request_id](caf::error& failure) { respond(organizer_problem(failure, request_id)); });
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
  money_mentions mentions;
  if (!read_event(body, null_members(request.body), event, true, mentions)) return respond(body.failure());
  if (auto mismatch = first_currency_mismatch(mentions, event.currency)) return respond(*mismatch);
  event.workspace_id = caller.workspace_id;
  auto id = random_id("ev_");
  ask_event(context, id, caf::make_message(actors::create_atom::value, std::move(event)), request, respond, 201);
}

// A new currency needs the fee's amounts in it: they are stored as minor units of the event's.
std::optional<http_response> fee_currency_problem(const json_body& body, const storage::event_row& current,
                                                  const storage::event_row& next) {
  bool fee_has_amounts = current.fee_fixed_minor != 0 || current.fee_cap_minor.has_value();
  if (next.currency == current.currency || body.has("fees") || !fee_has_amounts) return std::nullopt;
  return problem(422, "currency-mismatch", "Currency mismatch",
                 "The event's fees are in " + current.currency + ": send 'fees' in " + next.currency +
                     " together with the new currency.");
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
    money_mentions mentions;
    if (!body.ok() || !read_event(body, null_members(text), event, false, mentions)) return respond(body.failure());
    if (auto mismatch = first_currency_mismatch(mentions, event.currency)) return respond(*mismatch);
    if (auto mismatch = fee_currency_problem(body, current.event, event)) return respond(*mismatch);
    event.version = *version;
    ask_event(context, id, caf::make_message(actors::event_update_atom::value, std::move(event)), request, respond);
  });
}

void add_ticket_type(const inventory_routes_context& context, const http_request& request, const principal& caller,
                     responder respond) {
  if (!known_event_id(request, respond)) return;
  json_body body{request.body, ticket_type_fields};
  storage::ticket_type_row type;
  money_mentions mentions;
  if (!read_ticket_type(body, null_members(request.body), type, true, mentions)) return respond(body.failure());
  // Tiers are priced in the ticket type's currency, which the event actor checks against the event's.
  if (auto mismatch = first_currency_mismatch(mentions, type.currency)) return respond(*mismatch);
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
                       money_mentions mentions;
                       if (!read_ticket_type(body, null_members(text), type, false, mentions))
                         return respond(body.failure());
                       if (auto mismatch = first_currency_mismatch(mentions, current.event.currency))
                         return respond(*mismatch);
                       ask_event(context, event_id,
                                 caf::make_message(actors::type_update_atom::value, workspace, std::move(type)),
                                 request, respond);
                     });
}

// --- promo codes -------------------------------------------------------------------------------

const std::initializer_list<std::string_view> promo_code_fields = {
    "code",        "kind",     "percent_off",        "amount", "ticket_type_ids", "valid_from",
    "valid_until", "max_uses", "max_uses_per_buyer", "budget", "active"};

// What a code's text may be before the rules look at it: anything longer is not a code anyone typed.
constexpr std::size_t promo_code_text_size_max_bytes = 200;
constexpr std::string_view promo_time_rule =
    "must be an RFC 3339 date-time with an explicit offset (Z or +hh:mm), like 2027-03-01T10:00:00+01:00; a local "
    "time without an offset is refused";

// Reads an optional member into `target`; JSON null (on PATCH) clears it.
template <typename Value, typename Reader>
void read_nullable(const std::set<std::string>& nulls, const char* field, std::optional<Value>& target, Reader read) {
  if (nulls.count(field)) return target.reset();
  if (auto value = read()) target = static_cast<Value>(*value);
}

void read_promo_limits(json_body& body, const std::set<std::string>& nulls, storage::promo_code_row& code,
                       money_mentions& mentions) {
  constexpr auto int32_min = std::numeric_limits<std::int32_t>::min();
  constexpr auto int32_max = std::numeric_limits<std::int32_t>::max();
  read_nullable(nulls, "valid_from", code.valid_from_ms,
                [&] { return read_instant(body, "valid_from", promo_time_rule); });
  read_nullable(nulls, "valid_until", code.valid_until_ms,
                [&] { return read_instant(body, "valid_until", promo_time_rule); });
  read_nullable(nulls, "max_uses", code.max_uses,
                [&] { return body.optional_integer("max_uses", int32_min, int32_max); });
  read_nullable(nulls, "max_uses_per_buyer", code.max_uses_per_buyer,
                [&] { return body.optional_integer("max_uses_per_buyer", int32_min, int32_max); });
  read_nullable(nulls, "budget", code.budget_minor, [&] { return read_money(body, "budget", "budget", mentions); });
}

// Applies the body to `code`. The code's text is normalised (trimmed, upper-cased) when it can be;
// text that cannot is passed on for the rules to refuse with their own words.
bool read_promo_code(json_body& body, const std::set<std::string>& nulls, storage::promo_code_row& code,
                     bool creating, money_mentions& mentions) {
  if (auto text = creating ? body.required_string("code") : body.optional_string("code")) {
    if (text->size() > promo_code_text_size_max_bytes)
      body.reject("code", "must be at most " + std::to_string(promo_code_text_size_max_bytes) + " bytes");
    code.code = actors::pricing::normalize_promo_code(*text).value_or(*text);
  }
  if (auto kind = creating ? body.required_string("kind") : body.optional_string("kind")) {
    if (!creating && *kind != code.kind)
      body.reject("kind", "cannot change; create a new code for another kind of discount");
    code.kind = *kind;
  }
  read_nullable(nulls, "percent_off", code.percent_off_bp, [&] { return read_percent(body, "percent_off"); });
  read_nullable(nulls, "amount", code.amount_minor, [&] { return read_money(body, "amount", "amount", mentions); });
  if (nulls.count("ticket_type_ids")) code.ticket_type_ids.clear();
  if (auto scope = body.optional_string_array("ticket_type_ids", scope_in_body_max)) code.ticket_type_ids = *scope;
  read_promo_limits(body, nulls, code, mentions);
  if (auto active = body.optional_boolean("active")) code.active = *active;
  return body.ok();
}

// The code's amounts share one currency, which the event actor checks against the event's.
std::optional<http_response> promo_currency_problem(const money_mentions& mentions, storage::promo_code_row& code) {
  if (mentions.empty()) return std::nullopt;
  if (auto mismatch = first_currency_mismatch(mentions, mentions.front().currency)) return mismatch;
  code.currency = mentions.front().currency;
  return std::nullopt;
}

http_response not_found_problem(const std::string& request_id) {
  return inventory_problem(caf::make_error(actors::inventory_errc::not_found), request_id);
}

bool known_promo_code_id(const http_request& request, const responder& respond) {
  if (is_random_id(request.path_parameters.at("promo_code_id"), "pc_")) return true;
  respond(not_found_problem(request.request_id));
  return false;
}

// Sends a promo code message to the event's actor and answers with the code it returns.
void ask_promo_code(const inventory_routes_context& context, const std::string& event_id, caf::message message,
                    const http_request& request, responder respond, int status = 200) {
  auto request_id = request.request_id;
  call_entity<storage::promo_code_row>(
      *context.system, *context.directory, entity_kind::event, event_id, std::move(message),
      context.limits.request_timeout_ms,
      [respond, status](storage::promo_code_row& code) {
        respond(json_response(status, promo_code_json(code).dump()));
      },
      [respond, request_id](caf::error& failure) { respond(organizer_problem(failure, request_id)); });
}

void create_promo_code(const inventory_routes_context& context, const http_request& request,
                       const principal& caller, responder respond) {
  if (!known_event_id(request, respond)) return;
  json_body body{request.body, promo_code_fields};
  storage::promo_code_row code;
  money_mentions mentions;
  if (!read_promo_code(body, null_members(request.body), code, true, mentions)) return respond(body.failure());
  if (auto mismatch = promo_currency_problem(mentions, code)) return respond(*mismatch);
  code.id = random_id("pc_");
  ask_promo_code(context, request.path_parameters.at("event_id"),
                 caf::make_message(actors::promo_add_atom::value, caller.workspace_id, std::move(code)), request,
                 respond, 201);
}

void update_promo_code(const inventory_routes_context& context, const http_request& request,
                       const principal& caller, responder respond) {
  if (!known_event_id(request, respond) || !known_promo_code_id(request, respond)) return;
  const auto& event_id = request.path_parameters.at("event_id");
  const auto& code_id = request.path_parameters.at("promo_code_id");
  auto text = request.body;
  auto workspace = caller.workspace_id;
  auto request_id = request.request_id;
  call_entity<storage::promo_code_row>(
      *context.system, *context.directory, entity_kind::event, event_id,
      caf::make_message(actors::promo_get_atom::value, workspace, code_id), context.limits.request_timeout_ms,
      [context, text, request, respond, event_id, workspace](storage::promo_code_row& current) {
        json_body body{text, promo_code_fields};
        auto code = current;
        money_mentions mentions;
        if (!read_promo_code(body, null_members(text), code, false, mentions)) return respond(body.failure());
        if (auto mismatch = promo_currency_problem(mentions, code)) return respond(*mismatch);
        ask_promo_code(context, event_id,
                       caf::make_message(actors::promo_update_atom::value, workspace, std::move(code)), request,
                       respond);
      },
      [respond, request_id](caf::error& failure) { respond(organizer_problem(failure, request_id)); });
}

// Reads go to PostgreSQL rather than the event's actor: they show the usage counters as last
// committed by whoever keeps them.
void list_promo_codes(const inventory_routes_context& context, const http_request& request,
                      const principal& caller, responder respond) {
  if (!known_event_id(request, respond)) return;
  auto workspace = caller.workspace_id;
  auto event_id = request.path_parameters.at("event_id");
  auto request_id = request.request_id;
  answer_from_database(*context.pool, request_id, [workspace, event_id, request_id](pqxx::connection& connection) {
    auto codes = storage::list_promo_codes(connection, workspace, event_id);
    if (!codes) return not_found_problem(request_id);
    nlohmann::json items = nlohmann::json::array();
    for (const auto& code : *codes) items.push_back(promo_code_json(code));
    return json_response(200, nlohmann::json{{"data", items}}.dump());
  }, std::move(respond));
}

void get_promo_code(const inventory_routes_context& context, const http_request& request, const principal& caller,
                    responder respond) {
  if (!known_event_id(request, respond) || !known_promo_code_id(request, respond)) return;
  auto workspace = caller.workspace_id;
  auto event_id = request.path_parameters.at("event_id");
  auto code_id = request.path_parameters.at("promo_code_id");
  auto request_id = request.request_id;
  answer_from_database(*context.pool, request_id,
                       [workspace, event_id, code_id, request_id](pqxx::connection& connection) {
                         auto code = storage::find_promo_code(connection, workspace, event_id, code_id);
                         if (!code) return not_found_problem(request_id);
                         return json_response(200, promo_code_json(*code).dump());
                       },
                       std::move(respond));
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
  routes.add("POST", "/api/v1/organizer/events/{event_id}/promo-codes",
             require_authentication(credentials, bind(create_promo_code)));
  routes.add("GET", "/api/v1/organizer/events/{event_id}/promo-codes",
             require_authentication(credentials, bind(list_promo_codes)));
  routes.add("GET", "/api/v1/organizer/events/{event_id}/promo-codes/{promo_code_id}",
             require_authentication(credentials, bind(get_promo_code)));
  routes.add("PATCH", "/api/v1/organizer/events/{event_id}/promo-codes/{promo_code_id}",
             require_authentication(credentials, bind(update_promo_code)));
}

}  // namespace eventstripe::io
