// Properties of quotes over thousands of generated orders (deterministic: a fixed seed and our own
// generator, so every run and every standard library sees the same orders): the lines add up to
// the totals, no amount is negative, tax is rounded to the nearest minor unit per line, and the
// inclusive and exclusive modes agree within the documented rounding.
#include <array>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "actors/money.hpp"
#include "actors/pricing/amount.hpp"
#include "actors/pricing/fees.hpp"
#include "actors/pricing/promo_code.hpp"
#include "actors/pricing/quote.hpp"
#include "actors/pricing/tax_table.hpp"

using namespace eventstripe::actors::pricing;

namespace {

constexpr int orders_count = 5000;
constexpr std::uint64_t seed = 0x45'76'65'6e'74'53'74'72;  // "EventStr"

// SplitMix64: tiny, well distributed, and identical on every platform (unlike std distributions).
class generator {
 public:
  explicit generator(std::uint64_t state) : state_(state) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [low, high] for test data (modulo bias is irrelevant here).
  std::int64_t between(std::int64_t low, std::int64_t high) {
    return low + static_cast<std::int64_t>(next() % static_cast<std::uint64_t>(high - low + 1));
  }
  bool chance(int percent) { return between(1, 100) <= percent; }

 private:
  std::uint64_t state_;
};

const std::array<const char*, 9> currencies{"EUR", "JPY", "KWD", "USD", "CHF", "GBP", "BHD", "CLP", "SEK"};

std::int64_t power_of_ten(int exponent) {
  std::int64_t result = 1;
  while (exponent-- > 0) result *= 10;
  return result;
}

basis_points random_rate(generator& random) {
  if (random.chance(50)) {
    auto table = tax_table();
    const auto& row = table[static_cast<std::size_t>(random.between(0, static_cast<std::int64_t>(table.size()) - 1))];
    return random.chance(50) && row.admission_rate ? *row.admission_rate : row.standard_rate;
  }
  return basis_points{
      static_cast<std::int32_t>(random.chance(50) ? random.between(0, 3000) : random.between(0, 10000))};
}

std::int64_t random_price(generator& random, std::int64_t major) {
  if (random.chance(8)) return 0;
  if (random.chance(10)) return random.between(1, 10);
  return random.between(1, 2000 * major);
}

promo_code random_promo(generator& random, std::int64_t major) {
  promo_code code;
  code.code = "GEN-" + std::to_string(random.between(100, 999));
  switch (random.between(0, 3)) {
    case 0:
      code.kind = promo_kind::percent_off;
      code.percent_off = basis_points{static_cast<std::int32_t>(random.between(1, 10000))};
      break;
    case 1:
      code.kind = promo_kind::amount_off;
      code.amount_minor = random.between(1, 100 * major);
      break;
    case 2:
      code.kind = promo_kind::fixed_price;
      code.amount_minor = random.between(0, 100 * major);
      break;
    default: code.kind = promo_kind::access;
  }
  if (random.chance(30)) code.uses_max = static_cast<std::int32_t>(random.between(1, 50));
  if (random.chance(30)) code.uses_per_buyer_max = static_cast<std::int32_t>(random.between(1, 6));
  if (random.chance(30) && code.kind != promo_kind::access) code.budget_minor = random.between(1, 500 * major);
  if (random.chance(20)) code.valid_until_ms = random.between(0, 2000);
  REQUIRE_FALSE(validate_promo_code(code));
  return code;
}

// The discount a random promo code gives this line, through the real decision.
void apply_random_promo(generator& random, quote_line_input& line, std::int64_t major) {
  auto code = random_promo(random, major);
  promo_usage usage{static_cast<std::int32_t>(random.between(0, 40)), static_cast<std::int32_t>(random.between(0, 5)),
                    random.between(0, 400 * major)};
  promo_request request{line.ticket_type_id, line.quantity, line.unit_price_minor, random.between(0, 2000)};
  auto grant = apply_promo(code, usage, request);
  if (!grant) {
    auto errc = grant.error().code;
    CHECK((errc == pricing_errc::promo_expired || errc == pricing_errc::promo_exhausted ||
           errc == pricing_errc::promo_buyer_limit || errc == pricing_errc::promo_budget_exhausted));
    return;
  }
  CHECK(grant->discount_per_ticket_minor >= 0);
  CHECK(grant->discount_per_ticket_minor <= line.unit_price_minor);
  if (code.budget_minor)
    CHECK((grant->discount_minor == 0 || usage.discount_spent_minor + grant->discount_minor <= *code.budget_minor));
  line.discount_per_ticket_minor = grant->discount_per_ticket_minor;
  line.promo_code = grant->code;
}

fee_rule random_fee(generator& random, std::int64_t major) {
  fee_rule fee;
  if (random.chance(40)) return fee;
  fee.fixed_minor = random.chance(50) ? random.between(0, 3 * major) : 0;
  fee.percent = basis_points{static_cast<std::int32_t>(random.chance(70) ? random.between(0, 1500) : 0)};
  if (random.chance(50)) fee.cap_minor = random.between(0, 5 * major);
  fee.mode = random.chance(50) ? fee_mode::added : fee_mode::absorbed;
  return fee;
}

quote_request random_order(generator& random) {
  quote_request request;
  request.currency = currencies[static_cast<std::size_t>(random.between(0, currencies.size() - 1))];
  auto major = power_of_ten(eventstripe::actors::currency_exponent(request.currency).value());
  request.mode = random.chance(50) ? tax_mode::inclusive : tax_mode::exclusive;
  request.reverse_charge = random.chance(12);
  auto lines = random.between(1, 6);
  for (std::int64_t at = 0; at < lines; ++at) {
    quote_line_input line;
    line.ticket_type_id = "tt-" + std::to_string(at);
    line.currency = request.currency;
    line.unit_price_minor = random_price(random, major);
    line.quantity = static_cast<std::int32_t>(random.chance(90) ? random.between(1, 12) : random.between(13, 500));
    line.tax_rate = random_rate(random);
    if (random.chance(50)) apply_random_promo(random, line, major);
    line.fee = random_fee(random, major);
    request.lines.push_back(std::move(line));
  }
  return request;
}

// |tax * denominator - base * r| <= denominator / 2, ties rounded up (amounts are non-negative).
bool rounded_to_nearest(std::int64_t tax, std::int64_t base, std::int64_t r, std::int64_t denominator) {
  auto difference = tax * denominator - base * r;
  return 2 * difference <= denominator && 2 * difference > -denominator;
}

void check_line(const quote_line& line, const quote_line_input& input, const quote_request& request) {
  for (auto amount :
       {line.unit_price_minor, line.discount_minor, line.fee_minor, line.net_minor, line.tax_minor, line.gross_minor})
    CHECK(amount >= 0);
  CHECK(line.tax_rate.value >= 0);
  CHECK(line.gross_minor == line.net_minor + line.tax_minor);
  CHECK(line.discount_minor == input.discount_per_ticket_minor * input.quantity);
  CHECK(line.discount_minor <= line.unit_price_minor * line.quantity);
  // What the buyer is charged before tax is taken out or added.
  auto charged = (input.unit_price_minor - input.discount_per_ticket_minor) * input.quantity +
                 (line.fee_absorbed ? 0 : line.fee_minor);
  CHECK(line.fee_absorbed == (input.fee.mode == fee_mode::absorbed));
  if (input.unit_price_minor == input.discount_per_ticket_minor) CHECK(line.fee_minor == 0);  // free: no fee
  if (input.fee.cap_minor) CHECK(line.fee_minor <= *input.fee.cap_minor * input.quantity);
  std::int64_t r = input.tax_rate.value;
  if (request.reverse_charge) {
    CHECK(line.tax_minor == 0);
    CHECK(line.tax_rate.value == 0);
    if (request.mode == tax_mode::exclusive)
      CHECK(line.net_minor == charged);
    else
      CHECK(rounded_to_nearest(charged - line.net_minor, charged, r, 10000 + r));
    return;
  }
  CHECK(line.tax_rate == input.tax_rate);
  if (request.mode == tax_mode::inclusive) {
    CHECK(line.gross_minor == charged);
    CHECK(rounded_to_nearest(line.tax_minor, line.gross_minor, r, 10000 + r));
  } else {
    CHECK(line.net_minor == charged);
    CHECK(rounded_to_nearest(line.tax_minor, line.net_minor, r, 10000));
  }
}

quote single_line_quote(const std::string& currency, std::int64_t amount, basis_points rate, tax_mode mode) {
  quote_request request;
  request.currency = currency;
  request.mode = mode;
  quote_line_input line;
  line.ticket_type_id = "roundtrip";
  line.currency = currency;
  line.unit_price_minor = amount;
  line.quantity = 1;
  line.tax_rate = rate;
  request.lines.push_back(line);
  auto priced = make_quote(request);
  REQUIRE(priced);
  return priced.value();
}

// Exclusive net N -> gross G; inclusive from G gives back N exactly. Inclusive G -> net N;
// exclusive from N gives a gross within one minor unit of G.
void check_modes_agree(const quote_line& line, const quote_request& request) {
  if (request.reverse_charge) return;
  if (request.mode == tax_mode::exclusive) {
    auto back = single_line_quote(request.currency, line.gross_minor, line.tax_rate, tax_mode::inclusive);
    CHECK(back.lines[0].net_minor == line.net_minor);
    CHECK(back.lines[0].tax_minor == line.tax_minor);
  } else {
    auto back = single_line_quote(request.currency, line.net_minor, line.tax_rate, tax_mode::exclusive);
    CHECK(back.lines[0].gross_minor >= line.gross_minor - 1);
    CHECK(back.lines[0].gross_minor <= line.gross_minor + 1);
  }
}

}  // namespace

TEST_CASE("generated orders: lines add up to the totals, nothing is negative, tax rounds per line") {
  generator random(seed);
  int lines_checked = 0;
  int reverse_charged = 0;
  int discounted = 0;
  int with_fees = 0;
  for (int order = 0; order < orders_count; ++order) {
    auto request = random_order(random);
    INFO("order " << order << " in " << request.currency);
    auto priced = make_quote(request);
    INFO((priced ? std::string() : priced.error().detail));
    REQUIRE(priced);
    REQUIRE(priced->lines.size() == request.lines.size());
    quote_totals sum;
    for (std::size_t at = 0; at < priced->lines.size(); ++at) {
      const auto& line = priced->lines[at];
      check_line(line, request.lines[at], request);
      check_modes_agree(line, request);
      sum.discount_minor += line.discount_minor;
      (line.fee_absorbed ? sum.fee_absorbed_minor : sum.fee_minor) += line.fee_minor;
      sum.net_minor += line.net_minor;
      sum.tax_minor += line.tax_minor;
      sum.gross_minor += line.gross_minor;
      ++lines_checked;
      if (line.discount_minor > 0) ++discounted;
      if (line.fee_minor > 0) ++with_fees;
    }
    const auto& totals = priced->totals;
    CHECK(totals.discount_minor == sum.discount_minor);
    CHECK(totals.fee_minor == sum.fee_minor);
    CHECK(totals.fee_absorbed_minor == sum.fee_absorbed_minor);
    CHECK(totals.net_minor == sum.net_minor);
    CHECK(totals.tax_minor == sum.tax_minor);
    CHECK(totals.gross_minor == sum.gross_minor);
    CHECK(totals.gross_minor == totals.net_minor + totals.tax_minor);
    CHECK(priced->notes.size() == (request.reverse_charge ? 1u : 0u));
    if (request.reverse_charge) ++reverse_charged;
  }
  // The generator really covered the cases it claims to.
  CHECK(lines_checked > orders_count * 3);
  CHECK(reverse_charged > orders_count / 20);
  CHECK(discounted > lines_checked / 10);
  CHECK(with_fees > lines_checked / 10);
}

TEST_CASE("exclusive then inclusive gives back the same net for every amount and table rate") {
  // A sweep instead of samples: every net amount 0..20,000 at every rate in the table and the
  // extremes. Exclusive: tax = round(N r / 10000); inclusive from G = N + tax must find N again.
  std::vector<basis_points> rates{basis_points{0}, basis_points{1}, basis_points{9999}, basis_points{10000}};
  for (const auto& row : tax_table()) {
    rates.push_back(row.standard_rate);
    if (row.admission_rate) rates.push_back(*row.admission_rate);
  }
  int disagreements = 0;
  int off_by_more_than_one = 0;
  for (auto rate : rates) {
    for (std::int64_t net = 0; net <= 20'000; ++net) {
      auto gross = net + percent_of(net, rate).value();
      auto back_net = gross - included_tax(gross, rate).value();
      if (back_net != net) ++disagreements;
      // The other way round: inclusive gross -> net -> exclusive gross, within one minor unit.
      auto inclusive_net = net - included_tax(net, rate).value();
      auto regrossed = inclusive_net + percent_of(inclusive_net, rate).value();
      if (regrossed > net + 1 || regrossed < net - 1) ++off_by_more_than_one;
    }
  }
  CHECK(disagreements == 0);
  CHECK(off_by_more_than_one == 0);
}

TEST_CASE("huge generated orders end in a result or amount_out_of_range, never in overflow") {
  generator random(seed + 1);
  int refused = 0;
  int priced_count = 0;
  for (int order = 0; order < 2000; ++order) {
    quote_request request;
    request.currency = "EUR";
    request.mode = random.chance(50) ? tax_mode::inclusive : tax_mode::exclusive;
    auto lines = random.between(1, 4);
    for (std::int64_t at = 0; at < lines; ++at) {
      quote_line_input line;
      line.ticket_type_id = "big";
      line.currency = "EUR";
      line.unit_price_minor = random.between(0, amount_minor_max);
      line.quantity = static_cast<std::int32_t>(random.between(1, quantity_per_line_max));
      line.tax_rate = basis_points{static_cast<std::int32_t>(random.between(0, 10000))};
      line.fee = fee_rule{random.between(0, amount_minor_max), basis_points{10000}, std::nullopt, fee_mode::added};
      request.lines.push_back(line);
    }
    auto priced = make_quote(request);
    if (!priced) {
      CHECK(priced.error().code == pricing_errc::amount_out_of_range);
      ++refused;
      continue;
    }
    ++priced_count;
    CHECK(priced->totals.gross_minor <= amount_minor_max);
    CHECK(priced->totals.gross_minor >= 0);
  }
  CHECK(refused > 0);
  // Small enough ones still price: a single cheap ticket.
  auto cheap = make_quote(quote_request{"EUR",
                                        tax_mode::inclusive,
                                        false,
                                        "",
                                        {quote_line_input{"t", "", "EUR", 100, 1, 0, "", {}, basis_points{1900}}}});
  CHECK(cheap);
  CHECK(priced_count + refused == 2000);
}
