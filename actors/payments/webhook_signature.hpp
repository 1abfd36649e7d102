#pragma once

// Webhook signatures of the payment providers, checked over the raw body before anything in it
// is parsed or believed. Stripe signs "{t}.{body}" with HMAC-SHA256 and sends
// `Stripe-Signature: t=...,v1=...`; Adyen signs a ':'-joined list of notification fields with
// HMAC-SHA256 under a hex key and sends the base64 result inside the notification. Both allow
// several secrets at once, because a secret is rotated by adding the new one before removing the
// old. Comparisons are constant-time. Pure functions: the provider adapters in io/ call them.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace eventstripe::actors::payments {

// ---- Stripe ------------------------------------------------------------------------------------

// Limits on what a sender controls; Stripe's real headers are far below them.
inline constexpr std::size_t stripe_signature_header_length_max = 4096;
inline constexpr std::size_t stripe_signatures_per_header_max = 16;
// Stripe's own libraries' default: a signed event older than five minutes is a replay.
inline constexpr std::int64_t stripe_timestamp_tolerance_s = 300;
// How far ahead of our clock a timestamp may be (clock skew between Stripe and this node).
inline constexpr std::int64_t stripe_future_skew_s = 60;

// The parts of a Stripe-Signature header this platform uses. v0 (test-mode legacy) and unknown
// schemes are skipped.
struct stripe_signature {
  std::int64_t timestamp_unix_s = 0;
  std::vector<std::string> v1_signatures;  // as sent: lower-case hex of HMAC-SHA256
};

// Reads "t=1700000000,v1=abc...,v1=def...,v0=...". Malformed (nullopt): empty, longer than
// stripe_signature_header_length_max, an element without '=' or with an empty key or value, no
// t, t given twice, t not 1..12 decimal digits, more than stripe_signatures_per_header_max v1
// values. Spaces around an element are allowed.
std::optional<stripe_signature> parse_stripe_signature_header(std::string_view header);

enum class stripe_verification : std::uint8_t {
  ok = 1,
  malformed,            // the header cannot be read (see parse_stripe_signature_header)
  no_v1_signature,      // readable, but without any v1 signature (e.g. only v0)
  timestamp_too_old,    // now - t > tolerance: a replay or a very late delivery
  timestamp_in_future,  // t - now > future skew
  no_match,             // no v1 signature matches the body under any of the secrets
};

// Stable snake_case name ("timestamp_too_old"), for logs and metrics.
const char* to_string(stripe_verification result);

// Accepted when now - t <= tolerance_s, t - now <= future_skew_s and any v1 signature equals
// HMAC-SHA256(secret, "{t}.{raw_body}") under any of the secrets (each the whole "whsec_..."
// string, as Stripe uses it). Empty secrets are skipped; no usable secret means no_match.
stripe_verification verify_stripe(std::string_view header, std::string_view raw_body,
                                  const std::vector<std::string>& secrets, std::int64_t now_unix_s,
                                  std::int64_t tolerance_s = stripe_timestamp_tolerance_s,
                                  std::int64_t future_skew_s = stripe_future_skew_s);

// The v1 signature Stripe would send for this body: lower-case hex of HMAC-SHA256(secret, "{t}.{body}").
std::string sign_stripe(std::string_view secret, std::int64_t timestamp_unix_s, std::string_view raw_body);

// "t={t},v1={s1},v1={s2}": a header as Stripe builds it (for tests and the local provider double).
std::string stripe_signature_header(std::int64_t timestamp_unix_s, const std::vector<std::string>& v1_signatures);

// ---- Adyen -------------------------------------------------------------------------------------

// Adyen HMAC keys are 32 bytes (64 hex digits); anything from 1 to this many bytes is accepted.
inline constexpr std::size_t adyen_hmac_key_size_bytes_max = 128;

// The notification fields in Adyen's order, joined with ':' exactly as Adyen does: empty fields
// stay empty ("psp::merchant:..."), the amount is the integer in minor units, success is
// "true"/"false". Fields are taken as given (Adyen does not escape ':' either).
std::string adyen_signing_message(std::string_view psp_reference, std::string_view original_reference,
                                  std::string_view merchant_account_code, std::string_view merchant_reference,
                                  std::int64_t value_minor, std::string_view currency, std::string_view event_code,
                                  bool success);

// Whether `hex_key` is usable: non-empty, even length, hex digits only, at most
// adyen_hmac_key_size_bytes_max bytes. Check configured keys with it at start.
bool is_valid_adyen_hmac_key(std::string_view hex_key);

// base64(HMAC-SHA256(hex-decoded key, message)); nullopt when the key is not valid hex.
std::optional<std::string> sign_adyen(std::string_view hex_key, std::string_view message);

enum class adyen_verification : std::uint8_t {
  ok = 1,
  malformed_signature,  // not base64 of 32 bytes
  malformed_key,        // no key matched and at least one configured key is not valid hex
  no_match,             // no valid key gives this signature
};

const char* to_string(adyen_verification result);

// Accepted when the signature equals sign_adyen(key, message) for any of the keys (rotation).
// Invalid keys are skipped rather than trusted; when nothing matched and some key was invalid,
// the answer is malformed_key so that the configuration error is visible.
adyen_verification verify_adyen(const std::vector<std::string>& hex_keys, std::string_view message,
                                std::string_view base64_signature);

}  // namespace eventstripe::actors::payments
