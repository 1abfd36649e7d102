#include <catch2/catch.hpp>

#include <regex>

#include "config/settings.hpp"
#include "io/providers/offline_provider.hpp"
#include "io/providers/registry.hpp"
#include "tests/providers/test_peer.hpp"

using namespace eventstripe;
using actors::provider_outcome;
using io::providers::offline_provider;
using io::providers::provider_registry;

TEST_CASE("an offline transfer reference is ES- and 10 unambiguous characters, the same for the same checkout") {
  auto reference = io::providers::transfer_reference("co_123");
  CHECK(std::regex_match(reference, std::regex{"ES-[0-9A-HJKMNP-TV-Z]{10}"}));
  CHECK(reference == io::providers::transfer_reference("co_123"));
  CHECK(reference != io::providers::transfer_reference("co_124"));
}

TEST_CASE("the offline provider awaits the transfer: created, then processing until marked paid; refunds by hand") {
  offline_provider offline;
  actors::payment_request request;
  request.checkout_id = "co_123";
  request.amount_minor = 1500;
  request.currency = "EUR";
  auto created = offline.create(request);
  CHECK(created.outcome == provider_outcome::created);
  CHECK(created.reference == io::providers::transfer_reference("co_123"));
  CHECK(created.amount_minor == 1500);
  CHECK(offline.confirm(request, created.reference).outcome == provider_outcome::processing);
  CHECK(offline.retrieve(request, created.reference).outcome == provider_outcome::processing);
  CHECK(offline.retrieve(request, created.reference).reference == created.reference);
  CHECK(offline.cancel(request, created.reference).outcome == provider_outcome::cancelled);
  CHECK(offline.refund({"rf_1", created.reference, 1500, "EUR", "k"}).outcome == actors::refund_outcome::pending);
  CHECK(offline.verify_webhook({}, "{}", std::chrono::system_clock::now()).verdict == actors::webhook_verdict::malformed);
  CHECK(offline.kind() == "offline");
}

TEST_CASE("comma-separated secrets are split and trimmed, empty items dropped") {
  using io::providers::split_comma_list;
  CHECK(split_comma_list("whsec_new, whsec_old ,,\twhsec_older\t") ==
        std::vector<std::string>{"whsec_new", "whsec_old", "whsec_older"});
  CHECK(split_comma_list("").empty());
  CHECK(split_comma_list(" , ").empty());
  CHECK(split_comma_list("one") == std::vector<std::string>{"one"});
}

TEST_CASE("the registry builds stripe and adyen only when their API base is set, offline always") {
  config::settings values;
  provider_registry only_offline{values};
  REQUIRE(only_offline.providers().size() == 1);
  CHECK(only_offline.find("offline") != nullptr);
  CHECK(only_offline.find("stripe") == nullptr);

  values.stripe_api_base = "https://api.stripe.com";
  values.stripe_secret_key = "sk_test_x";
  values.stripe_webhook_secrets = "whsec_a, whsec_b";
  values.adyen_api_base = "https://checkout-test.adyen.com";
  values.adyen_api_key = "adyen_key";
  values.adyen_hmac_keys = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056 , 0011";
  provider_registry all{values};
  REQUIRE(all.providers().size() == 3);
  CHECK(all.find("stripe")->kind() == "stripe");
  CHECK(all.find("adyen")->kind() == "adyen");
  CHECK(all.find("offline")->kind() == "offline");
  CHECK(all.find("paypal") == nullptr);
}

TEST_CASE("the registry refuses an account it cannot set up, naming the configuration key") {
  config::settings values;
  values.stripe_api_base = "https://api.stripe.com";
  auto message_of = [](const config::settings& tried) -> std::string {
    try {
      provider_registry registry{tried};
    } catch (const std::invalid_argument& problem) {
      return problem.what();
    }
    return "";
  };
  CHECK(message_of(values).find("payments.stripe.secret_key") != std::string::npos);
  values.stripe_secret_key = "sk_test_x";
  values.stripe_api_base = "api.stripe.com";
  CHECK(message_of(values).find("payments.stripe") != std::string::npos);
  values.stripe_api_base = "https://api.stripe.com";
  values.payments_ca_file = "/nonexistent/ca.pem";
  CHECK(message_of(values).find("/nonexistent/ca.pem") != std::string::npos);
  values.payments_ca_file.clear();

  values.adyen_api_base = "https://checkout-test.adyen.com";
  values.adyen_api_key = "adyen_key";
  values.adyen_hmac_keys = "zz";
  CHECK(message_of(values).find("payments.adyen") != std::string::npos);
  // The key itself is a secret and stays out of the message.
  values.adyen_hmac_keys = "secret-but-not-hex";
  CHECK(message_of(values).find("secret-but-not-hex") == std::string::npos);
}

TEST_CASE("the registry's accounts use the configured provider timeout") {
  test::test_peer silent{[](const test::recorded_request&) { return test::scripted_reply{{}, true}; }};
  config::settings values;
  values.stripe_api_base = silent.url();
  values.stripe_secret_key = "sk_test_x";
  values.provider_timeout_ms = std::chrono::milliseconds{200};
  provider_registry registry{values};
  actors::payment_request request;
  request.checkout_id = "co_1";
  request.idempotency_key = actors::provider_idempotency_key("co_1", 1);
  auto started = std::chrono::steady_clock::now();
  CHECK(registry.find("stripe")->confirm(request, "pi_1").outcome == provider_outcome::unknown);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds{1'500});
}
