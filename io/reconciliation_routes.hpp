#pragma once

#include <chrono>
#include <memory>

#include <caf/fwd.hpp>

#include "storage/reconciliation.hpp"

namespace eventstripe::storage {
class connection_pool;
}

namespace eventstripe::actors {
class reconciliation_board;
}

namespace eventstripe::io {

class router;
class authenticator;

// How long POST .../reconciliation/runs waits for its report: a run already under way, then its
// own run, each bounded by the statement timeout.
inline constexpr std::chrono::milliseconds reconciliation_answer_timeout_ms =
    2 * storage::reconciliation_statement_timeout_ms + std::chrono::milliseconds{10'000};

struct reconciliation_routes_context {
  caf::actor_system* system = nullptr;
  authenticator* credentials = nullptr;
  storage::connection_pool* pool = nullptr;
  std::shared_ptr<actors::reconciliation_board> board;  // where the job is found
  std::chrono::milliseconds answer_timeout = reconciliation_answer_timeout_ms;
};

// Organizers (API key):
//   POST /api/v1/organizer/reconciliation/runs      run the checks now; answers the run's findings
//   GET  /api/v1/organizer/reconciliation/findings  the latest run's findings (?kind= filters)
// A run checks the whole platform, but a caller only ever sees findings about its own workspace's
// orders (the checkout's event's workspace) and counts of those: other workspaces' mismatches,
// and whether there are any, stay invisible. Operators read the platform-wide counts on /metrics.
void add_reconciliation_routes(router& routes, const reconciliation_routes_context& context);

}  // namespace eventstripe::io
