#pragma once

// Errors of the pricing rules, and the small value-or-error type they return. Pricing is pure
// (no CAF, no I/O), so errors are plain values; the actors turn them into caf::error with
// CAF_ERROR_CODE_ENUM on pricing_errc (its underlying type is uint8_t for that reason).
#include "actors/expected.hpp"
#include <cassert>
#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace eventstripe::actors::pricing {

enum class pricing_errc : std::uint8_t {
  // amounts and requests
  amount_out_of_range = 1,  // negative, above amount_minor_max, or a product/sum that would overflow
  unknown_currency,         // not an ISO 4217 code with a known exponent
  currency_mismatch,        // an amount in another currency than the quote's (the event's)
  rate_out_of_range,        // a rate outside 0..rate_max
  quantity_out_of_range,    // a quantity outside 1..quantity_per_line_max
  too_many_lines,           // more lines than lines_per_quote_max
  invalid_request,          // e.g. a discount above the price, tier counters that do not match the tiers
  invalid_fee,              // a fee rule with negative parts or a cap below zero
  // taxes
  unknown_tax_country,    // no rate in the shipped table and no override given
  malformed_vat_id,       // not the official format of its EU country (or not an EU prefix)
  vat_id_rejected,        // well-formed, but the plugged-in checker says it is not registered
  vat_check_unavailable,  // the plugged-in checker could not answer (e.g. VIES down)
  // tiers (setup)
  invalid_tier,       // a tier with an empty or duplicate name, a negative price, an empty window, quantity <= 0
  overlapping_tiers,  // two tiers whose windows overlap while the earlier one has no quantity limit
  too_many_tiers,     // more than tiers_per_ticket_type_max
  // promo codes
  invalid_promo_code,         // setup: malformed code text or inconsistent settings
  unknown_promo_code,         // no such code for this event
  promo_not_yet_valid,        // before the code's validity window
  promo_expired,              // at or after the end of the code's validity window
  promo_not_for_ticket_type,  // the code is scoped to other ticket types
  promo_exhausted,            // not enough uses left for the whole request
  promo_buyer_limit,          // the buyer would exceed the code's uses per buyer
  promo_budget_exhausted,     // the code's discount budget cannot give even one minor unit per ticket
};

// Stable snake_case name ("promo_expired"), for logs and API problem types.
const char* to_string(pricing_errc code);

struct pricing_error {
  pricing_errc code = pricing_errc::invalid_request;
  std::string detail;  // human readable, names the tier / code / field concerned
};

pricing_error make_pricing_error(pricing_errc code, std::string detail = {});

// A value or a pricing_error.
template <class T>
using expected = actors::expected<T, pricing_error>;

}  // namespace eventstripe::actors::pricing
