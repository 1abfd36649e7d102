#include "cluster/entity_host.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/checkout_actor.hpp"
#include "actors/event_actor.hpp"
#include "actors/protocol.hpp"
#include "actors/quota_actor.hpp"
#include "cluster/region.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/inventory.hpp"

namespace eventstripe::cluster {

std::vector<supervision::child_spec> region_children(router& table, std::shared_ptr<const actors::services> shared,
                                                     const std::vector<std::int64_t>& epochs) {
  entity_factory factory = [shared](caf::actor_system& system, actors::entity_kind kind, const std::string& key,
                                    actors::placement where) -> caf::actor {
    switch (kind) {
      case actors::entity_kind::event: return actors::spawn_event(system, key, where, shared);
      case actors::entity_kind::quota: return actors::spawn_quota(system, key, where, shared);
      case actors::entity_kind::checkout: return actors::spawn_checkout(system, key, where, shared);
    }
    return {};
  };
  std::vector<supervision::child_spec> children;
  for (std::uint32_t shard = 0; shard < epochs.size(); ++shard) {
    actors::placement where{static_cast<std::int32_t>(shard), epochs[shard]};
    children.push_back({"region-" + std::to_string(shard),
                        [&table, factory, where, shard](caf::actor_system& system) {
                          auto region = spawn_region(system, where, factory, entity_shutdown_timeout_ms);
                          table.set_region(shard, region);
                          return region;
                        },
                        supervision::restart_type::permanent,
                        entity_shutdown_timeout_ms + std::chrono::milliseconds{1'000}});
  }
  return children;
}

void activate_quotas_with_live_holds(std::shared_ptr<const actors::services> shared) {
  auto accepted = shared->database->submit(
      [shared](pqxx::connection& connection) {
        auto ids = storage::ticket_types_with_live_holds(connection);
        for (const auto& id : ids) {
          auto region = shared->directory->region_for(id);
          if (region) caf::anon_send(region, actors::activate_atom::value, actors::entity_kind::quota, id);
        }
        log::info("quotas with live holds activated", {{"quotas", static_cast<std::uint64_t>(ids.size())}});
      },
      [](const storage::error& failure) {
        log::error("could not list quotas with live holds", {{"error.message", failure.message}});
      });
  if (accepted != storage::submit_status::accepted) log::error("could not list quotas with live holds: queue full");
}

}  // namespace eventstripe::cluster
