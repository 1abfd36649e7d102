#pragma once

// One payment attempt: one actor per attempt of a payment at one provider, the only actor that
// talks to that provider about it. The payment entity (actors/payment_actor.hpp) starts it under
// a supervisor of its own and owns everything that is stored: the attempt asks the entity to
// commit each step and goes on only once it has been committed.
//
// What an attempt does, by mode:
//   create: create at the provider (repeated with the same key while its outcome is unknown),
//           commit `created`, confirm;
//   query:  read the attempt's state from its provider (an unknown outcome, a webhook's hint, a
//           3-D Secure recheck, a restart); a Stripe attempt that never got its PaymentIntent
//           is created again with its key instead;
//   cancel: cancel an abandoned 3-D Secure payment at its provider.
// A processing or unknown outcome is committed and asked about again with exponential backoff
// and jitter, never sent to another provider; after `attempts_max` calls the waiting buyers are
// answered and the asking goes on at the longest interval. Any other outcome (captured,
// declined, failed before acceptance, waiting for the buyer, cancelled) ends the attempt: it is
// reported to the entity, which commits it and decides what follows (tickets, the next provider).
//
// Supervision: the attempt's supervisor restarts it after a failure (transient: a finished
// attempt is not restarted) at most `restarts_max` times within `period_ms`, and exits once the
// attempt has finished. A restarted attempt continues from its last committed step: one stored
// as `created` or later starts by asking the provider what became of it rather than confirming.
// Every call it makes carries the attempt's idempotency key (derived from checkout and attempt;
// the adapters add the operation), so even a confirm repeated after a restart is answered with
// the first one's result and cannot charge twice. A supervisor that gives up exits with
// `intensity_exceeded`; the entity monitors it and asks again later, for as long as it takes.
//
// Messages, all local to the node (the entity and its attempts live in the same shard):
//   attempt -> entity
//     (attempt_atom, generation)                                  I am running (for hints)
//     (attempt_step_atom, generation, attempt_step_pointer)  -> ok   commit this step
//     (attempt_verdict_atom, generation, attempt_row_pointer, bool read_stored) -> bool
//          Adyen only: did a signed notification settle this attempt? true: the entity settles it
//          and the attempt ends
//     (attempt_done_atom, generation, attempt_outcome_pointer)    the attempt ended so
//   entity -> attempt
//     (hint_atom)                                                 ask the provider now
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/payment_provider.hpp"
#include "actors/services.hpp"
#include "storage/payments.hpp"

namespace eventstripe::actors {

enum class attempt_mode : std::uint8_t { create, query, cancel };

using attempt_atom = caf::atom_constant<caf::atom("attempt")>;
using attempt_step_atom = caf::atom_constant<caf::atom("attstep")>;
using attempt_verdict_atom = caf::atom_constant<caf::atom("attverdict")>;
using attempt_done_atom = caf::atom_constant<caf::atom("attdone")>;

struct attempt_step_request {
  storage::payment_step step;
  bool answer_waiting = false;  // the buyers waiting for a settled state hear the current one
};
using attempt_step_pointer = std::shared_ptr<const attempt_step_request>;

struct attempt_outcome {
  attempt_mode mode = attempt_mode::create;
  storage::payment_attempt_row attempt;  // as last committed, with the provider's reference
  provider_result result;
  provider_result waiting;  // cancel: the requires_action answer the cancel was made from
};
using attempt_outcome_pointer = std::shared_ptr<const attempt_outcome>;

using attempt_row_pointer = std::shared_ptr<const storage::payment_attempt_row>;

// What an attempt is started with.
struct attempt_job {
  std::shared_ptr<const services> shared;
  caf::actor entity;
  std::uint64_t generation = 0;  // the entity's number for this run (messages of older runs are ignored)
  attempt_mode mode = attempt_mode::create;
  std::shared_ptr<payment_provider> provider;
  payment_request request;
  storage::payment_attempt_row attempt;
  provider_result waiting;  // cancel only
};

// At most `bytes` of `text`, cut before a UTF-8 character that would not fit whole (PostgreSQL
// refuses a text with half a character).
std::string clipped(const std::string& text, std::size_t bytes = 500);

// `attempt` in state `status` after `result` (the provider's reference kept once named).
storage::payment_attempt_row attempt_with(storage::payment_attempt_row attempt, const char* status,
                                          const provider_result& result);

// A step that records only an attempt's new state.
storage::payment_step attempt_step(const storage::payment_attempt_row& attempt, const std::string& payment_id);

// A step that records an attempt's state and the payment's matching one.
storage::payment_step status_step(const storage::payment_attempt_row& attempt, const std::string& payment_id,
                                  const char* status, const provider_result& result);

// Spawns the attempt's supervisor (which starts the attempt) and returns the supervisor; the
// caller monitors it.
caf::actor spawn_supervised_attempt(caf::actor_system& system, attempt_job job);

}  // namespace eventstripe::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::attempt_step_pointer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::attempt_outcome_pointer)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::attempt_row_pointer)
