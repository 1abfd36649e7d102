#pragma once

// A drop of more buyers than one process may hold connections for (about 20,000 files each
// here), spread over several child processes that fire on one common start: child k sends the
// drop's requests k, k + P, k + 2P, … at their due times, so together they are one open-loop
// drop over the window, not P drops one after another.
#include <cstddef>

#include "bench/ticket-drop/drop.hpp"
#include "bench/ticket-drop/purchase.hpp"

namespace eventstripe::bench {

// Forks `processes` generators for `plan` (each opens its share of the connections and checks
// them), starts them all at the same instant, waits for them and merges their results.
// `on_fire_start` runs right before the common start, `on_fire_end` once every child is done.
// Throws when a child cannot set up its connections.
drop_result run_spread_drop(const drop_plan& plan, std::size_t processes);

// The same for an open loop of whole purchases (purchase_plan::buyers over the processes).
purchase_result run_spread_purchases(const purchase_plan& plan, std::size_t processes);

}  // namespace eventstripe::bench
