#pragma once

#include <chrono>
#include <memory>

#include <caf/fwd.hpp>

namespace eventstripe::storage {
class job_runner;
}

namespace eventstripe::actors {

class node_status;

// Spawns the actor that re-checks the database every `interval_ms` (SELECT 1 and the schema
// version, as a pool job: the actor itself never blocks) and records the outcome in `status`.
// One probe is in flight at a time; a probe that does not answer within `probe_timeout_ms`
// counts as not ready, so /readyz turns unready even when the database hangs rather than
// refuses.
caf::actor spawn_readiness_probe(caf::actor_system& system, storage::job_runner& pool,
                                 std::shared_ptr<node_status> status, std::chrono::milliseconds interval_ms,
                                 std::chrono::milliseconds probe_timeout_ms);

}  // namespace eventstripe::actors
