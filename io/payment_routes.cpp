// Payments, tickets, webhooks and check-in over HTTP (no Beast here): handlers check input,
// then ask the checkout's payment entity or run one database job.
#include "io/payment_routes.hpp"

#include <algorithm>
#include <chrono>

#include <caf/send.hpp>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>
#include <pqxx/pqxx>

#include "actors/payment_provider.hpp"
#include "actors/payments/encoding.hpp"
#include "actors/payments/method_catalogue.hpp"
#include "actors/payments/qr_image.hpp"
#include "actors/payments/ticket_signing.hpp"
#include "actors/pricing/amount.hpp"
#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "io/auth.hpp"
#include "io/credentials.hpp"
#include "io/database_job.hpp"
#include "io/entity_call.hpp"
#include "io/inventory_http.hpp"
#include "io/json_body.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"
#include "storage/payments.hpp"

namespace eventstripe::io {
namespace {

using actors::entity_kind;

constexpr std::size_t idempotency_key_size_max = 255;
constexpr std::size_t holder_name_size_max = 200;
constexpr std::size_t method_size_max = 64;
constexpr std::size_t token_size_max = 255;
constexpr std::size_t url_size_max = 2048;
constexpr std::size_t scan_field_size_max = 128;
constexpr std::size_t ticket_id_size_max = 64;

std::string sha256_hex(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return actors::payments::hex_lower(std::span<const std::uint8_t>{digest, sizeof digest});
}

bool printable(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x21 && c <= 0x7e; });
}

bool upper_letters(const std::string& text, std::size_t size) {
  return text.size() == size && std::all_of(text.begin(), text.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

http_response payment_response(const actors::payment_answer& answer, const std::string& checkout_id) {
  int status = answer.replayed ? 200 : answer.settled ? 201 : 202;
  http_response response{status, "application/json", answer.json, {}};
  if (answer.replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
  if (status != 200) response.headers.emplace_back("Location", "/api/v1/checkouts/" + checkout_id + "/payment");
  return response;
}

void pay(const payment_routes_context& context, http_request& request, responder respond) {
  const auto& checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
  json_body body{request.body, {"method", "method_token", "country", "holder_name", "return_url"}};
  auto method = body.required_string("method");
  auto country = body.required_string("country");
  auto holder = body.required_string("holder_name");
  auto token = body.optional_string("method_token");
  auto return_url = body.optional_string("return_url");
  if (!body.ok()) return respond(body.failure());
  auto blank = std::all_of(holder->begin(), holder->end(), [](char c) { return c == ' ' || c == '\t'; });
  if (method->empty() || method->size() > method_size_max || !printable(*method))
    body.reject("method", "must be a payment method id from GET /api/v1/checkouts/{id}/payment-methods");
  else if (!upper_letters(*country, 2)) body.reject("country", "must be an ISO 3166-1 alpha-2 code in capitals (e.g. DE)");
  else if (blank || holder->size() > holder_name_size_max) body.reject("holder_name", "must be 1 to 200 bytes, not blank");
  else if (token && (token->empty() || token->size() > token_size_max || !printable(*token)))
    body.reject("method_token", "must be 1 to 255 printable characters");
  else if (return_url && (return_url->size() > url_size_max || !return_url->starts_with("http")))
    body.reject("return_url", "must be an http(s) URL of at most 2048 characters");
  if (!body.ok()) return respond(body.failure());
  const auto* key = request.header("idempotency-key");
  if (key && (key->empty() || key->size() > idempotency_key_size_max || !printable(*key)))
    return respond(problem(400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                           "An Idempotency-Key is 1 to 255 printable ASCII characters."));
  actors::pay_request pay;
  pay.checkout_id = checkout_id;
  pay.method = *method;
  pay.method_token = token.value_or("");
  pay.country = *country;
  pay.holder_name = *holder;
  pay.return_url = return_url.value_or("");
  pay.idempotency_key = key ? *key : "";
  pay.request_hash = sha256_hex(pay.method + "\n" + pay.method_token + "\n" + pay.country + "\n" + pay.holder_name +
                                "\n" + pay.return_url);
  auto timeout = context.answer_wait + context.limits.request_timeout_ms * 2;
  call_entity<actors::payment_answer>(
      *context.system, *context.directory, entity_kind::payment, checkout_id,
      caf::make_message(actors::pay_atom::value, std::move(pay)), timeout,
      [respond, checkout_id](actors::payment_answer& answer) { respond(payment_response(answer, checkout_id)); },
      [respond, id = request.request_id](caf::error& failure) { respond(inventory_problem(failure, id)); });
}

// The methods a buyer from `country` can pay this checkout with: valid for the event's currency
// and the country (the catalogue), and offered by at least one configured provider.
void payment_methods(const payment_routes_context& context, http_request& request, responder respond) {
  auto checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
  auto country = request.query_value("country");
  if (!country || !upper_letters(*country, 2))
    return respond(problem(400, "invalid-parameter", "Invalid parameter",
                           "country: required, an ISO 3166-1 alpha-2 code in capitals (e.g. ?country=DE)"));
  std::vector<std::string> kinds;
  for (const auto& provider : context.providers) kinds.emplace_back(provider->kind());
  answer_from_database(*context.pool, request.request_id, [checkout_id, country = *country, kinds](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    auto rows = transaction.exec_params(
        "SELECT e.currency FROM checkouts c JOIN events e ON e.id = c.event_id WHERE c.id = $1 AND c.failure_code IS NULL",
        checkout_id);
    if (rows.empty()) return problem(404, "not-found", "Not found", "No such checkout.");
    auto currency = rows[0][0].as<std::string>();
    nlohmann::json methods = nlohmann::json::array();
    for (const auto* method : actors::payments::methods_for(currency, country)) {
      nlohmann::json providers = nlohmann::json::array();
      for (const auto& kind : kinds)
        if (method->offered_by(kind) && std::find(providers.begin(), providers.end(), kind) == providers.end())
          providers.push_back(kind);
      if (providers.empty()) continue;
      methods.push_back({{"id", method->id},
                         {"name", method->name},
                         {"category", actors::payments::to_string(method->category)},
                         {"needs_redirect", method->needs_redirect},
                         {"providers", providers}});
    }
    nlohmann::json body{{"currency", currency}, {"country", country}, {"methods", methods}};
    return json_response(200, body.dump());
  }, std::move(respond));
}

void view_payment(const payment_routes_context& context, http_request& request, responder respond) {
  const auto& checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
  call_entity<actors::payment_answer>(
      *context.system, *context.directory, entity_kind::payment, checkout_id,
      caf::make_message(actors::view_atom::value), context.limits.request_timeout_ms,
      [respond](actors::payment_answer& answer) { respond(json_response(200, answer.json)); },
      [respond, id = request.request_id](caf::error& failure) { respond(inventory_problem(failure, id)); });
}

nlohmann::json ticket_json(const storage::ticket_row& ticket, const std::string& checkout_id) {
  auto base = "/api/v1/checkouts/" + checkout_id + "/tickets/" + ticket.id;
  return {{"id", ticket.id},
          {"ticket_type_id", ticket.ticket_type_id},
          {"ticket_type_name", ticket.ticket_type_name},
          {"holder_name", ticket.holder_name},
          {"status", ticket.status},
          {"valid_from_unix", ticket.valid_from_ms / 1000},
          {"valid_until_unix", ticket.valid_until_ms / 1000},
          {"qr_payload", ticket.payload},
          {"qr_svg_url", base + "/qr.svg"},
          {"qr_png_url", base + "/qr.png"}};
}

// The checkout id is the buyer's capability (128 random bits): whoever holds it sees its tickets.
void list_tickets(const payment_routes_context& context, http_request& request, responder respond) {
  auto checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such checkout."));
  answer_from_database(*context.pool, request.request_id, [checkout_id](pqxx::connection& connection) {
    auto order = storage::load_order(connection, checkout_id);
    if (!order) return problem(404, "not-found", "Not found", "No such checkout.");
    nlohmann::json tickets = nlohmann::json::array();
    for (const auto& ticket : order->tickets) tickets.push_back(ticket_json(ticket, checkout_id));
    nlohmann::json body{{"checkout_id", checkout_id},
                        {"event_id", order->event_id},
                        {"order_status", order->order_status.empty() ? nullptr : nlohmann::json(order->order_status)},
                        {"tickets", tickets}};
    return json_response(200, body.dump());
  }, std::move(respond));
}

void ticket_qr(const payment_routes_context& context, http_request& request, responder respond, bool png) {
  auto checkout_id = request.path_parameters.at("checkout_id");
  auto ticket_id = request.path_parameters.at("ticket_id");
  if (!is_random_id(checkout_id, "co_") || ticket_id.size() > ticket_id_size_max)
    return respond(problem(404, "not-found", "Not found", "No such ticket."));
  answer_from_database(*context.pool, request.request_id, [checkout_id, ticket_id, png](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    auto rows = transaction.exec_params("SELECT payload FROM tickets WHERE id = $1 AND checkout_id = $2", ticket_id,
                                        checkout_id);
    if (rows.empty()) return problem(404, "not-found", "Not found", "No such ticket.");
    auto matrix = actors::payments::encode_qr(rows[0][0].as<std::string>());
    if (!matrix) return problem(500, "internal-error", "Internal error", "The QR code could not be drawn.");
    if (png) {
      auto image = actors::payments::qr_png(*matrix);
      if (!image) return problem(500, "internal-error", "Internal error", "The QR code could not be drawn.");
      return http_response{200, "image/png", std::string(image->begin(), image->end()), {}};
    }
    auto image = actors::payments::qr_svg(*matrix);
    if (!image) return problem(500, "internal-error", "Internal error", "The QR code could not be drawn.");
    return http_response{200, "image/svg+xml", *image, {}};
  }, std::move(respond));
}

// Public: a scanner downloads the event's key before doors open and verifies QR codes offline.
void ticket_key(const payment_routes_context& context, http_request& request, responder respond) {
  auto event_id = request.path_parameters.at("event_id");
  if (!is_random_id(event_id, "ev_")) return respond(problem(404, "not-found", "Not found", "No such event."));
  answer_from_database(*context.pool, request.request_id, [event_id](pqxx::connection& connection) {
    auto key = storage::public_ticket_key(connection, event_id);
    if (!key) return problem(404, "not-found", "Not found", "This event has issued no tickets yet, so it has no key.");
    auto public_key = actors::payments::ticket_public_key::from_bytes(
        std::span{reinterpret_cast<const std::uint8_t*>(key->public_key.data()), key->public_key.size()});
    if (!public_key) return problem(500, "internal-error", "Internal error", "The stored key is unreadable.");
    auto pem = actors::payments::public_key_pem(*public_key);
    if (!pem) return problem(500, "internal-error", "Internal error", "The stored key is unreadable.");
    nlohmann::json body{{"event_id", event_id}, {"key_id", key->key_id}, {"algorithm", "Ed25519"}, {"public_key_pem", *pem}};
    return json_response(200, body.dump());
  }, std::move(respond));
}

// --- webhook ingress ---------------------------------------------------------------------------

// Verifies the signature over the raw body before anything else; a bad one changes nothing.
// Each new event (deduplicated by provider and event id) is a hint for its checkout's payment
// entity, which reads the payment's state from the provider itself. The provider gets its answer
// as soon as the events are recorded, well within its deadline.
void webhook(const payment_routes_context& context, http_request& request, responder respond) {
  const auto& name = request.path_parameters.at("provider");
  auto found = std::find_if(context.providers.begin(), context.providers.end(),
                            [&](const auto& provider) { return provider->name() == name; });
  if (found == context.providers.end())
    return respond(problem(404, "not-found", "Not found", "No such payment provider is configured."));
  auto provider = *found;
  actors::header_map headers;
  for (const auto& [header, value] : request.headers) headers.emplace(header, value);
  auto check = provider->verify_webhook(headers, request.body, std::chrono::system_clock::now());
  if (check.verdict != actors::webhook_verdict::accepted) {
    log::warn("webhook refused", {{"provider", name}, {"reason", std::string{actors::to_string(check.verdict)}},
                                  {"trace.id", request.request_id}});
    return respond(problem(400, "invalid-webhook-signature", "Invalid webhook",
                           std::string{"The webhook was refused: "} + std::string{actors::to_string(check.verdict)} + "."));
  }
  auto system = context.system;
  auto directory = context.directory;
  auto dropped = context.webhook_hints_dropped;
  answer_from_database(*context.pool, request.request_id, [check, name, system, directory, dropped](pqxx::connection& connection) {
    for (const auto& hint : check.hints) {
      // A merchant reference that names a checkout (Adyen echoes ours) finds a payment the
      // provider had not named yet; the event is stored with what it said, for a restart.
      auto fallback = is_random_id(hint.merchant_reference, "co_") ? hint.merchant_reference : std::string{};
      auto checkout = storage::record_webhook_event(
          connection, {name, hint.event_id, hint.type, hint.reference, hint.merchant_reference, hint.success}, fallback);
      if (!checkout) continue;
      // Fault injection: recorded and acknowledged, never told (as if the node died right here).
      if (dropped && dropped->load()) continue;
      auto region = directory->region_for(*checkout);
      if (region)
        caf::anon_send(region, actors::deliver_atom::value, entity_kind::payment, *checkout,
                       caf::make_message(actors::hint_atom::value, name, hint.reference, hint.type, hint.success,
                                         hint.merchant_reference));
    }
    http_response answer{200, check.acknowledgement.empty() ? "application/json" : "text/plain",
                         check.acknowledgement.empty() ? std::string{"{\"received\":true}"} : check.acknowledgement, {}};
    return answer;
  }, std::move(respond));
}

// --- check-in ------------------------------------------------------------------------------------

std::string scan_answer(const char* result, const std::string& ticket_id, const std::string& detail = {},
                        const std::string& at = {}, const std::string& device = {}) {
  nlohmann::json body{{"result", result}};
  if (!ticket_id.empty()) body["ticket_id"] = ticket_id;
  if (!detail.empty()) body["detail"] = detail;
  if (!at.empty()) body["checked_in_at"] = at;
  if (!device.empty()) body["checked_in_by"] = device;
  return body.dump();
}

// One transaction per scan: the signature and event, the revocation list, the validity window,
// then the entry itself (the checkins primary key admits a ticket once; two gates at the same
// moment get one `ok` and one `already_checked_in`). The answer is stored by (device, nonce),
// so a retried scan gets the same answer and makes no second entry.
http_response check_in(pqxx::connection& connection, const principal& who, const std::string& payload,
                       const std::string& device, const std::string& nonce) {
  namespace pay = actors::payments;
  pqxx::work transaction{connection};
  auto payload_hash = sha256_hex(payload);
  auto earlier = transaction.exec_params(
      "SELECT answer::text, encode(payload_sha256, 'hex') FROM checkin_scans "
      "WHERE workspace_id = $1 AND device = $2 AND nonce = $3",
      who.workspace_id, device, nonce);
  if (!earlier.empty()) {
    // The same scan again gets the same answer; the nonce with another code is a scanner fault.
    if (earlier[0][1].as<std::string>() != payload_hash)
      return problem(409, "nonce-reused", "Nonce reused",
                     "This device already used this nonce for another code; every scan needs a new nonce.");
    http_response replay = json_response(200, earlier[0][0].as<std::string>());
    replay.headers.emplace_back("Idempotent-Replayed", "true");
    return replay;
  }
  std::string answer;
  std::string event_id;
  std::string ticket_id;
  auto parsed = pay::parse_ticket_payload(payload);
  if (!parsed) {
    answer = scan_answer("invalid", "", "not a ticket code");
  } else {
    const auto& claims = parsed->claims;
    ticket_id = claims.ticket_id;
    auto key = transaction.exec_params(
        "SELECT k.public_key, e.workspace_id FROM event_ticket_keys k JOIN events e ON e.id = k.event_id "
        "WHERE k.event_id = $1 AND k.key_id = $2",
        claims.event_id, claims.key_id);
    if (key.empty() || key[0][1].as<std::string>() != who.workspace_id) {
      answer = scan_answer("invalid", "", "not a ticket of this organizer's events");
    } else {
      auto stored = pqxx::binarystring{key[0][0]}.str();
      auto public_key = pay::ticket_public_key::from_bytes(
          std::span{reinterpret_cast<const std::uint8_t*>(stored.data()), stored.size()});
      auto verified = public_key ? pay::verify_ticket_payload(payload, *public_key)
                                 : actors::expected<pay::ticket_claims, pay::ticket_errc>{pay::ticket_errc::invalid_key};
      event_id = claims.event_id;
      auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
      if (!verified) {
        answer = scan_answer("invalid", "", "the signature does not hold (forged or altered)");
      } else if (!pay::ticket_valid_at(*verified, now_s)) {
        answer = scan_answer("outside_validity", ticket_id, "the ticket is not valid at this time");
      } else {
        auto ticket = transaction.exec_params("SELECT status FROM tickets WHERE id = $1 AND event_id = $2", ticket_id,
                                              event_id);
        if (ticket.empty()) answer = scan_answer("invalid", "", "no such ticket");
        else if (ticket[0][0].as<std::string>() == "revoked") answer = scan_answer("revoked", ticket_id, "the ticket was refunded or revoked");
        else {
          auto entered = transaction.exec_params(
              "INSERT INTO checkins (ticket_id, event_id, device, nonce) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (ticket_id) DO NOTHING",
              ticket_id, event_id, device, nonce);
          if (entered.affected_rows() == 1) answer = scan_answer("ok", ticket_id);
          else {
            auto first = transaction.exec_params(
                "SELECT to_char(checked_in_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), device "
                "FROM checkins WHERE ticket_id = $1",
                ticket_id);
            answer = scan_answer("already_checked_in", ticket_id, "", first[0][0].as<std::string>(),
                                 first[0][1].as<std::string>());
          }
        }
      }
    }
  }
  // Only scans of this organizer's events are remembered (a made-up code is answered, not stored).
  if (!event_id.empty())
    transaction.exec_params(
        "INSERT INTO checkin_scans (workspace_id, device, nonce, event_id, ticket_id, payload_sha256, answer) "
        "VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), $7::jsonb) ON CONFLICT DO NOTHING",
        who.workspace_id, device, nonce, event_id, ticket_id.empty() ? std::optional<std::string>{} : ticket_id,
        payload_hash, answer);
  transaction.commit();
  return json_response(200, answer);
}

void checkin(const payment_routes_context& context, const http_request& request, const principal& who,
             responder respond) {
  json_body body{request.body, {"payload", "device", "nonce"}};
  auto payload = body.required_string("payload");
  auto device = body.required_string("device");
  auto nonce = body.required_string("nonce");
  if (!body.ok()) return respond(body.failure());
  if (payload->empty() || payload->size() > actors::payments::ticket_payload_length_max)
    body.reject("payload", "must be the text of a ticket's QR code");
  else if (device->empty() || device->size() > scan_field_size_max || !printable(*device))
    body.reject("device", "must be 1 to 128 printable characters naming the scanner");
  else if (nonce->empty() || nonce->size() > scan_field_size_max || !printable(*nonce))
    body.reject("nonce", "must be 1 to 128 printable characters, new for every scan");
  if (!body.ok()) return respond(body.failure());
  answer_from_database(*context.pool, request.request_id,
                       [who, payload = *payload, device = *device, nonce = *nonce](pqxx::connection& connection) {
                         return check_in(connection, who, payload, device, nonce);
                       },
                       std::move(respond));
}

void checkin_counts(const payment_routes_context& context, const http_request& request, const principal& who,
                    responder respond) {
  auto event_id = request.path_parameters.at("event_id");
  if (!is_random_id(event_id, "ev_")) return respond(problem(404, "not-found", "Not found", "No such event."));
  answer_from_database(*context.pool, request.request_id, [who, event_id](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    auto event = transaction.exec_params("SELECT 1 FROM events WHERE id = $1 AND workspace_id = $2", event_id,
                                         who.workspace_id);
    if (event.empty()) return problem(404, "not-found", "Not found", "No such event.");
    nlohmann::json types = nlohmann::json::array();
    std::int64_t issued = 0;
    std::int64_t checked_in = 0;
    for (const auto& row : transaction.exec_params(
             "SELECT tt.id, tt.name, count(t.id) FILTER (WHERE t.status = 'valid'), count(c.ticket_id) "
             "FROM ticket_types tt LEFT JOIN tickets t ON t.ticket_type_id = tt.id "
             "LEFT JOIN checkins c ON c.ticket_id = t.id WHERE tt.event_id = $1 GROUP BY tt.id, tt.name, tt.position "
             "ORDER BY tt.position",
             event_id)) {
      issued += row[2].as<std::int64_t>();
      checked_in += row[3].as<std::int64_t>();
      types.push_back({{"ticket_type_id", row[0].as<std::string>()},
                       {"name", row[1].as<std::string>()},
                       {"issued", row[2].as<std::int64_t>()},
                       {"checked_in", row[3].as<std::int64_t>()}});
    }
    nlohmann::json body{{"event_id", event_id}, {"issued", issued}, {"checked_in", checked_in}, {"ticket_types", types}};
    return json_response(200, body.dump());
  }, std::move(respond));
}

// --- organizers: refunds, offline payments, routing, revocation list ---------------------------

void refund(const payment_routes_context& context, const http_request& request, const principal& who,
            responder respond) {
  auto checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such order."));
  json_body body{request.body.empty() ? std::string_view{"{}"} : std::string_view{request.body},
                 {"amount", "ticket_type_ids", "release_seats", "reason"}};
  actors::refund_order_request refund;
  if (auto amount = body.optional_object("amount", {"minor", "currency"})) {
    auto minor = amount->required_integer("minor", 1, actors::pricing::amount_minor_max);
    auto currency = amount->required_string("currency");
    body.adopt_failure(*amount);
    if (body.ok() && !upper_letters(*currency, 3)) body.reject("amount.currency", "must be an ISO 4217 code in capitals");
    if (body.ok()) {
      refund.amount_minor = *minor;
      refund.currency = *currency;
    }
  }
  auto lines = body.optional_string_array("ticket_type_ids", 20);
  auto release = body.optional_boolean("release_seats");
  auto reason = body.optional_string("reason");
  if (body.ok() && lines)
    for (const auto& id : *lines)
      if (!is_random_id(id, "tt_")) body.reject("ticket_type_ids", "must be ticket type ids (tt_...) of the order");
  if (body.ok() && reason && reason->size() > 200) body.reject("reason", "must be at most 200 bytes");
  if (!body.ok()) return respond(body.failure());
  // Money leaves: a retried request must never refund twice, so the key is required here.
  const auto* key = request.header("idempotency-key");
  if (!key || key->empty() || key->size() > idempotency_key_size_max || !printable(*key))
    return respond(problem(400, "invalid-idempotency-key", "Idempotency-Key required",
                           "A refund needs an Idempotency-Key of 1 to 255 printable ASCII characters."));
  refund.workspace_id = who.workspace_id;
  refund.ticket_type_ids = lines.value_or(std::vector<std::string>{});
  refund.release_seats = release.value_or(false);
  refund.reason = reason.value_or("");
  refund.idempotency_key = *key;
  call_entity<actors::payment_answer>(
      *context.system, *context.directory, entity_kind::payment, checkout_id,
      caf::make_message(actors::refund_atom::value, std::move(refund)), context.answer_wait,
      [respond](actors::payment_answer& answer) {
        http_response response = json_response(answer.replayed ? 200 : 201, answer.json);
        if (answer.replayed) response.headers.emplace_back("Idempotent-Replayed", "true");
        respond(response);
      },
      [respond, id = request.request_id](caf::error& failure) { respond(inventory_problem(failure, id)); });
}

void mark_paid(const payment_routes_context& context, const http_request& request, const principal& who,
               responder respond) {
  auto checkout_id = request.path_parameters.at("checkout_id");
  if (!is_random_id(checkout_id, "co_")) return respond(problem(404, "not-found", "Not found", "No such order."));
  if (!request.body.empty()) {
    json_body body{request.body, {}};
    if (!body.ok()) return respond(body.failure());
  }
  call_entity<actors::payment_answer>(
      *context.system, *context.directory, entity_kind::payment, checkout_id,
      caf::make_message(actors::mark_paid_atom::value, who.workspace_id), context.answer_wait,
      [respond](actors::payment_answer& answer) { respond(json_response(200, answer.json)); },
      [respond, id = request.request_id](caf::error& failure) { respond(inventory_problem(failure, id)); });
}

nlohmann::json routes_json(pqxx::transaction_base& transaction, const std::string& workspace_id) {
  nlohmann::json routes = nlohmann::json::array();
  for (const auto& row : transaction.exec_params(
           "SELECT method, currency, country, array_to_json(providers)::text FROM payment_routes "
           "WHERE workspace_id = $1 ORDER BY method, currency, country",
           workspace_id))
    routes.push_back({{"method", row[0].as<std::string>()},
                      {"currency", row[1].as<std::string>()},
                      {"country", row[2].as<std::string>()},
                      {"providers", nlohmann::json::parse(row[3].as<std::string>())}});
  return {{"routes", routes}};
}

void get_routes(const payment_routes_context& context, const http_request& request, const principal& who,
                responder respond) {
  answer_from_database(*context.pool, request.request_id, [who](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    return json_response(200, routes_json(transaction, who.workspace_id).dump());
  }, std::move(respond));
}

// Replaces the workspace's routing: per method / currency / country ('*' matches any), the
// providers to try in order. Only configured providers that offer the method are accepted.
void put_routes(const payment_routes_context& context, const http_request& request, const principal& who,
                responder respond) {
  json_body body{request.body, {"routes"}};
  auto rules = body.required_object_array("routes", 0, 100, {"method", "currency", "country", "providers"});
  if (!body.ok()) return respond(body.failure());
  struct rule {
    std::string method, currency, country;
    std::vector<std::string> providers;
  };
  std::vector<rule> parsed;
  for (auto& item : *rules) {
    auto method = item->required_string("method");
    auto currency = item->required_string("currency");
    auto country = item->required_string("country");
    auto providers = item->optional_string_array("providers", 8);
    if (item->ok() && (!providers || providers->empty())) item->reject("providers", "must name 1 to 8 providers");
    const actors::payments::method* known = nullptr;
    if (item->ok() && *method != "*" && !(known = actors::payments::find_method(*method)))
      item->reject("method", "must be '*' or a payment method of the catalogue");
    if (item->ok() && *currency != "*" && !upper_letters(*currency, 3))
      item->reject("currency", "must be '*' or an ISO 4217 code in capitals");
    if (item->ok() && *country != "*" && !upper_letters(*country, 2))
      item->reject("country", "must be '*' or an ISO 3166-1 alpha-2 code in capitals");
    if (item->ok())
      for (const auto& name : *providers) {
        auto found = std::find_if(context.providers.begin(), context.providers.end(),
                                  [&](const auto& provider) { return provider->name() == name; });
        if (found == context.providers.end()) item->reject("providers", "must name configured providers only");
        else if (known && !known->offered_by((*found)->kind())) item->reject("providers", "names a provider that does not offer this method");
        else if (std::count(providers->begin(), providers->end(), name) > 1) item->reject("providers", "must not repeat a provider");
        if (!item->ok()) break;
      }
    body.adopt_failure(*item);
    if (!body.ok()) return respond(body.failure());
    for (const auto& other : parsed)
      if (other.method == *method && other.currency == *currency && other.country == *country) {
        body.reject("routes", "must not repeat a (method, currency, country)");
        return respond(body.failure());
      }
    parsed.push_back({*method, *currency, *country, *providers});
  }
  answer_from_database(*context.pool, request.request_id, [who, parsed](pqxx::connection& connection) {
    pqxx::work transaction{connection};
    transaction.exec_params("DELETE FROM payment_routes WHERE workspace_id = $1", who.workspace_id);
    for (const auto& entry : parsed) {
      std::string list = "{";
      for (std::size_t i = 0; i < entry.providers.size(); ++i) list += (i ? "," : "") + entry.providers[i];
      transaction.exec_params(
          "INSERT INTO payment_routes (workspace_id, method, currency, country, providers) VALUES ($1, $2, $3, $4, $5::text[])",
          who.workspace_id, entry.method, entry.currency, entry.country, list + "}");
    }
    auto answer = routes_json(transaction, who.workspace_id);
    transaction.commit();
    return json_response(200, answer.dump());
  }, std::move(respond));
}

// The revocation list a scanner downloads with the event's public key to check offline.
void revoked_tickets(const payment_routes_context& context, const http_request& request, const principal& who,
                     responder respond) {
  auto event_id = request.path_parameters.at("event_id");
  if (!is_random_id(event_id, "ev_")) return respond(problem(404, "not-found", "Not found", "No such event."));
  answer_from_database(*context.pool, request.request_id, [who, event_id](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    if (transaction.exec_params("SELECT 1 FROM events WHERE id = $1 AND workspace_id = $2", event_id, who.workspace_id).empty())
      return problem(404, "not-found", "Not found", "No such event.");
    nlohmann::json revoked = nlohmann::json::array();
    for (const auto& row : transaction.exec_params(
             "SELECT id, to_char(revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
             "coalesce(revoked_reason, '') FROM tickets WHERE event_id = $1 AND status = 'revoked' ORDER BY revoked_at, id",
             event_id))
      revoked.push_back({{"ticket_id", row[0].as<std::string>()},
                         {"revoked_at", row[1].as<std::string>()},
                         {"reason", row[2].as<std::string>()}});
    return json_response(200, nlohmann::json{{"event_id", event_id}, {"revoked", revoked}}.dump());
  }, std::move(respond));
}

}  // namespace

void add_payment_routes(router& routes, const payment_routes_context& context) {
  routes.add("POST", "/api/v1/checkouts/{checkout_id}/payments",
             [context](http_request& request, responder respond) { pay(context, request, std::move(respond)); });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}/payment-methods",
             [context](http_request& request, responder respond) { payment_methods(context, request, std::move(respond)); });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}/payment",
             [context](http_request& request, responder respond) { view_payment(context, request, std::move(respond)); });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}/tickets",
             [context](http_request& request, responder respond) { list_tickets(context, request, std::move(respond)); });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}/tickets/{ticket_id}/qr.svg",
             [context](http_request& request, responder respond) { ticket_qr(context, request, std::move(respond), false); });
  routes.add("GET", "/api/v1/checkouts/{checkout_id}/tickets/{ticket_id}/qr.png",
             [context](http_request& request, responder respond) { ticket_qr(context, request, std::move(respond), true); });
  routes.add("GET", "/api/v1/events/{event_id}/ticket-key",
             [context](http_request& request, responder respond) { ticket_key(context, request, std::move(respond)); });
  routes.add("POST", "/webhooks/{provider}",
             [context](http_request& request, responder respond) { webhook(context, request, std::move(respond)); });
  routes.add("POST", "/api/v1/checkin",
             require_authentication(*context.credentials, [context](const http_request& request, const principal& who,
                                                                    responder respond) {
               checkin(context, request, who, std::move(respond));
             }));
  auto organizer = [&routes, context](const char* method, const char* path,
                                      void (*handler)(const payment_routes_context&, const http_request&,
                                                      const principal&, responder)) {
    routes.add(method, path,
               require_authentication(*context.credentials,
                                      [context, handler](const http_request& request, const principal& who,
                                                         responder respond) { handler(context, request, who, respond); }));
  };
  // Fault injection: POST {field: bool} sets `flag` and answers it back.
  auto fault_switch = [&routes, &context](const char* path, std::string field, std::shared_ptr<std::atomic<bool>> flag) {
    if (!context.fault_injection || !flag) return;
    routes.add("POST", path, [field, flag](http_request& request, responder respond) {
      json_body body{request.body, {field}};
      auto value = body.optional_boolean(field);
      if (body.ok() && !value) body.reject(field, "is required");
      if (!body.ok()) return respond(body.failure());
      flag->store(*value);
      respond(json_response(200, nlohmann::json{{field, *value}}.dump()));
    });
  };
  fault_switch("/api/v1/debug/payments/fulfilment", "paused", context.fulfilment_paused);
  fault_switch("/api/v1/debug/payments/webhook-hints", "dropped", context.webhook_hints_dropped);
  fault_switch("/api/v1/debug/payments/attempt-failure", "armed", context.attempt_failure);
  organizer("POST", "/api/v1/organizer/orders/{checkout_id}/refunds", refund);
  organizer("POST", "/api/v1/organizer/orders/{checkout_id}/mark-paid", mark_paid);
  organizer("GET", "/api/v1/organizer/payment-routes", get_routes);
  organizer("PUT", "/api/v1/organizer/payment-routes", put_routes);
  organizer("GET", "/api/v1/organizer/events/{event_id}/revoked-tickets", revoked_tickets);
  routes.add("GET", "/api/v1/organizer/events/{event_id}/checkins",
             require_authentication(*context.credentials, [context](const http_request& request, const principal& who,
                                                                    responder respond) {
               checkin_counts(context, request, who, std::move(respond));
             }));
}

}  // namespace eventstripe::io
