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
// How long a region waits before asking the database again for its quotas with live holds.
inline constexpr std::chrono::milliseconds recovery_retry_delay_ms{1'000};

// One child spec per shard this node owns: a region that hosts the shard's entities (events,
// quotas, checkouts) and registers itself in `table` whenever it (re)starts. `epochs[shard]` is
// the fencing epoch this node claimed the shard under. Every region, when it starts, activates
// the quotas of its shard that have live holds, so their expiry timers are re-armed from the
// stored deadlines (holds whose deadline passed while the node was down expire at once); it
// retries until the database answers.
std::vector<supervision::child_spec> region_children(router& table, std::shared_ptr<const actors::services> shared,
                                                     const std::vector<std::int64_t>& epochs);

}  // namespace eventstripe::cluster
