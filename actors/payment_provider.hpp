#pragma once

// The one interface every payment provider sits behind (Stripe, Adyen-style, offline). The
// payment actors in actors/ only ever talk to this; io/ implements it for each wire format and
// the node hands the configured accounts to the actors at start.
//
// Every call blocks (network I/O) and is made on a provider worker thread, never on CAF's
// scheduler. Every call that can create or move money carries an idempotency key derived from
// the checkout and the attempt, so repeating it after a crash or a timeout cannot charge twice.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace eventstripe::actors {

// What we ask a provider to charge.
struct payment_request {
  std::string payment_id;       // ours: one per payment (all attempts of one checkout payment)
  std::string checkout_id;      // ours; sent as metadata / merchant reference
  std::int32_t attempt = 1;     // 1, 2, ...: one per provider tried
  std::int64_t amount_minor = 0;
  std::string currency;         // ISO 4217, upper case
  std::string method;           // catalogue id, e.g. "card", "ideal"
  std::string method_token;     // provider-side payment method token, e.g. "pm_card_visa"
  std::string buyer_email;
  std::string buyer_country;    // ISO 3166-1 alpha-2
  std::string description;
  std::string return_url;       // where a 3-D Secure / redirect step sends the buyer back
  // Derived from checkout and attempt (see provider_idempotency_key); the adapter appends the
  // operation ("create", "confirm") when one attempt makes several calls.
  std::string idempotency_key;
};

// How a call ended, as far as money is concerned. The distinction that matters most is
// `failed_before_acceptance` (safe to try another provider) versus `unknown` (the provider may
// have taken the money: ask the same provider before doing anything else).
enum class provider_outcome : std::uint8_t {
  created = 1,               // the provider knows the payment; nothing charged yet
  requires_action,           // the buyer must complete a step (3-D Secure, redirect): action_url
  processing,                // accepted, result not yet final
  succeeded,                 // captured
  declined,                  // definite refusal by the provider/issuer: try no other provider
  failed_before_acceptance,  // connection refused, 5xx before acceptance: try the next provider
  unknown,                   // timeout or broken answer after sending: query this provider
  cancelled,
  rejected,                  // our request was invalid (4xx other than decline): a bug or config error
};

std::string_view to_string(provider_outcome outcome);

struct provider_result {
  provider_outcome outcome = provider_outcome::unknown;
  std::string reference;      // provider's id: Stripe PaymentIntent id, Adyen pspReference
  std::string action_url;     // for requires_action
  std::string decline_code;   // for declined, e.g. "card_declined" / "insufficient_funds"
  std::string message;        // human-readable detail, never a secret
  std::int64_t amount_minor = 0;       // as the provider reports it (0 when unknown)
  std::string currency;
  std::int32_t http_status = 0;        // 0 when no HTTP answer arrived
};

struct refund_request {
  std::string refund_id;       // ours
  std::string reference;       // the payment's provider reference
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string idempotency_key;
};

enum class refund_outcome : std::uint8_t { succeeded = 1, pending, failed, unknown };

struct refund_result {
  refund_outcome outcome = refund_outcome::unknown;
  std::string reference;  // provider's refund id
  std::string message;
  std::int32_t http_status = 0;
};

// A verified webhook, reduced to what it hints at. A webhook is only a hint: the payment's
// state is re-read from the provider (or re-derived) before tickets are issued.
struct webhook_hint {
  std::string event_id;           // provider's event id; deduplication key with the provider name
  std::string type;               // provider's event type, e.g. "payment_intent.succeeded", "AUTHORISATION"
  std::string reference;          // provider's payment reference (PaymentIntent id / pspReference)
  std::string merchant_reference; // ours, when the provider echoes it (checkout id / payment id)
  bool success = true;            // Adyen's `success`; true for Stripe
};

enum class webhook_verdict : std::uint8_t {
  accepted = 1,
  malformed,          // not parseable as this provider's format
  missing_signature,
  stale_timestamp,    // outside the tolerance (past) or beyond the allowed future skew
  bad_signature,      // no signature matched under any configured secret
};

std::string_view to_string(webhook_verdict verdict);

struct webhook_check {
  webhook_verdict verdict = webhook_verdict::malformed;
  std::vector<webhook_hint> hints;  // filled only when accepted
  // The exact body the provider expects back on success ("[accepted]" for Adyen, "" for Stripe).
  std::string acknowledgement;
};

// Request headers as received, names lower-cased.
using header_map = std::map<std::string, std::string, std::less<>>;

class payment_provider {
 public:
  virtual ~payment_provider() = default;

  // The configured account's name (unique per node, used in routing and `/webhooks/{name}`).
  virtual const std::string& name() const = 0;
  // "stripe", "adyen" or "offline".
  virtual std::string_view kind() const = 0;

  // Registers the payment with the provider without charging (Stripe: create an unconfirmed
  // PaymentIntent). Outcome `created` with `reference` set, or a failure. Providers without such
  // a step answer `created` with an empty reference and make no call.
  virtual provider_result create(const payment_request& request) = 0;
  // Asks the provider to charge (Stripe: confirm the PaymentIntent; Adyen: POST /payments).
  virtual provider_result confirm(const payment_request& request, std::string_view reference) = 0;
  // Reads the payment's current state. For providers without a read endpoint (Adyen), repeats
  // the confirming call with the same idempotency key, which answers with the stored result.
  virtual provider_result retrieve(const payment_request& request, std::string_view reference) = 0;
  virtual provider_result cancel(const payment_request& request, std::string_view reference) = 0;
  virtual refund_result refund(const refund_request& request) = 0;
  // Reads a refund the provider answered `pending` (by the reference it gave). Providers without
  // a read endpoint answer `unknown` (Adyen: its REFUND notification settles the refund).
  virtual refund_result retrieve_refund(const refund_request& request, std::string_view refund_reference) {
    (void)request;
    (void)refund_reference;
    return {refund_outcome::unknown, {}, "this provider has no endpoint to read a refund", 0};
  }

  // Verifies a webhook's signature over the raw body (before anything else is parsed) and,
  // when it holds, extracts the hints. `now` is the wall time used for timestamp tolerance.
  virtual webhook_check verify_webhook(const header_map& headers, std::string_view raw_body,
                                       std::chrono::system_clock::time_point now) const = 0;
};

// The idempotency key sent to a provider for one attempt of one checkout's payment: the same
// inputs always give the same key, so a retry after a crash cannot create a second charge.
inline std::string provider_idempotency_key(std::string_view checkout_id, std::int32_t attempt) {
  std::string key = "es_";
  key.append(checkout_id);
  key += "_a";
  key += std::to_string(attempt);
  return key;
}

}  // namespace eventstripe::actors
