#pragma once

// How an HTTP handler asks an entity actor: a short-lived actor per call sends the request
// through the entity's region and hands the answer (or error) to a callback, which answers the
// HTTP request through its responder. Gateway threads never wait on an actor. Included only by
// io's route sources (it needs CAF's actor headers, never Beast).
#include <chrono>
#include <functional>
#include <string>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/message.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"

namespace eventstripe::io {

template <class Reply>
caf::behavior entity_caller(caf::event_based_actor* self, caf::actor region, actors::entity_kind kind,
                            std::string key, caf::message message, std::chrono::milliseconds timeout,
                            std::function<void(Reply&)> on_reply, std::function<void(caf::error&)> on_error) {
  self->request(region, timeout, actors::deliver_atom::value, kind, std::move(key), std::move(message))
      .then([self, on_reply](Reply& reply) {
              on_reply(reply);
              self->quit();
            },
            [self, on_error](caf::error& failure) {
              on_error(failure);
              self->quit();
            });
  return {};
}

// Calls `on_reply` or `on_error` exactly once, on an actor thread.
template <class Reply>
void call_entity(caf::actor_system& system, const actors::entity_directory& directory, actors::entity_kind kind,
                 std::string key, caf::message message, std::chrono::milliseconds timeout,
                 std::function<void(Reply&)> on_reply, std::function<void(caf::error&)> on_error) {
  auto region = directory.region_for(key);
  if (!region) {
    auto failure = caf::make_error(actors::inventory_errc::fenced);
    return on_error(failure);
  }
  system.spawn(entity_caller<Reply>, std::move(region), kind, std::move(key), std::move(message), timeout,
               std::move(on_reply), std::move(on_error));
}

}  // namespace eventstripe::io
