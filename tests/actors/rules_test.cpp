// Pure rules next to the actors: money formatting, ISO codes and RFC 3339 times.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "actors/checkout_actor.hpp"
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
  view.lines.push_back({{"tt_1", "Early \"bird\"", 3, 1500, "EUR", view.expires_at_ms}, "held"});
  view.lines.push_back({{"tt_2", "VIP", 1, 10000, "EUR", view.expires_at_ms}, "held"});
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
  CHECK(json.size() == 8);
}
