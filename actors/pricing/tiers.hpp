#pragma once

// Price tiers of a ticket type (early-bird time windows, "first N tickets" quantities, or both)
// and the choice of the tier a hold gets. The quota actor calls choose_tier at hold time with its
// own counters, so no more than N holds ever get a tier of N.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "actors/pricing/pricing_error.hpp"

namespace eventstripe::actors::pricing {

inline constexpr std::size_t tiers_per_ticket_type_max = 20;
inline constexpr std::size_t tier_name_length_max = 100;

struct price_tier {
  std::string name;  // unique within the ticket type, shown on the quote
  std::int64_t price_minor = 0;
  std::optional<std::int64_t> from_ms;   // unix ms, inclusive; the caller converts from the event's zone
  std::optional<std::int64_t> until_ms;  // unix ms, exclusive
  std::optional<std::int32_t> quantity;  // the first N tickets of this tier; nullopt: no limit
};

// Whether `now_ms` lies in the tier's window [from, until) (an absent bound is open).
bool tier_window_contains(const price_tier& tier, std::int64_t now_ms);

// Checks a ticket type's tiers at setup. Rejects (naming the tier): an empty, over-long or
// duplicate name, a price outside 0..amount_minor_max, from >= until, a quantity <= 0, more than
// tiers_per_ticket_type_max tiers (too_many_tiers), and overlapping_tiers, because an earlier tier
// without a quantity limit always wins inside its window:
//  - a tier with a window that overlaps the window of an earlier tier without a quantity limit;
//  - any tier after a tier with neither a window nor a quantity limit (it would never apply).
// So time tiers must not overlap, quantity tiers may share a window (the next takes over when one
// sells out), and a last tier without a window is the price outside every earlier window.
std::optional<pricing_error> validate_tiers(std::span<const price_tier> tiers);

struct tier_choice {
  std::optional<std::size_t> index;  // the tier's position; nullopt: no tier applies, the fixed price
  std::string name;                  // the tier's name; empty for the fixed price
  std::int64_t unit_price_minor = 0;
};

// The earliest applicable tier wins. Tiers are tried in their declared order; a tier applies when
// now_ms is inside its window and, if it has a quantity, taken[i] + quantity <= its quantity — the
// WHOLE request must fit one tier, otherwise the next tier is tried (a tier's last seats are then
// left for smaller requests). taken[i] is the tier's live holds plus sold tickets. When no tier
// applies (or there are none), the ticket type's fixed price is used.
// Errors: quantity_out_of_range (quantity < 1 or above quantity_per_line_max), invalid_request
// (taken.size() != tiers.size(), a negative counter), amount_out_of_range (fixed price).
expected<tier_choice> choose_tier(std::span<const price_tier> tiers, std::span<const std::int32_t> taken,
                                  std::int32_t quantity, std::int64_t now_ms, std::int64_t fixed_price_minor);

}  // namespace eventstripe::actors::pricing
