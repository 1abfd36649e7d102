#pragma once

#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>
#include <caf/send.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"
#include "storage/connection_pool.hpp"

namespace eventstripe::actors {

// Sends `payload` to the entity if it is active; a notification nobody must be woken for.
void tell_entity(const services& shared, entity_kind kind, const std::string& key, caf::message payload);

// The region to ask for `key`, or an invalid handle when no node serves its shard.
caf::actor region_of(const services& shared, const std::string& key);

// What an entity actor gets back from load_state().
using loaded_atom = caf::atom_constant<caf::atom("loaded")>;

// How an entity reads its state without blocking: `load` (a storage function returning
// std::optional<Row>) runs as a pool job, and `me` receives
// (loaded_atom, std::shared_ptr<const Row>, bool ok): ok with a null pointer when there is no
// such row, !ok when the job could not run (queue full) or failed, so the actor can retry.
// The pointer is local to the node (the type is registered with CAF_ALLOW_UNSAFE_MESSAGE_TYPE).
template <class Row, class Load>
void load_state(const services& shared, caf::actor me, Load load) {
  using pointer = std::shared_ptr<const Row>;
  auto accepted = shared.database->submit(
      [me, load](pqxx::connection& connection) {
        auto row = load(connection);
        caf::anon_send(me, loaded_atom::value, row ? std::make_shared<const Row>(std::move(*row)) : pointer{}, true);
      },
      [me](const storage::error&) { caf::anon_send(me, loaded_atom::value, pointer{}, false); });
  if (accepted != storage::submit_status::accepted) caf::anon_send(me, loaded_atom::value, pointer{}, false);
}

}  // namespace eventstripe::actors
