#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"

namespace eventstripe::actors {

// One buyer's checkout session. It creates the hold all-or-nothing across ticket types (asking
// the event to check the request, then every quota in parallel, and releasing what it got when
// any quota refuses), answers only once every hold committed, and pushes each change (held,
// expiring soon, expired, released) to the buyer's WebSockets.
//
//   (create_atom, checkout_request)  -> checkout_view | inventory error
//        an id derived from an Idempotency-Key may already exist: the same request is answered
//        from it (replayed), a different one is refused with idempotency_mismatch
//   (view_atom)                      -> checkout_view | not_found
//   (release_atom)                   -> checkout_view | not_found, not_held
//   (extend_atom)                    -> checkout_view | not_held, extension_used (one extension)
//   (subscribe_atom, push_sink_pointer) -> pushes the current state, then every change
//   (holds_ended_atom, ticket_type_id, hold_end) -> from a quota: one of its holds ended
//
// Its state is PostgreSQL's: on activation it loads the checkout, so after a crash or a move it
// answers as before; expiry itself belongs to the quotas.
caf::actor spawn_checkout(caf::actor_system& system, std::string checkout_id, placement where,
                          std::shared_ptr<const services> shared);

// The checkout as JSON, for HTTP answers and WebSocket pushes alike.
std::string checkout_json(const checkout_view& view);

}  // namespace eventstripe::actors
