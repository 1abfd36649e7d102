#pragma once

#include <chrono>
#include <cstdint>

#include <caf/actor_clock.hpp>
#include <caf/atom.hpp>

namespace eventstripe::actors {

// Passivation without a receive timeout. CAF 0.17 re-arms a behavior's `after` timeout on the
// clock thread for every message (a lock, a map update and a thread wake-up each); in a ticket
// drop that costs more than the work itself. Instead one timer runs per idle period and the
// handlers only record the time of their last message.
struct idle_watch {
  std::chrono::milliseconds timeout{0};
  caf::actor_clock::time_point last_activity{};
  std::uint64_t generation = 0;
};

using idle_atom = caf::atom_constant<caf::atom("idle")>;

// Records activity; cheap enough for every message. `Actor` has `state.idle`.
template <class Actor>
void touch(Actor* self) {
  self->state.idle.last_activity = self->clock().now();
}

// (Re)starts watching with `timeout`; a timer of an earlier watch is ignored when it fires.
template <class Actor>
void watch_idle(Actor* self, std::chrono::milliseconds timeout) {
  auto& idle = self->state.idle;
  idle.timeout = timeout;
  touch(self);
  self->delayed_send(self, timeout, idle_atom::value, ++idle.generation);
}

// On (idle_atom, generation): true when the actor saw no message for the whole timeout;
// otherwise the timer is armed again for the rest of the period.
template <class Actor>
bool idle_expired(Actor* self, std::uint64_t generation) {
  auto& idle = self->state.idle;
  if (generation != idle.generation) return false;
  auto quiet = self->clock().now() - idle.last_activity;
  if (quiet >= idle.timeout) return true;
  auto rest = std::chrono::ceil<std::chrono::milliseconds>(idle.timeout - quiet);
  self->delayed_send(self, rest, idle_atom::value, idle.generation);
  return false;
}

}  // namespace eventstripe::actors
