#pragma once

// An event's pricing configuration as the pricing rules (actors/pricing/) take it: the stored rows
// (storage/events.hpp) converted to price tiers, fee rules, promo codes and tax settings, and the
// errors of that configuration as caf::error values. The event actor validates organizer writes
// with these; whoever prices a hold (the quota, the checkout) converts the same rows the same way.
// Header-only: small conversions, no CAF beyond the error type.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/fees.hpp"
#include "actors/pricing/pricing_error.hpp"
#include "actors/pricing/promo_code.hpp"
#include "actors/pricing/quote.hpp"
#include "actors/pricing/tiers.hpp"
#include "storage/events.hpp"

namespace eventstripe::actors {

// Refusals of an organizer's pricing write that are not a pricing rule (those are pricing_errc).
enum class pricing_config_errc : std::uint8_t {
  duplicate_promo_code = 1,  // the event has a code with the same text (codes are case-insensitive)
  tier_below_taken,          // a tier's new quantity is below the tickets it already has
  promo_below_usage,         // a code's new max_uses or budget is below what it has been used for
  too_many_promo_codes,      // the event has promo_codes_per_event_max codes already
};

// How many promo codes one event may have: the event actor keeps them all in memory.
inline constexpr std::size_t promo_codes_per_event_max = 1'000;

inline const char* to_string(pricing_config_errc code) {
  switch (code) {
    case pricing_config_errc::duplicate_promo_code: return "duplicate_promo_code";
    case pricing_config_errc::tier_below_taken: return "tier_below_taken";
    case pricing_config_errc::promo_below_usage: return "promo_below_usage";
    case pricing_config_errc::too_many_promo_codes: return "too_many_promo_codes";
  }
  return "unknown";
}

}  // namespace eventstripe::actors

CAF_ERROR_CODE_ENUM(eventstripe::actors::pricing::pricing_errc, "pricing")
CAF_ERROR_CODE_ENUM(eventstripe::actors::pricing_config_errc, "pricecfg")

namespace eventstripe::actors {

// A pricing rule's refusal as a caf::error; the detail (naming the tier, code or field) travels as
// the error's context, a single string.
inline caf::error pricing_failure(const pricing::pricing_error& failure) {
  return caf::make_error(failure.code, failure.detail);
}

inline caf::error pricing_config_failure(pricing_config_errc code, std::string detail) {
  return caf::make_error(code, std::move(detail));
}

inline bool is_pricing_error(const caf::error& failure) {
  return failure && failure.category() == caf::atom("pricing");
}
inline bool is_pricing_config_error(const caf::error& failure) {
  return failure && failure.category() == caf::atom("pricecfg");
}

// The detail a pricing or pricing-configuration error carries; empty when it has none.
inline std::string failure_detail(const caf::error& failure) {
  const auto& context = failure.context();
  if (context.size() == 1 && context.match_element<std::string>(0)) return context.get_as<std::string>(0);
  return {};
}

// --- rows to rules ------------------------------------------------------------------------------

inline std::vector<pricing::price_tier> tiers_of(const storage::ticket_type_row& type) {
  std::vector<pricing::price_tier> tiers;
  tiers.reserve(type.tiers.size());
  for (const auto& tier : type.tiers)
    tiers.push_back({tier.name, tier.price_minor, tier.from_ms, tier.until_ms, tier.quantity});
  return tiers;
}

// The taken counters in the order of tiers_of (what choose_tier takes).
inline std::vector<std::int32_t> tier_taken_of(const storage::ticket_type_row& type) {
  std::vector<std::int32_t> taken;
  taken.reserve(type.tiers.size());
  for (const auto& tier : type.tiers) taken.push_back(tier.taken);
  return taken;
}

inline std::optional<pricing::fee_mode> fee_mode_of(std::string_view text) {
  if (text == "added") return pricing::fee_mode::added;
  if (text == "absorbed") return pricing::fee_mode::absorbed;
  return std::nullopt;
}

inline pricing::fee_rule fee_rule_of(const storage::event_row& event) {
  return {event.fee_fixed_minor, pricing::basis_points{event.fee_percent_bp}, event.fee_cap_minor,
          fee_mode_of(event.fee_mode).value_or(pricing::fee_mode::added)};
}

inline std::optional<pricing::tax_mode> tax_mode_of(std::string_view text) {
  if (text == "inclusive") return pricing::tax_mode::inclusive;
  if (text == "exclusive") return pricing::tax_mode::exclusive;
  return std::nullopt;
}

// The organizer's rate for a line of `type`: the ticket type's override, else the event's, else
// nullopt (line_tax_rate then takes the shipped table's admission rate for the event's country).
inline std::optional<pricing::basis_points> tax_override_of(const storage::event_row& event,
                                                            const storage::ticket_type_row& type) {
  if (type.tax_rate_bp) return pricing::basis_points{*type.tax_rate_bp};
  if (event.tax_rate_bp) return pricing::basis_points{*event.tax_rate_bp};
  return std::nullopt;
}

inline std::optional<pricing::promo_kind> promo_kind_of(std::string_view text) {
  if (text == "percent_off") return pricing::promo_kind::percent_off;
  if (text == "amount_off") return pricing::promo_kind::amount_off;
  if (text == "fixed_price") return pricing::promo_kind::fixed_price;
  if (text == "access") return pricing::promo_kind::access;
  return std::nullopt;
}

// The rule's view of a stored code. `active` is not part of it: an inactive code is one the
// caller does not pass to find_promo_code.
inline pricing::promo_code promo_code_of(const storage::promo_code_row& row) {
  pricing::promo_code code;
  code.code = row.code;
  code.kind = promo_kind_of(row.kind).value_or(pricing::promo_kind::access);
  code.percent_off = pricing::basis_points{row.percent_off_bp.value_or(0)};
  code.amount_minor = row.amount_minor.value_or(0);
  code.ticket_type_ids = row.ticket_type_ids;
  code.valid_from_ms = row.valid_from_ms;
  code.valid_until_ms = row.valid_until_ms;
  code.uses_max = row.max_uses;
  code.uses_per_buyer_max = row.max_uses_per_buyer;
  code.budget_minor = row.budget_minor;
  return code;
}

// The event's active codes as the rules take them (for find_promo_code / unlocks_ticket_type).
inline std::vector<pricing::promo_code> active_promo_codes_of(const std::vector<storage::promo_code_row>& rows) {
  std::vector<pricing::promo_code> codes;
  for (const auto& row : rows)
    if (row.active) codes.push_back(promo_code_of(row));
  return codes;
}

}  // namespace eventstripe::actors
