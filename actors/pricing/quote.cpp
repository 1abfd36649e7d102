#include "actors/pricing/quote.hpp"

#include "actors/money.hpp"
#include "actors/pricing/vat_id.hpp"

namespace eventstripe::actors::pricing {
namespace {

pricing_error line_error(pricing_errc code, const quote_line_input& input, const std::string& why) {
  return make_pricing_error(code, "line '" + input.ticket_type_id + "': " + why);
}

std::optional<pricing_error> validate_line(const quote_line_input& input, const std::string& currency) {
  if (input.currency != currency)
    return line_error(pricing_errc::currency_mismatch, input,
                      "amount in " + input.currency + ", but the quote is in " + currency);
  if (input.quantity < 1 || input.quantity > quantity_per_line_max)
    return line_error(pricing_errc::quantity_out_of_range, input,
                      "quantity must be 1.." + std::to_string(quantity_per_line_max));
  if (!is_amount(input.unit_price_minor))
    return line_error(pricing_errc::amount_out_of_range, input,
                      "unit price must be 0.." + std::to_string(amount_minor_max) + " minor units");
  if (input.discount_per_ticket_minor < 0 || input.discount_per_ticket_minor > input.unit_price_minor)
    return line_error(pricing_errc::invalid_request, input, "the discount must be between 0 and the unit price");
  if (!is_rate(input.tax_rate))
    return line_error(pricing_errc::rate_out_of_range, input, "tax rate must be 0..10000 bp");
  if (auto failure = validate_fee_rule(input.fee)) return line_error(failure->code, input, failure->detail);
  return std::nullopt;
}

pricing_error out_of_range(const quote_line_input& input) {
  return line_error(pricing_errc::amount_out_of_range, input, "the line's amounts exceed the limit");
}

// Net and tax of a line whose charged amount is `charged`, per the rule in quote.hpp.
expected<quote_line> tax_line(quote_line line, std::int64_t charged, const quote_line_input& input,
                              const quote_request& request) {
  if (request.mode == tax_mode::inclusive) {
    auto contained = included_tax(charged, input.tax_rate);
    if (!contained) return out_of_range(input);
    line.net_minor = charged - *contained;
    line.tax_minor = request.reverse_charge ? 0 : *contained;
  } else {
    auto added = percent_of(charged, input.tax_rate);
    if (!added) return out_of_range(input);
    line.net_minor = charged;
    line.tax_minor = request.reverse_charge ? 0 : *added;
  }
  line.tax_rate = request.reverse_charge ? basis_points{0} : input.tax_rate;
  auto gross = checked_add(line.net_minor, line.tax_minor);
  if (!gross) return out_of_range(input);
  line.gross_minor = *gross;
  return line;
}

expected<quote_line> price_line(const quote_line_input& input, const quote_request& request) {
  if (auto failure = validate_line(input, request.currency)) return *failure;
  auto price_after_discount = input.unit_price_minor - input.discount_per_ticket_minor;
  auto fee_each = fee_per_ticket(input.fee, price_after_discount);
  if (!fee_each) return line_error(fee_each.error().code, input, fee_each.error().detail);
  auto discount = checked_multiply(input.discount_per_ticket_minor, input.quantity);
  auto fee = checked_multiply(*fee_each, input.quantity);
  auto tickets = checked_multiply(price_after_discount, input.quantity);
  if (!discount || !fee || !tickets) return out_of_range(input);
  bool absorbed = input.fee.mode == fee_mode::absorbed;
  auto charged = absorbed ? tickets : checked_add(*tickets, *fee);
  if (!charged) return out_of_range(input);
  quote_line line;
  line.ticket_type_id = input.ticket_type_id;
  line.tier = input.tier;
  line.unit_price_minor = input.unit_price_minor;
  line.quantity = input.quantity;
  line.discount_minor = *discount;
  line.promo_code = input.promo_code;
  line.fee_minor = *fee;
  line.fee_absorbed = absorbed;
  return tax_line(std::move(line), *charged, input, request);
}

bool add_into(std::int64_t& total, std::int64_t amount) {
  auto sum = checked_add(total, amount);
  if (!sum) return false;
  total = *sum;
  return true;
}

bool add_line(quote_totals& totals, const quote_line& line) {
  return add_into(totals.discount_minor, line.discount_minor) &&
         add_into(line.fee_absorbed ? totals.fee_absorbed_minor : totals.fee_minor, line.fee_minor) &&
         add_into(totals.net_minor, line.net_minor) && add_into(totals.tax_minor, line.tax_minor) &&
         add_into(totals.gross_minor, line.gross_minor);
}

}  // namespace

expected<quote> make_quote(const quote_request& request) {
  if (!currency_exponent(request.currency))
    return make_pricing_error(pricing_errc::unknown_currency, "'" + request.currency + "' is not an ISO 4217 currency");
  if (request.lines.empty())
    return make_pricing_error(pricing_errc::invalid_request, "a quote needs at least one line");
  if (request.lines.size() > lines_per_quote_max)
    return make_pricing_error(pricing_errc::too_many_lines,
                              "at most " + std::to_string(lines_per_quote_max) + " lines per quote");
  quote result{request.currency, request.mode, request.reverse_charge, request.buyer_vat_id, {}, {}, {}};
  result.lines.reserve(request.lines.size());
  for (const auto& input : request.lines) {
    auto line = price_line(input, request);
    if (!line) return line.error();
    if (!add_line(result.totals, *line))
      return make_pricing_error(pricing_errc::amount_out_of_range, "the quote's totals exceed the limit");
    result.lines.push_back(std::move(line.value()));
  }
  if (request.reverse_charge) result.notes.emplace_back(reverse_charge_note);
  return result;
}

}  // namespace eventstripe::actors::pricing
