#pragma once

// Promo codes of an event: what each kind gives, the limits that keep a code within what the
// organizer meant (window, uses, uses per buyer, discount budget), and the pure decision whether a
// code applies to a request given the code's current counters. The actor that owns the counters
// (and counts live holds as uses) calls apply_promo and then records the grant in the same commit.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

inline constexpr std::size_t promo_code_length_min = 3;
inline constexpr std::size_t promo_code_length_max = 40;
inline constexpr std::size_t promo_scope_ticket_types_max = 100;

enum class promo_kind : std::uint8_t {
  percent_off,  // percent_off basis points off each ticket's price
  amount_off,   // amount_minor off each ticket's price
  fixed_price,  // each ticket costs amount_minor (never more than its own price)
  access,       // no discount; unlocks the hidden ticket types in its scope
};

struct promo_code {
  std::string code;  // normalised (normalize_promo_code); unique per event
  promo_kind kind = promo_kind::percent_off;
  basis_points percent_off{};                      // percent_off only
  std::int64_t amount_minor = 0;                   // amount_off: off per ticket; fixed_price: the price per ticket
  std::vector<std::string> ticket_type_ids;        // scope; empty: every ticket type of the event
  std::optional<std::int64_t> valid_from_ms;       // unix ms, inclusive
  std::optional<std::int64_t> valid_until_ms;      // unix ms, exclusive
  std::optional<std::int32_t> uses_max;            // tickets in total (live holds + sold)
  std::optional<std::int32_t> uses_per_buyer_max;  // tickets per buyer (live holds + sold)
  std::optional<std::int64_t> budget_minor;        // total discount the code may ever give
};

// A code's counters as its owner last committed them. Live holds count; expired or released holds
// have already given their uses and discount back.
struct promo_usage {
  std::int32_t uses = 0;        // tickets holding or bought with the code
  std::int32_t buyer_uses = 0;  // of which by this buyer
  std::int64_t discount_spent_minor = 0;
};

struct promo_request {
  std::string_view ticket_type_id;
  std::int32_t quantity = 0;
  std::int64_t unit_price_minor = 0;  // the tier's or fixed price, before the discount
  std::int64_t now_ms = 0;
};

struct promo_grant {
  std::string code;
  promo_kind kind = promo_kind::percent_off;
  std::int64_t discount_per_ticket_minor = 0;  // 0 <= discount <= unit price
  std::int64_t discount_minor = 0;             // discount_per_ticket_minor * quantity
  bool budget_clipped = false;                 // the remaining budget lowered the discount
};

// Trims, upper-cases and checks the charset A-Z 0-9 '-' '_' and length 3..40; nullopt otherwise.
std::optional<std::string> normalize_promo_code(std::string_view text);

// Checks a code at setup (invalid_promo_code naming the code): normalised text, a percentage of
// 1..100 %, a positive amount off, a non-negative fixed price, no discount on access codes, a
// non-empty window, positive limits, at most promo_scope_ticket_types_max scoped types.
std::optional<pricing_error> validate_promo_code(const promo_code& code);

// The event's code for what a buyer typed (case-insensitive, trimmed); unknown_promo_code otherwise.
expected<const promo_code*> find_promo_code(std::span<const promo_code> codes, std::string_view entered);

// Whether the code lets a buyer see the hidden ticket type: an access code in its window, scoped to
// the type (or to all types).
bool unlocks_ticket_type(const promo_code& code, std::string_view ticket_type_id, std::int64_t now_ms);

// Decides a code for one request, checking in this order: promo_not_yet_valid, promo_expired,
// promo_not_for_ticket_type, promo_exhausted (uses + quantity > uses_max), promo_buyer_limit,
// then the discount: percent rounded per ticket by the rounding rule, every discount capped at the
// unit price so no price goes below zero, and the total clipped to the remaining budget
// (per ticket: min(discount, remaining / quantity), rounded down) — promo_budget_exhausted when
// not even one minor unit per ticket is left. Codes that give no discount (access, a fixed price
// at or above the unit price) apply with a zero discount and never touch the budget.
// Also: quantity_out_of_range, amount_out_of_range (unit price), invalid_request (negative counters).
expected<promo_grant> apply_promo(const promo_code& code, const promo_usage& usage, const promo_request& request);

}  // namespace eventstripe::actors::pricing
