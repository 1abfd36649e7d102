// Actor tests against a real PostgreSQL (label `pg`). The readiness probe is what turns a
// database outage into an unready node instead of a crashed one.
#include <catch2/catch.hpp>

#include <chrono>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/send.hpp>

#include "actors/node_status.hpp"
#include "actors/readiness_probe.hpp"
#include "storage/connection_pool.hpp"
#include "storage/migrations.hpp"
#include "tests/support/fresh_database.hpp"

using namespace std::chrono_literals;
using eventstripe::actors::node_status;
using eventstripe::test_support::fresh_database;
namespace storage = eventstripe::storage;

namespace {

constexpr auto probe_interval = 100ms;
constexpr auto wait_max = 20s;

// Polls `status` until `predicate` holds or wait_max passes.
template <class Predicate>
bool eventually(Predicate predicate) {
  auto deadline = std::chrono::steady_clock::now() + wait_max;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

caf::actor_system_config& sharing_config() {
  static caf::actor_system_config config;
  config.set("scheduler.policy", caf::atom("sharing"));
  config.set("scheduler.max-threads", 2);
  return config;
}

storage::connection_pool_settings pool_settings(std::string url) {
  storage::connection_pool_settings settings;
  settings.url = std::move(url);
  settings.connection_count = 1;
  settings.queue_size_max = 8;
  settings.connect_timeout = 2s;
  return settings;
}

}  // namespace

TEST_CASE("the readiness probe reports ready only once the schema is migrated") {
  fresh_database database;
  storage::connection_pool pool{pool_settings(database.url())};
  caf::actor_system system{sharing_config()};
  auto status = std::make_shared<node_status>();
  auto probe = eventstripe::actors::spawn_readiness_probe(system, pool, status, probe_interval, 5s);

  REQUIRE(eventually([&] { return status->reason().find("migrations have not run") != std::string::npos; }));
  CHECK_FALSE(status->ready());
  REQUIRE(storage::migrate(database.url()).has_value());
  CHECK(eventually([&] { return status->ready(); }));
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
}

TEST_CASE("an unreachable database makes the node unready with the connection error, not a crash") {
  storage::connection_pool pool{pool_settings("postgresql://u:secretpw@127.0.0.1:1/nothing")};
  caf::actor_system system{sharing_config()};
  auto status = std::make_shared<node_status>();
  auto probe = eventstripe::actors::spawn_readiness_probe(system, pool, status, probe_interval, 5s);
  REQUIRE(eventually([&] { return status->reason().find("cannot connect") != std::string::npos; }));
  CHECK_FALSE(status->ready());
  CHECK(status->reason().find("secretpw") == std::string::npos);
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
}

TEST_CASE("a database that hangs makes the probe time out, and it recovers when the hang ends") {
  fresh_database database;
  REQUIRE(storage::migrate(database.url()).has_value());
  storage::connection_pool pool{pool_settings(database.url())};
  caf::actor_system system{sharing_config()};
  auto status = std::make_shared<node_status>();
  auto probe = eventstripe::actors::spawn_readiness_probe(system, pool, status, probe_interval, 300ms);
  REQUIRE(eventually([&] { return status->ready(); }));

  // An exclusive lock makes the probe's read of schema_migrations wait: a hang, not a refusal.
  auto blocker = database.connect();
  {
    pqxx::work lock_holder{blocker};
    lock_holder.exec("LOCK TABLE schema_migrations IN ACCESS EXCLUSIVE MODE");
    CHECK(eventually([&] { return status->reason() == "database probe timed out"; }));
    CHECK_FALSE(status->ready());
    lock_holder.commit();
  }
  CHECK(eventually([&] { return status->ready(); }));
  caf::anon_send_exit(probe, caf::exit_reason::user_shutdown);
}

TEST_CASE("shutting down makes the node unready whatever the database says") {
  node_status status;
  status.set_database(true, "ready");
  CHECK(status.ready());
  status.begin_shutdown();
  CHECK_FALSE(status.ready());
  CHECK(status.reason() == "shutting down");
}
