#include "actors/payment_provider.hpp"

namespace eventstripe::actors {

std::string_view to_string(provider_outcome outcome) {
  switch (outcome) {
    case provider_outcome::created: return "created";
    case provider_outcome::requires_action: return "requires_action";
    case provider_outcome::processing: return "processing";
    case provider_outcome::succeeded: return "succeeded";
    case provider_outcome::declined: return "declined";
    case provider_outcome::failed_before_acceptance: return "failed_before_acceptance";
    case provider_outcome::unknown: return "unknown";
    case provider_outcome::cancelled: return "cancelled";
    case provider_outcome::rejected: return "rejected";
  }
  return "unknown";
}

std::string_view to_string(webhook_verdict verdict) {
  switch (verdict) {
    case webhook_verdict::accepted: return "accepted";
    case webhook_verdict::malformed: return "malformed";
    case webhook_verdict::missing_signature: return "missing_signature";
    case webhook_verdict::stale_timestamp: return "stale_timestamp";
    case webhook_verdict::bad_signature: return "bad_signature";
  }
  return "malformed";
}

}  // namespace eventstripe::actors
