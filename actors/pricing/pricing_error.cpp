#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

const char* to_string(pricing_errc code) {
  switch (code) {
    case pricing_errc::amount_out_of_range: return "amount_out_of_range";
    case pricing_errc::unknown_currency: return "unknown_currency";
    case pricing_errc::currency_mismatch: return "currency_mismatch";
    case pricing_errc::rate_out_of_range: return "rate_out_of_range";
    case pricing_errc::quantity_out_of_range: return "quantity_out_of_range";
    case pricing_errc::too_many_lines: return "too_many_lines";
    case pricing_errc::invalid_request: return "invalid_request";
    case pricing_errc::invalid_fee: return "invalid_fee";
    case pricing_errc::unknown_tax_country: return "unknown_tax_country";
    case pricing_errc::malformed_vat_id: return "malformed_vat_id";
    case pricing_errc::vat_id_rejected: return "vat_id_rejected";
    case pricing_errc::vat_check_unavailable: return "vat_check_unavailable";
    case pricing_errc::invalid_tier: return "invalid_tier";
    case pricing_errc::overlapping_tiers: return "overlapping_tiers";
    case pricing_errc::too_many_tiers: return "too_many_tiers";
    case pricing_errc::invalid_promo_code: return "invalid_promo_code";
    case pricing_errc::unknown_promo_code: return "unknown_promo_code";
    case pricing_errc::promo_not_yet_valid: return "promo_not_yet_valid";
    case pricing_errc::promo_expired: return "promo_expired";
    case pricing_errc::promo_not_for_ticket_type: return "promo_not_for_ticket_type";
    case pricing_errc::promo_exhausted: return "promo_exhausted";
    case pricing_errc::promo_buyer_limit: return "promo_buyer_limit";
    case pricing_errc::promo_budget_exhausted: return "promo_budget_exhausted";
  }
  return "unknown_pricing_error";
}

pricing_error make_pricing_error(pricing_errc code, std::string detail) {
  return pricing_error{code, std::move(detail)};
}

}  // namespace eventstripe::actors::pricing
