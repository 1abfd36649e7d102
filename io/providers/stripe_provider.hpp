#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/payment_provider.hpp"

// Stripe's PaymentIntents API behind actors::payment_provider: form-encoded requests, an
// Idempotency-Key on every POST (`<key>_create`, `<key>_confirm`, `<key>_cancel`; refunds use
// their own key as given, and look for an earlier refund of theirs before they POST), a pinned Stripe-Version, and answers mapped to provider_outcome so
// that only "Stripe cannot have charged" ever allows another provider (see call_outcome.hpp).
// Webhooks are checked with actors/payments/webhook_signature.hpp before the body is parsed.
namespace eventstripe::io::providers {

class http_client;

// The API version whose object shapes this adapter reads.
inline constexpr std::string_view stripe_api_version = "2024-06-20";

struct stripe_settings {
  std::string name = "stripe";
  std::string api_base;                      // https://api.stripe.com, or a sandbox
  std::string secret_key;                    // secret: sent only in Authorization
  std::vector<std::string> webhook_secrets;  // secrets: several while rotating
  std::string ca_file;                       // empty: the system's trust store
  std::chrono::milliseconds timeout_ms{5'000};
  std::chrono::seconds webhook_tolerance_s{300};
  std::chrono::seconds webhook_future_skew_s{60};
};

class stripe_provider final : public actors::payment_provider {
 public:
  // Throws std::invalid_argument when api_base is not an http(s) URL or the CA file cannot be loaded.
  explicit stripe_provider(stripe_settings settings);
  ~stripe_provider() override;

  const std::string& name() const override { return settings_.name; }
  std::string_view kind() const override { return "stripe"; }

  // POST /v1/payment_intents, confirm=false. return_url is sent with the confirm only: Stripe
  // accepts it on create only together with confirm=true.
  actors::provider_result create(const actors::payment_request& request) override;
  // POST /v1/payment_intents/{id}/confirm with return_url.
  actors::provider_result confirm(const actors::payment_request& request, std::string_view reference) override;
  // GET /v1/payment_intents/{id}. Never failed_before_acceptance: a failed read says nothing.
  actors::provider_result retrieve(const actors::payment_request& request, std::string_view reference) override;
  // POST /v1/payment_intents/{id}/cancel (cancellation_reason=abandoned).
  actors::provider_result cancel(const actors::payment_request& request, std::string_view reference) override;
  // POST /v1/refunds (payment_intent, amount, metadata[refund_id]), only after
  // GET /v1/refunds?payment_intent= (every page) holds no refund with our metadata.refund_id:
  // Stripe forgets idempotency keys after 24 hours, so a repeated POST could pay twice. A refund
  // found there is answered with its state; a list that cannot be read is answered `unknown`
  // (`failed` with http_status 0 when nothing was sent) and nothing is POSTed.
  actors::refund_result refund(const actors::refund_request& request) override;
  // GET /v1/refunds/{id}: a failed read (4xx, no answer) is `unknown`, never `failed`.
  actors::refund_result retrieve_refund(const actors::refund_request& request,
                                        std::string_view refund_reference) override;

  // Stripe-Signature over the raw body under every configured secret; the event JSON is parsed
  // only after the signature held. Hints: the event id and type, the PaymentIntent id
  // (data.object.id for payment_intent.* events, data.object.payment_intent otherwise) and
  // metadata.checkout_id as merchant_reference.
  actors::webhook_check verify_webhook(const actors::header_map& headers, std::string_view raw_body,
                                       std::chrono::system_clock::time_point now) const override;

 private:
  stripe_settings settings_;
  std::unique_ptr<http_client> client_;
};

}  // namespace eventstripe::io::providers
