#pragma once

// The quote of a checkout: per line the ticket type, tier, unit price, quantity, discount, fee,
// net, tax rate, tax and gross, then the totals — computed per line, rounded per line, and summed
// so that the lines add up to the totals exactly. The checkout locks the quote when the hold is
// taken; the inputs (tier price, discount, tax rate) come from tiers, promo codes and the tax table.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/fees.hpp"
#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

inline constexpr std::size_t lines_per_quote_max = 100;

enum class tax_mode : std::uint8_t {
  inclusive,  // listed prices include tax (the usual in Europe)
  exclusive,  // tax is added on top of listed prices
};

struct quote_line_input {
  std::string ticket_type_id;
  std::string tier;                   // empty: the ticket type's fixed price
  std::string currency;               // must be the quote's currency
  std::int64_t unit_price_minor = 0;  // as listed: tax-inclusive in inclusive mode
  std::int32_t quantity = 0;
  std::int64_t discount_per_ticket_minor = 0;  // from apply_promo; 0 <= discount <= unit price
  std::string promo_code;                      // empty: no code
  fee_rule fee;
  basis_points tax_rate{};  // from line_tax_rate (override or table); ignored under reverse charge
};

struct quote_request {
  std::string currency;  // ISO 4217, the event's
  tax_mode mode = tax_mode::inclusive;
  bool reverse_charge = false;  // from buyer_tax_treatment
  std::string buyer_vat_id;     // normalised, shown on the quote; empty for consumers
  std::vector<quote_line_input> lines;
};

struct quote_line {
  std::string ticket_type_id;
  std::string tier;
  std::int64_t unit_price_minor = 0;
  std::int32_t quantity = 0;
  std::int64_t discount_minor = 0;  // for the whole line
  std::string promo_code;
  std::int64_t fee_minor = 0;  // for the whole line; inside gross unless absorbed
  bool fee_absorbed = false;   // the organizer pays the fee (fee_mode::absorbed)
  std::int64_t net_minor = 0;
  basis_points tax_rate{};  // 0 under reverse charge
  std::int64_t tax_minor = 0;
  std::int64_t gross_minor = 0;  // what the buyer pays for the line: net + tax
};

struct quote_totals {
  std::int64_t discount_minor = 0;
  std::int64_t fee_minor = 0;           // added fees, paid by the buyer (inside gross)
  std::int64_t fee_absorbed_minor = 0;  // absorbed fees, deducted from the organizer's payout
  std::int64_t net_minor = 0;
  std::int64_t tax_minor = 0;
  std::int64_t gross_minor = 0;
};

struct quote {
  std::string currency;
  tax_mode mode = tax_mode::inclusive;
  bool reverse_charge = false;
  std::string buyer_vat_id;
  std::vector<quote_line> lines;
  quote_totals totals;
  std::vector<std::string> notes;  // the reverse-charge note, when it applies
};

// Prices every line, then sums. Per line, with P the unit price, d the discount per ticket, f the
// fee per ticket (fee_per_ticket of P - d) and q the quantity, the charged amount is
// C = q*(P - d) + (fee added ? q*f : 0), and:
//   inclusive: tax = round(C * r / (10000 + r)), net = C - tax, gross = C
//   exclusive: net = C, tax = round(C * r / 10000), gross = net + tax
// Under reverse charge the rate shown and the tax are 0; an inclusive price first drops the tax it
// contains at the line's rate (net = C - round(C * r / (10000 + r))), so the buyer pays the net.
// Errors: unknown_currency, currency_mismatch, too_many_lines, quantity_out_of_range,
// amount_out_of_range (also for sums above amount_minor_max), rate_out_of_range, invalid_fee,
// invalid_request (a discount above the unit price; no lines).
expected<quote> make_quote(const quote_request& request);

}  // namespace eventstripe::actors::pricing
