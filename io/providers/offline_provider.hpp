#pragma once

#include <string>
#include <string_view>

#include "actors/payment_provider.hpp"

// Bank transfer with a reference the buyer writes on the transfer. Nothing is called: the money
// arrives outside EventStripe and the organizer marks the payment paid by hand, so the payment
// stays `processing` until then; refunds are made by hand too (`pending`). Always configured.
namespace eventstripe::io::providers {

inline constexpr std::string_view transfer_reference_prefix = "ES-";
inline constexpr std::size_t transfer_reference_code_characters = 10;

// The reference for a checkout's transfer: "ES-" and 10 characters of Crockford's base32
// (0-9 and A-Z without I, L, O, U, so it reads back unambiguously over the phone or from a bank
// statement) taken from the first 50 bits of SHA-256(checkout id). The same checkout always gets
// the same reference; two checkouts share one with probability about n^2 / 2^51.
std::string transfer_reference(std::string_view checkout_id);

class offline_provider final : public actors::payment_provider {
 public:
  explicit offline_provider(std::string name = "offline") : name_(std::move(name)) {}

  const std::string& name() const override { return name_; }
  std::string_view kind() const override { return "offline"; }

  // `created` with the transfer reference.
  actors::provider_result create(const actors::payment_request& request) override;
  // `processing`: the transfer is awaited.
  actors::provider_result confirm(const actors::payment_request& request, std::string_view reference) override;
  actors::provider_result retrieve(const actors::payment_request& request, std::string_view reference) override;
  actors::provider_result cancel(const actors::payment_request& request, std::string_view reference) override;
  // `pending`: the organizer sends the money back by hand.
  actors::refund_result refund(const actors::refund_request& request) override;
  // Always `malformed`: bank transfers have no webhooks.
  actors::webhook_check verify_webhook(const actors::header_map& headers, std::string_view raw_body,
                                       std::chrono::system_clock::time_point now) const override;

 private:
  std::string name_;
};

}  // namespace eventstripe::io::providers
