#pragma once

// The API's view of a quote. Kept apart from quote.cpp so the pricing core does not compile
// nlohmann::json; every amount is money_json (minor units and decimal string).
#include <nlohmann/json_fwd.hpp>

namespace eventstripe::actors::pricing {

struct quote;

// {"currency", "tax_mode", "reverse_charge", "buyer_vat_id", "lines": [{"ticket_type_id", "tier",
//  "unit_price", "quantity", "discount", "promo_code", "fee", "fee_absorbed", "net", "tax_rate_bp",
//  "tax_rate", "tax", "gross"}], "totals": {"discount", "fee", "fee_absorbed", "net", "tax", "gross"},
//  "notes": [...]}. tier, promo_code and buyer_vat_id are null when empty; tax_rate is "19" or "5.5".
nlohmann::json quote_json(const quote& priced);

}  // namespace eventstripe::actors::pricing
