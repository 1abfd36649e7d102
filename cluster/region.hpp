#pragma once

#include <chrono>
#include <functional>
#include <string>

#include <caf/fwd.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"

namespace eventstripe::cluster {

// Spawns the actor for one entity; the region monitors it (never links).
using entity_factory =
    std::function<caf::actor(caf::actor_system&, actors::entity_kind, const std::string& key, actors::placement)>;

// Called when a region starts (and again on (reload_atom) to retry): finds the entities of its
// shard that must run without being asked — quotas with live holds, whose timers own expiry —
// and sends the region (activate_atom, kind, key) for each.
using recovery_function = std::function<void(caf::actor region, actors::placement where)>;

// Restarts of one entity the region allows within `restart_period` before it stops restarting it
// eagerly (the next message then activates it again, lazily).
inline constexpr std::size_t entity_restarts_max = 5;
inline constexpr std::chrono::milliseconds entity_restart_period_ms{10'000};

// A region hosts the entity actors of one shard on this node: Akka's ShardRegion / Orleans'
// activation model, since CAF has no live actor migration.
//
//   (deliver_atom, entity_kind, key, caf::message) -> whatever the entity answers
//       activates the entity if needed (it recovers from PostgreSQL) and delegates the message,
//       so the entity answers the original requester directly;
//   (tell_atom, entity_kind, key, caf::message)     -> nothing
//       delivers only to an entity that is already active (notifications nobody must wake for);
//   (activate_atom, entity_kind, key)               -> ok
//       activates without a message (quotas with live holds after a start, to re-arm timers);
//   (entities_atom)                                 -> std::vector<std::string>  (kind:key, for the inspector)
//   (reload_atom)                                   -> runs the recovery function again
//
// An entity that crashes is forgotten and, for quotas, restarted at once so its expiry timers
// are re-armed; others come back on their next message. On an exit message (its supervisor
// stopping it) the region stops every entity with user_shutdown, kills the ones that do not stop
// within `entity_shutdown_timeout_ms`, and then exits.
caf::actor spawn_region(caf::actor_system& system, actors::placement where, entity_factory factory,
                        recovery_function recover, std::chrono::milliseconds entity_shutdown_timeout_ms);

}  // namespace eventstripe::cluster
