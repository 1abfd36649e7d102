#include <catch2/catch.hpp>

#include "actors/payments/webhook_signature.hpp"
#include "io/providers/stripe_provider.hpp"
#include "tests/providers/test_peer.hpp"
#include "tests/providers/test_support.hpp"

using namespace eventstripe;
using actors::provider_outcome;
using actors::refund_outcome;
using actors::webhook_verdict;
using io::providers::stripe_provider;
using io::providers::stripe_settings;
using test::http_answer;
using test::recorded_request;
using test::scripted_reply;
using test::test_peer;
using std::chrono::milliseconds;

namespace {

constexpr const char* secret_key = "sk_test_51SecretKeyThatMustNeverLeak";

stripe_provider stripe_at(const std::string& url, std::string ca_file = {}, milliseconds timeout = milliseconds{2'000}) {
  stripe_settings settings;
  settings.api_base = url;
  settings.secret_key = secret_key;
  settings.webhook_secrets = {"whsec_rotated_out_soon", "whsec_test_secret"};
  settings.ca_file = std::move(ca_file);
  settings.timeout_ms = timeout;
  return stripe_provider{settings};
}

actors::payment_request sample_request() {
  actors::payment_request request;
  request.payment_id = "pay_9";
  request.checkout_id = "co_123";
  request.attempt = 2;
  request.amount_minor = 2500;
  request.currency = "EUR";
  request.method = "card";
  request.method_token = "pm_card_visa";
  request.buyer_email = "ada@example.com";
  request.buyer_country = "DE";
  request.description = "2 \xC3\x97 Concert & Tour";  // "2 × Concert & Tour"
  request.return_url = "https://tickets.example/return?checkout=co_123&step=3ds";
  request.idempotency_key = actors::provider_idempotency_key(request.checkout_id, request.attempt);
  return request;
}

std::string intent_json(const std::string& status, const std::string& extra = {}) {
  return R"({"id":"pi_3Abc","object":"payment_intent","amount":2500,"currency":"eur","status":")" + status + "\"" +
         extra + "}";
}

test_peer::script answering(int status, std::string body) {
  return [status, body](const recorded_request&) { return scripted_reply{http_answer(status, body)}; };
}

const std::string card_error_402 =
    R"({"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds",)"
    R"("message":"Your card has insufficient funds.","payment_intent":)" +
    intent_json("requires_payment_method") + "}}";

const std::string empty_refund_list = R"({"object":"list","data":[],"has_more":false,"url":"/v1/refunds"})";

// Answers the refund list with `list_body` (status `list_status`) and the POST with `post_body`.
test_peer::script refund_script(int list_status, std::string list_body, int post_status, std::string post_body) {
  return [=](const recorded_request& request) {
    return request.method == "GET" ? scripted_reply{http_answer(list_status, list_body)}
                                   : scripted_reply{http_answer(post_status, post_body)};
  };
}

}  // namespace

TEST_CASE("Stripe create sends an authenticated, idempotent, form-encoded PaymentIntent with our metadata") {
  test_peer peer{answering(200, intent_json("requires_confirmation"))};
  auto stripe = stripe_at(peer.url());
  auto result = stripe.create(sample_request());

  CHECK(result.outcome == provider_outcome::created);
  CHECK(result.reference == "pi_3Abc");
  CHECK(result.amount_minor == 2500);
  CHECK(result.currency == "EUR");
  CHECK(result.http_status == 200);

  auto seen = peer.requests();
  REQUIRE(seen.size() == 1);
  const auto& sent = seen[0];
  CHECK(sent.method == "POST");
  CHECK(sent.target == "/v1/payment_intents");
  CHECK(sent.headers.at("authorization") == std::string{"Bearer "} + secret_key);
  CHECK(sent.headers.at("idempotency-key") == "es_co_123_a2_create");
  CHECK(sent.headers.at("stripe-version") == std::string{io::providers::stripe_api_version});
  CHECK(sent.headers.at("content-type") == "application/x-www-form-urlencoded");
  // Percent-encoding on the wire: brackets, the multiplication sign, '&' and spaces.
  CHECK(sent.body.find("metadata%5Bcheckout_id%5D=co_123") != std::string::npos);
  CHECK(sent.body.find("description=2+%C3%97+Concert+%26+Tour") != std::string::npos);
  auto fields = test::form_fields_of(sent.body);
  CHECK(fields.at("amount") == "2500");
  CHECK(fields.at("currency") == "eur");
  CHECK(fields.at("payment_method") == "pm_card_visa");
  CHECK(fields.at("confirm") == "false");
  CHECK(fields.at("description") == "2 \xC3\x97 Concert & Tour");
  CHECK(fields.at("metadata[checkout_id]") == "co_123");
  CHECK(fields.at("metadata[payment_id]") == "pay_9");
  CHECK(fields.at("metadata[attempt]") == "2");
  CHECK(fields.count("return_url") == 0);  // Stripe takes it on create only with confirm=true
}

TEST_CASE("Stripe confirm sends return_url under the _confirm key and maps each PaymentIntent status") {
  SECTION("succeeded is captured money") {
    test_peer peer{answering(200, intent_json("succeeded"))};
    auto result = stripe_at(peer.url()).confirm(sample_request(), "pi_3Abc");
    CHECK(result.outcome == provider_outcome::succeeded);
    auto sent = peer.requests().at(0);
    CHECK(sent.target == "/v1/payment_intents/pi_3Abc/confirm");
    CHECK(sent.headers.at("idempotency-key") == "es_co_123_a2_confirm");
    CHECK(test::form_fields_of(sent.body).at("return_url") == "https://tickets.example/return?checkout=co_123&step=3ds");
  }
  SECTION("requires_action carries the redirect URL") {
    test_peer peer{answering(200, intent_json("requires_action", R"(,"next_action":{"type":"redirect_to_url",)"
                                                                 R"("redirect_to_url":{"url":"https://hooks.stripe.com/3ds/x",)"
                                                                 R"("return_url":"https://tickets.example/return"}})"))};
    auto result = stripe_at(peer.url()).confirm(sample_request(), "pi_3Abc");
    CHECK(result.outcome == provider_outcome::requires_action);
    CHECK(result.action_url == "https://hooks.stripe.com/3ds/x");
  }
  SECTION("processing is accepted, not final") {
    test_peer peer{answering(200, intent_json("processing"))};
    CHECK(stripe_at(peer.url()).confirm(sample_request(), "pi_3Abc").outcome == provider_outcome::processing);
  }
  SECTION("a 402 card_error is a decline, with the PaymentIntent taken from the error") {
    test_peer peer{answering(402, card_error_402)};
    auto result = stripe_at(peer.url()).confirm(sample_request(), "pi_3Abc");
    CHECK(result.outcome == provider_outcome::declined);
    CHECK(result.decline_code == "insufficient_funds");
    CHECK(result.reference == "pi_3Abc");
    CHECK(result.http_status == 402);
    CHECK(result.message == "Your card has insufficient funds.");
  }
  SECTION("a 200 back in requires_payment_method with last_payment_error is a decline") {
    test_peer peer{answering(200, intent_json("requires_payment_method",
                                              R"(,"last_payment_error":{"type":"card_error","code":"card_declined",)"
                                              R"("decline_code":"stolen_card","message":"declined"})"))};
    auto result = stripe_at(peer.url()).confirm(sample_request(), "pi_3Abc");
    CHECK(result.outcome == provider_outcome::declined);
    CHECK(result.decline_code == "stolen_card");
  }
}

TEST_CASE("Stripe retrieve is a GET without idempotency key; it reports declines and cancellations") {
  test_peer declined{answering(200, intent_json("requires_payment_method",
                                                R"(,"last_payment_error":{"code":"payment_intent_authentication_failure"})"))};
  auto result = stripe_at(declined.url()).retrieve(sample_request(), "pi_3Abc");
  CHECK(result.outcome == provider_outcome::declined);
  CHECK(result.decline_code == "payment_intent_authentication_failure");
  auto sent = declined.requests().at(0);
  CHECK(sent.method == "GET");
  CHECK(sent.target == "/v1/payment_intents/pi_3Abc");
  CHECK(sent.headers.count("idempotency-key") == 0);
  CHECK(sent.headers.at("authorization") == std::string{"Bearer "} + secret_key);

  test_peer unconfirmed{answering(200, intent_json("requires_confirmation"))};
  CHECK(stripe_at(unconfirmed.url()).retrieve(sample_request(), "pi_3Abc").outcome == provider_outcome::created);

  test_peer cancelled{answering(200, intent_json("canceled", R"(,"cancellation_reason":"abandoned")"))};
  CHECK(stripe_at(cancelled.url()).retrieve(sample_request(), "pi_3Abc").outcome == provider_outcome::cancelled);
}

TEST_CASE("a Stripe 500 fails over only on create; on confirm and retrieve the outcome is unknown") {
  test_peer peer{answering(500, R"({"error":{"type":"api_error","message":"An unknown error occurred"}})")};
  auto stripe = stripe_at(peer.url());
  auto created = stripe.create(sample_request());
  CHECK(created.outcome == provider_outcome::failed_before_acceptance);
  CHECK(created.http_status == 500);
  CHECK(stripe.confirm(sample_request(), "pi_3Abc").outcome == provider_outcome::unknown);
  CHECK(stripe.retrieve(sample_request(), "pi_3Abc").outcome == provider_outcome::unknown);
  CHECK(stripe.cancel(sample_request(), "pi_3Abc").outcome == provider_outcome::unknown);
}

TEST_CASE("a refused connection is failed_before_acceptance for create and confirm, unknown for a read") {
  auto stripe = stripe_at("http://127.0.0.1:" + std::to_string(test::refused_port()));
  CHECK(stripe.create(sample_request()).outcome == provider_outcome::failed_before_acceptance);
  auto confirmed = stripe.confirm(sample_request(), "pi_3Abc");
  CHECK(confirmed.outcome == provider_outcome::failed_before_acceptance);
  CHECK(confirmed.http_status == 0);
  CHECK(confirmed.message.find("connect_failed") != std::string::npos);
  CHECK(stripe.retrieve(sample_request(), "pi_3Abc").outcome == provider_outcome::unknown);
  auto refund = stripe.refund({"rf_1", "pi_3Abc", 500, "EUR", "es_rf_1"});
  CHECK(refund.outcome == refund_outcome::failed);
  CHECK(refund.http_status == 0);
}

TEST_CASE("a Stripe that reads the confirm and never answers leaves the outcome unknown") {
  test_peer peer{[](const recorded_request&) { return scripted_reply{{}, true}; }};
  auto stripe = stripe_at(peer.url(), {}, milliseconds{300});
  auto result = stripe.confirm(sample_request(), "pi_3Abc");
  CHECK(result.outcome == provider_outcome::unknown);
  CHECK(result.message.find("timeout_after_send") != std::string::npos);
  CHECK(stripe.create(sample_request()).outcome == provider_outcome::unknown);
  auto refund = stripe.refund({"rf_1", "pi_3Abc", 500, "EUR", "es_rf_1"});
  CHECK(refund.outcome == refund_outcome::unknown);
}

TEST_CASE("Stripe 409 (key in flight) is unknown, other 4xx are rejected, and the secret key never shows") {
  test_peer in_flight{answering(409, R"({"error":{"type":"invalid_request_error","code":"idempotency_key_in_use"}})")};
  CHECK(stripe_at(in_flight.url()).confirm(sample_request(), "pi_3Abc").outcome == provider_outcome::unknown);

  test_peer invalid{answering(400, R"({"error":{"type":"invalid_request_error","code":"parameter_invalid_integer",)"
                                   R"("message":"Invalid integer: -5"}})")};
  auto rejected = stripe_at(invalid.url()).create(sample_request());
  CHECK(rejected.outcome == provider_outcome::rejected);
  CHECK(rejected.decline_code == "parameter_invalid_integer");

  test::log_capture logs;
  test_peer echoing{answering(401, std::string{R"({"error":{"type":"invalid_request_error","message":"Invalid API Key provided: )"} +
                                        secret_key + "\"}}")};
  auto unauthorised = stripe_at(echoing.url()).create(sample_request());
  CHECK(unauthorised.outcome == provider_outcome::rejected);
  CHECK(unauthorised.message == "Invalid API Key provided: ***");
  auto logged = logs.text();
  CHECK(logged.find("Invalid API Key provided") != std::string::npos);
  CHECK(logged.find(secret_key) == std::string::npos);
  CHECK(logged.find("sk_test_") == std::string::npos);
}

TEST_CASE("Stripe answers may be chunked") {
  test_peer peer{[](const recorded_request&) { return scripted_reply{test::chunked_answer(200, intent_json("succeeded"))}; }};
  auto result = stripe_at(peer.url()).retrieve(sample_request(), "pi_3Abc");
  CHECK(result.outcome == provider_outcome::succeeded);
  CHECK(result.amount_minor == 2500);
}

TEST_CASE("Stripe cancel and refund use their own idempotency keys and map their answers") {
  test_peer cancel_peer{answering(200, intent_json("canceled"))};
  auto cancelled = stripe_at(cancel_peer.url()).cancel(sample_request(), "pi_3Abc");
  CHECK(cancelled.outcome == provider_outcome::cancelled);
  auto cancel_sent = cancel_peer.requests().at(0);
  CHECK(cancel_sent.target == "/v1/payment_intents/pi_3Abc/cancel");
  CHECK(cancel_sent.headers.at("idempotency-key") == "es_co_123_a2_cancel");

  test_peer refund_peer{refund_script(200, empty_refund_list, 200, R"({"id":"re_1","object":"refund","status":"succeeded","amount":500})")};
  auto refund = stripe_at(refund_peer.url()).refund({"rf_7", "pi_3Abc", 500, "EUR", "es_refund_rf_7"});
  CHECK(refund.outcome == refund_outcome::succeeded);
  CHECK(refund.reference == "re_1");
  REQUIRE(refund_peer.requests().size() == 2);
  auto listed = refund_peer.requests().at(0);
  CHECK(listed.method == "GET");
  CHECK(listed.target == "/v1/refunds?payment_intent=pi_3Abc&limit=100");
  CHECK(listed.headers.count("idempotency-key") == 0);
  auto refund_sent = refund_peer.requests().at(1);
  CHECK(refund_sent.target == "/v1/refunds");
  CHECK(refund_sent.headers.at("idempotency-key") == "es_refund_rf_7");
  auto fields = test::form_fields_of(refund_sent.body);
  CHECK(fields.at("payment_intent") == "pi_3Abc");
  CHECK(fields.at("amount") == "500");
  CHECK(fields.at("metadata[refund_id]") == "rf_7");

  test_peer pending_peer{refund_script(200, empty_refund_list, 200, R"({"id":"re_2","object":"refund","status":"pending"})")};
  CHECK(stripe_at(pending_peer.url()).refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}).outcome == refund_outcome::pending);
  test_peer failing_peer{refund_script(200, empty_refund_list, 503, R"({"error":{"type":"api_error"}})")};
  CHECK(stripe_at(failing_peer.url()).refund({"rf_9", "pi_3Abc", 500, "EUR", "k"}).outcome == refund_outcome::unknown);
  test_peer refused_peer{refund_script(200, empty_refund_list, 400, R"({"error":{"code":"charge_already_refunded","message":"already"}})")};
  CHECK(stripe_at(refused_peer.url()).refund({"rf_9", "pi_3Abc", 500, "EUR", "k"}).outcome == refund_outcome::failed);
}


TEST_CASE("a Stripe refund already in the PaymentIntent's list is answered from it; a list that cannot be read sends nothing") {
  // Ours on the second page: found by following starting_after, and never POSTed again.
  test_peer paged{[](const recorded_request& request) {
    if (request.method != "GET") return scripted_reply{http_answer(200, R"({"id":"re_new","object":"refund","status":"succeeded"})")};
    if (request.target.find("starting_after=re_other") == std::string::npos)
      return scripted_reply{http_answer(200, R"({"object":"list","has_more":true,"url":"/v1/refunds","data":[)"
                                             R"({"id":"re_other","object":"refund","status":"succeeded","amount":100,"metadata":{"refund_id":"rf_6"}}]})")};
    return scripted_reply{http_answer(200, R"({"object":"list","has_more":false,"url":"/v1/refunds","data":[)"
                                           R"({"id":"re_ours","object":"refund","status":"succeeded","amount":500,"metadata":{"refund_id":"rf_7"}}]})")};
  }};
  auto found = stripe_at(paged.url()).refund({"rf_7", "pi_3Abc", 500, "EUR", "es_refund_rf_7"});
  CHECK(found.outcome == refund_outcome::succeeded);
  CHECK(found.reference == "re_ours");
  REQUIRE(paged.requests().size() == 2);
  CHECK(paged.requests().at(1).target == "/v1/refunds?payment_intent=pi_3Abc&limit=100&starting_after=re_other");

  // A failed refund of ours stays failed; ours with another amount is left undecided.
  test_peer failed_one{refund_script(200, R"({"object":"list","has_more":false,"data":[{"id":"re_f","status":"failed","amount":500,"failure_reason":"expired_or_canceled_card","metadata":{"refund_id":"rf_7"}}]})", 500, "{}")};
  CHECK(stripe_at(failed_one.url()).refund({"rf_7", "pi_3Abc", 500, "EUR", "k"}).outcome == refund_outcome::failed);
  test_peer other_amount{refund_script(200, R"({"object":"list","has_more":false,"data":[{"id":"re_x","status":"succeeded","amount":400,"metadata":{"refund_id":"rf_7"}}]})", 500, "{}")};
  CHECK(stripe_at(other_amount.url()).refund({"rf_7", "pi_3Abc", 500, "EUR", "k"}).outcome == refund_outcome::unknown);

  // 5xx, 429, any other 4xx, or an answer that is not a list: unknown, and no POST.
  for (auto [status, body] : std::vector<std::pair<int, std::string>>{
           {503, R"({"error":{"type":"api_error"}})"}, {429, R"({"error":{"type":"rate_limit_error"}})"},
           {401, R"({"error":{"type":"invalid_request_error","message":"Invalid API Key"}})"},
           {200, R"({"id":"re_1","object":"refund"})"}, {200, R"({"object":"list","has_more":true,"data":[]})"}}) {
    test_peer peer{refund_script(status, body, 200, R"({"id":"re_1","object":"refund","status":"succeeded"})")};
    auto result = stripe_at(peer.url()).refund({"rf_7", "pi_3Abc", 500, "EUR", "k"});
    CHECK(result.outcome == refund_outcome::unknown);
    CHECK(peer.requests().size() == 1);  // the list only
  }
}

TEST_CASE("a pending Stripe refund is read by its id; a read that fails is unknown, never failed") {
  test_peer done_peer{answering(200, R"({"id":"re_2","object":"refund","status":"succeeded","amount":500})")};
  auto done = stripe_at(done_peer.url()).retrieve_refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}, "re_2");
  CHECK(done.outcome == refund_outcome::succeeded);
  auto sent = done_peer.requests().at(0);
  CHECK(sent.method == "GET");
  CHECK(sent.target == "/v1/refunds/re_2");
  CHECK(sent.headers.count("idempotency-key") == 0);
  test_peer still_peer{answering(200, R"({"id":"re_2","object":"refund","status":"pending"})")};
  CHECK(stripe_at(still_peer.url()).retrieve_refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}, "re_2").outcome ==
        refund_outcome::pending);
  test_peer refused_peer{answering(200, R"({"id":"re_2","object":"refund","status":"failed"})")};
  CHECK(stripe_at(refused_peer.url()).retrieve_refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}, "re_2").outcome ==
        refund_outcome::failed);
  test_peer missing_peer{answering(404, R"({"error":{"type":"invalid_request_error","code":"resource_missing"}})")};
  CHECK(stripe_at(missing_peer.url()).retrieve_refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}, "re_2").outcome ==
        refund_outcome::unknown);
  CHECK(stripe_at(missing_peer.url()).retrieve_refund({"rf_8", "pi_3Abc", 500, "EUR", "k"}, "../x").outcome ==
        refund_outcome::unknown);
}

TEST_CASE("a reference that is not a Stripe id, or a missing idempotency key, is refused without a call") {
  test_peer peer{answering(200, intent_json("succeeded"))};
  auto stripe = stripe_at(peer.url());
  CHECK(stripe.confirm(sample_request(), "pi_1/../../v1/refunds").outcome == provider_outcome::rejected);
  CHECK(stripe.retrieve(sample_request(), "").outcome == provider_outcome::rejected);
  auto keyless = sample_request();
  keyless.idempotency_key.clear();
  CHECK(stripe.create(keyless).outcome == provider_outcome::rejected);
  CHECK(stripe.refund({"rf_1", "pi_3Abc", 500, "EUR", ""}).outcome == refund_outcome::failed);
  CHECK(peer.requests().empty());
}

TEST_CASE("Stripe over TLS with the test CA as payments CA file") {
  test::temporary_directory directory;
  test::test_pki pki{"stripe-test-ca", "DNS:localhost", directory.path()};
  test_peer peer{answering(200, intent_json("succeeded")), pki.server_context()};
  CHECK(stripe_at(peer.url("localhost"), pki.ca_file).confirm(sample_request(), "pi_3Abc").outcome ==
        provider_outcome::succeeded);
  // The same peer under a name its certificate does not carry: nothing is sent, safe to fail over.
  CHECK(stripe_at(peer.url("127.0.0.1"), pki.ca_file).confirm(sample_request(), "pi_3Abc").outcome ==
        provider_outcome::failed_before_acceptance);
  CHECK(peer.requests().size() == 1);
}

TEST_CASE("Stripe webhooks: the known answer verifies under a rotated secret; anything else is refused") {
  auto stripe = stripe_at("http://127.0.0.1:1");
  const std::string body = R"({"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"})";
  const std::string signature = "130dc37d5a27b1b232a61e4f2ff00ed245f498112c11e8b747aff3d0fb754056";
  const std::chrono::system_clock::time_point t{std::chrono::seconds{1700000000}};
  actors::header_map headers{{"stripe-signature", "t=1700000000,v1=" + signature}};

  auto accepted = stripe.verify_webhook(headers, body, t);
  REQUIRE(accepted.verdict == webhook_verdict::accepted);
  REQUIRE(accepted.hints.size() == 1);
  CHECK(accepted.hints[0].event_id == "evt_test_webhook");
  CHECK(accepted.hints[0].type == "payment_intent.succeeded");
  CHECK(accepted.hints[0].success);
  CHECK(accepted.acknowledgement.empty());

  CHECK(stripe.verify_webhook(headers, body, t + std::chrono::seconds{301}).verdict == webhook_verdict::stale_timestamp);
  CHECK(stripe.verify_webhook(headers, body, t - std::chrono::seconds{61}).verdict == webhook_verdict::stale_timestamp);
  CHECK(stripe.verify_webhook(headers, body + " ", t).verdict == webhook_verdict::bad_signature);
  CHECK(stripe.verify_webhook({}, body, t).verdict == webhook_verdict::missing_signature);
  CHECK(stripe.verify_webhook({{"stripe-signature", "t=1700000000,v0=" + signature}}, body, t).verdict ==
        webhook_verdict::missing_signature);
  CHECK(stripe.verify_webhook({{"stripe-signature", "garbage"}}, body, t).verdict == webhook_verdict::bad_signature);
  CHECK(stripe.verify_webhook(headers, body, t).hints.size() == 1);
}

TEST_CASE("Stripe webhook hints name the PaymentIntent and our checkout; a signed non-event is malformed") {
  auto stripe = stripe_at("http://127.0.0.1:1");
  const std::int64_t now_s = 1'800'000'000;
  const std::chrono::system_clock::time_point now{std::chrono::seconds{now_s}};
  auto signed_headers = [&](const std::string& body) {
    auto v1 = actors::payments::sign_stripe("whsec_rotated_out_soon", now_s - 10, body);
    return actors::header_map{{"stripe-signature", actors::payments::stripe_signature_header(now_s - 10, {v1})}};
  };

  std::string intent_event = R"({"id":"evt_1","type":"payment_intent.payment_failed","data":{"object":)"
                             R"({"id":"pi_9","object":"payment_intent","metadata":{"checkout_id":"co_5"}}}})";
  auto intent = stripe.verify_webhook(signed_headers(intent_event), intent_event, now);
  REQUIRE(intent.verdict == webhook_verdict::accepted);
  CHECK(intent.hints.at(0).reference == "pi_9");
  CHECK(intent.hints.at(0).merchant_reference == "co_5");

  std::string charge_event = R"({"id":"evt_2","type":"charge.refunded","data":{"object":)"
                             R"({"id":"ch_1","object":"charge","payment_intent":"pi_9","metadata":{"checkout_id":"co_5"}}}})";
  auto charge = stripe.verify_webhook(signed_headers(charge_event), charge_event, now);
  REQUIRE(charge.verdict == webhook_verdict::accepted);
  CHECK(charge.hints.at(0).reference == "pi_9");
  CHECK(charge.hints.at(0).type == "charge.refunded");

  std::string not_json = "{\"id\":";
  CHECK(stripe.verify_webhook(signed_headers(not_json), not_json, now).verdict == webhook_verdict::malformed);
}
