#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/services.hpp"

namespace eventstripe::actors {

// The single writer of one ticket type's inventory. It decides every hold, release, extension
// and capacity change against its in-memory counters, group-commits all decisions that arrived
// while its previous transaction was in flight (at most limits.batch_size_max) in one fenced
// transaction, and answers each request only after that transaction committed. It owns the
// expiry of its holds: one timer for the earliest stored deadline, re-armed from the table when
// it starts, so holds expire on time after a restart or a move.
//
//   (reserve_atom, reserve_request)          -> held_line        | inventory error
//   (release_atom, checkout_id)              -> ok_atom          | not_held
//   (extend_atom, checkout_id, expires_ms)   -> held_line        | not_held
//   (capacity_atom, int32 capacity)          -> availability     | capacity_below_taken
//   (snapshot_atom)                          -> availability
//   (reload_atom)                            -> ok_atom  (the organizer changed the ticket type)
//   (crash_atom)                             -> the actor fails (fault injection, tests only)
//
// It tells the event actor its availability after each commit, and the checkout actor (if
// active) when one of its holds ends.
caf::actor spawn_quota(caf::actor_system& system, std::string ticket_type_id, placement where,
                       std::shared_ptr<const services> shared);

}  // namespace eventstripe::actors
