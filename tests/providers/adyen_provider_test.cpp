#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "actors/payments/webhook_signature.hpp"
#include "io/providers/adyen_provider.hpp"
#include "tests/providers/test_peer.hpp"
#include "tests/providers/test_support.hpp"

using namespace eventstripe;
using actors::provider_outcome;
using actors::refund_outcome;
using actors::webhook_verdict;
using io::providers::adyen_provider;
using io::providers::adyen_settings;
using json = nlohmann::json;
using test::http_answer;
using test::recorded_request;
using test::scripted_reply;
using test::test_peer;

namespace {

constexpr const char* api_key = "AQEyhmfxKo_AdyenApiKeyThatMustNeverLeak";
constexpr const char* current_hmac_key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
constexpr const char* previous_hmac_key = "00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF";

adyen_provider adyen_at(const std::string& url) {
  adyen_settings settings;
  settings.api_base = url;
  settings.api_key = api_key;
  settings.hmac_keys = {current_hmac_key, previous_hmac_key};
  settings.merchant_account = "EventStripeTest";
  settings.timeout_ms = std::chrono::milliseconds{2'000};
  return adyen_provider{settings};
}

actors::payment_request sample_request() {
  actors::payment_request request;
  request.payment_id = "pay_9";
  request.checkout_id = "co_123";
  request.attempt = 1;
  request.amount_minor = 4200;
  request.currency = "EUR";
  request.method = "card";
  request.method_token = "8415718415172204";
  request.buyer_email = "ada@example.com";
  request.buyer_country = "nl";
  request.return_url = "https://tickets.example/return?checkout=co_123";
  request.idempotency_key = actors::provider_idempotency_key(request.checkout_id, request.attempt);
  return request;
}

test_peer::script answering(int status, std::string body, std::string headers = {}) {
  return [status, body, headers](const recorded_request&) { return scripted_reply{http_answer(status, body, headers)}; };
}

std::string payment_answer(const std::string& result_code, const std::string& extra = {}) {
  return R"({"pspReference":"PSP0000000000001","resultCode":")" + result_code +
         R"(","amount":{"currency":"EUR","value":4200},"merchantReference":"co_123")" + extra + "}";
}

// One NotificationRequestItem, signed under `key` over the fields as given.
json notification_item(const std::string& psp, const std::string& original, const std::string& event_code,
                       bool success, std::int64_t value, const std::string& key) {
  auto message = actors::payments::adyen_signing_message(psp, original, "EventStripeTest", "co_123", value, "EUR",
                                                         event_code, success);
  auto signature = actors::payments::sign_adyen(key, message);
  REQUIRE(signature.has_value());
  return {{"NotificationRequestItem",
           {{"additionalData", {{"hmacSignature", *signature}}},
            {"amount", {{"currency", "EUR"}, {"value", value}}},
            {"eventCode", event_code},
            {"eventDate", "2026-11-26T17:00:00+01:00"},
            {"merchantAccountCode", "EventStripeTest"},
            {"merchantReference", "co_123"},
            {"originalReference", original},
            {"pspReference", psp},
            {"reason", ""},
            {"success", success ? "true" : "false"}}}};
}

std::string notification(std::vector<json> items) {
  return json{{"live", "false"}, {"notificationItems", std::move(items)}}.dump();
}

}  // namespace

TEST_CASE("Adyen create makes no call; confirm POSTs /v71/payments with the stored card and our references") {
  test_peer peer{answering(200, payment_answer("Authorised"))};
  auto adyen = adyen_at(peer.url());
  auto created = adyen.create(sample_request());
  CHECK(created.outcome == provider_outcome::created);
  CHECK(created.reference.empty());
  CHECK(peer.requests().empty());

  auto result = adyen.confirm(sample_request(), "");
  CHECK(result.outcome == provider_outcome::succeeded);
  CHECK(result.reference == "PSP0000000000001");
  CHECK(result.amount_minor == 4200);
  CHECK(result.currency == "EUR");

  auto sent = peer.requests().at(0);
  CHECK(sent.method == "POST");
  CHECK(sent.target == "/v71/payments");
  CHECK(sent.headers.at("x-api-key") == api_key);
  CHECK(sent.headers.at("idempotency-key") == "es_co_123_a1_confirm");
  CHECK(sent.headers.at("content-type") == "application/json");
  auto body = json::parse(sent.body);
  CHECK(body.at("amount") == json{{"value", 4200}, {"currency", "EUR"}});
  CHECK(body.at("reference") == "co_123");
  CHECK(body.at("merchantAccount") == "EventStripeTest");
  CHECK(body.at("paymentMethod") == json{{"type", "scheme"}, {"storedPaymentMethodId", "8415718415172204"}});
  CHECK(body.at("returnUrl") == "https://tickets.example/return?checkout=co_123");
  CHECK(body.at("shopperEmail") == "ada@example.com");
  CHECK(body.at("countryCode") == "NL");
  CHECK(body.at("metadata") == json{{"payment_id", "pay_9"}, {"attempt", "1"}});
}

TEST_CASE("Adyen resultCodes map to outcomes") {
  struct expectation {
    std::string result_code;
    provider_outcome outcome;
  };
  for (const auto& [code, outcome] : std::vector<expectation>{{"Authorised", provider_outcome::succeeded},
                                                              {"Refused", provider_outcome::declined},
                                                              {"Error", provider_outcome::declined},
                                                              {"Cancelled", provider_outcome::cancelled},
                                                              {"RedirectShopper", provider_outcome::requires_action},
                                                              {"ChallengeShopper", provider_outcome::requires_action},
                                                              {"IdentifyShopper", provider_outcome::requires_action},
                                                              {"Pending", provider_outcome::processing},
                                                              {"Received", provider_outcome::processing},
                                                              {"SomethingNew", provider_outcome::unknown}}) {
    INFO(code);
    test_peer peer{answering(200, payment_answer(code))};
    CHECK(adyen_at(peer.url()).confirm(sample_request(), "").outcome == outcome);
  }

  test_peer refused{answering(200, payment_answer("Refused", R"(,"refusalReason":"Not enough balance","refusalReasonCode":"12")"))};
  auto declined = adyen_at(refused.url()).confirm(sample_request(), "");
  CHECK(declined.decline_code == "Not enough balance");

  test_peer redirect{answering(200, payment_answer("RedirectShopper", R"(,"action":{"type":"redirect","method":"GET",)"
                                                                      R"("url":"https://checkoutshopper-test.adyen.com/3ds"})"))};
  CHECK(adyen_at(redirect.url()).confirm(sample_request(), "").action_url == "https://checkoutshopper-test.adyen.com/3ds");
}

TEST_CASE("Adyen retrieve repeats the same POST under the same key, so Adyen answers with the stored result") {
  test_peer peer{answering(200, payment_answer("Authorised"))};
  auto adyen = adyen_at(peer.url());
  adyen.confirm(sample_request(), "");
  auto retrieved = adyen.retrieve(sample_request(), "PSP0000000000001");
  CHECK(retrieved.outcome == provider_outcome::succeeded);
  auto seen = peer.requests();
  REQUIRE(seen.size() == 2);
  CHECK(seen[1].target == seen[0].target);
  CHECK(seen[1].headers.at("idempotency-key") == seen[0].headers.at("idempotency-key"));
  CHECK(seen[1].body == seen[0].body);
}

TEST_CASE("Adyen failures: 5xx and in-flight keys are unknown, a refused connection fails over, 4xx are rejected") {
  test_peer server_error{answering(500, R"({"status":500,"errorCode":"905","message":"Payment details are not supported"})")};
  CHECK(adyen_at(server_error.url()).confirm(sample_request(), "").outcome == provider_outcome::unknown);
  CHECK(adyen_at(server_error.url()).retrieve(sample_request(), "").outcome == provider_outcome::unknown);

  test_peer in_progress{answering(422, R"({"status":422,"errorCode":"704","message":"request already processed or in progress"})",
                                  "Transient-Error: true\r\n")};
  CHECK(adyen_at(in_progress.url()).confirm(sample_request(), "").outcome == provider_outcome::unknown);

  test_peer invalid{answering(422, R"({"status":422,"errorCode":"14_030","message":"Return URL is missing."})")};
  auto rejected = adyen_at(invalid.url()).confirm(sample_request(), "");
  CHECK(rejected.outcome == provider_outcome::rejected);
  CHECK(rejected.decline_code == "14_030");
  // A read that is refused says nothing about the payment.
  CHECK(adyen_at(invalid.url()).retrieve(sample_request(), "").outcome == provider_outcome::unknown);

  auto unreachable = adyen_at("http://127.0.0.1:" + std::to_string(test::refused_port()));
  CHECK(unreachable.confirm(sample_request(), "").outcome == provider_outcome::failed_before_acceptance);
  CHECK(unreachable.retrieve(sample_request(), "").outcome == provider_outcome::unknown);

  test::log_capture logs;
  test_peer echoing{answering(401, std::string{R"({"status":401,"errorCode":"000","message":"HTTP Status Response - Unauthorized: )"} +
                                        api_key + "\"}")};
  auto unauthorised = adyen_at(echoing.url()).confirm(sample_request(), "");
  CHECK(unauthorised.outcome == provider_outcome::rejected);
  CHECK(unauthorised.message.find(api_key) == std::string::npos);
  CHECK(logs.text().find("Unauthorized") != std::string::npos);
  CHECK(logs.text().find(api_key) == std::string::npos);
}

TEST_CASE("Adyen cancel and refund address the payment's pspReference and are accepted as received") {
  test_peer cancel_peer{answering(201, R"({"merchantAccount":"EventStripeTest","paymentPspReference":"PSP0000000000001",)"
                                       R"("pspReference":"MOD0000000000002","reference":"co_123","status":"received"})")};
  auto adyen = adyen_at(cancel_peer.url());
  auto cancelled = adyen.cancel(sample_request(), "PSP0000000000001");
  CHECK(cancelled.outcome == provider_outcome::cancelled);
  CHECK(cancelled.reference == "PSP0000000000001");
  auto cancel_sent = cancel_peer.requests().at(0);
  CHECK(cancel_sent.target == "/v71/payments/PSP0000000000001/cancels");
  CHECK(cancel_sent.headers.at("idempotency-key") == "es_co_123_a1_cancel");
  CHECK(json::parse(cancel_sent.body).at("merchantAccount") == "EventStripeTest");
  CHECK(adyen.cancel(sample_request(), "").outcome == provider_outcome::rejected);
  CHECK(cancel_peer.requests().size() == 1);

  test_peer refund_peer{answering(201, R"({"pspReference":"REF0000000000003","status":"received"})")};
  auto refund = adyen_at(refund_peer.url()).refund({"rf_7", "PSP0000000000001", 1000, "eur", "es_refund_rf_7"});
  CHECK(refund.outcome == refund_outcome::pending);
  CHECK(refund.reference == "REF0000000000003");
  auto refund_sent = refund_peer.requests().at(0);
  CHECK(refund_sent.target == "/v71/payments/PSP0000000000001/refunds");
  CHECK(refund_sent.headers.at("idempotency-key") == "es_refund_rf_7");
  auto body = json::parse(refund_sent.body);
  CHECK(body.at("amount") == json{{"value", 1000}, {"currency", "EUR"}});
  CHECK(body.at("reference") == "rf_7");
}

TEST_CASE("Adyen notifications: every item must be signed under a configured key, or the request is refused") {
  auto adyen = adyen_at("http://127.0.0.1:1");
  auto now = std::chrono::system_clock::now();
  auto authorisation = notification_item("PSP0000000000001", "", "AUTHORISATION", true, 4200, current_hmac_key);
  auto refund = notification_item("REF0000000000003", "PSP0000000000001", "REFUND", true, 1000, previous_hmac_key);

  auto accepted = adyen.verify_webhook({}, notification({authorisation, refund}), now);
  REQUIRE(accepted.verdict == webhook_verdict::accepted);
  CHECK(accepted.acknowledgement == "[accepted]");
  REQUIRE(accepted.hints.size() == 2);
  CHECK(accepted.hints[0].event_id == "PSP0000000000001:AUTHORISATION:true");
  CHECK(accepted.hints[0].type == "AUTHORISATION");
  CHECK(accepted.hints[0].reference == "PSP0000000000001");
  CHECK(accepted.hints[0].merchant_reference == "co_123");
  CHECK(accepted.hints[0].success);
  CHECK(accepted.hints[1].event_id == "REF0000000000003:REFUND:true");
  CHECK(accepted.hints[1].reference == "PSP0000000000001");  // the refunded payment

  auto tampered = notification_item("PSP0000000000004", "", "AUTHORISATION", false, 4200, current_hmac_key);
  tampered["NotificationRequestItem"]["success"] = "true";  // a refusal turned into a success
  auto refused = adyen.verify_webhook({}, notification({authorisation, tampered}), now);
  CHECK(refused.verdict == webhook_verdict::bad_signature);
  CHECK(refused.hints.empty());
  CHECK(refused.acknowledgement.empty());

  auto unknown_key = notification_item("PSP0000000000005", "", "AUTHORISATION", true, 4200,
                                       "FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100");
  CHECK(adyen.verify_webhook({}, notification({unknown_key}), now).verdict == webhook_verdict::bad_signature);

  auto unsigned_item = authorisation;
  unsigned_item["NotificationRequestItem"].erase("additionalData");
  CHECK(adyen.verify_webhook({}, notification({unsigned_item}), now).verdict == webhook_verdict::missing_signature);

  CHECK(adyen.verify_webhook({}, "[accepted]", now).verdict == webhook_verdict::malformed);
  CHECK(adyen.verify_webhook({}, notification({}), now).verdict == webhook_verdict::malformed);
  auto without_amount = authorisation;
  without_amount["NotificationRequestItem"].erase("amount");
  CHECK(adyen.verify_webhook({}, notification({without_amount}), now).verdict == webhook_verdict::malformed);
}

TEST_CASE("an Adyen account with a HMAC key that is not hex is refused at construction") {
  adyen_settings settings;
  settings.api_base = "https://checkout-test.adyen.com";
  settings.api_key = api_key;
  settings.merchant_account = "EventStripeTest";
  settings.hmac_keys = {current_hmac_key, "not-hex"};
  CHECK_THROWS_AS(adyen_provider{settings}, std::invalid_argument);
}
