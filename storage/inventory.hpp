#pragma once

// The inventory's SQL: shard claims, ticket types and their live holds, the quota's group
// commit, and checkouts. Every function takes a connection and runs inside a pool job (they
// block); writes check the shard's fencing epoch in the same transaction. Times are unix
// milliseconds.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {

// Claims every shard for `node_id` (one node for now), bumping each epoch so any earlier owner
// — a previous run of this node that is still writing after a pause — can no longer commit.
// Returns the new epoch of each shard, indexed by shard.
std::vector<std::int64_t> claim_all_shards(pqxx::connection& connection, const std::string& node_id,
                                           std::uint32_t shard_count);

// The same at start, on a connection of its own (before the pool serves anything).
struct error;
template <typename value_type>
class result;
result<std::vector<std::int64_t>> claim_shards_at_start(const std::string& url, const std::string& node_id,
                                                        std::uint32_t shard_count,
                                                        std::chrono::seconds connect_timeout);

// One price tier of a ticket type as stored (see 0004_pricing.sql); its position is its index in
// ticket_type_row::tiers. A tier is identified by its name within the ticket type.
struct price_tier_row {
  std::string name;
  std::int64_t price_minor = 0;
  std::optional<std::int64_t> from_ms;   // inclusive; nullopt: open
  std::optional<std::int64_t> until_ms;  // exclusive; nullopt: open
  std::optional<std::int32_t> quantity;  // the first N tickets at this tier; nullopt: no limit
  std::int32_t taken = 0;                // live holds + sold at this tier; kept by the holds, never by organizers
};

struct ticket_type_row {
  std::string id;
  std::string event_id;
  std::string name;
  std::string description;
  std::int64_t price_minor = 0;
  std::string currency;
  std::int32_t capacity = 0;
  std::int32_t held = 0;
  std::int32_t sold = 0;
  std::optional<std::int64_t> sale_starts_at_ms;
  std::optional<std::int64_t> sale_ends_at_ms;
  std::int32_t min_per_order = 1;
  std::int32_t max_per_order = 10;
  bool hidden = false;
  std::int32_t position = 0;
  std::optional<std::int32_t> tax_rate_bp;  // the organizer's rate for this type; wins over the event's
  std::vector<price_tier_row> tiers;        // in the order they are tried; empty: the fixed price
};

// What a hold was priced at (0005_hold_pricing.sql): every input of its line's quote.
struct hold_pricing_row {
  std::string tier_name;      // empty: the ticket type's fixed price
  std::string promo_code_id;  // empty: no code
  std::string promo_code;
  std::int64_t discount_per_ticket_minor = 0;
  std::int64_t fee_fixed_minor = 0;
  std::int32_t fee_percent_bp = 0;
  std::optional<std::int64_t> fee_cap_minor;
  bool fee_absorbed = false;
  std::int32_t tax_rate_bp = 0;
};

struct live_hold_row {
  std::string checkout_id;
  std::int32_t quantity = 0;
  std::int64_t expires_at_ms = 0;
  std::int64_t unit_price_minor = 0;
  hold_pricing_row pricing;
};

// How a checkout is taxed, stored with its row.
struct checkout_taxation_row {
  bool tax_exclusive = false;
  bool reverse_charge = false;
  std::string buyer_vat_id;  // empty: none
};

struct quota_snapshot {
  ticket_type_row ticket_type;
  std::vector<live_hold_row> holds;  // status = 'held'
  std::int64_t writer_generation = 0;
};

// Loads a ticket type for its quota and makes that quota its only writer: the load bumps the
// ticket type's writer generation under the row lock, so it waits for a batch of a previous
// activation still in flight (and sees its holds), and any later batch of that activation fails.
std::optional<quota_snapshot> load_quota(pqxx::connection& connection, const std::string& ticket_type_id);

// A new hold and, when its checkout row does not exist yet, that row.
struct new_hold {
  std::string checkout_id;
  std::string event_id;
  std::string buyer_email;
  std::string client_address;
  std::int32_t item_count = 1;
  std::string request_hash_hex;
  std::string idempotency_key;
  std::int32_t quantity = 0;
  std::int64_t unit_price_minor = 0;
  std::int64_t expires_at_ms = 0;
  hold_pricing_row pricing;
  checkout_taxation_row taxation;  // for the checkout row
};

// Everything a quota decided while its previous commit was in flight: one transaction.
struct quota_batch {
  std::string ticket_type_id;
  std::string currency;
  std::int32_t shard = 0;
  std::int64_t epoch = 0;
  std::string node_id;
  std::vector<new_hold> holds;
  std::vector<std::string> releases;  // checkout ids: held -> released
  std::vector<std::string> expiries;  // checkout ids: held -> expired, only if their deadline passed
  std::int64_t expiry_now_ms = 0;     // the deadline bound for `expiries`
  struct extension {
    std::string checkout_id;
    std::int64_t expires_at_ms;
  };
  std::vector<extension> extensions;
  // A promo code applied to (or removed from) a live hold: its new code and discount.
  struct discount_change {
    std::string checkout_id;
    std::string promo_code_id;  // empty: no code any more
    std::string promo_code;
    std::int64_t discount_per_ticket_minor = 0;
  };
  std::vector<discount_change> discounts;
  std::optional<std::int32_t> new_capacity;
  // Paid checkouts: held -> sold (their seats stay taken).
  std::vector<std::string> sales;
  // Late payments: expired -> sold, each only if it still fits (a savepoint per hold, so a CHECK
  // on capacity, tier or code refuses that hold alone, not the batch).
  std::vector<std::string> resales;
  // Refunded lines whose seats go back on sale: sold -> refunded.
  std::vector<std::string> returns;
  std::int64_t writer_generation = 0;  // from the quota's load
};

// Why a batch did not commit when it did not throw a database error.
enum class batch_outcome { committed, fenced, conflict };

struct batch_result {
  batch_outcome outcome = batch_outcome::committed;
  // New holds that were not written because the checkout already had a hold of this ticket type
  // (a retry of a checkout whose earlier attempt was released): refused, the rest committed.
  std::vector<std::string> refused_holds;
  // Resales and returns that did not apply (the hold was not expired / sold, or a CHECK refused
  // the resale): the rest committed.
  std::vector<std::string> refused_changes;
};

// Applies the batch in one transaction; every hold transition is conditional on the hold still
// being held (and, for expiries, on its stored deadline having passed), and a transition that
// finds fewer rows than expected rolls the whole batch back (`conflict`: the actor's picture
// was stale and it reloads).
batch_result commit_quota_batch(pqxx::connection& connection, const quota_batch& batch);

// Ticket types of `shard` with live holds: their quotas must run to expire them.
std::vector<std::string> ticket_types_with_live_holds(pqxx::connection& connection, std::int32_t shard);

}  // namespace eventstripe::storage

namespace eventstripe::storage {

// A checkout and its lines as stored.
struct checkout_row {
  std::string id;
  std::string event_id;
  std::string buyer_email;
  std::string client_address;
  std::int32_t item_count = 0;
  std::string request_hash_hex;
  std::string idempotency_key;
  std::int64_t expires_at_ms = 0;
  bool extended = false;
  std::optional<std::int32_t> failure_code;
  struct line {
    std::string ticket_type_id;
    std::string name;
    std::int32_t quantity = 0;
    std::int64_t unit_price_minor = 0;
    std::string currency;
    std::string status;  // held, released, expired, sold
    std::int64_t expires_at_ms = 0;
    hold_pricing_row pricing;
  };
  std::vector<line> lines;
  checkout_taxation_row taxation;
  std::string order_status;  // empty until a payment starts (payment_pending, paid, tickets_issued, ...)
};

std::optional<checkout_row> load_checkout(pqxx::connection& connection, const std::string& checkout_id);

// A held or sold line of one of an event's checkouts that uses a promo code.
struct promo_line_row {
  std::string checkout_id;
  std::string ticket_type_id;
  std::string promo_code_id;
  std::string buyer_email;
  std::int32_t quantity = 0;
  std::int64_t discount_minor = 0;  // the whole line's
};

std::vector<promo_line_row> live_promo_lines(pqxx::connection& connection, const std::string& event_id);

// Records why creating the checkout failed (fenced by the checkout's shard); false when fenced.
bool record_checkout_failure(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                             const std::string& node_id, const std::string& checkout_id, std::int32_t failure_code);

}  // namespace eventstripe::storage
