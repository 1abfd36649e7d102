#include "actors/pricing/fees.hpp"

#include <algorithm>

namespace eventstripe::actors::pricing {

std::optional<pricing_error> validate_fee_rule(const fee_rule& rule) {
  if (!is_amount(rule.fixed_minor))
    return make_pricing_error(pricing_errc::invalid_fee,
                              "the fixed fee must be 0.." + std::to_string(amount_minor_max));
  if (!is_rate(rule.percent))
    return make_pricing_error(pricing_errc::invalid_fee, "the percent fee must be 0..10000 bp");
  if (rule.cap_minor && !is_amount(*rule.cap_minor))
    return make_pricing_error(pricing_errc::invalid_fee, "the fee cap must be 0.." + std::to_string(amount_minor_max));
  return std::nullopt;
}

expected<std::int64_t> fee_per_ticket(const fee_rule& rule, std::int64_t ticket_price_minor) {
  if (auto failure = validate_fee_rule(rule)) return *failure;
  if (!is_amount(ticket_price_minor))
    return make_pricing_error(pricing_errc::amount_out_of_range, "the ticket price is out of range");
  if (ticket_price_minor == 0) return std::int64_t{0};  // free tickets carry no fee
  auto variable = percent_of(ticket_price_minor, rule.percent);
  auto fee = variable ? checked_add(rule.fixed_minor, *variable) : std::nullopt;
  if (!fee) return make_pricing_error(pricing_errc::amount_out_of_range, "the fee is out of range");
  return rule.cap_minor ? std::min(*fee, *rule.cap_minor) : *fee;
}

}  // namespace eventstripe::actors::pricing
