#pragma once

// The service fee per ticket: fixed and/or a percentage of the ticket's price, with a cap, either
// added on top for the buyer or absorbed by the organizer (deducted from the payout).
#include <cstdint>
#include <optional>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

enum class fee_mode : std::uint8_t {
  added,     // the buyer pays the fee on top; it is part of the line and taxed with it
  absorbed,  // the buyer's price is unchanged; the fee is reported for the organizer's payout
};

struct fee_rule {
  std::int64_t fixed_minor = 0;
  basis_points percent{};                 // of the ticket's price after discount
  std::optional<std::int64_t> cap_minor;  // per ticket, on fixed + percent
  fee_mode mode = fee_mode::added;
};

// invalid_fee: a negative or absurd fixed part, cap or percentage (above 100 %).
std::optional<pricing_error> validate_fee_rule(const fee_rule& rule);

// fixed + round(price * percent / 10000), capped at cap_minor; 0 for a free ticket (price 0).
// `ticket_price_minor` is the price after discount as listed (tax-inclusive in inclusive mode).
expected<std::int64_t> fee_per_ticket(const fee_rule& rule, std::int64_t ticket_price_minor);

}  // namespace eventstripe::actors::pricing
