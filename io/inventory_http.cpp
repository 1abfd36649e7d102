#include "io/inventory_http.hpp"

#include <caf/sec.hpp>

#include "actors/money.hpp"
#include "actors/protocol.hpp"
#include "actors/time_format.hpp"
#include "config/log.hpp"
#include "io/problem.hpp"

namespace eventstripe::io {
namespace {

using actors::inventory_errc;

struct problem_entry {
  int status;
  const char* slug;
  const char* title;
  const char* detail;
};

problem_entry entry_for(inventory_errc code) {
  switch (code) {
    case inventory_errc::sold_out:
      return {409, "sold-out", "Sold out", "Not enough tickets are left for the requested quantity."};
    case inventory_errc::not_found: return {404, "not-found", "Not found", "No such resource."};
    case inventory_errc::not_on_sale:
      return {409, "not-on-sale", "Not on sale", "The event or ticket type is not on sale right now."};
    case inventory_errc::quantity_out_of_range:
      return {422, "quantity-out-of-range", "Quantity out of range",
              "The quantity is below the ticket type's minimum or above its maximum per order."};
    case inventory_errc::hidden_ticket_type:
      return {422, "ticket-type-unavailable", "Ticket type unavailable", "This ticket type is not publicly on sale."};
    case inventory_errc::buyer_limit:
      return {429, "hold-limit-reached", "Hold limit reached",
              "This buyer already holds the most checkouts allowed for this event; complete or release one."};
    case inventory_errc::not_held:
      return {409, "checkout-not-held", "Checkout not held", "The checkout's hold has ended (expired or released)."};
    case inventory_errc::extension_used:
      return {409, "extension-used", "Extension used", "A checkout can be extended once."};
    case inventory_errc::capacity_below_taken:
      return {409, "capacity-below-taken", "Capacity below taken",
              "Capacity cannot be lowered below the tickets sold and held."};
    case inventory_errc::idempotency_mismatch:
      return {422, "idempotency-key-reused", "Idempotency-Key reused",
              "This Idempotency-Key was used with a different request."};
    case inventory_errc::fenced:
      return {503, "shard-moving", "Try again", "The entity is moving between nodes; retry shortly."};
    case inventory_errc::database_unavailable:
      return {503, "database-unavailable", "Database unavailable", "The change could not be committed; retry."};
    case inventory_errc::invalid_request:
      return {422, "invalid-request", "Invalid request", "The request cannot be applied to this resource."};
    case inventory_errc::slug_taken:
      return {409, "slug-taken", "Slug taken", "Another event of this workspace already has this slug."};
    case inventory_errc::version_conflict:
      return {409, "version-conflict", "Version conflict",
              "The event changed since the version given; read it again and retry."};
    case inventory_errc::invalid_transition:
      return {409, "invalid-transition", "Invalid transition", "The state of the event or order does not allow this."};
    case inventory_errc::unknown_ticket_type:
      return {422, "unknown-ticket-type", "Unknown ticket type", "The event has no such ticket type."};
    case inventory_errc::currency_mismatch:
      return {422, "currency-mismatch", "Currency mismatch", "Amounts must be in the event's currency."};
    case inventory_errc::outcome_unknown:
      return {503, "outcome-unknown", "Try again", "The change may not have been committed; retry."};
    case inventory_errc::overloaded:
      return {503, "overloaded", "Overloaded", "Too many requests are waiting for this resource; retry shortly."};
    case inventory_errc::unknown_promo_code:
      return {422, "unknown-promo-code", "Unknown promo code", "This event has no such promo code."};
    case inventory_errc::promo_code_not_yet_valid:
      return {422, "promo-code-not-yet-valid", "Promo code not yet valid", "This promo code cannot be used yet."};
    case inventory_errc::promo_code_expired:
      return {422, "promo-code-expired", "Promo code expired", "This promo code can no longer be used."};
    case inventory_errc::promo_code_not_for_ticket_type:
      return {422, "promo-code-not-applicable", "Promo code not applicable",
              "This promo code does not apply to the ticket types requested."};
    case inventory_errc::promo_code_exhausted:
      return {409, "promo-code-exhausted", "Promo code used up",
              "This promo code has no uses left for the quantity requested."};
    case inventory_errc::promo_code_buyer_limit:
      return {409, "promo-code-buyer-limit", "Promo code limit reached",
              "This buyer has used this promo code as often as it allows."};
    case inventory_errc::promo_code_budget_exhausted:
      return {409, "promo-code-budget-exhausted", "Promo code used up", "This promo code's discount budget is spent."};
    case inventory_errc::invalid_vat_id:
      return {422, "invalid-vat-id", "Invalid VAT id",
              "The VAT id is not in the official format of an EU member state (e.g. DE123456789)."};
    case inventory_errc::pricing_failed:
      return {422, "pricing-failed", "Price cannot be computed", "The order's price is out of the supported range."};
    case inventory_errc::order_in_progress:
      return {409, "order-in-progress", "Order in progress",
              "A payment or refund of this order is under way or done: its holds can no longer be released, extended "
              "or re-quoted, and it takes one change at a time; retry once the change has finished."};
    case inventory_errc::payment_in_progress:
      return {409, "payment-in-progress", "Payment in progress",
              "Another payment of this checkout is under way or has succeeded."};
    case inventory_errc::payment_method_unavailable:
      return {422, "payment-method-unavailable", "Payment method unavailable",
              "This payment method is not offered for the event's currency and the buyer's country."};
    case inventory_errc::no_payment_provider:
      return {422, "no-payment-provider", "No payment provider",
              "No configured payment provider offers this payment method."};
    case inventory_errc::refund_exceeds_payment:
      return {422, "refund-exceeds-payment", "Refund exceeds payment",
              "The refund is larger than what was captured and not yet refunded."};
    case inventory_errc::not_refundable:
      return {409, "not-refundable", "Not refundable", "The order has no captured payment to refund."};
  }
  return {500, "internal-error", "Internal error", "The request could not be handled."};
}

}  // namespace

http_response inventory_problem(const caf::error& failure, const std::string& request_id) {
  if (actors::is_inventory_error(failure)) {
    auto entry = entry_for(actors::inventory_code(failure));
    auto answer = problem(entry.status, entry.slug, entry.title, entry.detail);
    if (entry.status == 503) answer.headers.emplace_back("Retry-After", "1");
    return answer;
  }
  if (failure == caf::sec::request_timeout || failure == caf::sec::request_receiver_down) {
    auto answer = problem(503, "timeout", "Try again", "The request did not complete in time; retry.");
    answer.headers.emplace_back("Retry-After", "1");
    return answer;
  }
  log::error("entity request failed", {{"trace.id", request_id}, {"error.message", caf::to_string(failure)}});
  return problem(500, "internal-error", "Internal error", "The request could not be handled.");
}

nlohmann::json ticket_type_json(const storage::ticket_type_row& type, bool organizer) {
  nlohmann::json json = {
      {"id", type.id},
      {"name", type.name},
      {"description", type.description},
      {"price", actors::money_json(type.price_minor, type.currency)},
      {"min_per_order", type.min_per_order},
      {"max_per_order", type.max_per_order},
      {"sale_starts_at", type.sale_starts_at_ms ? nlohmann::json(actors::iso8601_ms(*type.sale_starts_at_ms)) : nullptr},
      {"sale_ends_at", type.sale_ends_at_ms ? nlohmann::json(actors::iso8601_ms(*type.sale_ends_at_ms)) : nullptr},
      {"available", std::max(0, type.capacity - type.held - type.sold)},
      {"held", type.held},
      {"sold", type.sold},
      {"capacity", type.capacity},
  };
  if (organizer) json["hidden"] = type.hidden;
  return json;
}

nlohmann::json event_json(const actors::event_view& view, bool organizer) {
  const auto& event = view.event;
  nlohmann::json types = nlohmann::json::array();
  for (const auto& type : view.ticket_types) types.push_back(ticket_type_json(type, organizer));
  nlohmann::json json = {
      {"id", event.id},
      {"slug", event.slug},
      {"title", event.title},
      {"description", event.description},
      {"venue",
       {{"name", event.venue_name},
        {"address", event.venue_address},
        {"latitude", event.venue_latitude ? nlohmann::json(*event.venue_latitude) : nullptr},
        {"longitude", event.venue_longitude ? nlohmann::json(*event.venue_longitude) : nullptr}}},
      {"time_zone", event.time_zone},
      {"starts_at", actors::iso8601_ms(event.starts_at_ms)},
      {"ends_at", actors::iso8601_ms(event.ends_at_ms)},
      {"currency", event.currency},
      {"tax_country", event.tax_country},
      {"images", event.image_urls},
      {"status", event.status},
      {"ticket_types", types},
  };
  if (organizer) {
    json["version"] = event.version;
    json["workspace_id"] = event.workspace_id;
  }
  return json;
}

}  // namespace eventstripe::io
