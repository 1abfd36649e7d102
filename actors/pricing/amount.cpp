#include "actors/pricing/amount.hpp"

#include <limits>

namespace eventstripe::actors::pricing {
namespace {

// GCC and Clang's 128-bit integer: wide enough for any int64 * int64 product, so every
// intermediate below is exact.
__extension__ using wide = __int128;

constexpr wide int64_min = std::numeric_limits<std::int64_t>::min();
constexpr wide int64_max = std::numeric_limits<std::int64_t>::max();

std::optional<std::int64_t> bounded(wide exact) {
  if (exact < 0 || exact > amount_minor_max) return std::nullopt;
  return static_cast<std::int64_t>(exact);
}

}  // namespace

bool is_amount(std::int64_t minor) { return minor >= 0 && minor <= amount_minor_max; }

bool is_rate(basis_points rate) { return rate.value >= 0 && rate <= rate_max; }

std::optional<std::int64_t> checked_add(std::int64_t a, std::int64_t b) {
  return bounded(static_cast<wide>(a) + static_cast<wide>(b));
}

std::optional<std::int64_t> checked_multiply(std::int64_t a, std::int64_t b) {
  return bounded(static_cast<wide>(a) * static_cast<wide>(b));
}

std::optional<std::int64_t> multiply_divide_rounded(std::int64_t value, std::int64_t numerator,
                                                    std::int64_t denominator) {
  if (denominator <= 0) return std::nullopt;
  wide product = static_cast<wide>(value) * static_cast<wide>(numerator);
  bool negative = product < 0;
  wide magnitude = negative ? -product : product;
  wide quotient = magnitude / denominator;
  wide remainder = magnitude % denominator;
  // Half away from zero: round the magnitude up when the remainder is at least half the divisor.
  if (2 * remainder >= static_cast<wide>(denominator)) ++quotient;
  wide rounded = negative ? -quotient : quotient;
  if (rounded < int64_min || rounded > int64_max) return std::nullopt;
  return static_cast<std::int64_t>(rounded);
}

std::optional<std::int64_t> percent_of(std::int64_t amount_minor, basis_points rate) {
  return multiply_divide_rounded(amount_minor, rate.value, basis_points_per_whole);
}

std::optional<std::int64_t> included_tax(std::int64_t gross_minor, basis_points rate) {
  return multiply_divide_rounded(gross_minor, rate.value,
                                 static_cast<std::int64_t>(basis_points_per_whole) + rate.value);
}

std::string percent_string(basis_points rate) {
  bool negative = rate.value < 0;
  auto magnitude = negative ? -static_cast<std::int64_t>(rate.value) : static_cast<std::int64_t>(rate.value);
  auto text = std::to_string(magnitude / 100);
  auto hundredths = magnitude % 100;
  if (hundredths != 0) {
    text += '.';
    text += static_cast<char>('0' + hundredths / 10);
    if (hundredths % 10 != 0) text += static_cast<char>('0' + hundredths % 10);
  }
  return negative ? "-" + text : text;
}

}  // namespace eventstripe::actors::pricing
