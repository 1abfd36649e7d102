#include "actors/pricing/promo_code.hpp"

#include <algorithm>

namespace eventstripe::actors::pricing {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool in_scope(const promo_code& code, std::string_view ticket_type_id) {
  return code.ticket_type_ids.empty() || std::find(code.ticket_type_ids.begin(), code.ticket_type_ids.end(),
                                                   ticket_type_id) != code.ticket_type_ids.end();
}

bool in_window(const promo_code& code, std::int64_t now_ms) {
  return (!code.valid_from_ms || now_ms >= *code.valid_from_ms) &&
         (!code.valid_until_ms || now_ms < *code.valid_until_ms);
}

pricing_error setup_error(const promo_code& code, std::string why) {
  return make_pricing_error(pricing_errc::invalid_promo_code, "promo code '" + code.code + "': " + why);
}

pricing_error decision_error(pricing_errc errc, const promo_code& code, std::string why) {
  return make_pricing_error(errc, "promo code " + code.code + " " + why);
}

// The discount a code gives one ticket before the budget, capped at the ticket's price.
std::optional<std::int64_t> discount_per_ticket(const promo_code& code, std::int64_t unit_price_minor) {
  switch (code.kind) {
    case promo_kind::percent_off: {
      auto off = percent_of(unit_price_minor, code.percent_off);
      if (!off) return std::nullopt;
      return std::min(*off, unit_price_minor);
    }
    case promo_kind::amount_off: return std::min(code.amount_minor, unit_price_minor);
    case promo_kind::fixed_price: return std::max<std::int64_t>(0, unit_price_minor - code.amount_minor);
    case promo_kind::access: return 0;
  }
  return std::nullopt;
}

std::optional<pricing_error> validate_discount(const promo_code& code) {
  switch (code.kind) {
    case promo_kind::percent_off:
      if (code.percent_off.value < 1 || code.percent_off > rate_max)
        return setup_error(code, "percent off must be 1..10000 bp");
      if (code.amount_minor != 0) return setup_error(code, "a percent code has no amount");
      break;
    case promo_kind::amount_off:
      if (code.amount_minor < 1 || code.amount_minor > amount_minor_max)
        return setup_error(code, "amount off must be positive");
      if (code.percent_off.value != 0) return setup_error(code, "an amount code has no percentage");
      break;
    case promo_kind::fixed_price:
      if (!is_amount(code.amount_minor))
        return setup_error(code, "the fixed price must be 0.." + std::to_string(amount_minor_max));
      if (code.percent_off.value != 0) return setup_error(code, "a fixed-price code has no percentage");
      break;
    case promo_kind::access:
      if (code.amount_minor != 0 || code.percent_off.value != 0)
        return setup_error(code, "an access code gives no discount");
      if (code.budget_minor) return setup_error(code, "an access code has no discount budget");
      break;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> normalize_promo_code(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() < promo_code_length_min || text.size() > promo_code_length_max) return std::nullopt;
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    bool allowed = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!allowed) return std::nullopt;
    out += c;
  }
  return out;
}

std::optional<pricing_error> validate_promo_code(const promo_code& code) {
  auto normalised = normalize_promo_code(code.code);
  if (!normalised || *normalised != code.code)
    return setup_error(code, "a code is 3..40 of A-Z 0-9 - _, stored upper-case");
  if (auto failure = validate_discount(code)) return failure;
  if (code.valid_from_ms && code.valid_until_ms && *code.valid_from_ms >= *code.valid_until_ms)
    return setup_error(code, "its validity window starts at or after its end");
  if (code.uses_max && *code.uses_max < 1) return setup_error(code, "maximum uses must be positive");
  if (code.uses_per_buyer_max && *code.uses_per_buyer_max < 1)
    return setup_error(code, "maximum uses per buyer must be positive");
  if (code.budget_minor && (*code.budget_minor < 1 || *code.budget_minor > amount_minor_max))
    return setup_error(code, "the discount budget must be positive");
  if (code.ticket_type_ids.size() > promo_scope_ticket_types_max)
    return setup_error(code, "at most " + std::to_string(promo_scope_ticket_types_max) + " ticket types in scope");
  for (const auto& id : code.ticket_type_ids)
    if (id.empty()) return setup_error(code, "an empty ticket type id in its scope");
  return std::nullopt;
}

expected<const promo_code*> find_promo_code(std::span<const promo_code> codes, std::string_view entered) {
  auto normalised = normalize_promo_code(entered);
  if (normalised)
    for (const auto& code : codes)
      if (code.code == *normalised) return &code;
  return make_pricing_error(pricing_errc::unknown_promo_code, "no such promo code for this event");
}

bool unlocks_ticket_type(const promo_code& code, std::string_view ticket_type_id, std::int64_t now_ms) {
  return code.kind == promo_kind::access && in_window(code, now_ms) && in_scope(code, ticket_type_id);
}

expected<promo_grant> apply_promo(const promo_code& code, const promo_usage& usage, const promo_request& request) {
  if (request.quantity < 1 || request.quantity > quantity_per_line_max)
    return make_pricing_error(pricing_errc::quantity_out_of_range,
                              "quantity must be 1.." + std::to_string(quantity_per_line_max));
  if (!is_amount(request.unit_price_minor))
    return make_pricing_error(pricing_errc::amount_out_of_range, "the unit price is out of range");
  if (usage.uses < 0 || usage.buyer_uses < 0 || usage.discount_spent_minor < 0)
    return make_pricing_error(pricing_errc::invalid_request, "promo counters are negative");
  if (code.valid_from_ms && request.now_ms < *code.valid_from_ms)
    return decision_error(pricing_errc::promo_not_yet_valid, code, "is not valid yet");
  if (code.valid_until_ms && request.now_ms >= *code.valid_until_ms)
    return decision_error(pricing_errc::promo_expired, code, "has expired");
  if (!in_scope(code, request.ticket_type_id))
    return decision_error(pricing_errc::promo_not_for_ticket_type, code, "is not valid for this ticket type");
  // 64-bit sums: counters near INT32_MAX cannot overflow.
  if (code.uses_max && static_cast<std::int64_t>(usage.uses) + request.quantity > *code.uses_max)
    return decision_error(pricing_errc::promo_exhausted, code,
                          "has no uses left for " + std::to_string(request.quantity) + " tickets");
  if (code.uses_per_buyer_max &&
      static_cast<std::int64_t>(usage.buyer_uses) + request.quantity > *code.uses_per_buyer_max)
    return decision_error(pricing_errc::promo_buyer_limit, code,
                          "may be used for at most " + std::to_string(*code.uses_per_buyer_max) + " tickets per buyer");
  auto per_ticket = discount_per_ticket(code, request.unit_price_minor);
  if (!per_ticket) return make_pricing_error(pricing_errc::amount_out_of_range, "the discount is out of range");
  promo_grant grant{code.code, code.kind, *per_ticket, 0, false};
  if (grant.discount_per_ticket_minor > 0 && code.budget_minor) {
    auto remaining = std::max<std::int64_t>(0, *code.budget_minor - usage.discount_spent_minor);
    auto affordable = remaining / request.quantity;
    if (affordable < 1)
      return decision_error(pricing_errc::promo_budget_exhausted, code, "has used up its discount budget");
    if (affordable < grant.discount_per_ticket_minor) {
      grant.discount_per_ticket_minor = affordable;
      grant.budget_clipped = true;
    }
  }
  auto total = checked_multiply(grant.discount_per_ticket_minor, request.quantity);
  if (!total) return make_pricing_error(pricing_errc::amount_out_of_range, "the discount total is out of range");
  grant.discount_minor = *total;
  return grant;
}

}  // namespace eventstripe::actors::pricing
