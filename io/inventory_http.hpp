#pragma once

// What the inventory routes share: the HTTP answer for each inventory error, and the JSON of
// events and ticket types. Included only by io's route sources.
#include <string>

#include <caf/error.hpp>
#include <nlohmann/json.hpp>

#include "actors/event_actor.hpp"
#include "io/http_types.hpp"

namespace eventstripe::io {

// The problem document for an entity's error (inventory errors by code; a timeout or an
// unreachable entity is 503, anything else 500).
http_response inventory_problem(const caf::error& failure, const std::string& request_id);

nlohmann::json ticket_type_json(const storage::ticket_type_row& type, bool organizer);
nlohmann::json event_json(const actors::event_view& view, bool organizer);

}  // namespace eventstripe::io
