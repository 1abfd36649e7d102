#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <caf/fwd.hpp>

#include "actors/services.hpp"

namespace eventstripe::storage {
class connection_pool;
}

namespace eventstripe::actors {
class payment_provider;
}

namespace eventstripe::io {

class router;
class authenticator;

struct payment_routes_context {
  caf::actor_system* system = nullptr;
  const actors::entity_directory* directory = nullptr;
  authenticator* credentials = nullptr;
  storage::connection_pool* pool = nullptr;
  actors::inventory_limits limits;
  std::chrono::milliseconds answer_wait{8'000};  // how long POST .../payments waits for a settled state
  std::vector<std::shared_ptr<actors::payment_provider>> providers;
  // testing.fault_injection: serve POST /api/v1/debug/payments/fulfilment (pause ticket issue)...
  bool fault_injection = false;
  std::shared_ptr<std::atomic<bool>> fulfilment_paused;
  // ... and POST /api/v1/debug/payments/webhook-hints: while set, provider events are recorded and
  // acknowledged but their payment entities are not told (a node dying right after the answer).
  std::shared_ptr<std::atomic<bool>> webhook_hints_dropped = std::make_shared<std::atomic<bool>>(false);
  // ... and POST /api/v1/debug/payments/attempt-failure: while set, a payment attempt fails right
  // after its provider answered a confirm or a question (its supervisor restarts it).
  std::shared_ptr<std::atomic<bool>> attempt_failure;
};

// Buyers: POST /api/v1/checkouts/{id}/payments, GET .../payment, GET .../tickets,
// GET .../tickets/{ticket_id}/qr.svg|qr.png, GET /api/v1/events/{id}/ticket-key.
// Providers: POST /webhooks/{provider}. Organizers (API key): POST /api/v1/checkin,
// GET /api/v1/organizer/events/{id}/checkins.
void add_payment_routes(router& routes, const payment_routes_context& context);

}  // namespace eventstripe::io
