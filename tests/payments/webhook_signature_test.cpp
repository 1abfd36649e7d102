// Webhook signatures: a webhook is believed only when its signature holds under a configured
// secret, within the timestamp tolerance, over the exact raw body.
#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "actors/payments/webhook_signature.hpp"

using namespace eventstripe::actors::payments;

namespace {

const std::string stripe_secret = "whsec_test_secret";
constexpr std::int64_t stripe_t = 1700000000;
const std::string stripe_body = R"({"id":"evt_test_webhook","object":"event","type":"payment_intent.succeeded"})";
const std::string stripe_known_v1 = "130dc37d5a27b1b232a61e4f2ff00ed245f498112c11e8b747aff3d0fb754056";

const std::string adyen_key = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056";
const std::string adyen_message = "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true";
const std::string adyen_known_signature = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0=";

std::string known_header() { return "t=1700000000,v1=" + stripe_known_v1; }

}  // namespace

TEST_CASE("Stripe: the known answer signs and verifies") {
  CHECK(sign_stripe(stripe_secret, stripe_t, stripe_body) == stripe_known_v1);
  CHECK(stripe_signature_header(stripe_t, {stripe_known_v1}) == known_header());
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t) == stripe_verification::ok);
}

TEST_CASE("Stripe: a header is parsed into its timestamp and v1 signatures; other schemes are skipped") {
  auto parsed = parse_stripe_signature_header("t=1700000000,v1=aa,v0=cc,v2=dd,v1=bb");
  REQUIRE(parsed);
  CHECK(parsed->timestamp_unix_s == 1700000000);
  CHECK(parsed->v1_signatures == std::vector<std::string>{"aa", "bb"});
  auto spaced = parse_stripe_signature_header(" t=0 , v1=aa ");
  REQUIRE(spaced);
  CHECK(spaced->timestamp_unix_s == 0);
  CHECK(spaced->v1_signatures == std::vector<std::string>{"aa"});
}

TEST_CASE("Stripe: during a secret rotation any v1 under any secret is accepted") {
  const std::string wrong_v1(64, '0');
  auto header = stripe_signature_header(stripe_t, {wrong_v1, stripe_known_v1});
  CHECK(verify_stripe(header, stripe_body, {stripe_secret}, stripe_t) == stripe_verification::ok);
  auto reversed = stripe_signature_header(stripe_t, {stripe_known_v1, wrong_v1});
  CHECK(verify_stripe(reversed, stripe_body, {stripe_secret}, stripe_t) == stripe_verification::ok);
  // Two secrets configured, the header signed with the second (new) one.
  CHECK(verify_stripe(known_header(), stripe_body, {"whsec_old_secret", stripe_secret}, stripe_t) ==
        stripe_verification::ok);
  // Only a wrong v1 and only the other secret: refused.
  CHECK(verify_stripe(stripe_signature_header(stripe_t, {wrong_v1}), stripe_body, {stripe_secret}, stripe_t) ==
        stripe_verification::no_match);
  CHECK(verify_stripe(known_header(), stripe_body, {"whsec_old_secret"}, stripe_t) == stripe_verification::no_match);
  CHECK(verify_stripe(known_header(), stripe_body, {}, stripe_t) == stripe_verification::no_match);
  CHECK(verify_stripe(known_header(), stripe_body, {""}, stripe_t) == stripe_verification::no_match);
}

TEST_CASE("Stripe: a signature is accepted up to 300 s old and refused one second later") {
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t + 300) == stripe_verification::ok);
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t + 301) ==
        stripe_verification::timestamp_too_old);
  // A custom tolerance moves the edge.
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t + 10, 10) == stripe_verification::ok);
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t + 11, 10) ==
        stripe_verification::timestamp_too_old);
}

TEST_CASE("Stripe: a timestamp ahead of our clock is accepted only within the future skew") {
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t - 60) == stripe_verification::ok);
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t - 61) ==
        stripe_verification::timestamp_in_future);
  CHECK(verify_stripe(known_header(), stripe_body, {stripe_secret}, stripe_t - 5, 300, 0) ==
        stripe_verification::timestamp_in_future);
}

TEST_CASE("Stripe: a header with only v0 signatures is refused") {
  auto header = "t=1700000000,v0=" + stripe_known_v1;
  CHECK(verify_stripe(header, stripe_body, {stripe_secret}, stripe_t) == stripe_verification::no_v1_signature);
  CHECK(verify_stripe("t=1700000000", stripe_body, {stripe_secret}, stripe_t) ==
        stripe_verification::no_v1_signature);
}

TEST_CASE("Stripe: a body changed by one byte is refused") {
  for (std::size_t at = 0; at < stripe_body.size(); ++at) {
    auto changed = stripe_body;
    changed[at] = static_cast<char>(changed[at] ^ 0x01);
    INFO("byte " << at);
    CHECK(verify_stripe(known_header(), changed, {stripe_secret}, stripe_t) == stripe_verification::no_match);
  }
  CHECK(verify_stripe(known_header(), stripe_body + " ", {stripe_secret}, stripe_t) == stripe_verification::no_match);
  CHECK(verify_stripe(known_header(), stripe_body.substr(1), {stripe_secret}, stripe_t) ==
        stripe_verification::no_match);
}

TEST_CASE("Stripe: a signature changed in case or length does not match") {
  auto upper = stripe_known_v1;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(verify_stripe(stripe_signature_header(stripe_t, {upper}), stripe_body, {stripe_secret}, stripe_t) ==
        stripe_verification::no_match);
  CHECK(verify_stripe(stripe_signature_header(stripe_t, {stripe_known_v1 + "0"}), stripe_body, {stripe_secret},
                      stripe_t) == stripe_verification::no_match);
  CHECK(verify_stripe(stripe_signature_header(stripe_t, {stripe_known_v1.substr(1)}), stripe_body, {stripe_secret},
                      stripe_t) == stripe_verification::no_match);
}

TEST_CASE("Stripe: malformed headers are refused as malformed") {
  const std::string v1 = ",v1=" + stripe_known_v1;
  for (const std::string& header : std::vector<std::string>{
           std::string{},
           "v1=" + stripe_known_v1,               // no t
           "t=abc" + v1,                          // non-numeric t
           "t=-1700000000" + v1,                  // signed t
           "t=01700000000" + v1,                  // leading zero
           "t=1700000000123456" + v1,             // too many digits
           "t=" + v1,                             // empty t
           "t=1700000000,t=1700000000" + v1,      // duplicate t
           "t=1700000000,t=1700000001" + v1,      // duplicate t, different values
           "t=1700000000" + v1 + ",",             // trailing comma
           "t=1700000000,,v1=" + stripe_known_v1,  // empty element
           "t=1700000000,v1",                     // element without '='
           "t=1700000000,=abc",                   // empty key
           "t=1700000000,v1=",                    // empty value
           "garbage",
           std::string(stripe_signature_header_length_max + 1, 'a'),
       }) {
    INFO(header);
    CHECK_FALSE(parse_stripe_signature_header(header));
    CHECK(verify_stripe(header, stripe_body, {stripe_secret}, stripe_t) == stripe_verification::malformed);
  }
}

TEST_CASE("Stripe: a header may carry at most the named number of v1 signatures") {
  std::vector<std::string> signatures(stripe_signatures_per_header_max, std::string(64, '0'));
  signatures.back() = stripe_known_v1;
  CHECK(verify_stripe(stripe_signature_header(stripe_t, signatures), stripe_body, {stripe_secret}, stripe_t) ==
        stripe_verification::ok);
  signatures.push_back(stripe_known_v1);
  CHECK(verify_stripe(stripe_signature_header(stripe_t, signatures), stripe_body, {stripe_secret}, stripe_t) ==
        stripe_verification::malformed);
}

TEST_CASE("Stripe: verification results have stable names") {
  CHECK(std::string(to_string(stripe_verification::ok)) == "ok");
  CHECK(std::string(to_string(stripe_verification::timestamp_too_old)) == "timestamp_too_old");
  CHECK(std::string(to_string(stripe_verification::no_v1_signature)) == "no_v1_signature");
}

TEST_CASE("Adyen: the signing message joins the fields with ':' and keeps empty fields") {
  CHECK(adyen_signing_message("7914073381342284", "", "TestMerchant", "TestPayment-1407325143704", 1130, "EUR",
                              "AUTHORISATION", true) == adyen_message);
  CHECK(adyen_signing_message("", "", "", "", 0, "", "", false) == "::::0:::false");
  CHECK(adyen_signing_message("psp", "orig", "acct", "ref", -5, "JPY", "REFUND", false) ==
        "psp:orig:acct:ref:-5:JPY:REFUND:false");
}

TEST_CASE("Adyen: the known answer signs and verifies") {
  CHECK(sign_adyen(adyen_key, adyen_message) == adyen_known_signature);
  CHECK(verify_adyen({adyen_key}, adyen_message, adyen_known_signature) == adyen_verification::ok);
  // Hex digits in either case give the same key.
  std::string lower_key = adyen_key;
  for (auto& c : lower_key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(sign_adyen(lower_key, adyen_message) == adyen_known_signature);
}

TEST_CASE("Adyen: during a key rotation a signature under any configured key is accepted") {
  const std::string other_key(64, 'A');
  CHECK(verify_adyen({other_key, adyen_key}, adyen_message, adyen_known_signature) == adyen_verification::ok);
  CHECK(verify_adyen({adyen_key, other_key}, adyen_message, adyen_known_signature) == adyen_verification::ok);
  CHECK(verify_adyen({other_key}, adyen_message, adyen_known_signature) == adyen_verification::no_match);
  CHECK(verify_adyen({}, adyen_message, adyen_known_signature) == adyen_verification::no_match);
}

TEST_CASE("Adyen: a changed message or signature is refused") {
  auto changed = adyen_message;
  changed.back() = 'x';  // "...:true" -> "...:trux"
  CHECK(verify_adyen({adyen_key}, changed, adyen_known_signature) == adyen_verification::no_match);
  auto other_amount = adyen_signing_message("7914073381342284", "", "TestMerchant", "TestPayment-1407325143704", 1131,
                                            "EUR", "AUTHORISATION", true);
  CHECK(verify_adyen({adyen_key}, other_amount, adyen_known_signature) == adyen_verification::no_match);
  auto failed = adyen_signing_message("7914073381342284", "", "TestMerchant", "TestPayment-1407325143704", 1130,
                                      "EUR", "AUTHORISATION", false);
  CHECK(verify_adyen({adyen_key}, failed, adyen_known_signature) == adyen_verification::no_match);
  auto other_signature = *sign_adyen(adyen_key, failed);
  CHECK(verify_adyen({adyen_key}, adyen_message, other_signature) == adyen_verification::no_match);
}

TEST_CASE("Adyen: a malformed key is an error, not a crash, and never verifies anything") {
  for (const std::string& key : std::vector<std::string>{std::string{}, std::string("ABC"), std::string("XY") + adyen_key.substr(2),
                                 std::string(2 * adyen_hmac_key_size_bytes_max + 2, 'A'), adyen_key + " "}) {
    INFO(key);
    CHECK_FALSE(is_valid_adyen_hmac_key(key));
    CHECK_FALSE(sign_adyen(key, adyen_message));
    CHECK(verify_adyen({key}, adyen_message, adyen_known_signature) == adyen_verification::malformed_key);
  }
  // A bad key next to the right one does not stop the right one from matching.
  CHECK(verify_adyen({"not-hex", adyen_key}, adyen_message, adyen_known_signature) == adyen_verification::ok);
  CHECK(is_valid_adyen_hmac_key(adyen_key));
}

TEST_CASE("Adyen: a signature that is not base64 of 32 bytes is malformed") {
  for (const std::string& signature :
       std::vector<std::string>{std::string{}, std::string("not base64!"), adyen_known_signature.substr(0, 43), std::string("Zm9v"),
        adyen_known_signature + "AAAA"}) {
    INFO(signature);
    CHECK(verify_adyen({adyen_key}, adyen_message, signature) == adyen_verification::malformed_signature);
  }
}
