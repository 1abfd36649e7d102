#pragma once

// Integer money arithmetic for pricing: amounts are int64 minor units of one currency, rates are
// integer basis points, and every product or quotient is exact (128-bit intermediates) with one
// rounding rule, so no floating point ever touches a price.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>

namespace eventstripe::actors::pricing {

// A rate in 1/100 of a percent: 19 % = 1900, 5.5 % = 550, 8.1 % = 810. A strong type so that a
// rate can never be passed where an amount is expected.
struct basis_points {
  std::int32_t value = 0;
  friend auto operator<=>(const basis_points&, const basis_points&) = default;
};

inline constexpr std::int32_t basis_points_per_whole = 10'000;  // 100 %

// Limits on what a price may be. Anything outside is rejected with amount_out_of_range rather than
// risking overflow: 1e15 minor units is 10 trillion EUR, or 1 trillion KWD.
inline constexpr std::int64_t amount_minor_max = 1'000'000'000'000'000;
inline constexpr std::int32_t quantity_per_line_max = 100'000;
inline constexpr basis_points rate_max{basis_points_per_whole};

// 0 <= minor <= amount_minor_max.
bool is_amount(std::int64_t minor);
// 0 <= rate <= rate_max.
bool is_rate(basis_points rate);

// a + b and a * b, or nullopt when the exact result is negative or above amount_minor_max.
std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b);
std::optional<std::int64_t> checked_multiply(std::int64_t a, std::int64_t b);

// THE rounding rule: value * numerator / denominator computed exactly, then rounded to the nearest
// integer with halves away from zero (2.5 -> 3, -2.5 -> -3). nullopt when denominator <= 0 or the
// rounded result does not fit in int64.
std::optional<std::int64_t> multiply_divide_rounded(std::int64_t value, std::int64_t numerator,
                                                    std::int64_t denominator);

// round(amount * rate / 10000): a percentage of an amount (discount, fee, exclusive tax).
std::optional<std::int64_t> percent_of(std::int64_t amount_minor, basis_points rate);

// round(gross * rate / (10000 + rate)): the tax contained in a tax-inclusive amount.
std::optional<std::int64_t> included_tax(std::int64_t gross_minor, basis_points rate);

// 1900 -> "19", 550 -> "5.5", 810 -> "8.1", 25 -> "0.25": a rate for people to read.
std::string percent_string(basis_points rate);

}  // namespace eventstripe::actors::pricing
