#pragma once

// A real inventory on CAF's test coordinator: regions, the router and the entity actors of
// production, jobs run inline against a fresh PostgreSQL database, and a simulated clock.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/send.hpp>

#include "actors/protocol.hpp"
#include "actors/services.hpp"
#include "cluster/entity_host.hpp"
#include "cluster/router.hpp"
#include "storage/inventory.hpp"
#include "storage/migrations.hpp"
#include "supervision/supervision_error.hpp"
#include "tests/support/fresh_database.hpp"
#include "tests/support/inline_runner.hpp"

namespace eventstripe::test_support {

inline constexpr std::uint32_t test_shard_count = 4;
inline const std::string test_node = "test-node";
inline const std::string test_event = "ev_aaaaaaaaaaaaaaaaaaaa";
inline const std::string test_workspace = "ws_aaaaaaaaaaaaaaaaaaaa";

// What an entity answered: a value or an error.
template <class Reply>
using answer = std::variant<std::monostate, Reply, caf::error>;

template <class Reply>
void ask_probe(caf::event_based_actor* self, caf::actor region, actors::entity_kind kind, std::string key,
               caf::message message, std::shared_ptr<answer<Reply>> out) {
  self->request(region, caf::infinite, actors::deliver_atom::value, kind, std::move(key), std::move(message))
      .then([out](Reply& reply) { *out = std::move(reply); }, [out](caf::error& failure) { *out = failure; });
}

inline caf::actor_system_config& testing_config(caf::actor_system_config& config) {
  config.set("scheduler.policy", caf::atom("testing"));
  config.set("logger.file-verbosity", caf::atom("quiet"));
  config.set("logger.console-verbosity", caf::atom("quiet"));
  supervision::add_supervision_error_category(config);
  actors::add_inventory_error_category(config);
  actors::add_pricing_error_categories(config);
  return config;
}

class inventory_fixture {
 public:
  inventory_fixture()
      : migrated_(migrate_and_seed(database)),
        system(testing_config(config)),
        scheduler(dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler())),
        runner(database.url()),
        directory(test_shard_count) {
    auto epochs = storage::claim_all_shards(runner.connection(), test_node, test_shard_count);
    shared = std::make_shared<actors::services>();
    shared->database = &runner;
    shared->directory = &directory;
    shared->node_id = test_node;
    shared->fault_injection = true;
    shared->limits.hold_ttl_ms = std::chrono::minutes{10};
    shared->limits.hold_extension_ms = std::chrono::minutes{5};
    actors::anchor_clock(*shared, system);
    for (auto& spec : cluster::region_children(directory, shared, epochs)) regions.push_back(spec.start(system));
    scheduler.run();
  }

  ~inventory_fixture() {
    for (auto& region : regions) caf::anon_send_exit(region, caf::exit_reason::kill);
    scheduler.run();
  }

  // What a node restart does to the inventory: every region (and its entities) dies, the shards
  // are claimed again under new epochs, and fresh regions start and recover from PostgreSQL.
  void restart_regions() {
    for (auto& region : regions) caf::anon_send_exit(region, caf::exit_reason::kill);
    scheduler.run();
    regions.clear();
    auto epochs = storage::claim_all_shards(runner.connection(), test_node, test_shard_count);
    for (auto& spec : cluster::region_children(directory, shared, epochs)) regions.push_back(spec.start(system));
    scheduler.run();
  }

  // Sends `message` to the entity and runs the system until it answered.
  template <class Reply>
  answer<Reply> ask(actors::entity_kind kind, const std::string& key, caf::message message) {
    auto out = std::make_shared<answer<Reply>>();
    system.spawn(ask_probe<Reply>, directory.region_for(key), kind, key, std::move(message), out);
    scheduler.run();
    return *out;
  }

  void advance(std::chrono::milliseconds duration) {
    scheduler.advance_time(duration);
    scheduler.run();
  }

  std::int64_t now_ms() { return shared->now_ms(system.clock()); }

  // Adds a ticket type to the test event directly in the database (set-up, not the code under test).
  void add_ticket_type(const std::string& id, int capacity, std::int64_t price_minor = 2500, bool hidden = false) {
    auto connection = database.connect();
    pqxx::work transaction{connection};
    transaction.exec_params(
        "INSERT INTO ticket_types (id, event_id, shard_id, name, price_minor, currency, capacity, max_per_order, hidden) "
        "VALUES ($1, $2, $7, $3, $4, 'EUR', $5, 10, $6)",
        id, test_event, "Ticket " + id, price_minor, capacity, hidden, static_cast<std::int32_t>(directory.shard_of(id)));
    transaction.commit();
  }

  int query_int(const std::string& sql) const { return database.query_int(sql); }

  fresh_database database;

 private:
  static bool migrate_and_seed(fresh_database& db) {
    REQUIRE(storage::migrate(db.url()).has_value());
    auto connection = db.connect();
    pqxx::work transaction{connection};
    transaction.exec_params("INSERT INTO workspaces (id, name) VALUES ($1, 'Test workspace')", test_workspace);
    transaction.exec_params(
        "INSERT INTO events (id, workspace_id, shard_id, slug, title, time_zone, starts_at, ends_at, currency, "
        "tax_country, status) VALUES ($1, $2, 0, 'test', 'Test event', 'Europe/Berlin', now() + interval '30 days', "
        "now() + interval '31 days', 'EUR', 'DE', 'published')",
        test_event, test_workspace);
    transaction.commit();
    return true;
  }

  bool migrated_;

 public:
  caf::actor_system_config config;
  caf::actor_system system;
  caf::scheduler::test_coordinator& scheduler;
  inline_runner runner;
  cluster::router directory;
  std::shared_ptr<actors::services> shared;
  std::vector<caf::actor> regions;
};

}  // namespace eventstripe::test_support
