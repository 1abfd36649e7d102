#pragma once

// The messages entity actors exchange, and the errors they answer with. Every struct has an
// inspect function so it can cross nodes once the cluster spans several (CAF 0.17.6 sends
// uninspectable types empty).
#include <cstdint>
#include <string>
#include <vector>

#include <caf/atom.hpp>
#include <caf/error.hpp>
#include <caf/fwd.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/meta/type_name.hpp>
#include <memory>

namespace eventstripe::actors {

// --- atoms (CAF 0.17 atoms: at most 10 characters) --------------------------------------------
using deliver_atom = caf::atom_constant<caf::atom("deliver")>;
using reserve_atom = caf::atom_constant<caf::atom("reserve")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using extend_atom = caf::atom_constant<caf::atom("extend")>;
using capacity_atom = caf::atom_constant<caf::atom("capacity")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;
using create_atom = caf::atom_constant<caf::atom("create")>;
using view_atom = caf::atom_constant<caf::atom("view")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using prepare_atom = caf::atom_constant<caf::atom("prepare")>;
using holds_ended_atom = caf::atom_constant<caf::atom("holdsended")>;
using settled_atom = caf::atom_constant<caf::atom("settled")>;
// Applying or removing a promo code on a live checkout: the event prices it again, each quota
// re-discounts its hold.
using requote_atom = caf::atom_constant<caf::atom("requote")>;
using availability_atom = caf::atom_constant<caf::atom("avail")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
// Fault injection (testing.fault_injection): a quota commits its next N holds but loses the answers.
using mute_atom = caf::atom_constant<caf::atom("mute")>;
using tell_atom = caf::atom_constant<caf::atom("tell")>;
using activate_atom = caf::atom_constant<caf::atom("activate")>;
using entities_atom = caf::atom_constant<caf::atom("entities")>;
using event_update_atom = caf::atom_constant<caf::atom("evupdate")>;
using event_status_atom = caf::atom_constant<caf::atom("evstatus")>;
using type_add_atom = caf::atom_constant<caf::atom("typeadd")>;
using type_update_atom = caf::atom_constant<caf::atom("typeupdate")>;
// Payments and orders: a paid line's hold becomes sold; a refunded line's seat goes back.
using sell_atom = caf::atom_constant<caf::atom("sell")>;
using give_back_atom = caf::atom_constant<caf::atom("giveback")>;
using pay_atom = caf::atom_constant<caf::atom("pay")>;
using hint_atom = caf::atom_constant<caf::atom("hint")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using order_atom = caf::atom_constant<caf::atom("order")>;
using refund_atom = caf::atom_constant<caf::atom("refund")>;
using mark_paid_atom = caf::atom_constant<caf::atom("markpaid")>;

// What kind of entity a key names; the router activates the matching actor.
enum class entity_kind : std::uint8_t { event = 1, quota = 2, checkout = 3, payment = 4 };

// Errors entity actors answer with; each maps to one HTTP problem type in io/.
enum class inventory_errc : std::uint8_t {
  sold_out = 1,           // not enough seats left for the requested quantity
  not_found,              // no such event / ticket type / checkout (or not visible to the caller)
  not_on_sale,            // outside the sale window, event not published, or closed
  quantity_out_of_range,  // below the ticket type's minimum or above its maximum per order
  hidden_ticket_type,     // a hidden ticket type without an access code
  buyer_limit,            // the buyer already holds the maximum number of checkouts
  not_held,               // the checkout is no longer held (expired, released)
  extension_used,         // the one extension was already taken
  capacity_below_taken,   // capacity lowered below sold + held
  idempotency_mismatch,   // an Idempotency-Key reused with a different request
  fenced,                 // this node no longer owns the shard: retry (it will be routed anew)
  database_unavailable,   // the write did not commit: retry
  invalid_request,        // a message that cannot be acted on (detail in the error's context)
  slug_taken,             // another event of the workspace has this slug
  version_conflict,       // the event changed since the version the caller read
  invalid_transition,     // e.g. publishing a closed event
  unknown_ticket_type,    // a checkout names a ticket type the event does not have
  currency_mismatch,      // an amount in another currency than the event's
  overloaded,             // an entity's bounded queue is full: retry shortly
  outcome_unknown,        // the write may or may not have committed (connection lost, crash)
  // Pricing at hold time (issue 4): the buyer's promo code or VAT id cannot be used.
  unknown_promo_code,              // the event has no such (active) code
  promo_code_not_yet_valid,        // before the code's window
  promo_code_expired,              // after the code's window
  promo_code_not_for_ticket_type,  // the code is scoped to other ticket types
  promo_code_exhausted,            // not enough uses left for the request
  promo_code_buyer_limit,          // the buyer has used the code as often as allowed
  promo_code_budget_exhausted,     // the code's discount budget is spent
  invalid_vat_id,                  // not a well-formed VAT id of an EU country
  pricing_failed,                  // a price that cannot be computed (e.g. out of range)
  // Payments (issue 5).
  order_in_progress,         // a payment of this checkout is under way (or done): no release, extension, re-quote
  payment_in_progress,       // another payment of this checkout is live
  payment_method_unavailable,  // the method is not offered for the event's currency and the buyer's country
  no_payment_provider,       // no configured provider offers the method
  refund_exceeds_payment,    // more than captured minus refunded
  not_refundable,            // nothing captured (or the order is not paid)
};

const char* to_string(inventory_errc code);

// The inventory_errc in `failure`, if it carries one.
bool is_inventory_error(const caf::error& failure);
inventory_errc inventory_code(const caf::error& failure);

// Registers the category so CAF renders these errors by name.
void add_inventory_error_category(caf::actor_system_config& config);
// Registers the pricing rules' and the pricing configuration's categories (pricing_config.hpp),
// so their errors print by name in logs.
void add_pricing_error_categories(caf::actor_system_config& config);

// --- quota -----------------------------------------------------------------------------------

// How one line of a checkout is priced. The event fills in what it decides when it checks the
// checkout (the promo code and how much discount its budget still allows, the fee rule, the tax
// rate); the quota then decides the tier, the unit price and the discount at hold time. The hold
// stores all of it, so the line's quote is locked when the hold is taken. Amounts in minor units
// of the event's currency, rates in basis points. (CAF 0.17 cannot inspect std::optional: flags.)
struct line_pricing {
  std::string promo_code_id;  // empty: no code on this line
  std::string promo_code;     // as normalised, shown on the quote
  std::uint8_t promo_kind = 0;  // pricing::promo_kind
  std::int32_t promo_percent_bp = 0;
  std::int64_t promo_amount_minor = 0;
  std::int64_t discount_allowance_minor = 0;  // the most the line's discount may total (the code's budget)
  bool access_granted = false;                // an access code unlocks this hidden ticket type
  std::int64_t fee_fixed_minor = 0;
  std::int32_t fee_percent_bp = 0;
  bool fee_capped = false;
  std::int64_t fee_cap_minor = 0;
  bool fee_absorbed = false;
  std::int32_t tax_rate_bp = 0;
  // Decided by the quota:
  std::string tier;  // empty: the ticket type's fixed price
  std::int64_t discount_per_ticket_minor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, line_pricing& x) {
  return f(caf::meta::type_name("line_pricing"), x.promo_code_id, x.promo_code, x.promo_kind, x.promo_percent_bp,
           x.promo_amount_minor, x.discount_allowance_minor, x.access_granted, x.fee_fixed_minor, x.fee_percent_bp,
           x.fee_capped, x.fee_cap_minor, x.fee_absorbed, x.tax_rate_bp, x.tier, x.discount_per_ticket_minor);
}

// How a checkout as a whole is taxed, decided by the event when it checks the checkout.
struct checkout_taxation {
  bool tax_exclusive = false;  // false: listed prices include tax
  bool reverse_charge = false;
  std::string buyer_vat_id;  // normalised; empty for consumers
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_taxation& x) {
  return f(caf::meta::type_name("checkout_taxation"), x.tax_exclusive, x.reverse_charge, x.buyer_vat_id);
}

// A request to hold `quantity` seats of one ticket type for a checkout. The checkout's own fields
// travel with it because the quota's group commit writes the checkout row too (so a single-item
// checkout costs one transaction).
struct reserve_request {
  std::string checkout_id;
  std::string event_id;
  std::string buyer_email;
  std::string client_address;
  std::int32_t item_count = 1;
  std::int32_t quantity = 0;
  std::int64_t expires_at_ms = 0;  // unix milliseconds
  std::string request_hash;        // hex SHA-256 of the canonical request
  std::string idempotency_key;     // empty when the client sent none
  line_pricing pricing;            // the event's part; the quota adds its own
  checkout_taxation taxation;      // stored with the checkout row
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reserve_request& x) {
  return f(caf::meta::type_name("reserve_request"), x.checkout_id, x.event_id, x.buyer_email, x.client_address,
           x.item_count, x.quantity, x.expires_at_ms, x.request_hash, x.idempotency_key, x.pricing, x.taxation);
}

// One line of a held checkout, as the quota locked it at hold time.
struct held_line {
  std::string ticket_type_id;
  std::string name;
  std::int32_t quantity = 0;
  std::int64_t unit_price_minor = 0;
  std::string currency;
  std::int64_t expires_at_ms = 0;
  line_pricing pricing;  // everything the line's quote is computed from
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, held_line& x) {
  return f(caf::meta::type_name("held_line"), x.ticket_type_id, x.name, x.quantity, x.unit_price_minor, x.currency,
           x.expires_at_ms, x.pricing);
}

// Why a hold stopped being held.
enum class hold_end : std::uint8_t { released = 1, expired = 2 };

// A ticket type's counters as last committed.
struct availability {
  std::string ticket_type_id;
  std::int32_t capacity = 0;
  std::int32_t held = 0;
  std::int32_t sold = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, availability& x) {
  return f(caf::meta::type_name("availability"), x.ticket_type_id, x.capacity, x.held, x.sold);
}

// --- checkout ---------------------------------------------------------------------------------

struct checkout_item {
  std::string ticket_type_id;
  std::int32_t quantity = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_item& x) {
  return f(caf::meta::type_name("checkout_item"), x.ticket_type_id, x.quantity);
}

// A buyer's request to hold several ticket types, all or none.
struct checkout_request {
  std::string checkout_id;
  std::string event_id;
  std::string buyer_email;  // lower-cased
  std::string client_address;
  std::vector<checkout_item> items;  // distinct ticket types
  std::string request_hash;          // hex SHA-256 of the canonical request
  std::string idempotency_key;       // empty: the id is random and cannot exist yet
  std::string promo_code;            // as the buyer typed it; empty: none
  std::string buyer_vat_id;          // as the buyer typed it (business buyers); empty: none
  // Filled in by the event's check: per item (same order), and for the checkout.
  std::vector<line_pricing> pricing;
  checkout_taxation taxation;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_request& x) {
  return f(caf::meta::type_name("checkout_request"), x.checkout_id, x.event_id, x.buyer_email, x.client_address,
           x.items, x.request_hash, x.idempotency_key, x.promo_code, x.buyer_vat_id, x.pricing, x.taxation);
}

// One line of a checkout as buyers see it.
struct checkout_line {
  held_line line;
  std::string status;  // held, released, expired, sold
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_line& x) {
  return f(caf::meta::type_name("checkout_line"), x.line, x.status);
}

struct checkout_view {
  std::string id;
  std::string event_id;
  std::string status;  // held, released, expired (pending while being created)
  std::string buyer_email;
  std::vector<checkout_line> lines;
  std::int64_t expires_at_ms = 0;
  bool extended = false;
  bool replayed = false;  // answered from an earlier request with the same Idempotency-Key
  checkout_taxation taxation;
  // The order's state once a payment started (payment_pending, paid, tickets_issued, refunded,
  // partially_refunded, refund_pending); empty while the checkout is only held.
  std::string order_status;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, checkout_view& x) {
  return f(caf::meta::type_name("checkout_view"), x.id, x.event_id, x.status, x.buyer_email, x.lines, x.expires_at_ms,
           x.extended, x.replayed, x.taxation, x.order_status);
}

// --- payments --------------------------------------------------------------------------------

// A buyer's request to pay a held checkout (POST /api/v1/checkouts/{id}/payments).
struct pay_request {
  std::string checkout_id;
  std::string method;        // payment-method catalogue id, e.g. "card"
  std::string method_token;  // the provider-side token from the buyer's browser, e.g. "pm_card_visa"
  std::string country;       // buyer's country, ISO 3166-1 alpha-2
  std::string holder_name;   // printed on the tickets
  std::string idempotency_key;
  std::string request_hash;  // hex SHA-256 of the canonical request, for Idempotency-Key replays
  std::string return_url;    // where a 3-D Secure / redirect step returns the buyer
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, pay_request& x) {
  return f(caf::meta::type_name("pay_request"), x.checkout_id, x.method, x.method_token, x.country, x.holder_name,
           x.idempotency_key, x.request_hash, x.return_url);
}

// An organizer's refund of a paid order (POST /api/v1/organizer/orders/{checkout_id}/refunds).
struct refund_order_request {
  std::string workspace_id;  // the caller's: another workspace's order answers not_found
  std::int64_t amount_minor = 0;  // 0: everything captured and not yet refunded
  std::string currency;           // of amount_minor; must be the payment's
  std::vector<std::string> ticket_type_ids;  // lines whose tickets are revoked (all of them for a full refund)
  bool release_seats = false;  // the revoked lines' seats go back on sale
  std::string reason;
  std::string idempotency_key;  // empty: a new refund every time
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, refund_order_request& x) {
  return f(caf::meta::type_name("refund_order_request"), x.workspace_id, x.amount_minor, x.currency, x.ticket_type_ids,
           x.release_seats, x.reason, x.idempotency_key);
}

// A payment as JSON (the OpenAPI document's Payment), and whether it answered a replay.
struct payment_answer {
  std::string json;
  bool replayed = false;
  bool settled = false;  // false: still under way (HTTP 202)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_answer& x) {
  return f(caf::meta::type_name("payment_answer"), x.json, x.replayed, x.settled);
}

// Where live updates for a WebSocket go. Implemented by io/ over a WebSocket channel; actors
// only push JSON text. push() returns false once the socket is gone, and the actor forgets it.
// Local to the node that holds the socket (a pointer cannot cross nodes).
class push_sink {
 public:
  virtual ~push_sink() = default;
  virtual bool push(std::string json) = 0;
};
using push_sink_pointer = std::shared_ptr<push_sink>;

}  // namespace eventstripe::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::push_sink_pointer)

CAF_ERROR_CODE_ENUM(eventstripe::actors::inventory_errc, "inventory")
