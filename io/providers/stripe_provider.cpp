#include "io/providers/stripe_provider.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
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

// Stripe ids are at most this long ("pi_3Nk...", "re_..."); longer ones are not put in a path.
inline constexpr std::size_t stripe_id_length_max = 255;

bool is_stripe_id(std::string_view id) {
  return !id.empty() && id.size() <= stripe_id_length_max && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Once a PaymentIntent succeeded, what was taken (amount_received, which a partial capture makes
// smaller than amount); before, what is asked for.
void read_amount(provider_result& result, const json& intent) {
  auto received = integer_at(intent, "amount_received");
  bool succeeded = text_at(intent, "status") == "succeeded";
  result.amount_minor = succeeded && received ? *received : integer_at(intent, "amount").value_or(0);
  result.currency = ascii_upper(text_at(intent, "currency"));
}

// decline_code when Stripe gives one ("insufficient_funds"), else the error code ("card_declined").
std::string decline_code_of(const json& error) {
  auto code = text_at(error, "decline_code");
  return code.empty() ? text_at(error, "code") : code;
}

// ---- answers -> outcomes ----------------------------------------------------------------------

provider_result from_intent(const json& intent, int http_status) {
  provider_result result;
  result.http_status = http_status;
  result.reference = text_at(intent, "id");
  read_amount(result, intent);
  auto status = text_at(intent, "status");
  if (status == "succeeded") {
    result.outcome = provider_outcome::succeeded;
  } else if (status == "processing" || status == "requires_capture") {
    result.outcome = provider_outcome::processing;  // requires_capture: authorised; we never capture manually
  } else if (status == "requires_action") {
    result.outcome = provider_outcome::requires_action;
    const json* next_action = object_at(intent, "next_action");
    const json* redirect = next_action != nullptr ? object_at(*next_action, "redirect_to_url") : nullptr;
    result.action_url = redirect != nullptr ? text_at(*redirect, "url") : std::string{};
    if (result.action_url.empty() && next_action != nullptr) result.message = "next action " + text_at(*next_action, "type");
  } else if (status == "requires_confirmation") {
    result.outcome = provider_outcome::created;
  } else if (status == "requires_payment_method") {
    // After a confirm, Stripe puts the PaymentIntent back here with the reason of the refusal.
    const json* error = object_at(intent, "last_payment_error");
    result.outcome = error != nullptr ? provider_outcome::declined : provider_outcome::created;
    if (error != nullptr) {
      result.decline_code = decline_code_of(*error);
      result.message = text_at(*error, "message");
    }
  } else if (status == "canceled") {
    result.outcome = provider_outcome::cancelled;
    result.message = text_at(intent, "cancellation_reason");
  } else {
    result.outcome = provider_outcome::unknown;
    result.message = "unexpected PaymentIntent status '" + status + "'";
  }
  return result;
}

// A 402 card_error: the charge was attempted and refused. The PaymentIntent comes with it.
provider_result from_card_error(const json& error, int http_status) {
  provider_result result;
  if (const json* intent = object_at(error, "payment_intent")) {
    result.reference = text_at(*intent, "id");
    read_amount(result, *intent);
  }
  result.outcome = provider_outcome::declined;
  result.http_status = http_status;
  result.decline_code = decline_code_of(error);
  result.message = text_at(error, "message");
  return result;
}

provider_result map_intent_answer(const outbound_response& answer, call_effect effect) {
  if (answer.outcome != http_outcome::response) return result_without_answer(answer, effect);
  provider_result result;
  auto body = json::parse(answer.body, nullptr, false);
  int status = answer.status;
  result.http_status = status;
  if (status >= 200 && status < 300) {
    if (!text_at(body, "id").empty() && !text_at(body, "status").empty()) return from_intent(body, status);
    result.outcome = provider_outcome::unknown;
    result.message = "no PaymentIntent in a " + std::to_string(status) + " answer";
    return result;
  }
  const json* error = object_at(body, "error");
  if (status == 402 && error != nullptr && text_at(*error, "type") == "card_error") {
    return from_card_error(*error, status);
  }
  result.message = error != nullptr ? text_at(*error, "message") : std::string{};
  result.decline_code = error != nullptr ? text_at(*error, "code") : std::string{};
  if (auto transient = outcome_of_transient_status(status, effect)) {
    result.outcome = *transient;
  } else if (status >= 400 && status < 500) {
    result.outcome = effect == call_effect::reads ? provider_outcome::unknown : provider_outcome::rejected;
  } else {
    result.outcome = provider_outcome::unknown;
  }
  if (result.message.empty()) result.message = "HTTP " + std::to_string(status);
  return result;
}

// A Refund object's state: `succeeded`, `pending`/`requires_action`, `failed`/`canceled`.
refund_result from_refund(const json& refund, int http_status) {
  refund_result result;
  result.http_status = http_status;
  result.reference = text_at(refund, "id");
  auto status = text_at(refund, "status");
  if (status == "succeeded") result.outcome = refund_outcome::succeeded;
  else if (status == "pending" || status == "requires_action") result.outcome = refund_outcome::pending;
  else if (status == "failed" || status == "canceled") result.outcome = refund_outcome::failed;
  else result.outcome = refund_outcome::unknown;
  result.message = status == "failed" ? text_at(refund, "failure_reason") : std::string{};
  return result;
}

refund_result map_refund_answer(const outbound_response& answer) {
  if (answer.outcome != http_outcome::response) return refund_result_without_answer(answer);
  refund_result result;
  auto body = json::parse(answer.body, nullptr, false);
  result.http_status = answer.status;
  if (answer.status >= 200 && answer.status < 300) return from_refund(body, answer.status);
  const json* error = object_at(body, "error");
  result.message = error != nullptr ? text_at(*error, "message") : std::string{};
  if (result.message.empty()) result.message = "HTTP " + std::to_string(answer.status);
  auto transient = refund_outcome_of_transient_status(answer.status);
  result.outcome = transient ? *transient
                   : answer.status >= 400 && answer.status < 500 ? refund_outcome::failed
                                                                 : refund_outcome::unknown;
  return result;
}

// ---- webhooks -----------------------------------------------------------------------------------

webhook_verdict verdict_of(actors::payments::stripe_verification verification) {
  using actors::payments::stripe_verification;
  switch (verification) {
    case stripe_verification::ok: return webhook_verdict::accepted;
    case stripe_verification::no_v1_signature: return webhook_verdict::missing_signature;
    case stripe_verification::timestamp_too_old:
    case stripe_verification::timestamp_in_future: return webhook_verdict::stale_timestamp;
    case stripe_verification::malformed:
    case stripe_verification::no_match: return webhook_verdict::bad_signature;
  }
  return webhook_verdict::bad_signature;
}

// The PaymentIntent an event is about: the object itself for payment_intent.* events, its
// `payment_intent` field (an id, or the object when expanded) for charges, refunds and the rest.
std::string intent_of_event(std::string_view type, const json& object) {
  if (type.rfind("payment_intent.", 0) == 0) return text_at(object, "id");
  if (const json* expanded = object_at(object, "payment_intent")) return text_at(*expanded, "id");
  return text_at(object, "payment_intent");
}

// ---- the adapter --------------------------------------------------------------------------------

struct stripe_call {
  const stripe_settings& settings;
  const http_client& client;

  outbound_request request(std::string method, std::string path, std::string body = {},
                           std::string idempotency_key = {}) const {
    outbound_request out{std::move(method), std::move(path), {}, std::move(body)};
    out.headers = {{"Authorization", "Bearer " + settings.secret_key},
                   {"Stripe-Version", std::string{stripe_api_version}},
                   {"Accept", "application/json"},
                   {"User-Agent", "EventStripe"}};
    if (out.method == "POST") {
      out.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
      out.headers.emplace_back("Idempotency-Key", std::move(idempotency_key));
    }
    return out;
  }

  provider_result intent(std::string_view operation, call_effect effect, const outbound_request& request) const {
    return finish(operation, map_intent_answer(client.send(request), effect));
  }

  provider_result finish(std::string_view operation, provider_result result) const {
    return finish_call(settings.name, operation, std::move(result), {settings.secret_key});
  }

  // A request this adapter refuses to send (a bug upstream): rejected, nothing sent.
  provider_result refused(std::string_view operation, std::string message) const {
    provider_result result;
    result.outcome = provider_outcome::rejected;
    result.message = std::move(message);
    return finish(operation, std::move(result));
  }
};

// ---- refunds: look before paying --------------------------------------------------------------

// Stripe keeps an idempotency key for 24 hours: a refund repeated later under the same key would
// be a second refund. So every refund POST is preceded by a read of the PaymentIntent's refunds,
// newest first, for one carrying our metadata.refund_id.
inline constexpr int refund_list_page_size = 100;  // Stripe's largest `limit`
inline constexpr int refund_list_pages_max = 10;   // 1,000 refunds of one PaymentIntent

// The answer to give instead of a POST when a refund list page could not be read (nullopt: it
// was read). Nothing sent (connect failure) is `failed` with http_status 0, the adapters' "this
// call decided nothing, repeat it"; everything else is `unknown`. That includes 429 and every
// other 4xx: a 4xx here is a configuration problem (key, API version), and `failed` would close
// our refund, letting a new one be started while an earlier POST of this one may have paid out.
// Never `POST` instead: a POST we cannot check first could pay twice.
std::optional<refund_result> unlisted(const outbound_response& answer) {
  if (answer.outcome != http_outcome::response) {
    auto result = refund_result_without_answer(answer);
    result.message = "listing the refunds: " + result.message;
    return result;
  }
  if (answer.status >= 200 && answer.status < 300) return std::nullopt;
  refund_result result;
  result.outcome = refund_outcome::unknown;
  result.http_status = answer.status;
  auto body = json::parse(answer.body, nullptr, false);
  const json* error = object_at(body, "error");
  auto message = error != nullptr ? text_at(*error, "message") : std::string{};
  result.message = "listing the refunds answered HTTP " + std::to_string(answer.status) + (message.empty() ? "" : ": ") +
                   message + "; no refund sent";
  return result;
}

refund_result unchecked(int http_status, std::string message) {
  refund_result result;
  result.outcome = refund_outcome::unknown;
  result.http_status = http_status;
  result.message = std::move(message) + "; no refund sent";
  return result;
}

// Our refund as Stripe holds it, mapped like a single refund's answer. One with our id and
// another amount is a bug somewhere: left undecided (and logged) rather than recorded.
refund_result listed_refund(const json& refund, const actors::refund_request& request) {
  auto amount = integer_at(refund, "amount");
  if (amount != request.amount_minor) {
    return unchecked(200, "refund " + text_at(refund, "id") + " carries our refund id with amount " +
                              (amount ? std::to_string(*amount) : std::string{"?"}) + ", not " +
                              std::to_string(request.amount_minor));
  }
  return from_refund(refund, 200);
}

// GET /v1/refunds?payment_intent=..., following starting_after while has_more. nullopt: the whole
// list was read and none of its refunds is ours, so a POST cannot pay twice. Otherwise the answer
// to give instead of a POST: our refund's state, or an answer without a verdict.
std::optional<refund_result> earlier_refund(const stripe_call& call, const actors::refund_request& request) {
  std::string starting_after;
  for (int page = 0; page < refund_list_pages_max; ++page) {
    auto path = "/v1/refunds?payment_intent=" + form_encode(request.reference) +
                "&limit=" + std::to_string(refund_list_page_size);
    if (!starting_after.empty()) path += "&starting_after=" + form_encode(starting_after);
    auto answer = call.client.send(call.request("GET", path));
    if (auto failed = unlisted(answer)) return failed;
    auto list = json::parse(answer.body, nullptr, false);
    auto data = list.is_object() ? list.find("data") : list.end();
    auto has_more = list.is_object() ? list.find("has_more") : list.end();
    if (text_at(list, "object") != "list" || data == list.end() || !data->is_array() || has_more == list.end() ||
        !has_more->is_boolean()) {
      return unchecked(answer.status, "the refund list answer is not a list");
    }
    for (const auto& refund : *data) {
      const json* metadata = object_at(refund, "metadata");
      if (metadata != nullptr && text_at(*metadata, "refund_id") == request.refund_id) return listed_refund(refund, request);
    }
    if (!has_more->get<bool>()) return std::nullopt;
    starting_after = data->empty() ? std::string{} : text_at(data->back(), "id");
    if (!is_stripe_id(starting_after)) return unchecked(answer.status, "the refund list has more pages but no cursor");
  }
  return unchecked(200, "the PaymentIntent has more than " + std::to_string(refund_list_pages_max * refund_list_page_size) +
                            " refunds");
}

void append_metadata(form_fields& fields, const actors::payment_request& request) {
  fields.emplace_back("metadata[checkout_id]", request.checkout_id);
  fields.emplace_back("metadata[payment_id]", request.payment_id);
  fields.emplace_back("metadata[attempt]", std::to_string(request.attempt));
}

}  // namespace

stripe_provider::stripe_provider(stripe_settings settings) : settings_(std::move(settings)) {
  auto endpoint = parse_http_endpoint(settings_.api_base);
  if (!endpoint) throw std::invalid_argument("not an http(s) URL: " + settings_.api_base);
  client_ = std::make_unique<http_client>(*endpoint, http_client_options{settings_.ca_file, settings_.timeout_ms});
}

stripe_provider::~stripe_provider() = default;

provider_result stripe_provider::create(const actors::payment_request& request) {
  stripe_call call{settings_, *client_};
  if (request.idempotency_key.empty()) return call.refused("create", "no idempotency key");
  form_fields fields{{"amount", std::to_string(request.amount_minor)},
                     {"currency", ascii_lower(request.currency)},
                     {"confirm", "false"}};
  if (!request.method_token.empty()) fields.emplace_back("payment_method", request.method_token);
  if (!request.description.empty()) fields.emplace_back("description", request.description);
  append_metadata(fields, request);
  auto post = call.request("POST", "/v1/payment_intents", form_body(fields), request.idempotency_key + "_create");
  return call.intent("create", call_effect::registers, post);
}

provider_result stripe_provider::confirm(const actors::payment_request& request, std::string_view reference) {
  stripe_call call{settings_, *client_};
  if (request.idempotency_key.empty()) return call.refused("confirm", "no idempotency key");
  if (!is_stripe_id(reference)) return call.refused("confirm", "not a PaymentIntent id");
  form_fields fields;
  if (!request.return_url.empty()) fields.emplace_back("return_url", request.return_url);
  auto path = "/v1/payment_intents/" + path_segment(reference) + "/confirm";
  auto post = call.request("POST", path, form_body(fields), request.idempotency_key + "_confirm");
  return call.intent("confirm", call_effect::charges, post);
}

provider_result stripe_provider::retrieve(const actors::payment_request&, std::string_view reference) {
  stripe_call call{settings_, *client_};
  if (!is_stripe_id(reference)) return call.refused("retrieve", "not a PaymentIntent id");
  return call.intent("retrieve", call_effect::reads, call.request("GET", "/v1/payment_intents/" + path_segment(reference)));
}

provider_result stripe_provider::cancel(const actors::payment_request& request, std::string_view reference) {
  stripe_call call{settings_, *client_};
  if (request.idempotency_key.empty()) return call.refused("cancel", "no idempotency key");
  if (!is_stripe_id(reference)) return call.refused("cancel", "not a PaymentIntent id");
  auto path = "/v1/payment_intents/" + path_segment(reference) + "/cancel";
  auto post = call.request("POST", path, form_body({{"cancellation_reason", "abandoned"}}),
                           request.idempotency_key + "_cancel");
  return call.intent("cancel", call_effect::cancels, post);
}

refund_result stripe_provider::refund(const actors::refund_request& request) {
  stripe_call call{settings_, *client_};
  refund_result result;
  if (request.idempotency_key.empty() || !is_stripe_id(request.reference)) {
    result.outcome = refund_outcome::failed;
    result.message = request.idempotency_key.empty() ? "no idempotency key" : "not a PaymentIntent id";
  } else {
    if (auto earlier = earlier_refund(call, request)) {
      result = std::move(*earlier);
    } else {
      form_fields fields{{"payment_intent", request.reference},
                         {"amount", std::to_string(request.amount_minor)},
                         {"metadata[refund_id]", request.refund_id}};
      result = map_refund_answer(client_->send(call.request("POST", "/v1/refunds", form_body(fields), request.idempotency_key)));
    }
  }
  return finish_refund(settings_.name, std::move(result), {settings_.secret_key});
}

refund_result stripe_provider::retrieve_refund(const actors::refund_request&, std::string_view refund_reference) {
  stripe_call call{settings_, *client_};
  refund_result result;
  if (!is_stripe_id(refund_reference)) {
    result.outcome = refund_outcome::unknown;
    result.message = "not a refund id";
    return result;
  }
  result = map_refund_answer(client_->send(call.request("GET", "/v1/refunds/" + path_segment(refund_reference))));
  // Only the refund's own status is a verdict; a read that failed says nothing about it.
  if (result.outcome == refund_outcome::failed && result.http_status != 200) result.outcome = refund_outcome::unknown;
  return finish_refund(settings_.name, std::move(result), {settings_.secret_key});
}

webhook_check stripe_provider::verify_webhook(const actors::header_map& headers, std::string_view raw_body,
                                              std::chrono::system_clock::time_point now) const {
  webhook_check check;
  auto header = headers.find("stripe-signature");
  if (header == headers.end()) {
    check.verdict = webhook_verdict::missing_signature;
    return check;
  }
  auto now_unix_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  check.verdict = verdict_of(actors::payments::verify_stripe(header->second, raw_body, settings_.webhook_secrets,
                                                              now_unix_s, settings_.webhook_tolerance_s.count(),
                                                              settings_.webhook_future_skew_s.count()));
  if (check.verdict != webhook_verdict::accepted) return check;
  // Only now, with the signature held, is the body worth parsing.
  auto event = json::parse(raw_body, nullptr, false);
  actors::webhook_hint hint;
  hint.event_id = text_at(event, "id");
  hint.type = text_at(event, "type");
  if (hint.event_id.empty() || hint.type.empty()) {
    check.verdict = webhook_verdict::malformed;
    return check;
  }
  const json* data = object_at(event, "data");
  const json* object = data != nullptr ? object_at(*data, "object") : nullptr;
  if (object != nullptr) {
    hint.reference = intent_of_event(hint.type, *object);
    if (const json* metadata = object_at(*object, "metadata")) hint.merchant_reference = text_at(*metadata, "checkout_id");
  }
  check.hints.push_back(std::move(hint));
  return check;
}

}  // namespace eventstripe::io::providers
