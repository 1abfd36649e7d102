#include "actors/pricing/tiers.hpp"

#include <limits>

#include "actors/pricing/amount.hpp"

namespace eventstripe::actors::pricing {
namespace {

constexpr std::int64_t time_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t time_max = std::numeric_limits<std::int64_t>::max();

std::int64_t window_start(const price_tier& tier) { return tier.from_ms.value_or(time_min); }
std::int64_t window_end(const price_tier& tier) { return tier.until_ms.value_or(time_max); }

// Half-open windows [a, b) and [c, d) overlap when each starts before the other ends.
bool windows_overlap(const price_tier& a, const price_tier& b) {
  return window_start(a) < window_end(b) && window_start(b) < window_end(a);
}

pricing_error tier_error(const price_tier& tier, std::string why) {
  return make_pricing_error(pricing_errc::invalid_tier, "tier '" + tier.name + "': " + why);
}

std::optional<pricing_error> validate_one(const price_tier& tier) {
  if (tier.name.empty()) return make_pricing_error(pricing_errc::invalid_tier, "a tier needs a name");
  if (tier.name.size() > tier_name_length_max)
    return tier_error(tier, "name longer than " + std::to_string(tier_name_length_max) + " characters");
  if (!is_amount(tier.price_minor))
    return tier_error(tier, "price must be 0.." + std::to_string(amount_minor_max) + " minor units");
  if (tier.from_ms && tier.until_ms && *tier.from_ms >= *tier.until_ms)
    return tier_error(tier, "its window starts at or after its end");
  if (tier.quantity && *tier.quantity <= 0) return tier_error(tier, "quantity must be positive");
  return std::nullopt;
}

bool has_window(const price_tier& tier) { return tier.from_ms || tier.until_ms; }

// An earlier tier without a quantity limit always wins inside its window. A later tier with its
// own window must therefore not overlap it, and nothing may follow an unlimited tier without a
// window. A later tier without a window is the fallback outside the earlier windows.
std::optional<pricing_error> conflict(const price_tier& earlier, const price_tier& later) {
  if (earlier.quantity) return std::nullopt;
  if (!has_window(earlier))
    return make_pricing_error(pricing_errc::overlapping_tiers,
                              "tier '" + later.name + "' would never apply: tier '" + earlier.name +
                                  "' comes first and has neither a time window nor a quantity limit");
  if (has_window(later) && windows_overlap(earlier, later))
    return make_pricing_error(pricing_errc::overlapping_tiers,
                              "tier '" + later.name + "' overlaps the time window of tier '" + earlier.name +
                                  "', which comes first and has no quantity limit");
  return std::nullopt;
}

}  // namespace

bool tier_window_contains(const price_tier& tier, std::int64_t now_ms) {
  return window_start(tier) <= now_ms && (!tier.until_ms || now_ms < *tier.until_ms);
}

std::optional<pricing_error> validate_tiers(std::span<const price_tier> tiers) {
  if (tiers.size() > tiers_per_ticket_type_max)
    return make_pricing_error(pricing_errc::too_many_tiers,
                              "at most " + std::to_string(tiers_per_ticket_type_max) + " tiers per ticket type");
  for (std::size_t later = 0; later < tiers.size(); ++later) {
    if (auto failure = validate_one(tiers[later])) return failure;
    for (std::size_t earlier = 0; earlier < later; ++earlier) {
      if (tiers[earlier].name == tiers[later].name) return tier_error(tiers[later], "another tier has the same name");
      if (auto failure = conflict(tiers[earlier], tiers[later])) return failure;
    }
  }
  return std::nullopt;
}

expected<tier_choice> choose_tier(std::span<const price_tier> tiers, std::span<const std::int32_t> taken,
                                  std::int32_t quantity, std::int64_t now_ms, std::int64_t fixed_price_minor) {
  if (quantity < 1 || quantity > quantity_per_line_max)
    return make_pricing_error(pricing_errc::quantity_out_of_range,
                              "quantity must be 1.." + std::to_string(quantity_per_line_max));
  if (taken.size() != tiers.size())
    return make_pricing_error(pricing_errc::invalid_request, "one taken counter per tier is needed");
  if (!is_amount(fixed_price_minor))
    return make_pricing_error(pricing_errc::amount_out_of_range, "the fixed price is out of range");
  for (auto count : taken)
    if (count < 0) return make_pricing_error(pricing_errc::invalid_request, "a taken counter is negative");
  for (std::size_t index = 0; index < tiers.size(); ++index) {
    const auto& tier = tiers[index];
    if (!tier_window_contains(tier, now_ms)) continue;
    // 64-bit so that counters near INT32_MAX cannot overflow.
    if (tier.quantity && static_cast<std::int64_t>(taken[index]) + quantity > *tier.quantity) continue;
    return tier_choice{index, tier.name, tier.price_minor};
  }
  return tier_choice{std::nullopt, {}, fixed_price_minor};
}

}  // namespace eventstripe::actors::pricing
