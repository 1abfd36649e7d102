#include "io/providers/adyen_provider.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

#include "actors/payments/webhook_signature.hpp"
#include "io/providers/call_outcome.hpp"
#include "io/providers/form_encoding.hpp"
#include "io/providers/http_client.hpp"
#include "io/providers/wire_fields.hpp"

namespace eventstripe::io::providers {

namespace {

using actors::provider_outcome;
using actors::provider_result;
using actors::refund_outcome;
using actors::refund_result;
using actors::webhook_check;
using actors::webhook_verdict;
using json = nlohmann::json;

// pspReferences are 16 alphanumerics; anything else is not put in a path.
inline constexpr std::size_t psp_reference_length_max = 64;
// Adyen's error code for "a request with this Idempotency-Key is still being processed".
inline constexpr std::string_view adyen_request_in_progress_error_code = "704";

bool is_psp_reference(std::string_view reference) {
  return !reference.empty() && reference.size() <= psp_reference_length_max &&
         std::all_of(reference.begin(), reference.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
         });
}

// Never throws on text that is not UTF-8 (a buyer's email is passed through as given).
std::string dump(const json& body) { return body.dump(-1, ' ', false, json::error_handler_t::replace); }

json amount_of(std::int64_t amount_minor, std::string_view currency) {
  return {{"value", amount_minor}, {"currency", ascii_upper(currency)}};
}

// ---- answers -> outcomes ------------------------------------------------------------------------

provider_outcome outcome_of_result_code(std::string_view code) {
  if (code == "Authorised") return provider_outcome::succeeded;  // captured by the account's auto-capture
  // Error: Adyen processed the payment and ended it without charging; a definite, final refusal.
  if (code == "Refused" || code == "Error") return provider_outcome::declined;
  if (code == "Cancelled") return provider_outcome::cancelled;
  if (code == "RedirectShopper" || code == "IdentifyShopper" || code == "ChallengeShopper" ||
      code == "PresentToShopper") {
    return provider_outcome::requires_action;
  }
  if (code == "Pending" || code == "Received" || code == "AuthenticationFinished" ||
      code == "AuthenticationNotRequired") {
    return provider_outcome::processing;
  }
  return provider_outcome::unknown;
}

provider_result from_payment(const json& body, int http_status) {
  provider_result result;
  result.http_status = http_status;
  result.reference = text_at(body, "pspReference");
  if (const json* amount = object_at(body, "amount")) {
    result.amount_minor = integer_at(*amount, "value").value_or(0);
    result.currency = text_at(*amount, "currency");
  }
  auto code = text_at(body, "resultCode");
  result.outcome = outcome_of_result_code(code);
  if (result.outcome == provider_outcome::declined) {
    result.message = text_at(body, "refusalReason");
    result.decline_code = result.message.empty() ? code : result.message;
  } else if (result.outcome == provider_outcome::requires_action) {
    const json* action = object_at(body, "action");
    result.action_url = action != nullptr ? text_at(*action, "url") : std::string{};
    if (result.action_url.empty() && action != nullptr) result.message = "action " + text_at(*action, "type");
  } else if (result.outcome == provider_outcome::unknown) {
    result.message = "unexpected resultCode '" + code + "'";
  }
  return result;
}

// An error answer ({status, errorCode, message, errorType}) or an answer without a verdict.
provider_result from_error(const outbound_response& answer, const json& body, call_effect effect) {
  provider_result result;
  result.http_status = answer.status;
  result.decline_code = text_at(body, "errorCode");
  result.message = text_at(body, "message");
  auto transient_header = answer.headers.find("transient-error");
  bool in_progress = result.decline_code == adyen_request_in_progress_error_code ||
                     (transient_header != answer.headers.end() && ascii_lower(transient_header->second) == "true");
  if (in_progress) {
    result.outcome = provider_outcome::unknown;
  } else if (auto transient = outcome_of_transient_status(answer.status, effect)) {
    result.outcome = *transient;
  } else if (answer.status >= 400 && answer.status < 500) {
    result.outcome = effect == call_effect::reads ? provider_outcome::unknown : provider_outcome::rejected;
  } else {
    result.outcome = provider_outcome::unknown;
  }
  if (result.message.empty()) result.message = "HTTP " + std::to_string(answer.status);
  return result;
}

provider_result map_payment_answer(const outbound_response& answer, call_effect effect) {
  if (answer.outcome != http_outcome::response) return result_without_answer(answer, effect);
  auto body = json::parse(answer.body, nullptr, false);
  if (answer.status >= 200 && answer.status < 300) {
    if (!text_at(body, "resultCode").empty()) return from_payment(body, answer.status);
    provider_result result;
    result.http_status = answer.status;
    result.message = "no resultCode in a " + std::to_string(answer.status) + " answer";
    return result;  // unknown
  }
  return from_error(answer, body, effect);
}

// Answers to /cancels: "received" means Adyen took the cancellation (CANCELLATION follows).
provider_result map_cancel_answer(const outbound_response& answer, std::string_view payment_reference) {
  if (answer.outcome != http_outcome::response) return result_without_answer(answer, call_effect::cancels);
  auto body = json::parse(answer.body, nullptr, false);
  if (answer.status < 200 || answer.status >= 300) return from_error(answer, body, call_effect::cancels);
  provider_result result;
  result.http_status = answer.status;
  result.reference = std::string{payment_reference};
  bool received = text_at(body, "status") == "received";
  result.outcome = received ? provider_outcome::cancelled : provider_outcome::unknown;
  result.message = received ? "cancellation " + text_at(body, "pspReference") + " received"
                            : "unexpected cancellation status '" + text_at(body, "status") + "'";
  return result;
}

refund_result map_refund_answer(const outbound_response& answer) {
  if (answer.outcome != http_outcome::response) return refund_result_without_answer(answer);
  auto body = json::parse(answer.body, nullptr, false);
  refund_result result;
  result.http_status = answer.status;
  if (answer.status >= 200 && answer.status < 300) {
    result.reference = text_at(body, "pspReference");
    result.outcome = text_at(body, "status") == "received" ? refund_outcome::pending : refund_outcome::unknown;
    return result;
  }
  result.message = text_at(body, "message");
  if (result.message.empty()) result.message = "HTTP " + std::to_string(answer.status);
  auto transient = refund_outcome_of_transient_status(answer.status);
  bool in_progress = text_at(body, "errorCode") == adyen_request_in_progress_error_code;
  result.outcome = in_progress ? refund_outcome::unknown
                   : transient ? *transient
                   : answer.status >= 400 && answer.status < 500 ? refund_outcome::failed
                                                                 : refund_outcome::unknown;
  return result;
}

// ---- notifications ------------------------------------------------------------------------------

struct notification_item {
  std::string psp_reference;
  std::string original_reference;
  std::string merchant_account_code;
  std::string merchant_reference;
  std::int64_t value_minor = 0;
  std::string currency;
  std::string event_code;
  bool success = false;
  std::string hmac_signature;
};

// nullopt when the item lacks a field the signature covers (or has it with another type).
std::optional<notification_item> read_item(const json& wrapper) {
  const json* item = object_at(wrapper, "NotificationRequestItem");
  const json* amount = item != nullptr ? object_at(*item, "amount") : nullptr;
  if (amount == nullptr) return std::nullopt;
  notification_item read;
  read.psp_reference = text_at(*item, "pspReference");
  read.original_reference = text_at(*item, "originalReference");
  read.merchant_account_code = text_at(*item, "merchantAccountCode");
  read.merchant_reference = text_at(*item, "merchantReference");
  read.currency = text_at(*amount, "currency");
  read.event_code = text_at(*item, "eventCode");
  auto value = integer_at(*amount, "value");
  auto success = item->find("success");
  bool success_readable = success != item->end() && (success->is_boolean() || success->is_string());
  if (!value || read.psp_reference.empty() || read.event_code.empty() || !success_readable) return std::nullopt;
  read.value_minor = *value;
  read.success = success->is_boolean() ? success->get<bool>() : success->get<std::string>() == "true";
  if (const json* additional = object_at(*item, "additionalData")) read.hmac_signature = text_at(*additional, "hmacSignature");
  return read;
}

actors::webhook_hint hint_of(const notification_item& item) {
  actors::webhook_hint hint;
  hint.event_id = item.psp_reference + ":" + item.event_code + ":" + (item.success ? "true" : "false");
  hint.type = item.event_code;
  // Modifications (REFUND, CANCELLATION, CAPTURE, ...) carry the payment's pspReference here.
  hint.reference = item.original_reference.empty() ? item.psp_reference : item.original_reference;
  hint.merchant_reference = item.merchant_reference;
  hint.success = item.success;
  return hint;
}

// ---- the adapter --------------------------------------------------------------------------------

struct adyen_call {
  const adyen_settings& settings;
  const http_client& client;

  outbound_response post(std::string path, const json& body, std::string idempotency_key) const {
    outbound_request request{"POST", std::string{adyen_api_version_path} + path, {}, dump(body)};
    request.headers = {{"X-API-Key", settings.api_key},
                       {"Content-Type", "application/json"},
                       {"Accept", "application/json"},
                       {"User-Agent", "EventStripe"},
                       {"Idempotency-Key", std::move(idempotency_key)}};
    return client.send(request);
  }

  provider_result finish(std::string_view operation, provider_result result) const {
    return finish_call(settings.name, operation, std::move(result), {settings.api_key});
  }

  provider_result refused(std::string_view operation, std::string message) const {
    provider_result result;
    result.outcome = provider_outcome::rejected;
    result.message = std::move(message);
    return finish(operation, std::move(result));
  }

  json payment_body(const actors::payment_request& request) const {
    json body = {{"amount", amount_of(request.amount_minor, request.currency)},
                 {"reference", request.checkout_id},
                 {"merchantAccount", settings.merchant_account},
                 {"paymentMethod", {{"type", "scheme"}, {"storedPaymentMethodId", request.method_token}}},
                 {"returnUrl", request.return_url},
                 {"metadata", {{"payment_id", request.payment_id}, {"attempt", std::to_string(request.attempt)}}}};
    if (!request.buyer_email.empty()) body["shopperEmail"] = request.buyer_email;
    if (!request.buyer_country.empty()) body["countryCode"] = ascii_upper(request.buyer_country);
    return body;
  }

  // POST /payments under `<key>_confirm`: the first time it charges, after that Adyen replays.
  provider_result pay(std::string_view operation, call_effect effect, const actors::payment_request& request) const {
    if (request.idempotency_key.empty()) return refused(operation, "no idempotency key");
    auto answer = post("/payments", payment_body(request), request.idempotency_key + "_confirm");
    return finish(operation, map_payment_answer(answer, effect));
  }
};

}  // namespace

adyen_provider::adyen_provider(adyen_settings settings) : settings_(std::move(settings)) {
  auto endpoint = parse_http_endpoint(settings_.api_base);
  if (!endpoint) throw std::invalid_argument("not an http(s) URL: " + settings_.api_base);
  if (settings_.merchant_account.empty()) throw std::invalid_argument("no merchant account");
  for (std::size_t index = 0; index < settings_.hmac_keys.size(); ++index) {
    if (!actors::payments::is_valid_adyen_hmac_key(settings_.hmac_keys[index])) {
      throw std::invalid_argument("HMAC key " + std::to_string(index + 1) + " is not a hex key");
    }
  }
  client_ = std::make_unique<http_client>(*endpoint, http_client_options{settings_.ca_file, settings_.timeout_ms});
}

adyen_provider::~adyen_provider() = default;

provider_result adyen_provider::create(const actors::payment_request& request) {
  provider_result result;
  result.outcome = provider_outcome::created;  // Adyen has no step before the payment itself
  result.amount_minor = request.amount_minor;
  result.currency = request.currency;
  return result;
}

provider_result adyen_provider::confirm(const actors::payment_request& request, std::string_view) {
  return adyen_call{settings_, *client_}.pay("confirm", call_effect::charges, request);
}

provider_result adyen_provider::retrieve(const actors::payment_request& request, std::string_view) {
  return adyen_call{settings_, *client_}.pay("retrieve", call_effect::reads, request);
}

provider_result adyen_provider::cancel(const actors::payment_request& request, std::string_view reference) {
  adyen_call call{settings_, *client_};
  if (request.idempotency_key.empty()) return call.refused("cancel", "no idempotency key");
  if (!is_psp_reference(reference)) return call.refused("cancel", "no pspReference: retrieve the payment first");
  json body = {{"merchantAccount", settings_.merchant_account}, {"reference", request.checkout_id}};
  auto answer = call.post("/payments/" + path_segment(reference) + "/cancels", body, request.idempotency_key + "_cancel");
  return call.finish("cancel", map_cancel_answer(answer, reference));
}

refund_result adyen_provider::refund(const actors::refund_request& request) {
  adyen_call call{settings_, *client_};
  refund_result result;
  if (request.idempotency_key.empty() || !is_psp_reference(request.reference)) {
    result.outcome = refund_outcome::failed;
    result.message = request.idempotency_key.empty() ? "no idempotency key" : "not a pspReference";
  } else {
    json body = {{"merchantAccount", settings_.merchant_account},
                 {"amount", amount_of(request.amount_minor, request.currency)},
                 {"reference", request.refund_id}};
    result = map_refund_answer(
        call.post("/payments/" + path_segment(request.reference) + "/refunds", body, request.idempotency_key));
  }
  return finish_refund(settings_.name, std::move(result), {settings_.api_key});
}

webhook_check adyen_provider::verify_webhook(const actors::header_map&, std::string_view raw_body,
                                             std::chrono::system_clock::time_point) const {
  webhook_check check;
  // Adyen signs fields, not the body, so the body must be read before anything can be checked;
  // nothing in it is used until every item's signature held.
  auto body = json::parse(raw_body, nullptr, false);
  auto items = body.is_object() ? body.find("notificationItems") : body.end();
  if (!body.is_object() || items == body.end() || !items->is_array() || items->empty() ||
      items->size() > adyen_notification_items_max) {
    return check;  // malformed
  }
  std::vector<actors::webhook_hint> hints;
  for (const auto& wrapper : *items) {
    auto item = read_item(wrapper);
    if (!item) return check;  // malformed
    if (item->hmac_signature.empty()) {
      check.verdict = webhook_verdict::missing_signature;
      return check;
    }
    auto message = actors::payments::adyen_signing_message(
        item->psp_reference, item->original_reference, item->merchant_account_code, item->merchant_reference,
        item->value_minor, item->currency, item->event_code, item->success);
    auto verification = actors::payments::verify_adyen(settings_.hmac_keys, message, item->hmac_signature);
    if (verification != actors::payments::adyen_verification::ok) {
      check.verdict = webhook_verdict::bad_signature;
      return check;
    }
    hints.push_back(hint_of(*item));
  }
  check.verdict = webhook_verdict::accepted;
  check.hints = std::move(hints);
  check.acknowledgement = "[accepted]";
  return check;
}

}  // namespace eventstripe::io::providers
