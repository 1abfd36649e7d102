// The shipped payment-method catalogue: it parses, covers every category, and offers a buyer
// only the methods valid for both their currency and their country.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <set>
#include <string>
#include <vector>

#include "actors/payments/method_catalogue.hpp"

using namespace eventstripe::actors::payments;

namespace {

std::set<std::string> ids_of(const std::vector<const method*>& methods) {
  std::set<std::string> ids;
  for (const auto* m : methods) ids.insert(m->id);
  return ids;
}

constexpr std::array<method_category, 8> all_categories = {
    method_category::card,   method_category::wallet,  method_category::bank_redirect, method_category::direct_debit,
    method_category::bnpl,   method_category::voucher, method_category::regional,      method_category::bank_transfer};

std::string with_method(const std::string& method_json) {
  return R"({"version": 1, "methods": [)" + method_json + "]}";
}

const std::string valid_method =
    R"({"id": "ideal", "name": "iDEAL", "category": "bank_redirect", "countries": ["NL"], "currencies": ["EUR"], )"
    R"("providers": ["stripe", "adyen"], "needs_redirect": true})";

}  // namespace

TEST_CASE("the shipped catalogue parses and holds at least 50 methods in every category") {
  auto parsed = parse_method_catalogue(embedded_method_catalogue_json());
  INFO((parsed ? std::string() : parsed.error().detail));
  REQUIRE(parsed);
  const auto& methods = method_catalogue().methods();
  CHECK(methods.size() >= 50);
  CHECK(methods.size() == parsed->methods().size());
  for (auto category : all_categories) {
    INFO(to_string(category));
    CHECK(std::any_of(methods.begin(), methods.end(), [&](const method& m) { return m.category == category; }));
  }
  std::set<std::string> ids;
  for (const auto& m : methods) {
    INFO(m.id);
    CHECK(ids.insert(m.id).second);
    CHECK_FALSE(m.name.empty());
    CHECK_FALSE(m.providers.empty());
    CHECK((m.any_country || !m.countries.empty()));
    CHECK((m.any_currency || !m.currencies.empty()));
    // Only the offline bank transfer is offered without a provider, and it is offered by nothing else.
    CHECK(m.offered_by("offline") == (m.category == method_category::bank_transfer));
  }
}

TEST_CASE("the catalogue names the methods the brief promises") {
  for (const char* id : {"visa", "mastercard", "amex", "apple_pay", "google_pay", "paypal", "alipay", "wechat_pay",
                         "ideal", "bancontact", "eps", "przelewy24", "blik", "klarna", "trustly", "twint", "mobilepay",
                         "swish", "vipps", "sepa_debit", "bacs_debit", "ach_debit", "becs_debit", "afterpay_clearpay",
                         "affirm", "zip", "boleto", "oxxo", "konbini", "multibanco", "pix", "upi", "paynow",
                         "promptpay", "grabpay", "fpx", "bank_transfer"}) {
    INFO(id);
    CHECK(find_method(id) != nullptr);
  }
  CHECK(find_method("sofort_typo") == nullptr);
  CHECK(find_method("") == nullptr);
  const auto* ideal = find_method("ideal");
  REQUIRE(ideal);
  CHECK(ideal->name == "iDEAL");
  CHECK(ideal->category == method_category::bank_redirect);
  CHECK(ideal->needs_redirect);
  CHECK(ideal->offered_by("stripe"));
  CHECK(ideal->offered_by("adyen"));
  CHECK_FALSE(ideal->offered_by("offline"));
}

TEST_CASE("a Dutch buyer paying in euros is offered iDEAL; an American paying in dollars is not") {
  auto dutch = ids_of(methods_for("EUR", "NL"));
  CHECK(dutch.count("ideal") == 1);
  CHECK(dutch.count("sepa_debit") == 1);
  CHECK(dutch.count("visa") == 1);
  CHECK(dutch.count("bancontact") == 0);  // Belgium only
  auto american = ids_of(methods_for("USD", "US"));
  CHECK(american.count("ideal") == 0);
  CHECK(american.count("ach_debit") == 1);
  CHECK(american.count("affirm") == 1);
  CHECK(american.count("visa") == 1);
  // Currency and country must both fit: iDEAL is not offered to a Dutch buyer paying in dollars,
  // nor to an American paying in euros.
  CHECK(ids_of(methods_for("USD", "NL")).count("ideal") == 0);
  CHECK(ids_of(methods_for("EUR", "US")).count("ideal") == 0);
}

TEST_CASE("a Brazilian buyer paying in reais is offered Pix and Boleto") {
  auto brazilian = ids_of(methods_for("BRL", "BR"));
  CHECK(brazilian.count("pix") == 1);
  CHECK(brazilian.count("boleto") == 1);
  CHECK(ids_of(methods_for("EUR", "BR")).count("pix") == 0);
  CHECK(ids_of(methods_for("BRL", "PT")).count("boleto") == 0);
}

TEST_CASE("bank transfer is offered for every currency and country") {
  for (const auto& [currency, country] : std::vector<std::pair<std::string, std::string>>{
           {"EUR", "NL"}, {"USD", "US"}, {"JPY", "JP"}, {"KWD", "KW"}, {"XYZ", "ZZ"}, {"BRL", "BR"}}) {
    INFO(currency << " " << country);
    CHECK(ids_of(methods_for(currency, country)).count("bank_transfer") == 1);
  }
  const auto* transfer = find_method("bank_transfer");
  REQUIRE(transfer);
  CHECK(transfer->providers == std::vector<std::string>{"offline"});
  CHECK_FALSE(transfer->needs_redirect);
}

TEST_CASE("an unknown currency is offered only the methods that take any currency") {
  auto offered = methods_for("XYZ", "US");
  REQUIRE_FALSE(offered.empty());
  for (const auto* m : offered) {
    INFO(m->id);
    CHECK(m->any_currency);
  }
  // Unknown currency and unknown country: exactly the worldwide, any-currency methods.
  std::set<std::string> worldwide_any_currency;
  for (const auto& m : method_catalogue().methods())
    if (m.any_country && m.any_currency) worldwide_any_currency.insert(m.id);
  auto unknown = ids_of(methods_for("XYZ", "ZZ"));
  CHECK(unknown == worldwide_any_currency);
  CHECK(unknown.count("visa") == 1);
  CHECK(unknown.count("bank_transfer") == 1);
  CHECK(unknown.count("paypal") == 0);  // PayPal settles in its own list of currencies
  // Codes are upper case, as everywhere in the API.
  CHECK(ids_of(methods_for("eur", "nl")).count("ideal") == 0);
}

TEST_CASE("methods_for keeps the file's order") {
  auto offered = methods_for("EUR", "NL");
  const auto& all = method_catalogue().methods();
  for (std::size_t i = 1; i < offered.size(); ++i) CHECK(offered[i - 1] < offered[i]);
  CHECK(offered.front() == &all.front());
}

TEST_CASE("a catalogue with a broken entry is refused with the method and field named") {
  CHECK(parse_method_catalogue(with_method(valid_method)));
  struct bad_case {
    std::string text;
    std::string mentions;
  };
  std::vector<bad_case> cases = {
      {"", "not a JSON object"},
      {"[]", "not a JSON object"},
      {R"({"version": 2, "methods": [)" + valid_method + "]}", "version"},
      {R"({"version": 1, "methods": []})", "methods"},
      {with_method(valid_method + "," + valid_method), "used twice"},
      {with_method(R"({"id": "Bad-Id", "name": "x", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "id"},
      {with_method(R"({"id": "x", "name": "", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "name"},
      {with_method(R"({"id": "x", "name": "X", "category": "crypto", "countries": "*", "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "category"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": ["NLD"], "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "countries"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": ["nl"], "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "countries"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": ["NL", "NL"], "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "twice"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": [], "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "countries"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "all", "currencies": "*", "providers": ["stripe"], "needs_redirect": false})"), "countries"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": ["EU"], "providers": ["stripe"], "needs_redirect": false})"), "currencies"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": ["EURO"], "providers": ["stripe"], "needs_redirect": false})"), "currencies"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": [], "needs_redirect": false})"), "providers"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": ["paypal"], "needs_redirect": false})"), "providers"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe", "stripe"], "needs_redirect": false})"), "twice"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe"], "needs_redirect": "no"})"), "needs_redirect"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe"]})"), "needs_redirect"},
      {with_method(R"({"id": "x", "name": "X", "category": "card", "countries": "*", "currencies": "*", "providers": ["stripe"], "needs_redirect": false, "need_redirect": true})"), "unknown field"},
      {with_method(R"("ideal")"), "not an object"},
  };
  for (const auto& bad : cases) {
    INFO(bad.text);
    auto parsed = parse_method_catalogue(bad.text);
    REQUIRE_FALSE(parsed);
    INFO(parsed.error().detail);
    CHECK(parsed.error().detail.find(bad.mentions) != std::string::npos);
  }
}

TEST_CASE("categories have stable names that read back") {
  for (auto category : all_categories) CHECK(parse_method_category(to_string(category)) == category);
  CHECK(std::string(to_string(method_category::bank_redirect)) == "bank_redirect");
  CHECK_FALSE(parse_method_category("Card"));
  CHECK_FALSE(parse_method_category(""));
}
