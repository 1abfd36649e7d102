#include "io/providers/offline_provider.hpp"

#include <openssl/sha.h>

#include <array>
#include <cstdint>

namespace eventstripe::io::providers {

namespace {

constexpr std::string_view crockford_alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

actors::provider_result offline_result(actors::provider_outcome outcome, const actors::payment_request& request,
                                       std::string reference) {
  actors::provider_result result;
  result.outcome = outcome;
  result.reference = std::move(reference);
  result.amount_minor = request.amount_minor;
  result.currency = request.currency;
  return result;
}

// The reference the payment was created with, or the derived one when the caller has none.
std::string reference_or_derived(const actors::payment_request& request, std::string_view reference) {
  return reference.empty() ? transfer_reference(request.checkout_id) : std::string{reference};
}

}  // namespace

std::string transfer_reference(std::string_view checkout_id) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(checkout_id.data()), checkout_id.size(), digest.data());
  std::uint64_t bits = 0;
  for (std::size_t index = 0; index < 8; ++index) bits = (bits << 8) | digest[index];
  std::string reference{transfer_reference_prefix};
  for (std::size_t index = 0; index < transfer_reference_code_characters; ++index) {
    reference += crockford_alphabet[(bits >> (59 - 5 * index)) & 0x1f];  // 5 bits at a time, from the top
  }
  return reference;
}

actors::provider_result offline_provider::create(const actors::payment_request& request) {
  return offline_result(actors::provider_outcome::created, request, transfer_reference(request.checkout_id));
}

actors::provider_result offline_provider::confirm(const actors::payment_request& request, std::string_view reference) {
  auto result = offline_result(actors::provider_outcome::processing, request, reference_or_derived(request, reference));
  result.message = "awaiting the bank transfer";
  return result;
}

actors::provider_result offline_provider::retrieve(const actors::payment_request& request, std::string_view reference) {
  return confirm(request, reference);
}

actors::provider_result offline_provider::cancel(const actors::payment_request& request, std::string_view reference) {
  return offline_result(actors::provider_outcome::cancelled, request, reference_or_derived(request, reference));
}

actors::refund_result offline_provider::refund(const actors::refund_request& request) {
  actors::refund_result result;
  result.outcome = actors::refund_outcome::pending;
  result.reference = request.refund_id;
  result.message = "to be sent back by bank transfer by the organizer";
  return result;
}

actors::webhook_check offline_provider::verify_webhook(const actors::header_map&, std::string_view,
                                                       std::chrono::system_clock::time_point) const {
  return {};  // malformed: there are no offline webhooks
}

}  // namespace eventstripe::io::providers
