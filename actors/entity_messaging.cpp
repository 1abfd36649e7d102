#include "actors/entity_messaging.hpp"

#include <caf/actor_system_config.hpp>
#include <caf/send.hpp>

#include "actors/pricing_config.hpp"

namespace eventstripe::actors {

void tell_entity(const services& shared, entity_kind kind, const std::string& key, caf::message payload) {
  auto region = region_of(shared, key);
  if (region) caf::anon_send(region, tell_atom::value, kind, key, std::move(payload));
}

caf::actor region_of(const services& shared, const std::string& key) {
  return shared.directory != nullptr ? shared.directory->region_for(key) : caf::actor{};
}

void anchor_clock(services& shared, caf::actor_system& system) {
  shared.wall_anchor_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  shared.clock_anchor = system.clock().now();
}

const char* to_string(inventory_errc code) {
  switch (code) {
    case inventory_errc::sold_out: return "sold_out";
    case inventory_errc::not_found: return "not_found";
    case inventory_errc::not_on_sale: return "not_on_sale";
    case inventory_errc::quantity_out_of_range: return "quantity_out_of_range";
    case inventory_errc::hidden_ticket_type: return "hidden_ticket_type";
    case inventory_errc::buyer_limit: return "buyer_limit";
    case inventory_errc::not_held: return "not_held";
    case inventory_errc::extension_used: return "extension_used";
    case inventory_errc::capacity_below_taken: return "capacity_below_taken";
    case inventory_errc::idempotency_mismatch: return "idempotency_mismatch";
    case inventory_errc::fenced: return "fenced";
    case inventory_errc::database_unavailable: return "database_unavailable";
    case inventory_errc::invalid_request: return "invalid_request";
    case inventory_errc::slug_taken: return "slug_taken";
    case inventory_errc::version_conflict: return "version_conflict";
    case inventory_errc::invalid_transition: return "invalid_transition";
    case inventory_errc::unknown_ticket_type: return "unknown_ticket_type";
    case inventory_errc::currency_mismatch: return "currency_mismatch";
    case inventory_errc::overloaded: return "overloaded";
    case inventory_errc::outcome_unknown: return "outcome_unknown";
    case inventory_errc::unknown_promo_code: return "unknown_promo_code";
    case inventory_errc::promo_code_not_yet_valid: return "promo_code_not_yet_valid";
    case inventory_errc::promo_code_expired: return "promo_code_expired";
    case inventory_errc::promo_code_not_for_ticket_type: return "promo_code_not_for_ticket_type";
    case inventory_errc::promo_code_exhausted: return "promo_code_exhausted";
    case inventory_errc::promo_code_buyer_limit: return "promo_code_buyer_limit";
    case inventory_errc::promo_code_budget_exhausted: return "promo_code_budget_exhausted";
    case inventory_errc::invalid_vat_id: return "invalid_vat_id";
    case inventory_errc::pricing_failed: return "pricing_failed";
    case inventory_errc::order_in_progress: return "order_in_progress";
    case inventory_errc::payment_in_progress: return "payment_in_progress";
    case inventory_errc::payment_method_unavailable: return "payment_method_unavailable";
    case inventory_errc::no_payment_provider: return "no_payment_provider";
    case inventory_errc::refund_exceeds_payment: return "refund_exceeds_payment";
    case inventory_errc::not_refundable: return "not_refundable";
  }
  return "unknown";
}

bool is_inventory_error(const caf::error& failure) {
  return failure && failure.category() == caf::atom("inventory");
}

inventory_errc inventory_code(const caf::error& failure) { return static_cast<inventory_errc>(failure.code()); }

void add_inventory_error_category(caf::actor_system_config& config) {
  config.add_error_category(caf::atom("inventory"), [](std::uint8_t code, caf::atom_value, const caf::message&) {
    return std::string{"inventory: "} + to_string(static_cast<inventory_errc>(code));
  });
}

void add_pricing_error_categories(caf::actor_system_config& config) {
  config.add_error_category(caf::atom("pricing"), [](std::uint8_t code, caf::atom_value, const caf::message&) {
    return std::string{"pricing: "} + pricing::to_string(static_cast<pricing::pricing_errc>(code));
  });
  config.add_error_category(caf::atom("pricecfg"), [](std::uint8_t code, caf::atom_value, const caf::message&) {
    return std::string{"pricing configuration: "} + to_string(static_cast<pricing_config_errc>(code));
  });
}

}  // namespace eventstripe::actors
