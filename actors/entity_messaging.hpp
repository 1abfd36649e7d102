#pragma once

#include <string>

#include <caf/fwd.hpp>
#include <caf/message.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"

namespace eventstripe::actors {

// Sends `payload` to the entity if it is active; a notification nobody must be woken for.
void tell_entity(const services& shared, entity_kind kind, const std::string& key, caf::message payload);

// The region to ask for `key`, or an invalid handle when no node serves its shard.
caf::actor region_of(const services& shared, const std::string& key);

}  // namespace eventstripe::actors
