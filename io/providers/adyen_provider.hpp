#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "actors/payment_provider.hpp"

// Adyen's Checkout API (v71, JSON, X-API-Key) behind actors::payment_provider. Adyen has no
// "create without charging" step and no read endpoint for a payment, so create makes no call and
// retrieve repeats POST /payments with the same Idempotency-Key, which Adyen answers with the
// stored result (or processes once, if the first call never arrived). Notifications are checked
// item by item with the HMAC rules in actors/payments/webhook_signature.hpp.
namespace eventstripe::io::providers {

class http_client;

inline constexpr std::string_view adyen_api_version_path = "/v71";
// Adyen batches notifications; a request with more items than this is refused as malformed.
inline constexpr std::size_t adyen_notification_items_max = 100;

struct adyen_settings {
  std::string name = "adyen";
  std::string api_base;                // https://checkout-test.adyen.com, or a sandbox
  std::string api_key;                 // secret: sent only in X-API-Key
  std::vector<std::string> hmac_keys;  // secrets, hex; several while rotating
  std::string merchant_account;
  std::string ca_file;                 // empty: the system's trust store
  std::chrono::milliseconds timeout_ms{5'000};
};

class adyen_provider final : public actors::payment_provider {
 public:
  // Throws std::invalid_argument when api_base is not an http(s) URL, a HMAC key is not hex, the
  // merchant account is empty, or the CA file cannot be loaded.
  explicit adyen_provider(adyen_settings settings);
  ~adyen_provider() override;

  const std::string& name() const override { return settings_.name; }
  std::string_view kind() const override { return "adyen"; }

  // No call: `created` with an empty reference.
  actors::provider_result create(const actors::payment_request& request) override;
  // POST /v71/payments (stored card token, reference = checkout id) with `<key>_confirm`.
  actors::provider_result confirm(const actors::payment_request& request, std::string_view reference) override;
  // The same POST with the same key: Adyen replays the stored answer. Never failed_before_acceptance.
  actors::provider_result retrieve(const actors::payment_request& request, std::string_view reference) override;
  // POST /v71/payments/{pspReference}/cancels with `<key>_cancel`. Adyen answers "received" and
  // confirms with a CANCELLATION notification; the outcome is `cancelled` on "received". An empty
  // reference is rejected: resolve the payment (retrieve) before cancelling it.
  actors::provider_result cancel(const actors::payment_request& request, std::string_view reference) override;
  // POST /v71/payments/{pspReference}/refunds: "received" is `pending` (REFUND notification follows).
  actors::refund_result refund(const actors::refund_request& request) override;

  // Every notification item must carry a valid additionalData.hmacSignature under one of the
  // keys, or the whole request is refused. Acknowledgement: "[accepted]". Hints: event id
  // `pspReference:eventCode:success` (Adyen has no event id), the payment's pspReference
  // (originalReference for modifications such as REFUND and CANCELLATION), merchantReference,
  // success. Adyen signs no timestamp, so `now` is not used.
  actors::webhook_check verify_webhook(const actors::header_map& headers, std::string_view raw_body,
                                       std::chrono::system_clock::time_point now) const override;

 private:
  adyen_settings settings_;
  std::unique_ptr<http_client> client_;
};

}  // namespace eventstripe::io::providers
