#pragma once

// Between the pricing rules (actors/pricing), the messages that carry a line's pricing
// (line_pricing, checkout_taxation) and the rows that store it: the conversions, and the quote
// of a checkout — computed by pricing::make_quote from what its holds stored, so a checkout read
// back after a restart shows the same quote it answered when the hold was taken.
#include <string>

#include "actors/pricing/pricing_error.hpp"
#include "actors/pricing/quote.hpp"
#include "actors/protocol.hpp"
#include "storage/inventory.hpp"

namespace eventstripe::actors {

line_pricing line_pricing_of(const storage::hold_pricing_row& row);
storage::hold_pricing_row hold_pricing_row_of(const line_pricing& pricing);
checkout_taxation taxation_of(const storage::checkout_taxation_row& row);
storage::checkout_taxation_row taxation_row_of(const checkout_taxation& taxation);

// The fee rule a line was held with.
pricing::fee_rule fee_rule_of(const line_pricing& pricing);

// The quote of the checkout's lines.
pricing::expected<pricing::quote> quote_of(const checkout_view& view);

// The quote as JSON text, the shape of pricing::quote_json (OpenAPI's Quote).
void append_quote_json(std::string& out, const pricing::quote& priced);

// The inventory error a pricing refusal is answered with.
inventory_errc inventory_code_of(pricing::pricing_errc code);

}  // namespace eventstripe::actors
