#pragma once

// The benchmark's baseline, never used in production (inventory.hold_strategy=row_lock): the
// conventional design ticketing apps use, where every hold is its own transaction that locks
// the ticket type's row (SELECT ... FOR UPDATE), so all buyers of one ticket type queue on that
// lock and each pays one commit. bench/ticket-drop measures the quota actor's group commit
// against it. It writes the same checkouts and holds rows as the quota's batch, so the holds
// triggers and the no_oversell CHECK judge it exactly as they judge the actors.
#include <cstdint>
#include <string>

#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {

// One single-item checkout to hold. Times are unix milliseconds.
struct row_lock_hold_request {
  std::string checkout_id;
  std::string event_id;
  std::string ticket_type_id;
  std::string buyer_email;
  std::string client_address;
  std::string request_hash_hex;
  std::string idempotency_key;  // empty: none
  std::int32_t quantity = 0;
  std::int64_t now_ms = 0;         // judges the sale window and the event's end
  std::int64_t expires_at_ms = 0;  // now + the hold time, as the checkout actor computes it
};

// What the transaction decided; everything but `held` rolled back.
enum class row_lock_outcome {
  held,
  sold_out,
  event_not_found,      // no such event for this ticket type, or still a draft
  unknown_ticket_type,  // no such ticket type, or one of another event
  not_on_sale,          // event not published or over, or outside the sale window
  hidden_ticket_type,
  quantity_out_of_range,
  checkout_exists,  // an Idempotency-Key used before: the baseline does not replay answers
};

struct row_lock_hold {
  row_lock_outcome outcome = row_lock_outcome::unknown_ticket_type;
  std::string ticket_type_name;
  std::int64_t unit_price_minor = 0;
  std::string currency;
};

// One transaction: lock the ticket type's row, check the event, quantity and availability,
// insert the checkout and its hold, commit. Blocks (run it as a pool job); libpqxx may throw.
row_lock_hold reserve_with_row_lock(pqxx::connection& connection, const row_lock_hold_request& request);

}  // namespace eventstripe::storage
