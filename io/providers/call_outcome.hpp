#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "actors/payment_provider.hpp"
#include "io/providers/http_client.hpp"

// The one place that decides what an answer without a verdict means for money, shared by the
// Stripe and Adyen adapters. The rule (DESIGN.md, Payments): only "the provider cannot have
// processed it" may become `failed_before_acceptance` (the actor then tries the next provider);
// anything that may have moved money is `unknown` (the actor asks the same provider again).
namespace eventstripe::io::providers {

// What a call can do to money, which decides what a missing or non-committal answer means.
enum class call_effect : std::uint8_t {
  registers,  // creates a record and charges nothing (Stripe's unconfirmed PaymentIntent)
  charges,    // may move money (Stripe confirm, Adyen POST /payments)
  reads,      // reports the state (Stripe retrieve, Adyen's repeated /payments): a failed read
              // says nothing about the payment, so it is never `failed_before_acceptance`
  cancels,    // voids a payment that is not captured
};

// A call that got no complete HTTP answer:
//   invalid_request                         -> rejected (a bug on our side; nothing was sent)
//   connect_failed, timeout_before_send     -> failed_before_acceptance (reads: unknown)
//   send_failed, timeout_after_send, bad_response -> unknown
actors::provider_outcome outcome_without_answer(http_outcome transport, call_effect effect);

// Statuses that are no verdict on the payment, whatever the body says:
//   5xx -> registers: failed_before_acceptance (nothing can be charged by it); otherwise unknown
//          (Stripe: a 500 "may or may not have been processed"; Adyen says to retry with the key)
//   409 -> unknown (the same idempotency key is still being processed)
//   429 -> registers, cancels: failed_before_acceptance (rate limited: not processed);
//          charges, reads: unknown (conservative: resolved by a read, which cannot charge)
// nullopt for every other status.
std::optional<actors::provider_outcome> outcome_of_transient_status(int status, call_effect effect);

// Refunds are always repeated with the same idempotency key, so "not sent" and "refused" are
// both `failed` (http_status 0 tells "never reached the provider": repeat it), and anything
// that may have been processed is `unknown`.
actors::refund_outcome refund_outcome_without_answer(http_outcome transport);
std::optional<actors::refund_outcome> refund_outcome_of_transient_status(int status);

// `text` with every occurrence of each non-empty secret replaced by "***": provider error
// messages are copied into results and logs, and a provider may echo what it was sent.
std::string without_secrets(std::string text, std::initializer_list<std::string_view> secrets);

// A call that got no complete answer, as a result: outcome per outcome_without_answer, message
// naming the transport failure and its detail, http_status 0.
actors::provider_result result_without_answer(const outbound_response& answer, call_effect effect);
actors::refund_result refund_result_without_answer(const outbound_response& answer);

// The last step of every adapter call: the message passes through without_secrets, and a call
// without a definite verdict (unknown, failed_before_acceptance, rejected; refunds: failed,
// unknown) is logged as one warning naming the provider account and the operation.
actors::provider_result finish_call(std::string_view provider, std::string_view operation,
                                    actors::provider_result result, std::initializer_list<std::string_view> secrets);
actors::refund_result finish_refund(std::string_view provider, actors::refund_result result,
                                    std::initializer_list<std::string_view> secrets);

// Stable snake_case name of a refund outcome, for logs (payment outcomes have actors::to_string).
std::string_view refund_outcome_name(actors::refund_outcome outcome);

}  // namespace eventstripe::io::providers
