#pragma once

// The payments' SQL: payments and their provider attempts, the order's state on the checkout,
// webhook deduplication, ticket keys and tickets. Every write of a payment entity is fenced by
// its shard's epoch (DESIGN.md) and conditional on the state it expects, so a stale actor can
// neither capture twice nor issue twice. Times are unix milliseconds.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/error.hpp"
#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {

struct fence {
  std::int32_t shard = 0;
  std::int64_t epoch = 0;
  std::string node_id;
};

struct payment_attempt_row {
  std::string payment_id;
  std::int32_t attempt = 0;
  std::string provider;
  std::string idempotency_key;
  std::string reference;  // empty until the provider named it
  std::string status;     // creating, created, confirming, requires_action, processing, unknown, succeeded, ...
  std::int32_t http_status = 0;
  std::string detail;
};

struct payment_row {
  std::string id;
  std::string checkout_id;
  std::string event_id;
  std::string workspace_id;
  std::string method;
  std::string method_token;
  std::string buyer_country;
  std::string holder_name;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string status;  // pending, requires_action, processing, unknown, succeeded, declined, failed, cancelled
  std::string provider;
  std::string provider_reference;
  std::int64_t captured_minor = 0;
  std::int64_t refunded_minor = 0;
  std::string decline_code;
  std::string failure_message;
  std::string action_url;
  std::string idempotency_key;
  std::string request_hash_hex;
  std::string return_url;  // where a 3-D Secure / redirect step returns the buyer
  std::int64_t created_at_ms = 0;
  std::vector<payment_attempt_row> attempts;  // in attempt order
};

// A ticket as it is issued: its signed payload covers id, event, type and validity.
struct new_ticket {
  std::string id;
  std::string ticket_type_id;
  std::int32_t seq = 0;
  std::string holder_name;
  std::int64_t unit_price_minor = 0;
  std::string currency;
  std::int64_t valid_from_ms = 0;
  std::int64_t valid_until_ms = 0;
  std::string payload;
};

// A ticket as stored, with what it became since.
struct ticket_row : new_ticket {
  std::string ticket_type_name;
  std::string status;  // valid, revoked
  std::optional<std::int64_t> checked_in_at_ms;
};

struct refund_row {
  std::string id;
  std::string payment_id;
  std::int64_t amount_minor = 0;
  std::string currency;
  std::string reason;
  std::vector<std::string> ticket_type_ids;  // lines whose tickets are revoked
  bool release_seats = false;                // their seats go back on sale
  std::string status;                        // pending, succeeded, failed
  std::string provider_reference;
  std::string idempotency_key;               // sent to the provider
  bool seats_released = false;               // release_seats done (the quotas have the seats back)
};

// One line of the order as the holds store it.
struct order_line_row {
  std::string ticket_type_id;
  std::int32_t quantity = 0;
  std::int64_t unit_price_minor = 0;
  std::int64_t discount_per_ticket_minor = 0;
  std::string tier_name;
  std::string status;  // held, expired, released, sold, refunded
};

// What a checkout's payment entity loads: the order's state, its event, its lines, its payments
// (oldest first) and its tickets.
// A verified provider event as recorded, with what it said (see 0007_webhook_verdicts.sql).
struct webhook_event_row {
  std::string provider;            // the account's name
  std::string event_id;
  std::string type;                // e.g. "payment_intent.succeeded", "AUTHORISATION", "REFUND"
  std::string reference;           // the provider's payment reference
  std::string merchant_reference;  // ours, as the provider echoes it (checkout id, refund id)
  bool success = true;             // Adyen's `success`
};

struct order_row {
  std::string checkout_id;
  std::string event_id;
  std::string workspace_id;
  std::string buyer_email;
  std::string order_status;  // empty: no payment started
  std::int64_t event_starts_at_ms = 0;
  std::int64_t event_ends_at_ms = 0;
  std::vector<order_line_row> lines;
  std::vector<payment_row> payments;
  std::vector<ticket_row> tickets;
  std::vector<refund_row> refunds;  // oldest first
  // The verdicts recorded for this checkout (see verdicts_of).
  std::vector<webhook_event_row> verdicts;
};

std::optional<order_row> load_order(pqxx::connection& connection, const std::string& checkout_id);

enum class payment_start { created, replayed, live_payment_exists, not_payable, fenced };

// Inserts `payment` (status pending) and moves the checkout's order to payment_pending, if the
// checkout has no order yet. A payment with the same Idempotency-Key answers `replayed`.
payment_start start_payment(pqxx::connection& connection, const fence& where, const payment_row& payment);

// One step of a payment, written in one transaction: an attempt's new state, the payment's new
// state, and the order's (set when `order_status_from` matches; "-" leaves it alone).
struct payment_step {
  std::optional<payment_attempt_row> attempt;
  std::string payment_id;
  std::optional<std::string> payment_status;
  std::string provider;
  std::string provider_reference;
  std::optional<std::int64_t> captured_minor;
  std::string decline_code;
  std::string failure_message;
  std::string action_url;
  std::string order_status_from = "-";  // the order state expected ("" = none); "-" = do not touch
  std::string order_status_to;          // "" = none again (a declined payment frees the checkout)
};

enum class write_result { written, fenced, conflict };

write_result write_payment_step(pqxx::connection& connection, const fence& where, const payment_step& step);

// The event's ticket-signing key: the stored one, or `generated` stored now if it has none.
struct ticket_key_row {
  std::string key_id;
  std::string private_key;  // as stored: the raw 32-byte seed, or 72 wrapped bytes
  std::string public_key;   // raw 32 bytes
  std::string wrapped_by;   // the wrapping key's id ("kek_..."); empty: a raw seed
};
ticket_key_row ticket_key(pqxx::connection& connection, const std::string& event_id, const ticket_key_row& generated);
// What a node found at start about the deployment's ticket key wrapping.
struct ticket_key_wrapping_start {
  std::string recorded;          // the deployment's wrapping key id; empty: none recorded
  bool refused = false;          // this node's key (or its having none) differs from the deployment's
  std::int64_t wrapped_now = 0;  // raw seeds wrapped by this start
};
// Makes `wrap(event_id, key_id, raw seed) -> stored bytes`.
using seed_wrapping = std::function<std::string(const std::string&, const std::string&, const std::string&)>;
// At start, in one transaction, on a connection of its own: records `wrapping_key_id` as the
// deployment's wrapping key when none is recorded; refuses a node whose key differs from the
// recorded one (or that has none while one is recorded, or while any seed is wrapped); and, for a
// node with the deployment's key, wraps every seed still stored raw with `wrap`.
result<ticket_key_wrapping_start> prepare_ticket_key_wrapping(const std::string& url,
                                                              std::chrono::seconds connect_timeout,
                                                              const std::string& wrapping_key_id,
                                                              const seed_wrapping& wrap);
// The public half only (for scanners); nullopt when the event has issued no tickets yet.
std::optional<ticket_key_row> public_ticket_key(pqxx::connection& connection, const std::string& event_id);


// Inserts the tickets (a (checkout, ticket type, seq) that exists already stays as it was) and
// moves the order from paid to tickets_issued; answers the tickets as stored.
struct issue_result {
  write_result outcome = write_result::written;
  std::vector<ticket_row> tickets;
};
issue_result issue_tickets(pqxx::connection& connection, const fence& where, const std::string& checkout_id,
                           const std::string& payment_id, const std::string& event_id,
                           const std::vector<new_ticket>& tickets);

enum class refund_start { created, replayed, exceeds_payment, not_refundable, fenced };

// Records a refund as pending and moves the order to refund_pending, if what is captured and not
// yet refunded (pending refunds included) covers it. A refund with the same idempotency key
// answers `replayed` and changes nothing.
refund_start begin_refund(pqxx::connection& connection, const fence& where, const refund_row& refund);
// The provider's verdict on a pending refund. Succeeded: it counts against the payment once, the
// tickets of its lines are revoked, and the order becomes refunded (everything captured went
// back) or partially_refunded. Failed: the order goes back to what it was.
void finish_refund(pqxx::connection& connection, const fence& where, const refund_row& refund,
                   const std::string& provider_reference, bool succeeded);

// The provider's id of a refund it answered `pending`, so it can be read later instead of asked for
// again.
void note_refund_reference(pqxx::connection& connection, const std::string& refund_id,
                           const std::string& provider_reference);

// The seats of a succeeded refund's released lines are back with their quotas.
void mark_seats_released(pqxx::connection& connection, const std::string& refund_id);

// The recorded events of a checkout that state an outcome (Adyen's AUTHORISATION and REFUND
// notifications), oldest first.
std::vector<webhook_event_row> verdicts_of(pqxx::connection& connection, const std::string& checkout_id);

// Records a verified webhook event once (by provider and event id) with the checkout it concerns:
// the one whose payment attempt has the event's reference, else `fallback_checkout` when that is a
// checkout. Answers that checkout for a new event; nullopt for a duplicate or an event about no
// checkout of ours.
std::optional<std::string> record_webhook_event(pqxx::connection& connection, const webhook_event_row& event,
                                                const std::string& fallback_checkout);

// Checkouts of `shard` whose order is unfinished (a payment under way, paid without tickets, a
// refund pending): their payment entities must run to finish them, also after a crash.
std::vector<std::string> checkouts_with_open_orders(pqxx::connection& connection, std::int32_t shard);

// The providers a workspace routes `method` through for `currency` and `country`, most specific
// rule first; empty when it has no rule (the node's default order applies).
std::vector<std::string> payment_route(pqxx::connection& connection, const std::string& workspace_id,
                                       const std::string& method, const std::string& currency,
                                       const std::string& country);

}  // namespace eventstripe::storage
