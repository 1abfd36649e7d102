#pragma once

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"

namespace eventstripe::actors {

// The payment side of one checkout (keyed by the checkout id, so it lives in the checkout's
// shard): it runs the checkout's payments one at a time, each through the providers its
// workspace routes the method to, and turns a captured payment into sold seats and signed
// tickets exactly once.
//
//   (pay_atom, pay_request)      -> payment_answer | inventory error
//        the same Idempotency-Key replays (and waits with the first request while it runs);
//        the checkout must be held and have no live payment
//   (view_atom)                  -> payment_answer (the latest payment) | not_found
//   (hint_atom, provider, reference) -> nothing; a verified webhook named one of our payments:
//        its state is read again from the provider (a webhook is a hint, never the truth)
//   (resume_atom)                -> nothing; sent after a start or a crash to finish open work
//
// How one payment runs (each step is committed before the next call is made):
//   1. an attempt row with its idempotency key (derived from checkout and attempt number);
//   2. create at the provider (a definite failure before acceptance -> the next provider);
//   3. confirm (declined -> the payment ends, no other provider is tried; unknown outcome ->
//      the same provider is asked for the payment's state, with backoff, never another one);
//   4. captured -> the order is paid -> each quota sells its hold (a hold that expired is sold
//      again only if its seat is free) -> tickets are signed and stored -> tickets_issued;
//      no seat left for a late payment -> the payment is refunded and the buyer told.
// After a crash the actor reloads from PostgreSQL and continues from the last committed step.
caf::actor spawn_payment(caf::actor_system& system, std::string checkout_id, placement where,
                         std::shared_ptr<const services> shared);

}  // namespace eventstripe::actors
