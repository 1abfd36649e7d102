#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/services.hpp"
#include "cluster/router.hpp"
#include "supervision/child_spec.hpp"

namespace eventstripe::cluster {

// How long an entity gets to stop when its region stops (it finishes a commit in flight).
inline constexpr std::chrono::milliseconds entity_shutdown_timeout_ms{5'000};

// One child spec per shard this node owns: a region that hosts the shard's entities (events,
// quotas, checkouts) and registers itself in `table` whenever it (re)starts. `epochs[shard]` is
// the fencing epoch this node claimed the shard under.
std::vector<supervision::child_spec> region_children(router& table, std::shared_ptr<const actors::services> shared,
                                                     const std::vector<std::int64_t>& epochs);

// Activates the quota of every ticket type with live holds, so their expiry timers are re-armed
// from the stored deadlines after a start (holds whose deadline passed while the node was down
// expire at once). Runs the query as a pool job; returns at once.
void activate_quotas_with_live_holds(std::shared_ptr<const actors::services> shared);

}  // namespace eventstripe::cluster
