#include "actors/hold_pricing.hpp"

#include "actors/json_text.hpp"
#include "actors/money.hpp"
#include "actors/pricing/amount.hpp"

namespace eventstripe::actors {

line_pricing line_pricing_of(const storage::hold_pricing_row& row) {
  line_pricing pricing;
  pricing.promo_code_id = row.promo_code_id;
  pricing.promo_code = row.promo_code;
  pricing.fee_fixed_minor = row.fee_fixed_minor;
  pricing.fee_percent_bp = row.fee_percent_bp;
  pricing.fee_capped = row.fee_cap_minor.has_value();
  pricing.fee_cap_minor = row.fee_cap_minor.value_or(0);
  pricing.fee_absorbed = row.fee_absorbed;
  pricing.tax_rate_bp = row.tax_rate_bp;
  pricing.tier = row.tier_name;
  pricing.discount_per_ticket_minor = row.discount_per_ticket_minor;
  return pricing;
}

storage::hold_pricing_row hold_pricing_row_of(const line_pricing& pricing) {
  storage::hold_pricing_row row;
  row.tier_name = pricing.tier;
  row.promo_code_id = pricing.promo_code_id;
  row.promo_code = pricing.promo_code;
  row.discount_per_ticket_minor = pricing.discount_per_ticket_minor;
  row.fee_fixed_minor = pricing.fee_fixed_minor;
  row.fee_percent_bp = pricing.fee_percent_bp;
  if (pricing.fee_capped) row.fee_cap_minor = pricing.fee_cap_minor;
  row.fee_absorbed = pricing.fee_absorbed;
  row.tax_rate_bp = pricing.tax_rate_bp;
  return row;
}

checkout_taxation taxation_of(const storage::checkout_taxation_row& row) {
  return {row.tax_exclusive, row.reverse_charge, row.buyer_vat_id};
}

storage::checkout_taxation_row taxation_row_of(const checkout_taxation& taxation) {
  return {taxation.tax_exclusive, taxation.reverse_charge, taxation.buyer_vat_id};
}

pricing::fee_rule fee_rule_of(const line_pricing& pricing) {
  pricing::fee_rule rule;
  rule.fixed_minor = pricing.fee_fixed_minor;
  rule.percent = pricing::basis_points{pricing.fee_percent_bp};
  if (pricing.fee_capped) rule.cap_minor = pricing.fee_cap_minor;
  rule.mode = pricing.fee_absorbed ? pricing::fee_mode::absorbed : pricing::fee_mode::added;
  return rule;
}

pricing::expected<pricing::quote> quote_of(const checkout_view& view) {
  pricing::quote_request request;
  request.mode = view.taxation.tax_exclusive ? pricing::tax_mode::exclusive : pricing::tax_mode::inclusive;
  request.reverse_charge = view.taxation.reverse_charge;
  request.buyer_vat_id = view.taxation.buyer_vat_id;
  for (const auto& entry : view.lines) {
    const auto& line = entry.line;
    request.currency = line.currency;
    request.lines.push_back({line.ticket_type_id, line.pricing.tier, line.currency, line.unit_price_minor,
                             line.quantity, line.pricing.discount_per_ticket_minor, line.pricing.promo_code,
                             fee_rule_of(line.pricing), pricing::basis_points{line.pricing.tax_rate_bp}});
  }
  return pricing::make_quote(request);
}

namespace {

void append_text_or_null(std::string& out, const std::string& text) {
  if (text.empty()) out += "null";
  else append_json_string(out, text);
}

}  // namespace

void append_quote_json(std::string& out, const pricing::quote& priced) {
  const auto& currency = priced.currency;
  out += '{';
  append_json_field(out, "currency", true);
  append_json_string(out, currency);
  append_json_field(out, "tax_mode");
  out += priced.mode == pricing::tax_mode::inclusive ? "\"inclusive\"" : "\"exclusive\"";
  append_json_field(out, "reverse_charge");
  out += priced.reverse_charge ? "true" : "false";
  append_json_field(out, "buyer_vat_id");
  append_text_or_null(out, priced.buyer_vat_id);
  append_json_field(out, "lines");
  out += '[';
  for (std::size_t i = 0; i < priced.lines.size(); ++i) {
    const auto& line = priced.lines[i];
    if (i > 0) out += ',';
    out += '{';
    append_json_field(out, "ticket_type_id", true);
    append_json_string(out, line.ticket_type_id);
    append_json_field(out, "tier");
    append_text_or_null(out, line.tier);
    append_json_field(out, "unit_price");
    append_money_json(out, line.unit_price_minor, currency);
    append_json_field(out, "quantity");
    out += std::to_string(line.quantity);
    append_json_field(out, "discount");
    append_money_json(out, line.discount_minor, currency);
    append_json_field(out, "promo_code");
    append_text_or_null(out, line.promo_code);
    append_json_field(out, "fee");
    append_money_json(out, line.fee_minor, currency);
    append_json_field(out, "fee_absorbed");
    out += line.fee_absorbed ? "true" : "false";
    append_json_field(out, "net");
    append_money_json(out, line.net_minor, currency);
    append_json_field(out, "tax_rate_bp");
    out += std::to_string(line.tax_rate.value);
    append_json_field(out, "tax_rate");
    append_json_string(out, pricing::percent_string(line.tax_rate));
    append_json_field(out, "tax");
    append_money_json(out, line.tax_minor, currency);
    append_json_field(out, "gross");
    append_money_json(out, line.gross_minor, currency);
    out += '}';
  }
  out += ']';
  const auto& totals = priced.totals;
  append_json_field(out, "totals");
  out += '{';
  append_json_field(out, "discount", true);
  append_money_json(out, totals.discount_minor, currency);
  append_json_field(out, "fee");
  append_money_json(out, totals.fee_minor, currency);
  append_json_field(out, "fee_absorbed");
  append_money_json(out, totals.fee_absorbed_minor, currency);
  append_json_field(out, "net");
  append_money_json(out, totals.net_minor, currency);
  append_json_field(out, "tax");
  append_money_json(out, totals.tax_minor, currency);
  append_json_field(out, "gross");
  append_money_json(out, totals.gross_minor, currency);
  out += '}';
  append_json_field(out, "notes");
  out += '[';
  for (std::size_t i = 0; i < priced.notes.size(); ++i) {
    if (i > 0) out += ',';
    append_json_string(out, priced.notes[i]);
  }
  out += "]}";
}

inventory_errc inventory_code_of(pricing::pricing_errc code) {
  using pricing::pricing_errc;
  switch (code) {
    case pricing_errc::unknown_promo_code: return inventory_errc::unknown_promo_code;
    case pricing_errc::promo_not_yet_valid: return inventory_errc::promo_code_not_yet_valid;
    case pricing_errc::promo_expired: return inventory_errc::promo_code_expired;
    case pricing_errc::promo_not_for_ticket_type: return inventory_errc::promo_code_not_for_ticket_type;
    case pricing_errc::promo_exhausted: return inventory_errc::promo_code_exhausted;
    case pricing_errc::promo_buyer_limit: return inventory_errc::promo_code_buyer_limit;
    case pricing_errc::promo_budget_exhausted: return inventory_errc::promo_code_budget_exhausted;
    case pricing_errc::malformed_vat_id:
    case pricing_errc::vat_id_rejected: return inventory_errc::invalid_vat_id;
    case pricing_errc::quantity_out_of_range: return inventory_errc::quantity_out_of_range;
    case pricing_errc::currency_mismatch: return inventory_errc::currency_mismatch;
    case pricing_errc::vat_check_unavailable: return inventory_errc::database_unavailable;
    default: return inventory_errc::pricing_failed;
  }
}

}  // namespace eventstripe::actors
