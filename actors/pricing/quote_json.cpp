#include "actors/pricing/quote_json.hpp"

#include <nlohmann/json.hpp>

#include "actors/money.hpp"
#include "actors/pricing/quote.hpp"

namespace eventstripe::actors::pricing {
namespace {

nlohmann::json text_or_null(const std::string& text) {
  return text.empty() ? nlohmann::json(nullptr) : nlohmann::json(text);
}

nlohmann::json line_json(const quote_line& line, const std::string& currency) {
  return {{"ticket_type_id", line.ticket_type_id},
          {"tier", text_or_null(line.tier)},
          {"unit_price", money_json(line.unit_price_minor, currency)},
          {"quantity", line.quantity},
          {"discount", money_json(line.discount_minor, currency)},
          {"promo_code", text_or_null(line.promo_code)},
          {"fee", money_json(line.fee_minor, currency)},
          {"fee_absorbed", line.fee_absorbed},
          {"net", money_json(line.net_minor, currency)},
          {"tax_rate_bp", line.tax_rate.value},
          {"tax_rate", percent_string(line.tax_rate)},
          {"tax", money_json(line.tax_minor, currency)},
          {"gross", money_json(line.gross_minor, currency)}};
}

}  // namespace

nlohmann::json quote_json(const quote& priced) {
  auto lines = nlohmann::json::array();
  for (const auto& line : priced.lines) lines.push_back(line_json(line, priced.currency));
  const auto& totals = priced.totals;
  const auto& currency = priced.currency;
  return {{"currency", currency},
          {"tax_mode", priced.mode == tax_mode::inclusive ? "inclusive" : "exclusive"},
          {"reverse_charge", priced.reverse_charge},
          {"buyer_vat_id", text_or_null(priced.buyer_vat_id)},
          {"lines", std::move(lines)},
          {"totals",
           {{"discount", money_json(totals.discount_minor, currency)},
            {"fee", money_json(totals.fee_minor, currency)},
            {"fee_absorbed", money_json(totals.fee_absorbed_minor, currency)},
            {"net", money_json(totals.net_minor, currency)},
            {"tax", money_json(totals.tax_minor, currency)},
            {"gross", money_json(totals.gross_minor, currency)}}},
          {"notes", priced.notes}};
}

}  // namespace eventstripe::actors::pricing
