// Pricing rules: known answers for money, tax, fees, tiers, promo codes and VAT ids. Property tests
// over generated orders are in pricing_property_test.cpp.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "actors/pricing/amount.hpp"
#include "actors/pricing/fees.hpp"
#include "actors/pricing/promo_code.hpp"
#include "actors/pricing/quote.hpp"
#include "actors/pricing/quote_json.hpp"
#include "actors/pricing/tax_table.hpp"
#include "actors/pricing/tiers.hpp"
#include "actors/pricing/vat_id.hpp"

using namespace eventstripe::actors::pricing;

namespace {

constexpr std::int64_t day_ms = 86'400'000;
constexpr std::int64_t march_1 = 1'835'481'600'000;  // 2028-03-01T00:00:00Z

quote_line_input ticket(std::string currency, std::int64_t unit_price_minor, std::int32_t quantity, basis_points rate) {
  quote_line_input line;
  line.ticket_type_id = "tt-1";
  line.currency = std::move(currency);
  line.unit_price_minor = unit_price_minor;
  line.quantity = quantity;
  line.tax_rate = rate;
  return line;
}

quote quote_of(std::vector<quote_line_input> lines, tax_mode mode = tax_mode::inclusive, bool reverse_charge = false) {
  quote_request request;
  request.currency = lines.empty() ? "EUR" : lines.front().currency;
  request.mode = mode;
  request.reverse_charge = reverse_charge;
  request.lines = std::move(lines);
  auto priced = make_quote(request);
  INFO((priced ? "" : priced.error().detail));
  REQUIRE(priced);
  return priced.value();
}

pricing_errc quote_error(quote_request request) {
  auto priced = make_quote(request);
  REQUIRE_FALSE(priced);
  return priced.error().code;
}

// A checker standing in for an online VIES client.
class fixed_checker final : public vat_id_checker {
 public:
  explicit fixed_checker(vat_check_status status) : status_(status) {}
  vat_check_status check(std::string_view, std::string_view) const override { return status_; }

 private:
  vat_check_status status_;
};

}  // namespace

// --- money arithmetic -----------------------------------------------------------------------

TEST_CASE("the rounding rule is exact rational arithmetic rounded half away from zero") {
  CHECK(multiply_divide_rounded(5, 1, 2) == 3);    // 2.5 -> 3
  CHECK(multiply_divide_rounded(-5, 1, 2) == -3);  // -2.5 -> -3
  CHECK(multiply_divide_rounded(7, 1, 2) == 4);    // 3.5 -> 4
  CHECK(multiply_divide_rounded(4, 1, 3) == 1);    // 1.33 -> 1
  CHECK(multiply_divide_rounded(5, 1, 3) == 2);    // 1.67 -> 2
  CHECK(multiply_divide_rounded(-4, 1, 3) == -1);
  CHECK(multiply_divide_rounded(0, 1900, 11900) == 0);
  // 128-bit intermediate: the product overflows int64, the result does not.
  CHECK(multiply_divide_rounded(4'000'000'000'000'000'000, 3, 4) == 3'000'000'000'000'000'000);
  CHECK_FALSE(multiply_divide_rounded(4'000'000'000'000'000'000, 4, 1));  // result too large
  CHECK_FALSE(multiply_divide_rounded(1, 1, 0));                          // no division by zero
  CHECK(percent_of(5, basis_points{1000}) == 1);                          // 0.5 -> 1
  CHECK(percent_of(4, basis_points{1000}) == 0);                          // 0.4 -> 0
  CHECK(included_tax(11900, basis_points{1900}) == 1900);
  CHECK(included_tax(3, basis_points{10000}) == 2);  // 1.5 -> 2
}

TEST_CASE("absurd amounts are refused instead of overflowing") {
  CHECK(checked_multiply(amount_minor_max, 1) == amount_minor_max);
  CHECK_FALSE(checked_multiply(amount_minor_max, 2));
  CHECK_FALSE(checked_multiply(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()));
  CHECK_FALSE(checked_multiply(-1, 5));
  CHECK(checked_add(amount_minor_max - 1, 1) == amount_minor_max);
  CHECK_FALSE(checked_add(amount_minor_max, 1));
  CHECK_FALSE(checked_add(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max()));
  CHECK_FALSE(checked_add(0, -1));

  // A line of 100,000 tickets at the highest price overflows the limit: a clear error, no UB.
  quote_request request;
  request.currency = "EUR";
  request.lines = {ticket("EUR", amount_minor_max, quantity_per_line_max, basis_points{1900})};
  CHECK(quote_error(request) == pricing_errc::amount_out_of_range);
  // Two lines each within the limit whose sum is not.
  request.lines = {ticket("EUR", amount_minor_max, 1, basis_points{0}), ticket("EUR", 1, 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::amount_out_of_range);
  request.lines = {ticket("EUR", amount_minor_max + 1, 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::amount_out_of_range);
  request.lines = {ticket("EUR", -100, 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::amount_out_of_range);
}

TEST_CASE("rates read as people write them") {
  CHECK(percent_string(basis_points{1900}) == "19");
  CHECK(percent_string(basis_points{550}) == "5.5");
  CHECK(percent_string(basis_points{810}) == "8.1");
  CHECK(percent_string(basis_points{25}) == "0.25");
  CHECK(percent_string(basis_points{0}) == "0");
  CHECK(percent_string(basis_points{2550}) == "25.5");
}

// --- known answers ----------------------------------------------------------------------------

TEST_CASE("119.00 EUR including 19 % is 100.00 net and 19.00 tax") {
  auto priced = quote_of({ticket("EUR", 11900, 1, basis_points{1900})});
  REQUIRE(priced.lines.size() == 1);
  const auto& line = priced.lines[0];
  CHECK(line.net_minor == 10000);
  CHECK(line.tax_minor == 1900);
  CHECK(line.gross_minor == 11900);
  CHECK(line.tax_rate == basis_points{1900});
  CHECK(priced.totals.gross_minor == 11900);
  CHECK(priced.notes.empty());

  auto exclusive = quote_of({ticket("EUR", 10000, 1, basis_points{1900})}, tax_mode::exclusive);
  CHECK(exclusive.lines[0].net_minor == 10000);
  CHECK(exclusive.lines[0].tax_minor == 1900);
  CHECK(exclusive.lines[0].gross_minor == 11900);
}

TEST_CASE("known answers in JPY (no decimals), KWD (three) and EUR, per line") {
  struct known {
    const char* currency;
    std::int64_t unit;
    std::int32_t quantity;
    std::int32_t rate_bp;
    tax_mode mode;
    std::int64_t net, tax, gross;
  };
  const std::vector<known> table{
      {"JPY", 1100, 1, 1000, tax_mode::inclusive, 1000, 100, 1100},    // ¥1,100 incl. 10 %
      {"JPY", 1000, 3, 1000, tax_mode::exclusive, 3000, 300, 3300},    // ¥3,000 + 10 %
      {"JPY", 999, 1, 800, tax_mode::inclusive, 925, 74, 999},         // 73.99 -> 74
      {"KWD", 1150, 1, 1500, tax_mode::inclusive, 1000, 150, 1150},    // 1.150 KWD incl. 15 %
      {"KWD", 1000, 1, 1900, tax_mode::inclusive, 840, 160, 1000},     // 159.66 -> 160 fils
      {"KWD", 1234, 2, 500, tax_mode::exclusive, 2468, 123, 2591},     // 123.4 -> 123 fils
      {"EUR", 1070, 1, 700, tax_mode::inclusive, 1000, 70, 1070},      // DE admission 7 %
      {"EUR", 1999, 3, 1900, tax_mode::inclusive, 5039, 958, 5997},    // 957.50 -> 958, per line
      {"EUR", 5, 1, 1000, tax_mode::exclusive, 5, 1, 6},               // 0.5 cent -> 1 cent
      {"EUR", 10550, 1, 550, tax_mode::inclusive, 10000, 550, 10550},  // FR admission 5.5 %
      {"CHF", 10260, 1, 260, tax_mode::inclusive, 10000, 260, 10260},  // CH 2.6 %
      {"EUR", 0, 4, 1900, tax_mode::inclusive, 0, 0, 0},               // free tickets
  };
  for (const auto& row : table) {
    INFO(row.currency << " " << row.unit << " x" << row.quantity << " at " << row.rate_bp << " bp");
    auto priced = quote_of({ticket(row.currency, row.unit, row.quantity, basis_points{row.rate_bp})}, row.mode);
    CHECK(priced.lines[0].net_minor == row.net);
    CHECK(priced.lines[0].tax_minor == row.tax);
    CHECK(priced.lines[0].gross_minor == row.gross);
    CHECK(priced.totals.net_minor == row.net);
    CHECK(priced.totals.tax_minor == row.tax);
    CHECK(priced.totals.gross_minor == row.gross);
  }
}

TEST_CASE("a German concert ticket is taxed at the 7 % admission rate from the table") {
  auto rate = line_tax_rate("DE", tax_category::admission, std::nullopt);
  REQUIRE(rate);
  CHECK(*rate == basis_points{700});
  auto priced = quote_of({ticket("EUR", 4280, 2, *rate)});  // 2 x 42.80 incl. 7 %
  CHECK(priced.lines[0].gross_minor == 8560);
  CHECK(priced.lines[0].tax_minor == 560);
  CHECK(priced.lines[0].net_minor == 8000);
}

TEST_CASE("tax is rounded per line and the lines add up to the totals exactly") {
  auto a = ticket("EUR", 1999, 3, basis_points{1900});
  auto b = ticket("EUR", 1070, 1, basis_points{700});
  b.ticket_type_id = "tt-2";
  auto c = ticket("EUR", 333, 7, basis_points{1900});
  c.ticket_type_id = "tt-3";
  auto priced = quote_of({a, b, c});
  // Per line: 5997 -> 958 tax; 1070 -> 70; 2331 -> 372.18 -> 372.
  CHECK(priced.lines[0].tax_minor == 958);
  CHECK(priced.lines[1].tax_minor == 70);
  CHECK(priced.lines[2].tax_minor == 372);
  CHECK(priced.totals.tax_minor == 958 + 70 + 372);
  CHECK(priced.totals.gross_minor == 5997 + 1070 + 2331);
  CHECK(priced.totals.net_minor == priced.totals.gross_minor - priced.totals.tax_minor);
}

TEST_CASE("reverse charge: 0 % with the note, and an inclusive price drops the tax it contains") {
  auto treatment = buyer_tax_treatment("FR", "DE 123 456 789", format_vat_id_checker{});
  REQUIRE(treatment);
  REQUIRE(treatment->reverse_charge);
  REQUIRE(treatment->buyer_vat_id);
  CHECK(treatment->buyer_vat_id->number == "DE123456789");

  auto rate = line_tax_rate("FR", tax_category::admission, std::nullopt);
  REQUIRE(rate);
  auto priced = quote_of({ticket("EUR", 10550, 2, *rate)}, tax_mode::inclusive, treatment->reverse_charge);
  CHECK(priced.lines[0].tax_rate == basis_points{0});
  CHECK(priced.lines[0].tax_minor == 0);
  CHECK(priced.lines[0].net_minor == 20000);
  CHECK(priced.lines[0].gross_minor == 20000);  // the business buyer pays the net
  CHECK(priced.totals.tax_minor == 0);
  REQUIRE(priced.notes.size() == 1);
  CHECK(priced.notes[0] == reverse_charge_note);
  CHECK(priced.notes[0].find("Art. 196 Directive 2006/112/EC") != std::string::npos);

  auto exclusive = quote_of({ticket("EUR", 10000, 1, basis_points{2000})}, tax_mode::exclusive, true);
  CHECK(exclusive.lines[0].net_minor == 10000);
  CHECK(exclusive.lines[0].tax_minor == 0);
  CHECK(exclusive.lines[0].gross_minor == 10000);
  CHECK(exclusive.notes.size() == 1);
}

TEST_CASE("who gets reverse charge") {
  format_vat_id_checker formats;
  // A consumer (no VAT id, or only blanks) is taxed normally.
  for (const char* none : {"", "   "}) {
    auto consumer = buyer_tax_treatment("DE", none, formats);
    REQUIRE(consumer);
    CHECK_FALSE(consumer->reverse_charge);
    CHECK_FALSE(consumer->buyer_vat_id);
  }
  // A business of the event's own country is taxed normally, its id kept for the invoice.
  auto domestic = buyer_tax_treatment("DE", "DE123456789", formats);
  REQUIRE(domestic);
  CHECK_FALSE(domestic->reverse_charge);
  CHECK(domestic->buyer_vat_id);
  // Greece's VAT ids start with EL, its ISO code is GR.
  auto greek = buyer_tax_treatment("GR", "EL123456789", formats);
  REQUIRE(greek);
  CHECK_FALSE(greek->reverse_charge);
  auto greek_abroad = buyer_tax_treatment("AT", "EL123456789", formats);
  REQUIRE(greek_abroad);
  CHECK(greek_abroad->reverse_charge);
  CHECK(greek_abroad->buyer_vat_id->country == "GR");
  // An event taxed outside the EU never reverse-charges an EU buyer.
  for (const char* outside : {"GB", "CH", "NO", "AU"}) {
    auto treatment = buyer_tax_treatment(outside, "NL123456789B01", formats);
    REQUIRE(treatment);
    CHECK_FALSE(treatment->reverse_charge);
  }
  // A malformed id is a distinct, clear error.
  auto malformed = buyer_tax_treatment("FR", "DE12345678", formats);
  REQUIRE_FALSE(malformed);
  CHECK(malformed.error().code == pricing_errc::malformed_vat_id);
  CHECK(malformed.error().detail.find("DE") != std::string::npos);
  auto not_eu = buyer_tax_treatment("FR", "GB123456789", formats);
  REQUIRE_FALSE(not_eu);
  CHECK(not_eu.error().code == pricing_errc::malformed_vat_id);
  // The plugged-in checker decides whether a well-formed id is registered.
  auto rejected = buyer_tax_treatment("FR", "DE123456789", fixed_checker{vat_check_status::invalid});
  REQUIRE_FALSE(rejected);
  CHECK(rejected.error().code == pricing_errc::vat_id_rejected);
  auto unavailable = buyer_tax_treatment("FR", "DE123456789", fixed_checker{vat_check_status::unavailable});
  REQUIRE_FALSE(unavailable);
  CHECK(unavailable.error().code == pricing_errc::vat_check_unavailable);
  // The checker is never asked about a malformed id.
  auto malformed_online = buyer_tax_treatment("FR", "DE1", fixed_checker{vat_check_status::valid});
  REQUIRE_FALSE(malformed_online);
  CHECK(malformed_online.error().code == pricing_errc::malformed_vat_id);
}

// --- fees ---------------------------------------------------------------------------------------

TEST_CASE("a percent fee is capped per ticket, and free tickets carry no fee") {
  fee_rule rule{99, basis_points{1000}, 500, fee_mode::added};  // 0.99 + 10 %, at most 5.00
  CHECK(fee_per_ticket(rule, 2000).value() == 299);             // 0.99 + 2.00
  CHECK(fee_per_ticket(rule, 20000).value() == 500);            // 0.99 + 20.00, capped
  CHECK(fee_per_ticket(rule, 0).value() == 0);                  // free ticket
  CHECK(fee_per_ticket(rule, 5).value() == 100);                // 0.99 + 0.5 cent -> 1 cent
  fee_rule fixed_only{150, basis_points{0}, std::nullopt, fee_mode::added};
  CHECK(fee_per_ticket(fixed_only, 1).value() == 150);
  CHECK(fee_per_ticket(fee_rule{-1, {}, {}, fee_mode::added}, 100).error().code == pricing_errc::invalid_fee);
  CHECK(fee_per_ticket(fee_rule{0, basis_points{10001}, {}, fee_mode::added}, 100).error().code ==
        pricing_errc::invalid_fee);
  CHECK(fee_per_ticket(fee_rule{0, {}, -5, fee_mode::added}, 100).error().code == pricing_errc::invalid_fee);

  // In a quote: 2 x 200.00 incl. 19 % with the capped fee added on top, taxed with the line.
  auto line = ticket("EUR", 20000, 2, basis_points{1900});
  line.fee = rule;
  auto priced = quote_of({line});
  CHECK(priced.lines[0].fee_minor == 1000);
  CHECK_FALSE(priced.lines[0].fee_absorbed);
  CHECK(priced.lines[0].gross_minor == 41000);
  CHECK(priced.lines[0].tax_minor == 6546);  // 41000 * 19 / 119 = 6546.2
  CHECK(priced.totals.fee_minor == 1000);
  CHECK(priced.totals.fee_absorbed_minor == 0);
}

TEST_CASE("an absorbed fee leaves the buyer's price alone and is reported for the payout") {
  auto line = ticket("EUR", 11900, 1, basis_points{1900});
  line.fee = fee_rule{0, basis_points{500}, std::nullopt, fee_mode::absorbed};
  auto priced = quote_of({line});
  CHECK(priced.lines[0].gross_minor == 11900);
  CHECK(priced.lines[0].net_minor == 10000);
  CHECK(priced.lines[0].tax_minor == 1900);
  CHECK(priced.lines[0].fee_minor == 595);
  CHECK(priced.lines[0].fee_absorbed);
  CHECK(priced.totals.fee_minor == 0);
  CHECK(priced.totals.fee_absorbed_minor == 595);
}

TEST_CASE("the fee follows the price after discount, so a fully discounted ticket has none") {
  auto line = ticket("EUR", 3000, 2, basis_points{1900});
  line.fee = fee_rule{100, basis_points{1000}, std::nullopt, fee_mode::added};
  line.discount_per_ticket_minor = 3000;
  line.promo_code = "FREE";
  auto priced = quote_of({line});
  CHECK(priced.lines[0].discount_minor == 6000);
  CHECK(priced.lines[0].fee_minor == 0);
  CHECK(priced.lines[0].gross_minor == 0);
  CHECK(priced.lines[0].promo_code == "FREE");

  line.discount_per_ticket_minor = 1000;  // 20.00 left: fee 1.00 + 2.00
  auto half = quote_of({line});
  CHECK(half.lines[0].fee_minor == 600);
  CHECK(half.lines[0].gross_minor == 2 * 2000 + 600);
}

TEST_CASE("a quote refuses bad lines with a clear error") {
  quote_request request;
  request.currency = "EUR";
  CHECK(quote_error(request) == pricing_errc::invalid_request);  // no lines
  request.lines = {ticket("USD", 100, 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::currency_mismatch);
  request.currency = "EURO";
  request.lines = {ticket("EURO", 100, 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::unknown_currency);
  request.currency = "EUR";
  request.lines = {ticket("EUR", 100, 0, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::quantity_out_of_range);
  request.lines = {ticket("EUR", 100, quantity_per_line_max + 1, basis_points{0})};
  CHECK(quote_error(request) == pricing_errc::quantity_out_of_range);
  request.lines = {ticket("EUR", 100, 1, basis_points{10001})};
  CHECK(quote_error(request) == pricing_errc::rate_out_of_range);
  request.lines = {ticket("EUR", 100, 1, basis_points{-1})};
  CHECK(quote_error(request) == pricing_errc::rate_out_of_range);
  auto over_discounted = ticket("EUR", 100, 1, basis_points{0});
  over_discounted.discount_per_ticket_minor = 101;
  request.lines = {over_discounted};
  CHECK(quote_error(request) == pricing_errc::invalid_request);
  over_discounted.discount_per_ticket_minor = -1;
  request.lines = {over_discounted};
  CHECK(quote_error(request) == pricing_errc::invalid_request);
  auto bad_fee = ticket("EUR", 100, 1, basis_points{0});
  bad_fee.fee.fixed_minor = -1;
  request.lines = {bad_fee};
  CHECK(quote_error(request) == pricing_errc::invalid_fee);
  request.lines.assign(lines_per_quote_max + 1, ticket("EUR", 100, 1, basis_points{0}));
  CHECK(quote_error(request) == pricing_errc::too_many_lines);
}

TEST_CASE("the quote's JSON shows every amount as minor units and a decimal string") {
  auto line = ticket("EUR", 11900, 2, basis_points{1900});
  line.tier = "Early bird";
  line.discount_per_ticket_minor = 1190;
  line.promo_code = "SPRING10";
  line.fee = fee_rule{100, basis_points{0}, std::nullopt, fee_mode::added};
  quote_request request;
  request.currency = "EUR";
  request.lines = {line};
  auto priced = make_quote(request);
  REQUIRE(priced);
  auto json = quote_json(*priced);
  CHECK(json["currency"] == "EUR");
  CHECK(json["tax_mode"] == "inclusive");
  CHECK(json["reverse_charge"] == false);
  CHECK(json["buyer_vat_id"].is_null());
  const auto& first = json["lines"][0];
  CHECK(first["tier"] == "Early bird");
  CHECK(first["promo_code"] == "SPRING10");
  CHECK(first["unit_price"]["decimal"] == "119.00");
  CHECK(first["discount"]["minor"] == 2380);
  CHECK(first["fee"]["decimal"] == "2.00");
  CHECK(first["gross"]["decimal"] == "216.20");  // 2 x 107.10 + 2.00
  CHECK(first["tax_rate"] == "19");
  CHECK(first["tax_rate_bp"] == 1900);
  CHECK(first["tax"]["minor"] == priced->lines[0].tax_minor);
  CHECK(json["totals"]["gross"]["decimal"] == "216.20");
  CHECK(json["totals"]["gross"]["currency"] == "EUR");
  CHECK(json["notes"].empty());

  auto yen = quote_of({ticket("JPY", 1100, 1, basis_points{1000})});
  CHECK(quote_json(yen)["totals"]["tax"]["decimal"] == "100");
}

// --- the tax table ----------------------------------------------------------------------------

TEST_CASE("the tax table covers EU-27, GB, CH, NO, AU, NZ and CA with sourced, plausible rates") {
  const std::set<std::string> eu{"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
                                 "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"};
  const std::set<std::string> others{"GB", "CH", "NO", "AU", "NZ", "CA"};
  std::set<std::string> seen;
  for (const auto& row : tax_table()) {
    INFO(row.country);
    CHECK(seen.insert(std::string(row.country)).second);  // no duplicates
    CHECK(row.eu_member == (eu.count(std::string(row.country)) == 1));
    CHECK(row.standard_rate >= basis_points{500});   // Canada's GST is the lowest
    CHECK(row.standard_rate <= basis_points{2700});  // Hungary's is the highest
    if (row.admission_rate) {
      CHECK(*row.admission_rate >= basis_points{0});
      CHECK(*row.admission_rate < row.standard_rate);
    }
    if (row.eu_member) CHECK(row.standard_rate >= basis_points{1500});  // the Directive's minimum
    CHECK(row.source.size() > 10);
    CHECK_FALSE(row.name.empty());
    CHECK_FALSE(row.tax_name.empty());
  }
  for (const auto& country : eu) CHECK(seen.count(country) == 1);
  for (const auto& country : others) CHECK(seen.count(country) == 1);
  CHECK(seen.size() == eu.size() + others.size());
  CHECK(tax_table_as_of == "2026-01-01");
}

TEST_CASE("well-known rates are what the sources say") {
  struct expected_rates {
    const char* country;
    std::int32_t standard, admission;
  };
  const std::vector<expected_rates> table{
      {"DE", 1900, 700},  {"FR", 2000, 550},  {"NL", 2100, 900},  {"AT", 2000, 1300}, {"CH", 810, 260},
      {"GB", 2000, 2000}, {"IT", 2200, 1000}, {"ES", 2100, 1000}, {"BE", 2100, 600},  {"SE", 2500, 600},
      {"FI", 2550, 1350}, {"IE", 2300, 900},  {"LU", 1700, 300},  {"DK", 2500, 2500}, {"EE", 2400, 2400},
      {"RO", 2100, 2100}, {"SK", 2300, 2300}, {"LT", 2100, 1200}, {"PL", 2300, 800},  {"AU", 1000, 1000},
      {"NZ", 1500, 1500}, {"CA", 500, 500},   {"NO", 2500, 0},    {"GR", 2400, 600},  {"HU", 2700, 1800},
  };
  for (const auto& row : table) {
    INFO(row.country);
    CHECK(tax_rate(row.country, tax_category::standard) == basis_points{row.standard});
    CHECK(tax_rate(row.country, tax_category::admission) == basis_points{row.admission});
  }
  CHECK_FALSE(tax_rate("US", tax_category::standard));
  CHECK_FALSE(tax_rate("de", tax_category::standard));
  CHECK(is_eu_member_state("GR"));
  CHECK_FALSE(is_eu_member_state("EL"));  // a VAT prefix, not a country
  CHECK_FALSE(is_eu_member_state("GB"));
  CHECK_FALSE(is_eu_member_state("CH"));
}

TEST_CASE("an organizer's rate override wins over the table, within 0..100 %") {
  CHECK(line_tax_rate("DE", tax_category::admission, basis_points{1900}).value() == basis_points{1900});
  CHECK(line_tax_rate("US", tax_category::standard, basis_points{825}).value() == basis_points{825});
  CHECK(line_tax_rate("DE", tax_category::standard, basis_points{0}).value() == basis_points{0});
  CHECK(line_tax_rate("US", tax_category::standard, std::nullopt).error().code == pricing_errc::unknown_tax_country);
  CHECK(line_tax_rate("DE", tax_category::standard, basis_points{10001}).error().code ==
        pricing_errc::rate_out_of_range);
  CHECK(line_tax_rate("DE", tax_category::standard, basis_points{-100}).error().code ==
        pricing_errc::rate_out_of_range);
}

// --- VAT ids --------------------------------------------------------------------------------------

TEST_CASE("VAT ids in the official format of each member state are accepted and normalised") {
  struct sample {
    const char* text;
    const char* country;
    const char* number;
  };
  const std::vector<sample> valid{
      {"ATU12345678", "AT", "ATU12345678"},
      {"BE0123456789", "BE", "BE0123456789"},
      {"BE1234567890", "BE", "BE1234567890"},
      {"BG123456789", "BG", "BG123456789"},
      {"BG1234567890", "BG", "BG1234567890"},
      {"CY12345678X", "CY", "CY12345678X"},
      {"CZ12345678", "CZ", "CZ12345678"},
      {"CZ1234567890", "CZ", "CZ1234567890"},
      {"DE123456789", "DE", "DE123456789"},
      {"DK12345678", "DK", "DK12345678"},
      {"EE123456789", "EE", "EE123456789"},
      {"EL123456789", "GR", "EL123456789"},
      {"ESX1234567X", "ES", "ESX1234567X"},
      {"ESA12345678", "ES", "ESA12345678"},
      {"ES12345678Z", "ES", "ES12345678Z"},
      {"FI12345678", "FI", "FI12345678"},
      {"FRAB123456789", "FR", "FRAB123456789"},
      {"FR12345678901", "FR", "FR12345678901"},
      {"HR12345678901", "HR", "HR12345678901"},
      {"HU12345678", "HU", "HU12345678"},
      {"IE1234567T", "IE", "IE1234567T"},
      {"IE1234567WA", "IE", "IE1234567WA"},
      {"IE1S23456T", "IE", "IE1S23456T"},
      {"IE1+23456T", "IE", "IE1+23456T"},
      {"IT12345678901", "IT", "IT12345678901"},
      {"LT123456789", "LT", "LT123456789"},
      {"LT123456789012", "LT", "LT123456789012"},
      {"LU12345678", "LU", "LU12345678"},
      {"LV12345678901", "LV", "LV12345678901"},
      {"MT12345678", "MT", "MT12345678"},
      {"NL123456789B01", "NL", "NL123456789B01"},
      {"PL1234567890", "PL", "PL1234567890"},
      {"PT123456789", "PT", "PT123456789"},
      {"RO12", "RO", "RO12"},
      {"RO1234567890", "RO", "RO1234567890"},
      {"SE123456789001", "SE", "SE123456789001"},
      {"SI12345678", "SI", "SI12345678"},
      {"SK1234567890", "SK", "SK1234567890"},
      // normalising: case, spaces, dots, dashes; GR typed for EL
      {"de 123.456.789", "DE", "DE123456789"},
      {"nl-1234.56789-b01", "NL", "NL123456789B01"},
      {"  atu 1234 5678 ", "AT", "ATU12345678"},
      {"GR123456789", "GR", "EL123456789"},
  };
  std::set<std::string> countries;
  for (const auto& row : valid) {
    INFO(row.text);
    auto id = parse_vat_id(row.text);
    REQUIRE(id);
    CHECK(id->country == row.country);
    CHECK(id->number == row.number);
    countries.insert(id->country);
    // The same id given with its country, with and without the prefix.
    auto with_country = parse_vat_id(row.country, row.text);
    REQUIRE(with_country);
    CHECK(*with_country == *id);
    auto without_prefix = parse_vat_id(row.country, std::string(row.number).substr(2));
    REQUIRE(without_prefix);
    CHECK(*without_prefix == *id);
  }
  CHECK(countries.size() == 27);  // every member state has a sample
}

TEST_CASE("malformed VAT ids are refused with malformed_vat_id") {
  for (const char* text : {
           "",                    // nothing
           "DE",                  // prefix only
           "DE12345678",          // 8 digits, needs 9
           "DE1234567890",        // 10 digits
           "DE12345678A",         // a letter
           "AT12345678",          // Austria needs the U
           "ATU1234567",          // 7 digits after U
           "BE2123456789",        // Belgium starts with 0 or 1
           "BE123456789",         // 9 digits
           "NL123456789001",      // NL needs the B
           "NL123456789B1",       // one digit after B
           "FR123456789",         // 2 key characters missing
           "FRAB12345678",        // 8 digits of SIREN
           "IT1234567890",        // 10 digits
           "ES123456789",         // first and last both digits
           "ESX12345678Y9",       // too long
           "EL12345678",          // 8 digits
           "CY123456789",         // the last character must be a letter
           "IE12345678",          // no check letter
           "SE123456789012",      // must end in 01
           "RO1",                 // 1 digit
           "RO12345678901",       // 11 digits
           "LT1234567890",        // 10 digits
           "XX123456789",         // no such prefix
           "GB123456789",         // not an EU member state
           "DE12345678\xc3\xa9",  // not ASCII
           "DE12345678 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9"  // too long to read
       }) {
    INFO(text);
    auto id = parse_vat_id(text);
    REQUIRE_FALSE(id);
    CHECK(id.error().code == pricing_errc::malformed_vat_id);
    CHECK_FALSE(id.error().detail.empty());
  }
  // With a country: a number of another format, or a country outside the EU.
  CHECK(parse_vat_id("DE", "ATU12345678").error().code == pricing_errc::malformed_vat_id);
  CHECK(parse_vat_id("GB", "123456789").error().code == pricing_errc::malformed_vat_id);
  CHECK(parse_vat_id("EL", "123456789").error().code == pricing_errc::malformed_vat_id);  // EL is no ISO code
  CHECK(vat_prefix("GR") == "EL");
  CHECK(vat_prefix("DE") == "DE");
  CHECK(vat_prefix("GB").empty());
  format_vat_id_checker formats;
  CHECK(formats.check("DE", "123456789") == vat_check_status::valid);
  CHECK(formats.check("DE", "12345678") == vat_check_status::invalid);
}

// --- tiers ------------------------------------------------------------------------------------------

namespace {

price_tier tier(std::string name, std::int64_t price, std::optional<std::int64_t> from_ms,
                std::optional<std::int64_t> until_ms, std::optional<std::int32_t> quantity) {
  return price_tier{std::move(name), price, from_ms, until_ms, quantity};
}

std::string tier_for(const std::vector<price_tier>& tiers, const std::vector<std::int32_t>& taken,
                     std::int32_t quantity, std::int64_t now_ms) {
  auto choice = choose_tier(tiers, taken, quantity, now_ms, 9900);
  REQUIRE(choice);
  return choice->index ? choice->name : "<fixed " + std::to_string(choice->unit_price_minor) + ">";
}

}  // namespace

TEST_CASE("the earliest applicable tier wins: early-bird by time") {
  std::vector<price_tier> tiers{tier("Early bird", 4900, std::nullopt, march_1, std::nullopt),
                                tier("Regular", 6900, march_1, march_1 + 30 * day_ms, std::nullopt),
                                tier("Late", 7900, march_1 + 30 * day_ms, std::nullopt, std::nullopt)};
  REQUIRE_FALSE(validate_tiers(tiers));
  std::vector<std::int32_t> taken{500, 0, 0};
  CHECK(tier_for(tiers, taken, 1, march_1 - 1) == "Early bird");
  CHECK(tier_for(tiers, taken, 1, march_1) == "Regular");  // until is exclusive, from inclusive
  CHECK(tier_for(tiers, taken, 4, march_1 + 30 * day_ms - 1) == "Regular");
  CHECK(tier_for(tiers, taken, 1, march_1 + 30 * day_ms) == "Late");
  auto choice = choose_tier(tiers, taken, 2, march_1 - day_ms, 9900);
  REQUIRE(choice);
  CHECK(choice->index == 0u);
  CHECK(choice->unit_price_minor == 4900);
}

TEST_CASE("quantity tiers: the first N tickets, then the next; a request must fit one tier whole") {
  std::vector<price_tier> tiers{tier("First 100", 2000, std::nullopt, std::nullopt, 100),
                                tier("Next 200", 2500, std::nullopt, std::nullopt, 200),
                                tier("Standard", 3000, std::nullopt, std::nullopt, std::nullopt)};
  REQUIRE_FALSE(validate_tiers(tiers));
  CHECK(tier_for(tiers, {0, 0, 0}, 1, 0) == "First 100");
  CHECK(tier_for(tiers, {99, 0, 0}, 1, 0) == "First 100");  // the 100th ticket
  CHECK(tier_for(tiers, {100, 0, 0}, 1, 0) == "Next 200");  // sold out (held + sold)
  CHECK(tier_for(tiers, {98, 0, 0}, 3, 0) == "Next 200");   // 3 do not fit into 2 left
  CHECK(tier_for(tiers, {98, 0, 0}, 2, 0) == "First 100");  // ... which a smaller request gets
  CHECK(tier_for(tiers, {100, 200, 0}, 1, 0) == "Standard");
  CHECK(tier_for(tiers, {100, 199, 0}, 5, 0) == "Standard");
  // An expired hold gives its seat back (taken drops) and the tier sells again.
  CHECK(tier_for(tiers, {99, 200, 40}, 1, 0) == "First 100");
  // Counters above the tier's quantity (it was lowered) simply skip it.
  CHECK(tier_for(tiers, {150, 0, 0}, 1, 0) == "Next 200");
}

TEST_CASE("exactly N holds get a quantity tier of N, whatever the order of requests") {
  std::vector<price_tier> tiers{tier("First 100", 2000, std::nullopt, std::nullopt, 100),
                                tier("Standard", 3000, std::nullopt, std::nullopt, std::nullopt)};
  std::vector<std::int32_t> taken{0, 0};
  int at_tier = 0;
  for (int hold = 0; hold < 2000; ++hold) {
    auto choice = choose_tier(tiers, taken, 1, 0, 9900);
    REQUIRE(choice);
    REQUIRE(choice->index);
    ++taken[*choice->index];
    if (*choice->index == 0) ++at_tier;
  }
  CHECK(at_tier == 100);
  CHECK(taken[0] == 100);
  CHECK(taken[1] == 1900);
}

TEST_CASE("time and quantity tiers combine") {
  // The first 50 tickets before March at 15.00, then the rest of February at 20.00, then 25.00.
  std::vector<price_tier> tiers{tier("Super early", 1500, std::nullopt, march_1, 50),
                                tier("Early", 2000, std::nullopt, march_1, std::nullopt),
                                tier("Regular", 2500, std::nullopt, std::nullopt, std::nullopt)};
  REQUIRE_FALSE(validate_tiers(tiers));
  CHECK(tier_for(tiers, {0, 0, 0}, 2, march_1 - day_ms) == "Super early");
  CHECK(tier_for(tiers, {50, 0, 0}, 1, march_1 - day_ms) == "Early");
  CHECK(tier_for(tiers, {10, 0, 0}, 1, march_1) == "Regular");  // window over, seats left or not
}

TEST_CASE("no applicable tier falls back to the ticket type's fixed price") {
  CHECK(tier_for({}, {}, 1, 0) == "<fixed 9900>");  // no tiers at all
  std::vector<price_tier> tiers{tier("Presale", 1500, march_1, march_1 + day_ms, 10)};
  CHECK(tier_for(tiers, {0}, 1, march_1 - 1) == "<fixed 9900>");       // not started
  CHECK(tier_for(tiers, {10}, 1, march_1) == "<fixed 9900>");          // sold out
  CHECK(tier_for(tiers, {0}, 1, march_1 + day_ms) == "<fixed 9900>");  // over
  CHECK(tier_for(tiers, {0}, 11, march_1) == "<fixed 9900>");          // does not fit
  auto fixed = choose_tier(tiers, std::vector<std::int32_t>{10}, 1, march_1, 9900);
  REQUIRE(fixed);
  CHECK_FALSE(fixed->index);
  CHECK(fixed->name.empty());
}

TEST_CASE("tier choice refuses inconsistent input") {
  std::vector<price_tier> tiers{tier("A", 100, std::nullopt, std::nullopt, 5)};
  CHECK(choose_tier(tiers, std::vector<std::int32_t>{0}, 0, 0, 100).error().code ==
        pricing_errc::quantity_out_of_range);
  CHECK(choose_tier(tiers, std::vector<std::int32_t>{}, 1, 0, 100).error().code == pricing_errc::invalid_request);
  CHECK(choose_tier(tiers, std::vector<std::int32_t>{-1}, 1, 0, 100).error().code == pricing_errc::invalid_request);
  CHECK(choose_tier(tiers, std::vector<std::int32_t>{0}, 1, 0, -1).error().code == pricing_errc::amount_out_of_range);
  // A counter near INT32_MAX does not overflow into "fits".
  std::vector<price_tier> big{tier("Big", 100, std::nullopt, std::nullopt, std::numeric_limits<std::int32_t>::max())};
  CHECK(tier_for(big, {std::numeric_limits<std::int32_t>::max()}, 5, 0) == "<fixed 9900>");
}

TEST_CASE("overlapping and invalid tiers are rejected at setup, naming the tier") {
  auto failure_of = [](std::vector<price_tier> tiers) {
    auto failure = validate_tiers(tiers);
    REQUIRE(failure);
    return *failure;
  };
  // Two time tiers whose windows overlap by one day.
  auto overlap = failure_of({tier("Early bird", 4900, std::nullopt, march_1 + day_ms, std::nullopt),
                             tier("Regular", 6900, march_1, std::nullopt, std::nullopt)});
  CHECK(overlap.code == pricing_errc::overlapping_tiers);
  CHECK(overlap.detail.find("'Regular'") != std::string::npos);
  CHECK(overlap.detail.find("'Early bird'") != std::string::npos);
  // Touching windows do not overlap ([a, b) then [b, c)).
  CHECK_FALSE(validate_tiers(std::vector<price_tier>{tier("A", 1, std::nullopt, march_1, std::nullopt),
                                                     tier("B", 2, march_1, std::nullopt, std::nullopt)}));
  // An unlimited always-on tier hides every later tier.
  CHECK(failure_of({tier("Standard", 3000, std::nullopt, std::nullopt, std::nullopt),
                    tier("Late", 4000, march_1, std::nullopt, std::nullopt)})
            .code == pricing_errc::overlapping_tiers);
  auto unreachable = failure_of({tier("Standard", 3000, std::nullopt, std::nullopt, std::nullopt),
                                 tier("Other", 4000, std::nullopt, std::nullopt, std::nullopt)});
  CHECK(unreachable.code == pricing_errc::overlapping_tiers);
  CHECK(unreachable.detail.find("'Other' would never apply") != std::string::npos);
  // A last tier without a window is the price outside the earlier windows.
  CHECK_FALSE(validate_tiers(std::vector<price_tier>{tier("Early", 1, std::nullopt, march_1, std::nullopt),
                                                     tier("Regular", 2, std::nullopt, std::nullopt, std::nullopt)}));
  // A later tier overlapping an earlier one with a quantity limit is fine (it takes over when sold out).
  CHECK_FALSE(validate_tiers(std::vector<price_tier>{tier("Presale 100", 1, march_1, march_1 + day_ms, 100),
                                                     tier("Presale", 2, march_1, march_1 + day_ms, std::nullopt)}));
  // ... but not the other way round: the unlimited tier would always win.
  CHECK(failure_of({tier("Presale", 2, march_1, march_1 + day_ms, std::nullopt),
                    tier("Presale 100", 1, march_1, march_1 + day_ms, 100)})
            .code == pricing_errc::overlapping_tiers);

  auto negative = failure_of({tier("Cheap", -1, std::nullopt, std::nullopt, std::nullopt)});
  CHECK(negative.code == pricing_errc::invalid_tier);
  CHECK(negative.detail.find("'Cheap'") != std::string::npos);
  auto zero_quantity = failure_of({tier("None", 100, std::nullopt, std::nullopt, 0)});
  CHECK(zero_quantity.code == pricing_errc::invalid_tier);
  CHECK(zero_quantity.detail.find("'None'") != std::string::npos);
  CHECK(failure_of({tier("Negative", 100, std::nullopt, std::nullopt, -5)}).code == pricing_errc::invalid_tier);
  auto empty_window = failure_of({tier("Backwards", 100, march_1, march_1, std::nullopt)});
  CHECK(empty_window.code == pricing_errc::invalid_tier);
  CHECK(empty_window.detail.find("'Backwards'") != std::string::npos);
  CHECK(failure_of({tier("", 100, std::nullopt, std::nullopt, 1)}).code == pricing_errc::invalid_tier);
  CHECK(failure_of({tier(std::string(tier_name_length_max + 1, 'x'), 100, std::nullopt, std::nullopt, 1)}).code ==
        pricing_errc::invalid_tier);
  auto duplicate =
      failure_of({tier("Same", 100, std::nullopt, std::nullopt, 1), tier("Same", 200, std::nullopt, std::nullopt, 1)});
  CHECK(duplicate.code == pricing_errc::invalid_tier);
  CHECK(duplicate.detail.find("'Same'") != std::string::npos);
  CHECK(failure_of({tier("Huge", amount_minor_max + 1, std::nullopt, std::nullopt, 1)}).code ==
        pricing_errc::invalid_tier);
  std::vector<price_tier> many;
  for (std::size_t at = 0; at <= tiers_per_ticket_type_max; ++at)
    many.push_back(tier("T" + std::to_string(at), 100, std::nullopt, std::nullopt, 1));
  CHECK(failure_of(many).code == pricing_errc::too_many_tiers);
  many.pop_back();
  CHECK_FALSE(validate_tiers(many));
}

// --- promo codes ------------------------------------------------------------------------------------

namespace {

promo_code percent_code(std::string code, std::int32_t bp) {
  promo_code promo;
  promo.code = std::move(code);
  promo.kind = promo_kind::percent_off;
  promo.percent_off = basis_points{bp};
  return promo;
}

promo_request request_for(std::string_view type, std::int32_t quantity, std::int64_t price,
                          std::int64_t now_ms = march_1) {
  return promo_request{type, quantity, price, now_ms};
}

pricing_errc promo_error(const promo_code& code, const promo_usage& usage, const promo_request& request) {
  auto grant = apply_promo(code, usage, request);
  REQUIRE_FALSE(grant);
  CHECK(grant.error().detail.find(code.code) != std::string::npos);  // names the code
  return grant.error().code;
}

}  // namespace

TEST_CASE("promo codes are case-insensitive, trimmed, 3..40 of A-Z 0-9 - _") {
  CHECK(normalize_promo_code("  spring-25_x \t") == "SPRING-25_X");
  CHECK(normalize_promo_code("ABC") == "ABC");
  CHECK(normalize_promo_code(std::string(40, 'a')) == std::string(40, 'A'));
  CHECK_FALSE(normalize_promo_code("AB"));
  CHECK_FALSE(normalize_promo_code(std::string(41, 'A')));
  CHECK_FALSE(normalize_promo_code("SPRING 25"));
  CHECK_FALSE(normalize_promo_code("SPRÏNG"));
  CHECK_FALSE(normalize_promo_code("DROP;TABLE"));
  CHECK_FALSE(normalize_promo_code(""));

  std::vector<promo_code> codes{percent_code("SPRING25", 2500), percent_code("VIP", 10000)};
  auto found = find_promo_code(codes, " spring25 ");
  REQUIRE(found);
  CHECK((*found)->code == "SPRING25");
  CHECK(find_promo_code(codes, "SUMMER").error().code == pricing_errc::unknown_promo_code);
  CHECK(find_promo_code(codes, "spring 25").error().code == pricing_errc::unknown_promo_code);
  CHECK(find_promo_code({}, "SPRING25").error().code == pricing_errc::unknown_promo_code);
}

TEST_CASE("percent, amount and fixed-price codes; a discount never makes a price negative") {
  promo_usage fresh{};
  auto percent = apply_promo(percent_code("TEN", 1000), fresh, request_for("tt-1", 3, 1999));
  REQUIRE(percent);
  CHECK(percent->discount_per_ticket_minor == 200);  // 199.9 -> 200, per ticket
  CHECK(percent->discount_minor == 600);
  CHECK(percent->code == "TEN");
  CHECK_FALSE(percent->budget_clipped);
  CHECK(apply_promo(percent_code("HALF", 5000), fresh, request_for("tt-1", 1, 5)).value().discount_per_ticket_minor ==
        3);
  CHECK(
      apply_promo(percent_code("ALL", 10000), fresh, request_for("tt-1", 1, 4900)).value().discount_per_ticket_minor ==
      4900);

  promo_code amount;
  amount.code = "FIVE";
  amount.kind = promo_kind::amount_off;
  amount.amount_minor = 500;
  CHECK(apply_promo(amount, fresh, request_for("tt-1", 2, 3000)).value().discount_minor == 1000);
  CHECK(apply_promo(amount, fresh, request_for("tt-1", 2, 300)).value().discount_per_ticket_minor == 300);  // capped
  CHECK(apply_promo(amount, fresh, request_for("tt-1", 1, 0)).value().discount_per_ticket_minor == 0);

  promo_code fixed;
  fixed.code = "CREW";
  fixed.kind = promo_kind::fixed_price;
  fixed.amount_minor = 1000;
  CHECK(apply_promo(fixed, fresh, request_for("tt-1", 4, 4500)).value().discount_per_ticket_minor == 3500);
  CHECK(apply_promo(fixed, fresh, request_for("tt-1", 1, 800)).value().discount_per_ticket_minor == 0);  // never raises
  fixed.amount_minor = 0;
  CHECK(apply_promo(fixed, fresh, request_for("tt-1", 1, 800)).value().discount_per_ticket_minor == 800);  // free

  // The discounted ticket in a quote: nothing below zero anywhere.
  auto line = ticket("EUR", 300, 2, basis_points{1900});
  line.discount_per_ticket_minor =
      apply_promo(amount, fresh, request_for("tt-1", 2, 300)).value().discount_per_ticket_minor;
  auto priced = quote_of({line});
  CHECK(priced.lines[0].gross_minor == 0);
  CHECK(priced.lines[0].tax_minor == 0);
  CHECK(priced.lines[0].net_minor == 0);
  CHECK(priced.lines[0].discount_minor == 600);
}

TEST_CASE("every promo refusal has its own error") {
  auto code = percent_code("LIMITED", 2000);
  code.valid_from_ms = march_1;
  code.valid_until_ms = march_1 + 7 * day_ms;
  code.ticket_type_ids = {"tt-1", "tt-2"};
  code.uses_max = 100;
  code.uses_per_buyer_max = 4;
  code.budget_minor = 10'000;
  REQUIRE_FALSE(validate_promo_code(code));
  promo_usage fresh{};

  CHECK(apply_promo(code, fresh, request_for("tt-1", 1, 5000, march_1)));  // the window starts inclusive
  CHECK(promo_error(code, fresh, request_for("tt-1", 1, 5000, march_1 - 1)) == pricing_errc::promo_not_yet_valid);
  CHECK(promo_error(code, fresh, request_for("tt-1", 1, 5000, march_1 + 7 * day_ms)) == pricing_errc::promo_expired);
  CHECK(promo_error(code, fresh, request_for("tt-3", 1, 5000)) == pricing_errc::promo_not_for_ticket_type);
  // Uses: live holds and sales count; the whole request must fit.
  CHECK(apply_promo(code, promo_usage{99, 0, 0}, request_for("tt-1", 1, 5000)));
  CHECK(promo_error(code, promo_usage{100, 0, 0}, request_for("tt-1", 1, 5000)) == pricing_errc::promo_exhausted);
  CHECK(promo_error(code, promo_usage{98, 0, 0}, request_for("tt-1", 3, 5000)) == pricing_errc::promo_exhausted);
  // Per buyer.
  CHECK(apply_promo(code, promo_usage{10, 3, 0}, request_for("tt-2", 1, 5000)));
  CHECK(promo_error(code, promo_usage{10, 4, 0}, request_for("tt-2", 1, 5000)) == pricing_errc::promo_buyer_limit);
  CHECK(promo_error(code, promo_usage{10, 2, 0}, request_for("tt-2", 3, 5000)) == pricing_errc::promo_buyer_limit);
  // Budget: 100.00 in all; 20 % of 50.00 = 10.00 a ticket.
  auto clipped = apply_promo(code, promo_usage{10, 0, 9'500}, request_for("tt-1", 2, 5000));
  REQUIRE(clipped);
  CHECK(clipped->budget_clipped);
  CHECK(clipped->discount_per_ticket_minor == 250);  // 5.00 left over 2 tickets
  CHECK(clipped->discount_minor == 500);
  auto uneven = apply_promo(code, promo_usage{10, 0, 9'999}, request_for("tt-1", 1, 5000));
  REQUIRE(uneven);
  CHECK(uneven->discount_minor == 1);
  CHECK(promo_error(code, promo_usage{10, 0, 9'999}, request_for("tt-1", 2, 5000)) ==
        pricing_errc::promo_budget_exhausted);
  CHECK(promo_error(code, promo_usage{10, 0, 10'000}, request_for("tt-1", 1, 5000)) ==
        pricing_errc::promo_budget_exhausted);
  CHECK(promo_error(code, promo_usage{10, 0, 12'000}, request_for("tt-1", 1, 5000)) ==
        pricing_errc::promo_budget_exhausted);
  // The order of checks: an expired code reports expiry even when also used up.
  CHECK(promo_error(code, promo_usage{100, 4, 10'000}, request_for("tt-3", 1, 5000, march_1 + 8 * day_ms)) ==
        pricing_errc::promo_expired);
  // A free ticket gets no discount and spends no budget, even when the budget is gone.
  auto free = apply_promo(code, promo_usage{10, 0, 10'000}, request_for("tt-1", 1, 0));
  REQUIRE(free);
  CHECK(free->discount_minor == 0);
  // Requests that make no sense.
  CHECK(apply_promo(code, fresh, request_for("tt-1", 0, 5000)).error().code == pricing_errc::quantity_out_of_range);
  CHECK(apply_promo(code, fresh, request_for("tt-1", 1, -5)).error().code == pricing_errc::amount_out_of_range);
  CHECK(apply_promo(code, promo_usage{-1, 0, 0}, request_for("tt-1", 1, 5)).error().code ==
        pricing_errc::invalid_request);
}

TEST_CASE("a code with 100 uses is used exactly 100 times") {
  auto code = percent_code("HUNDRED", 1000);
  code.uses_max = 100;
  promo_usage usage{};
  int granted = 0;
  for (int hold = 0; hold < 1000; ++hold) {
    auto grant = apply_promo(code, usage, request_for("tt-1", 1, 5000));
    if (!grant) {
      CHECK(grant.error().code == pricing_errc::promo_exhausted);
      continue;
    }
    ++granted;
    ++usage.uses;
    usage.discount_spent_minor += grant->discount_minor;
  }
  CHECK(granted == 100);
  // An expired hold gives its use back: exactly one more grant.
  --usage.uses;
  CHECK(apply_promo(code, usage, request_for("tt-1", 1, 5000)));
  CHECK_FALSE(apply_promo(code, usage, request_for("tt-1", 2, 5000)));
}

TEST_CASE("access codes unlock hidden ticket types in their scope and give no discount") {
  promo_code access;
  access.code = "BACKSTAGE";
  access.kind = promo_kind::access;
  access.ticket_type_ids = {"vip"};
  access.valid_until_ms = march_1;
  access.uses_max = 2;
  REQUIRE_FALSE(validate_promo_code(access));
  CHECK(unlocks_ticket_type(access, "vip", march_1 - 1));
  CHECK_FALSE(unlocks_ticket_type(access, "vip", march_1));               // expired
  CHECK_FALSE(unlocks_ticket_type(access, "general", 0));                 // not in scope
  CHECK_FALSE(unlocks_ticket_type(percent_code("TEN", 1000), "vip", 0));  // discount codes do not unlock
  auto grant = apply_promo(access, promo_usage{}, request_for("vip", 2, 25000, 0));
  REQUIRE(grant);
  CHECK(grant->discount_minor == 0);
  CHECK(grant->kind == promo_kind::access);
  CHECK(apply_promo(access, promo_usage{2, 0, 0}, request_for("vip", 1, 25000, 0)).error().code ==
        pricing_errc::promo_exhausted);
  promo_code everything = access;
  everything.ticket_type_ids.clear();
  CHECK(unlocks_ticket_type(everything, "general", 0));
}

TEST_CASE("inconsistent promo codes are refused at setup") {
  auto refused = [](const promo_code& code) {
    auto failure = validate_promo_code(code);
    REQUIRE(failure);
    CHECK(failure->code == pricing_errc::invalid_promo_code);
  };
  CHECK_FALSE(validate_promo_code(percent_code("OK-CODE_1", 1)));
  refused(percent_code("lower", 1000));  // not normalised
  refused(percent_code("AB", 1000));     // too short
  refused(percent_code("HAS SPACE", 1000));
  refused(percent_code("ZERO", 0));      // no discount
  refused(percent_code("MORE", 10001));  // above 100 %
  auto amount = percent_code("AMOUNT", 0);
  amount.kind = promo_kind::amount_off;
  refused(amount);  // zero amount
  amount.amount_minor = 500;
  CHECK_FALSE(validate_promo_code(amount));
  amount.percent_off = basis_points{100};
  refused(amount);  // both
  auto fixed = percent_code("FIXED", 0);
  fixed.kind = promo_kind::fixed_price;
  fixed.amount_minor = -1;
  refused(fixed);
  auto access = percent_code("ACCESS", 1000);
  access.kind = promo_kind::access;
  refused(access);  // access codes give no discount
  auto window = percent_code("WINDOW", 1000);
  window.valid_from_ms = march_1;
  window.valid_until_ms = march_1;
  refused(window);
  auto uses = percent_code("USES", 1000);
  uses.uses_max = 0;
  refused(uses);
  auto per_buyer = percent_code("BUYER", 1000);
  per_buyer.uses_per_buyer_max = 0;
  refused(per_buyer);
  auto budget = percent_code("BUDGET", 1000);
  budget.budget_minor = 0;
  refused(budget);
  auto scope = percent_code("SCOPE", 1000);
  scope.ticket_type_ids = {""};
  refused(scope);
}
