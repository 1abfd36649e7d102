#include "cluster/entity_host.hpp"

#include <caf/actor_system.hpp>
#include <caf/send.hpp>

#include "actors/checkout_actor.hpp"
#include "actors/event_actor.hpp"
#include "actors/payment_actor.hpp"
#include "actors/protocol.hpp"
#include "actors/quota_actor.hpp"
#include "cluster/region.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/inventory.hpp"
#include "storage/payments.hpp"

namespace eventstripe::cluster {

namespace {

// Lists the shard's ticket types with live holds as a pool job and activates their quotas.
recovery_function live_quota_recovery(std::shared_ptr<const actors::services> shared) {
  return [shared](caf::actor region, actors::placement where) {
    auto retry = [region] { caf::delayed_anon_send(region, recovery_retry_delay_ms, actors::reload_atom::value); };
    auto accepted = shared->database->submit(
        [region, where](pqxx::connection& connection) {
          for (const auto& id : storage::ticket_types_with_live_holds(connection, where.shard))
            caf::anon_send(region, actors::activate_atom::value, actors::entity_kind::quota, id);
          // Orders left unfinished (a payment under way, paid without tickets, a refund pending)
          // are finished by their payment entities, also after a crash.
          for (const auto& id : storage::checkouts_with_open_orders(connection, where.shard))
            caf::anon_send(region, actors::activate_atom::value, actors::entity_kind::payment, id);
        },
        [retry, where](const storage::error& failure) {
          log::warn("region could not list its quotas with live holds; retrying",
                    {{"shard", where.shard}, {"error.message", failure.message}});
          retry();
        });
    if (accepted != storage::submit_status::accepted) retry();
  };
}

}  // namespace

std::vector<supervision::child_spec> region_children(router& table, std::shared_ptr<const actors::services> shared,
                                                     const std::vector<std::int64_t>& epochs) {
  auto recover = live_quota_recovery(shared);
  entity_factory factory = [shared](caf::actor_system& system, actors::entity_kind kind, const std::string& key,
                                    actors::placement where) -> caf::actor {
    switch (kind) {
      case actors::entity_kind::event: return actors::spawn_event(system, key, where, shared);
      case actors::entity_kind::quota: return actors::spawn_quota(system, key, where, shared);
      case actors::entity_kind::checkout: return actors::spawn_checkout(system, key, where, shared);
      case actors::entity_kind::payment: return actors::spawn_payment(system, key, where, shared);
    }
    return {};
  };
  std::vector<supervision::child_spec> children;
  for (std::uint32_t shard = 0; shard < epochs.size(); ++shard) {
    actors::placement where{static_cast<std::int32_t>(shard), epochs[shard]};
    children.push_back({"region-" + std::to_string(shard),
                        [&table, factory, recover, where, shard](caf::actor_system& system) {
                          auto region = spawn_region(system, where, factory, recover, entity_shutdown_timeout_ms);
                          table.set_region(shard, region);
                          return region;
                        },
                        supervision::restart_type::permanent,
                        entity_shutdown_timeout_ms + std::chrono::milliseconds{1'000}});
  }
  return children;
}

}  // namespace eventstripe::cluster
