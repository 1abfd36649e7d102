// Pure rules next to the actors: money formatting, ISO codes and RFC 3339 times.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "actors/checkout_actor.hpp"
#include "actors/hold_pricing.hpp"
#include "actors/pricing/quote_json.hpp"
#include "actors/promo_ledger.hpp"
#include "actors/json_text.hpp"
#include "actors/money.hpp"
#include "actors/time_format.hpp"

using namespace eventstripe::actors;

TEST_CASE("amounts are shown in the currency's own number of decimals") {
  CHECK(decimal_string(11900, "EUR") == "119.00");
  CHECK(decimal_string(5, "EUR") == "0.05");
  CHECK(decimal_string(0, "EUR") == "0.00");
  CHECK(decimal_string(1234, "JPY") == "1234");
  CHECK(decimal_string(1234, "KWD") == "1.234");
  CHECK(decimal_string(7, "KWD") == "0.007");
  CHECK(decimal_string(-250, "USD") == "-2.50");
  CHECK(decimal_string(std::numeric_limits<std::int64_t>::min(), "EUR") == "-92233720368547758.08");
}

TEST_CASE("only ISO 4217 currencies and ISO 3166 countries are accepted") {
  CHECK(currency_exponent("EUR") == 2);
  CHECK(currency_exponent("JPY") == 0);
  CHECK(currency_exponent("KWD") == 3);
  CHECK_FALSE(currency_exponent("EURO"));
  CHECK_FALSE(currency_exponent("eur"));
  CHECK_FALSE(currency_exponent("XXX"));
  CHECK(is_country_code("DE"));
  CHECK(is_country_code("GB"));
  CHECK_FALSE(is_country_code("UK"));
  CHECK_FALSE(is_country_code("ZZ"));
  CHECK_FALSE(is_country_code("de"));
}

TEST_CASE("RFC 3339 times with a zone become unix milliseconds; anything else is refused") {
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_rfc3339("2027-03-01T19:30:00+01:00") == parse_rfc3339("2027-03-01T18:30:00Z"));
  CHECK(parse_rfc3339("2027-03-01T18:30:00.250Z") == *parse_rfc3339("2027-03-01T18:30:00Z") + 250);
  CHECK(parse_rfc3339("2027-03-01T18:30:00.1Z") == *parse_rfc3339("2027-03-01T18:30:00Z") + 100);
  CHECK(parse_rfc3339("2027-03-01T18:30:00-05:30") == *parse_rfc3339("2027-03-02T00:00:00Z"));
  for (const char* bad : {"2027-03-01T18:30:00", "2027-03-01 18:30:00Z", "2027-02-30T10:00:00Z", "2027-13-01T10:00:00Z",
                          "2027-03-01T24:00:00Z", "2027-03-01T18:30:00.Z", "yesterday", "", "2027-03-01T18:30:00Zjunk"}) {
    INFO(bad);
    CHECK_FALSE(parse_rfc3339(bad));
  }
  CHECK(iso8601_ms(*parse_rfc3339("2027-03-01T18:30:00.250Z")) == "2027-03-01T18:30:00.250Z");
}

TEST_CASE("time zones are IANA names known to the tz database, never paths") {
  CHECK(is_time_zone("Europe/Berlin"));
  CHECK(is_time_zone("UTC"));
  CHECK_FALSE(is_time_zone("Europe/Atlantis"));
  CHECK_FALSE(is_time_zone("../../etc/passwd"));
  CHECK_FALSE(is_time_zone("/etc/passwd"));
  CHECK_FALSE(is_time_zone(""));
}

TEST_CASE("hand-written JSON escapes what JSON requires and reads back to the same strings") {
  std::string awkward = "Quote \" backslash \\ newline \n tab \t bell \x07 Gr\u00fc\u00dfe \xe2\x82\xac";
  std::string out;
  append_json_string(out, awkward);
  CHECK(nlohmann::json::parse(out).get<std::string>() == awkward);
  CHECK(out.find('\n') == std::string::npos);
  CHECK(out.find("\\u0007") != std::string::npos);
}

TEST_CASE("a checkout's JSON has the documented shape, amounts in both forms and lines that add up") {
  checkout_view view;
  view.id = "co_aaaaaaaaaaaaaaaaaaaa";
  view.event_id = "ev_bbbbbbbbbbbbbbbbbbbb";
  view.status = "held";
  view.buyer_email = "o'brien@example.com";
  view.expires_at_ms = 1'700'000'000'123;
  line_pricing taxed;
  taxed.tax_rate_bp = 1900;
  view.lines.push_back({{"tt_1", "Early \"bird\"", 3, 1500, "EUR", view.expires_at_ms, taxed}, "held"});
  view.lines.push_back({{"tt_2", "VIP", 1, 10000, "EUR", view.expires_at_ms, taxed}, "held"});
  auto json = nlohmann::json::parse(checkout_json(view));
  CHECK(json["id"] == view.id);
  CHECK(json["event_id"] == view.event_id);
  CHECK(json["status"] == "held");
  CHECK(json["buyer_email"] == view.buyer_email);
  CHECK(json["expires_at"] == "2023-11-14T22:13:20.123Z");
  CHECK(json["extended"] == false);
  REQUIRE(json["items"].size() == 2);
  CHECK(json["items"][0]["name"] == "Early \"bird\"");
  CHECK(json["items"][0]["quantity"] == 3);
  CHECK(json["items"][0]["unit_price"] == money_json(1500, "EUR"));
  CHECK(json["items"][0]["amount"] == money_json(4500, "EUR"));
  CHECK(json["items"][1]["status"] == "held");
  CHECK(json["total"] == money_json(14500, "EUR"));
  CHECK(json.size() == 9);
  // The quote: 19 % included, per line (45.00 -> 7.18, 100.00 -> 15.97), lines add up.
  const auto& quote = json["quote"];
  CHECK(quote["tax_mode"] == "inclusive");
  CHECK(quote["lines"][0]["tax"] == money_json(718, "EUR"));
  CHECK(quote["lines"][1]["tax"] == money_json(1597, "EUR"));
  CHECK(quote["totals"]["tax"] == money_json(2315, "EUR"));
  CHECK(quote["totals"]["gross"] == money_json(14500, "EUR"));
  CHECK(quote["totals"]["net"] == money_json(12185, "EUR"));
  // Written by hand, it is exactly what the pricing rules' own JSON says.
  auto priced = quote_of(view);
  REQUIRE(priced);
  CHECK(quote == pricing::quote_json(*priced));
}

TEST_CASE("a quote written by hand equals the pricing rules' JSON for discounts, fees and reverse charge") {
  checkout_view view;
  view.taxation = {true, true, "DE123456789"};
  line_pricing line;
  line.tax_rate_bp = 700;
  line.tier = "Early bird";
  line.promo_code_id = "pc_aaaaaaaaaaaaaaaaaaaa";
  line.promo_code = "SPRING-10";
  line.discount_per_ticket_minor = 250;
  line.fee_fixed_minor = 100;
  line.fee_percent_bp = 250;
  line.fee_capped = true;
  line.fee_cap_minor = 150;
  view.lines.push_back({{"tt_1", "Standing", 2, 2500, "EUR", 0, line}, "held"});
  auto priced = quote_of(view);
  REQUIRE(priced);
  std::string text;
  append_quote_json(text, *priced);
  auto json = nlohmann::json::parse(text);
  CHECK(json == pricing::quote_json(*priced));
  CHECK(json["reverse_charge"] == true);
  CHECK(json["lines"][0]["promo_code"] == "SPRING-10");
  CHECK(json["lines"][0]["discount"] == money_json(500, "EUR"));
  CHECK(json["lines"][0]["tax"] == money_json(0, "EUR"));
  CHECK(json["notes"].size() == 1);
}

TEST_CASE("the promo ledger counts reserved uses at once and gives back exactly what an ended line took") {
  promo_ledger ledger;
  ledger.set_committed("pc_1", 5, 1000);            // PostgreSQL: 5 tickets, 10.00 off so far
  ledger.set_committed_buyer("pc_1", "a@x.dev", 2);
  ledger.adopt_line("co_old", "tt_a", "pc_1", "a@x.dev", 2, 400);
  CHECK(ledger.usage("pc_1", "a@x.dev").uses == 5);
  CHECK(ledger.usage("pc_1", "a@x.dev").buyer_uses == 2);
  CHECK(ledger.usage("pc_1", "b@x.dev").buyer_uses == 0);

  ledger.reserve("co_1", "tt_a", "pc_1", "b@x.dev", 3, 900);  // allowance: the most it can take off
  auto reserved = ledger.usage("pc_1", "b@x.dev");
  CHECK(reserved.uses == 8);
  CHECK(reserved.buyer_uses == 3);
  CHECK(reserved.discount_spent_minor == 1900);
  ledger.settle("co_1", "tt_a", 600);  // the tier was cheaper than the worst case
  CHECK(ledger.usage("pc_1", "b@x.dev").discount_spent_minor == 1600);
  // Reserving the same line again (a retry) replaces the first reservation.
  ledger.reserve("co_1", "tt_a", "pc_1", "b@x.dev", 3, 600);
  CHECK(ledger.usage("pc_1", "b@x.dev").uses == 8);
  CHECK(ledger.usage("pc_1", "b@x.dev").discount_spent_minor == 1600);

  ledger.release("co_1", "tt_a");
  CHECK(ledger.usage("pc_1", "b@x.dev").uses == 5);
  CHECK(ledger.usage("pc_1", "b@x.dev").buyer_uses == 0);
  CHECK(ledger.usage("pc_1", "b@x.dev").discount_spent_minor == 1000);
  ledger.release("co_1", "tt_a");  // twice changes nothing
  CHECK(ledger.usage("pc_1", "b@x.dev").uses == 5);

  ledger.reserve("co_2", "tt_a", "pc_1", "c@x.dev", 1, 100);
  ledger.reserve("co_2", "tt_b", "pc_1", "c@x.dev", 1, 100);
  ledger.release("co_old");  // a line loaded from PostgreSQL gives back its share too
  CHECK(ledger.usage("pc_1", "a@x.dev").uses == 5);
  CHECK(ledger.usage("pc_1", "a@x.dev").buyer_uses == 0);
  ledger.release("co_2");  // every line of the checkout
  CHECK(ledger.usage("pc_1", "c@x.dev").uses == 3);
  CHECK(ledger.usage("pc_1", "c@x.dev").discount_spent_minor == 600);
}
