// Signed ticket payloads: a QR code admits only when it carries claims signed by its event's key,
// byte for byte; anything else is refused with a clear error and never crashes the scanner.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/payments/encoding.hpp"
#include "actors/payments/ticket_signing.hpp"

using namespace eventstripe::actors::payments;

namespace {

std::array<std::uint8_t, ed25519_key_size_bytes> key_bytes(std::string_view hex) {
  auto decoded = decode_hex(hex);
  REQUIRE(decoded);
  REQUIRE(decoded->size() == ed25519_key_size_bytes);
  std::array<std::uint8_t, ed25519_key_size_bytes> out{};
  std::copy(decoded->begin(), decoded->end(), out.begin());
  return out;
}

ticket_key_pair new_pair() {
  auto pair = generate_ticket_key_pair();
  REQUIRE(pair);
  return pair.value();
}

ticket_claims sample_claims() {
  return {"tk_4fJ8x2LmQ9zR0aBcDeFg", "ev_bbbbbbbbbbbbbbbbbbbb", "tt_VIP-floor_1", 1893456000, 1893542400, "k_ev_bbbb_1"};
}

std::string payload_for(const ticket_claims& claims, const ticket_private_key& key) {
  auto payload = make_ticket_payload(claims, key);
  REQUIRE(payload);
  return payload.value();
}

// A payload whose claims part is any text, correctly signed: for claims the parser must refuse
// even when the signature holds.
std::string signed_payload_with_claims_text(std::string_view claims_text, const ticket_private_key& key) {
  std::string payload(ticket_payload_prefix);
  payload += base64url_encode(as_bytes(claims_text));
  auto signature = ed25519_sign(key, as_bytes(payload));
  REQUIRE(signature);
  return payload + "." + base64url_encode(*signature);
}

}  // namespace

TEST_CASE("Ed25519 signs the RFC 8032 test vectors") {
  struct vector {
    const char* secret;
    const char* public_key;
    std::vector<std::uint8_t> message;
    const char* signature;
  };
  for (const auto& v : std::vector<vector>{
           {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", {},
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
           {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", {0x72},
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
       }) {
    ticket_private_key private_key(key_bytes(v.secret));
    auto public_key = derive_public_key(private_key);
    REQUIRE(public_key);
    CHECK(hex_lower(public_key->bytes()) == v.public_key);
    auto signature = ed25519_sign(private_key, v.message);
    REQUIRE(signature);
    CHECK(hex_lower(*signature) == v.signature);
    CHECK(ed25519_verify(*public_key, v.message, *signature));
    auto altered = *signature;
    altered[0] ^= 0x01;
    CHECK_FALSE(ed25519_verify(*public_key, v.message, altered));
    CHECK_FALSE(ed25519_verify(*public_key, v.message, std::span(*signature).first(63)));
  }
}

TEST_CASE("each event gets its own key pair of raw 32-byte halves that can be stored and reloaded") {
  auto first = new_pair();
  auto second = new_pair();
  CHECK(first.private_key.bytes().size() == 32);
  CHECK(first.public_key.bytes().size() == 32);
  CHECK_FALSE(first.public_key == second.public_key);
  CHECK(hex_lower(first.private_key.bytes()) != hex_lower(second.private_key.bytes()));
  auto derived = derive_public_key(first.private_key);
  REQUIRE(derived);
  CHECK(*derived == first.public_key);

  std::vector<std::uint8_t> stored_private(first.private_key.bytes().begin(), first.private_key.bytes().end());
  std::vector<std::uint8_t> stored_public(first.public_key.bytes().begin(), first.public_key.bytes().end());
  auto reloaded_private = ticket_private_key::from_bytes(stored_private);
  auto reloaded_public = ticket_public_key::from_bytes(stored_public);
  REQUIRE(reloaded_private);
  REQUIRE(reloaded_public);
  CHECK(*reloaded_public == first.public_key);
  auto payload = payload_for(sample_claims(), *reloaded_private);
  CHECK(verify_ticket_payload(payload, first.public_key));

  stored_public.pop_back();
  CHECK(ticket_public_key::from_bytes(stored_public).error() == ticket_errc::invalid_key);
  stored_private.push_back(0);
  CHECK(ticket_private_key::from_bytes(stored_private).error() == ticket_errc::invalid_key);
  CHECK(ticket_private_key::from_bytes({}).error() == ticket_errc::invalid_key);
}

TEST_CASE("a ticket payload round-trips: signed claims come back exactly") {
  auto pair = new_pair();
  auto claims = sample_claims();
  auto payload = payload_for(claims, pair.private_key);
  CHECK(payload.starts_with("ES1."));
  CHECK(std::count(payload.begin(), payload.end(), '.') == 2);
  CHECK(payload.size() <= ticket_payload_length_max);
  auto verified = verify_ticket_payload(payload, pair.public_key);
  REQUIRE(verified);
  CHECK(*verified == claims);

  auto parsed = parse_ticket_payload(payload);
  REQUIRE(parsed);
  CHECK(parsed->claims == claims);
  CHECK(parsed->signed_part == payload.substr(0, payload.rfind('.')));
  CHECK(*canonical_ticket_claims(claims) ==
        "tk_4fJ8x2LmQ9zR0aBcDeFg|ev_bbbbbbbbbbbbbbbbbbbb|tt_VIP-floor_1|1893456000|1893542400|k_ev_bbbb_1");
  // The claims part is the base64url of exactly that text.
  auto claims_part = parsed->signed_part.substr(ticket_payload_prefix.size());
  CHECK(claims_part == base64url_encode(as_bytes(*canonical_ticket_claims(claims))));
}

TEST_CASE("the longest valid claims still fit the payload limit") {
  auto pair = new_pair();
  const std::string id(ticket_claim_id_length_max, 'x');
  ticket_claims longest{id, id, id, ticket_time_unix_s_max - 1, ticket_time_unix_s_max, id};
  auto payload = payload_for(longest, pair.private_key);
  CHECK(payload.size() <= ticket_payload_length_max);
  CHECK(*verify_ticket_payload(payload, pair.public_key) == longest);
}

TEST_CASE("a payload with any one character changed is refused") {
  auto pair = new_pair();
  auto payload = payload_for(sample_claims(), pair.private_key);
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
  for (std::size_t at = 0; at < payload.size(); ++at) {
    for (char replacement : {alphabet[(alphabet.find(payload[at]) + 1) % alphabet.size()], '=', '\0'}) {
      if (replacement == payload[at]) continue;
      auto changed = payload;
      changed[at] = replacement;
      auto result = verify_ticket_payload(changed, pair.public_key);
      INFO("position " << at << " -> '" << replacement << "'");
      REQUIRE_FALSE(result);
      CHECK((result.error() == ticket_errc::malformed || result.error() == ticket_errc::bad_signature));
    }
  }
}

TEST_CASE("a flipped bit in the signed claims or in the signature is a bad signature") {
  auto pair = new_pair();
  auto claims = sample_claims();
  auto payload = payload_for(claims, pair.private_key);
  auto parsed = parse_ticket_payload(payload);
  REQUIRE(parsed);
  auto signature_part = payload.substr(payload.rfind('.') + 1);

  // Other claims, re-encoded validly, under the original signature: a forged ticket.
  auto forged_claims = claims;
  forged_claims.ticket_type_id = "tt_VIP-floor_2";
  auto forged = std::string(ticket_payload_prefix) + base64url_encode(as_bytes(*canonical_ticket_claims(forged_claims))) +
                "." + signature_part;
  CHECK(verify_ticket_payload(forged, pair.public_key).error() == ticket_errc::bad_signature);
  auto extended = claims;
  extended.valid_until_unix_s += 86400;
  forged = std::string(ticket_payload_prefix) + base64url_encode(as_bytes(*canonical_ticket_claims(extended))) + "." +
           signature_part;
  CHECK(verify_ticket_payload(forged, pair.public_key).error() == ticket_errc::bad_signature);

  for (std::size_t byte = 0; byte < ed25519_signature_size_bytes; ++byte) {
    auto signature = parsed->signature;
    signature[byte] ^= static_cast<std::uint8_t>(1u << (byte % 8));
    auto altered = parsed->signed_part + "." + base64url_encode(signature);
    INFO("signature byte " << byte);
    CHECK(verify_ticket_payload(altered, pair.public_key).error() == ticket_errc::bad_signature);
  }
}

TEST_CASE("a payload signed with another event's key is refused") {
  auto event_a = new_pair();
  auto event_b = new_pair();
  auto payload = payload_for(sample_claims(), event_b.private_key);
  CHECK(verify_ticket_payload(payload, event_a.public_key).error() == ticket_errc::bad_signature);
  CHECK(verify_ticket_payload(payload, event_b.public_key));
}

TEST_CASE("malformed payloads are refused as malformed without crashing") {
  auto pair = new_pair();
  auto payload = payload_for(sample_claims(), pair.private_key);
  auto dot = payload.rfind('.');
  std::vector<std::string> bad = {
      "",
      "ES1.",
      "ES1..",
      "ES2" + payload.substr(3),
      "es1" + payload.substr(3),
      " " + payload,
      payload + " ",
      payload + "\n",
      payload + ".",
      payload + ".AAAA",
      payload.substr(0, dot),                              // no signature
      payload.substr(4),                                   // no prefix
      payload.substr(0, dot) + "." + payload.substr(0, dot).substr(4),  // claims in place of signature
      "ES1.!!!!." + payload.substr(dot + 1),               // bad base64url in claims
      payload.substr(0, dot) + ".+/+/",                    // standard-base64 characters
      payload.substr(0, dot) + "." + payload.substr(dot + 1) + "==",  // padding
      payload.substr(0, dot) + "." + payload.substr(dot + 1) + "AA",  // 65-byte signature
      std::string(ticket_payload_length_max + 1, 'A'),
      "ES1." + std::string(ticket_payload_length_max, 'A') + "." + payload.substr(dot + 1),
  };
  // Every truncation of a valid payload.
  for (std::size_t size = 0; size < payload.size(); ++size) bad.push_back(payload.substr(0, size));
  for (const auto& text : bad) {
    INFO(text);
    auto parsed = parse_ticket_payload(text);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error() == ticket_errc::malformed);
    auto verified = verify_ticket_payload(text, pair.public_key);
    REQUIRE_FALSE(verified);
    CHECK(verified.error() == ticket_errc::malformed);
  }
}

TEST_CASE("correctly signed but non-canonical claims are refused as malformed") {
  auto pair = new_pair();
  for (std::string_view claims_text : {
           "tk_1|ev_1|tt_1|1893456000|1893542400",                 // five fields
           "tk_1|ev_1|tt_1|1893456000|1893542400|k_1|extra",       // seven fields
           "tk_1|ev_1|tt_1|01893456000|1893542400|k_1",            // leading zero
           "tk_1|ev_1|tt_1|+1893456000|1893542400|k_1",            // sign
           "tk_1|ev_1|tt_1|-1|1893542400|k_1",                     // negative
           "tk_1|ev_1|tt_1|1893542400|1893456000|k_1",             // until before from
           "tk_1|ev_1|tt_1|1893456000|1893456000|k_1",             // empty window
           "tk_1|ev_1|tt_1|1893456000|999999999999|k_1",           // after year 9999
           "tk_1||tt_1|1893456000|1893542400|k_1",                 // empty id
           "tk 1|ev_1|tt_1|1893456000|1893542400|k_1",             // space in an id
           "tk.1|ev_1|tt_1|1893456000|1893542400|k_1",             // '.' in an id
           "tk_1|ev_1|tt_1|1893456000|1893542400|k_1\n",           // trailing newline
           "tk_\xc3\xa9|ev_1|tt_1|1893456000|1893542400|k_1",      // non-ASCII
       }) {
    INFO(claims_text);
    CHECK(parse_ticket_claims(claims_text).error() == ticket_errc::malformed);
    auto payload = signed_payload_with_claims_text(claims_text, pair.private_key);
    CHECK(verify_ticket_payload(payload, pair.public_key).error() == ticket_errc::malformed);
  }
  std::string_view with_nul("tk_1|ev_1|tt_1|1893456000|1893542400|k\0", 39);
  CHECK(verify_ticket_payload(signed_payload_with_claims_text(with_nul, pair.private_key), pair.public_key).error() ==
        ticket_errc::malformed);
}

TEST_CASE("claims with a separator, an unsafe character or a bad window cannot be signed") {
  auto pair = new_pair();
  auto with = [](auto change) {
    auto claims = sample_claims();
    change(claims);
    return claims;
  };
  for (const auto& claims : std::vector<ticket_claims>{
           with([](ticket_claims& c) { c.ticket_id = "tk|1"; }),
           with([](ticket_claims& c) { c.event_id = "ev.1"; }),
           with([](ticket_claims& c) { c.ticket_type_id = ""; }),
           with([](ticket_claims& c) { c.key_id = std::string(ticket_claim_id_length_max + 1, 'k'); }),
           with([](ticket_claims& c) { c.key_id = "k 1"; }),
           with([](ticket_claims& c) { c.valid_until_unix_s = c.valid_from_unix_s; }),
           with([](ticket_claims& c) { c.valid_from_unix_s = -1; }),
           with([](ticket_claims& c) { c.valid_until_unix_s = ticket_time_unix_s_max + 1; }),
       }) {
    CHECK(canonical_ticket_claims(claims).error() == ticket_errc::invalid_claims);
    CHECK(make_ticket_payload(claims, pair.private_key).error() == ticket_errc::invalid_claims);
  }
}

TEST_CASE("a ticket admits from valid_from up to, not including, valid_until") {
  auto claims = sample_claims();
  CHECK_FALSE(ticket_valid_at(claims, claims.valid_from_unix_s - 1));
  CHECK(ticket_valid_at(claims, claims.valid_from_unix_s));
  CHECK(ticket_valid_at(claims, claims.valid_until_unix_s - 1));
  CHECK_FALSE(ticket_valid_at(claims, claims.valid_until_unix_s));
}

TEST_CASE("the public key is exported as SubjectPublicKeyInfo PEM and reads back") {
  ticket_private_key rfc_key(key_bytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
  auto public_key = derive_public_key(rfc_key);
  REQUIRE(public_key);
  auto pem = public_key_pem(*public_key);
  REQUIRE(pem);
  // The same text Python's cryptography and `openssl pkey -pubout` write for this key.
  CHECK(*pem ==
        "-----BEGIN PUBLIC KEY-----\n"
        "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
        "-----END PUBLIC KEY-----\n");
  auto body = decode_base64("MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  REQUIRE(body);
  CHECK(hex_lower(*body) == "302a300506032b6570032100" + hex_lower(public_key->bytes()));
  auto read_back = parse_public_key_pem(*pem);
  REQUIRE(read_back);
  CHECK(*read_back == *public_key);

  auto pair = new_pair();
  auto generated_pem = public_key_pem(pair.public_key);
  REQUIRE(generated_pem);
  auto scanner_key = parse_public_key_pem(*generated_pem);
  REQUIRE(scanner_key);
  CHECK(verify_ticket_payload(payload_for(sample_claims(), pair.private_key), *scanner_key));
}

TEST_CASE("a PEM that is not one Ed25519 public key is an invalid key") {
  const std::string p256_pem =
      "-----BEGIN PUBLIC KEY-----\n"
      "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE3lkArOhtcXyn0ngHWSWFJ0f4egmq\n"
      "fxPLlDCHpRss+S3fRjziVfyIneJnwpbOZqk/MGkYYczAsbWIAw9RIe+OLA==\n"
      "-----END PUBLIC KEY-----\n";
  for (const std::string& pem : std::vector<std::string>{
           "", "not a pem", p256_pem,
           "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPa\n-----END PUBLIC KEY-----\n",
           "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n", std::string(8192, '-')}) {
    INFO(pem);
    auto key = parse_public_key_pem(pem);
    REQUIRE_FALSE(key);
    CHECK(key.error() == ticket_errc::invalid_key);
  }
}

TEST_CASE("ticket errors have stable names") {
  CHECK(std::string(to_string(ticket_errc::malformed)) == "malformed");
  CHECK(std::string(to_string(ticket_errc::bad_signature)) == "bad_signature");
  CHECK(std::string(to_string(ticket_errc::invalid_claims)) == "invalid_claims");
}
