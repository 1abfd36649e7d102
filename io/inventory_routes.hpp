#pragma once

#include <caf/fwd.hpp>

#include <memory>

#include "actors/availability_board.hpp"
#include "actors/services.hpp"

namespace eventstripe::storage {
class connection_pool;
}

namespace eventstripe::io {

class router;
class authenticator;

struct inventory_routes_context {
  caf::actor_system* system = nullptr;
  const actors::entity_directory* directory = nullptr;
  authenticator* credentials = nullptr;
  storage::connection_pool* pool = nullptr;  // the organizer's event list is a plain query
  actors::inventory_limits limits;
  // Available seats as this node's quotas committed them: sold-out answers without actors.
  std::shared_ptr<const actors::availability_board> board;
  bool fault_injection = false;  // serve POST /api/v1/debug/crash
};

// Buyers: POST/GET/DELETE /api/v1/checkouts[/{checkout_id}], POST .../extension,
// WebSocket /ws/checkouts/{checkout_id}; the public GET /api/v1/events/{event_id} and
// WebSocket /ws/events/{event_id}/availability.
void add_checkout_routes(router& routes, const inventory_routes_context& context);

// Organizers (API key): /api/v1/organizer/events[/{event_id}[/publish|/close|/ticket-types[/{id}]]].
void add_event_routes(router& routes, const inventory_routes_context& context);

}  // namespace eventstripe::io
