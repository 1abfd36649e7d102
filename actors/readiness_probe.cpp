#include "actors/readiness_probe.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/node_status.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/readiness.hpp"

namespace eventstripe::actors {
namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using probe_result_atom = caf::atom_constant<caf::atom("proberes")>;
using probe_timeout_atom = caf::atom_constant<caf::atom("probetime")>;

struct probe_state {
  storage::job_runner* pool = nullptr;
  std::shared_ptr<node_status> status;
  std::chrono::milliseconds interval_ms{1000};
  std::chrono::milliseconds probe_timeout_ms{5000};
  // Generation of the probe in flight; results and timeouts of older probes are ignored,
  // since a delayed_send cannot be cancelled.
  std::uint64_t generation = 0;
  bool in_flight = false;
  bool last_ready = false;
  static inline const char* name = "readiness_probe";
};

using probe_actor = caf::stateful_actor<probe_state>;

void record(probe_actor* self, bool ready, std::string reason) {
  auto& state = self->state;
  if (ready != state.last_ready)
    log::info(ready ? "database ready" : "database not ready", {{"reason", reason}});
  state.last_ready = ready;
  state.status->set_database(ready, std::move(reason));
}

void start_probe(probe_actor* self) {
  auto& state = self->state;
  if (state.in_flight) return;
  auto generation = ++state.generation;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto submitted = storage::submit_ready_check(*state.pool, [me, generation](storage::readiness outcome) {
    caf::anon_send(me, probe_result_atom::value, generation, outcome.ready, std::move(outcome.reason));
  });
  if (submitted != storage::submit_status::accepted) {
    record(self, false, "database job queue full or closed");
    return;
  }
  state.in_flight = true;
  self->delayed_send(self, state.probe_timeout_ms, probe_timeout_atom::value, generation);
}

// A free function with arguments rather than a capturing lambda: CAF 0.17.6's function-actor
// factory dereferences a null pointer (caught by UBSan) when spawn gets no arguments.
caf::behavior readiness_probe(probe_actor* self, storage::job_runner* pool, std::shared_ptr<node_status> status,
                              std::chrono::milliseconds interval_ms, std::chrono::milliseconds probe_timeout_ms) {
  self->state.pool = pool;
  self->state.status = std::move(status);
  self->state.interval_ms = interval_ms;
  self->state.probe_timeout_ms = probe_timeout_ms;
  self->send(self, tick_atom::value);
  return {
      [self](tick_atom) {
        start_probe(self);
        self->delayed_send(self, self->state.interval_ms, tick_atom::value);
      },
      [self](probe_result_atom, std::uint64_t generation, bool ready, std::string& reason) {
        if (generation != self->state.generation) return;
        self->state.in_flight = false;
        record(self, ready, std::move(reason));
      },
      [self](probe_timeout_atom, std::uint64_t generation) {
        if (generation != self->state.generation || !self->state.in_flight) return;
        // Leave in_flight set: the pool job is still running and will report; a second
        // probe would only queue behind it.
        record(self, false, "database probe timed out");
      },
  };
}

}  // namespace

caf::actor spawn_readiness_probe(caf::actor_system& system, storage::job_runner& pool,
                                 std::shared_ptr<node_status> status, std::chrono::milliseconds interval_ms,
                                 std::chrono::milliseconds probe_timeout_ms) {
  return system.spawn(readiness_probe, &pool, std::move(status), interval_ms, probe_timeout_ms);
}

}  // namespace eventstripe::actors
