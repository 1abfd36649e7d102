#include "io/providers/call_outcome.hpp"

#include "config/log.hpp"

namespace eventstripe::io::providers {

using actors::provider_outcome;
using actors::refund_outcome;

provider_outcome outcome_without_answer(http_outcome transport, call_effect effect) {
  switch (transport) {
    case http_outcome::invalid_request: return provider_outcome::rejected;
    case http_outcome::connect_failed:
    case http_outcome::timeout_before_send:
      return effect == call_effect::reads ? provider_outcome::unknown : provider_outcome::failed_before_acceptance;
    case http_outcome::response:  // not a failure; callers map responses themselves
    case http_outcome::send_failed:
    case http_outcome::timeout_after_send:
    case http_outcome::bad_response: return provider_outcome::unknown;
  }
  return provider_outcome::unknown;
}

std::optional<provider_outcome> outcome_of_transient_status(int status, call_effect effect) {
  if (status >= 500 && status <= 599) {
    return effect == call_effect::registers ? provider_outcome::failed_before_acceptance : provider_outcome::unknown;
  }
  if (status == 409) return provider_outcome::unknown;
  if (status == 429) {
    bool not_processed_is_safe = effect == call_effect::registers || effect == call_effect::cancels;
    return not_processed_is_safe ? provider_outcome::failed_before_acceptance : provider_outcome::unknown;
  }
  return std::nullopt;
}

refund_outcome refund_outcome_without_answer(http_outcome transport) {
  switch (transport) {
    case http_outcome::invalid_request:
    case http_outcome::connect_failed:
    case http_outcome::timeout_before_send: return refund_outcome::failed;
    case http_outcome::response:
    case http_outcome::send_failed:
    case http_outcome::timeout_after_send:
    case http_outcome::bad_response: return refund_outcome::unknown;
  }
  return refund_outcome::unknown;
}

std::optional<refund_outcome> refund_outcome_of_transient_status(int status) {
  if ((status >= 500 && status <= 599) || status == 409) return refund_outcome::unknown;
  if (status == 429) return refund_outcome::failed;
  return std::nullopt;
}

std::string without_secrets(std::string text, std::initializer_list<std::string_view> secrets) {
  for (auto secret : secrets) {
    if (secret.empty()) continue;
    for (auto found = text.find(secret); found != std::string::npos; found = text.find(secret, found + 3)) {
      text.replace(found, secret.size(), "***");
    }
  }
  return text;
}

std::string_view refund_outcome_name(refund_outcome outcome) {
  switch (outcome) {
    case refund_outcome::succeeded: return "succeeded";
    case refund_outcome::pending: return "pending";
    case refund_outcome::failed: return "failed";
    case refund_outcome::unknown: return "unknown";
  }
  return "unknown";
}

namespace {

void log_provider_call(std::string_view provider, std::string_view operation, std::string_view outcome,
                       int http_status, std::string_view message) {
  log::warn("payment provider call without a definite verdict",
            {{"provider", provider}, {"provider.operation", operation}, {"provider.outcome", outcome},
             {"http.response.status_code", http_status}, {"error.message", message}});
}

}  // namespace

actors::provider_result result_without_answer(const outbound_response& answer, call_effect effect) {
  actors::provider_result result;
  result.outcome = outcome_without_answer(answer.outcome, effect);
  result.message = std::string{to_string(answer.outcome)} + ": " + answer.detail;
  return result;
}

actors::refund_result refund_result_without_answer(const outbound_response& answer) {
  actors::refund_result result;
  result.outcome = refund_outcome_without_answer(answer.outcome);
  result.message = std::string{to_string(answer.outcome)} + ": " + answer.detail;
  return result;
}

actors::provider_result finish_call(std::string_view provider, std::string_view operation,
                                    actors::provider_result result, std::initializer_list<std::string_view> secrets) {
  result.message = without_secrets(std::move(result.message), secrets);
  auto outcome = result.outcome;
  if (outcome == provider_outcome::unknown || outcome == provider_outcome::failed_before_acceptance ||
      outcome == provider_outcome::rejected) {
    log_provider_call(provider, operation, actors::to_string(outcome), result.http_status, result.message);
  }
  return result;
}

actors::refund_result finish_refund(std::string_view provider, actors::refund_result result,
                                    std::initializer_list<std::string_view> secrets) {
  result.message = without_secrets(std::move(result.message), secrets);
  if (result.outcome == refund_outcome::failed || result.outcome == refund_outcome::unknown) {
    log_provider_call(provider, "refund", refund_outcome_name(result.outcome), result.http_status, result.message);
  }
  return result;
}

}  // namespace eventstripe::io::providers
