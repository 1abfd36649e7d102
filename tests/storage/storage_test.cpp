// Storage tests against a real PostgreSQL (label `pg`): migrations, the connection pool and
// readiness. Each test creates its own database, so tests are independent and can run in any
// order. The server comes from ES_TEST_DATABASE_URL; see storage/README.md.
#include "storage/connect.hpp"
#include "storage/connection_pool.hpp"
#include "storage/conninfo.hpp"
#include "storage/migrations.hpp"
#include "storage/readiness.hpp"

#include <catch2/catch.hpp>

#include "tests/support/fresh_database.hpp"
#include <pqxx/pqxx>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace storage = eventstripe::storage;
using namespace std::chrono_literals;

namespace {

constexpr auto job_wait_max = 30s;

using eventstripe::test_support::fresh_database;
using eventstripe::test_support::server_url;

// Submits `work` and waits for its outcome: the value it returned or the pool's error.
template <typename work_type>
auto run_job(storage::connection_pool& pool, work_type work) {
  using value_type = std::invoke_result_t<work_type&, pqxx::connection&>;
  auto const promise = std::make_shared<std::promise<storage::result<value_type>>>();
  auto future = promise->get_future();
  auto const status = pool.submit(
    [promise, work](pqxx::connection& connection) mutable { promise->set_value(work(connection)); },
    [promise](storage::error const& failure) { promise->set_value(failure); });
  REQUIRE(status == storage::submit_status::accepted);
  REQUIRE(future.wait_for(job_wait_max) == std::future_status::ready);
  return future.get();
}

int backend_pid(pqxx::connection& connection) {
  pqxx::nontransaction session(connection);
  auto const rows = session.exec("SELECT pg_backend_pid()");
  return rows[0][0].as<int>();
}

storage::connection_pool_settings pool_settings(fresh_database const& database, std::size_t connection_count,
                                                std::size_t queue_size_max) {
  storage::connection_pool_settings settings;
  settings.url = database.url();
  settings.connection_count = connection_count;
  settings.queue_size_max = queue_size_max;
  return settings;
}

std::string describe(storage::error const& failure) {
  return std::string(storage::to_string(failure.code)) + ": " + failure.message;
}

} // namespace

TEST_CASE("the database is reachable at ES_TEST_DATABASE_URL", "[pg]") {
  auto const failure = storage::check_connection(server_url(), 5s);
  if (failure)
    FAIL(failure->message);
}

TEST_CASE("migrations apply once, and a second migrate applies none", "[pg]") {
  fresh_database database;
  auto const first = storage::migrate(database.url());
  if (!first)
    FAIL(describe(first.error()));
  auto const migration_count = static_cast<int>(storage::embedded_migrations().size());
  CHECK(first.value().applied_count == migration_count);
  CHECK(first.value().schema_version == storage::expected_schema_version());

  auto const second = storage::migrate(database.url());
  REQUIRE(second.has_value());
  CHECK(second.value().applied_count == 0);
  CHECK(second.value().schema_version == storage::expected_schema_version());

  CHECK(database.query_int("SELECT count(*) FROM schema_migrations") == migration_count);
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations WHERE name = 'foundation'") == 1);
  CHECK(database.query_int("SELECT count(*) FROM nodes") == 0);
}

TEST_CASE("four nodes migrating at once apply each migration exactly once", "[pg]") {
  fresh_database database;
  constexpr int node_count = 4;
  std::latch all_ready(node_count);
  std::vector<std::optional<storage::result<storage::migrate_report>>> outcomes(node_count);
  std::vector<std::thread> nodes;
  for (int node = 0; node < node_count; ++node)
    nodes.emplace_back([&, node] {
      all_ready.arrive_and_wait();
      outcomes[node] = storage::migrate(database.url());
    });
  for (std::thread& node : nodes)
    node.join();

  int applied_total = 0;
  for (auto const& outcome : outcomes) {
    REQUIRE(outcome.has_value());
    if (!outcome->has_value())
      FAIL(describe(outcome->error()));
    applied_total += outcome->value().applied_count;
    CHECK(outcome->value().schema_version == storage::expected_schema_version());
  }
  auto const migration_count = static_cast<int>(storage::embedded_migrations().size());
  CHECK(applied_total == migration_count);
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations") == migration_count);
}

TEST_CASE("a failing migration is rolled back, not recorded, and reported by name", "[pg]") {
  fresh_database database;
  std::array<storage::migration, 2> const migrations{{
    {1, "first", "CREATE TABLE first_table (x integer)"},
    {2, "broken", "CREATE TABLE second_table (x integer); SELECT no_such_column FROM first_table"},
  }};
  auto const outcome = storage::apply_migrations(database.url(), migrations);
  REQUIRE_FALSE(outcome.has_value());
  CAPTURE(outcome.error().message);
  CHECK(outcome.error().code == storage::error_code::migration_failed);
  CHECK(outcome.error().message.find("applying 0002_broken") != std::string::npos);
  CHECK(outcome.error().message.find("no_such_column") != std::string::npos);
  CHECK(outcome.error().sqlstate == "42703");
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations WHERE version = 1") == 1);
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations WHERE version = 2") == 0);
  CHECK(database.query_int("SELECT count(*) FROM pg_tables WHERE tablename = 'second_table'") == 0);
}

TEST_CASE("a recorded migration whose name differs from the binary's is refused", "[pg]") {
  fresh_database database;
  std::array<storage::migration, 1> const recorded{{{1, "first", "CREATE TABLE first_table (x integer)"}}};
  REQUIRE(storage::apply_migrations(database.url(), recorded).has_value());
  std::array<storage::migration, 2> const renamed{{
    {1, "other", "CREATE TABLE other_table (x integer)"},
    {2, "second", "CREATE TABLE second_table (x integer)"},
  }};
  auto const outcome = storage::apply_migrations(database.url(), renamed);
  REQUIRE_FALSE(outcome.has_value());
  CHECK(outcome.error().message.find("'first'") != std::string::npos);
  CHECK(outcome.error().message.find("0001_other") != std::string::npos);
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations") == 1);
}

TEST_CASE("a migration edited after it was applied is refused by name, and nothing is applied", "[pg]") {
  fresh_database database;
  std::array<storage::migration, 1> const original{{{1, "first", "CREATE TABLE first_table (x integer)"}}};
  REQUIRE(storage::apply_migrations(database.url(), original).has_value());
  std::array<storage::migration, 2> const edited{{
    {1, "first", "CREATE TABLE first_table (x integer, y integer)"},
    {2, "second", "CREATE TABLE second_table (x integer)"},
  }};
  auto const outcome = storage::apply_migrations(database.url(), edited);
  REQUIRE_FALSE(outcome.has_value());
  CHECK(outcome.error().message.find("0001_first was changed after it was applied") != std::string::npos);
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations") == 1);
  CHECK(database.query_int("SELECT count(*) FROM pg_tables WHERE tablename = 'second_table'") == 0);
  // The same text again is fine, and the next migration applies.
  std::array<storage::migration, 2> const continued{{original[0], edited[1]}};
  auto const again = storage::apply_migrations(database.url(), continued);
  REQUIRE(again.has_value());
  CHECK(again.value().applied_count == 1);
}

TEST_CASE("a history recorded before checksums is adopted, then guards against edits", "[pg]") {
  fresh_database database;
  database.exec("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
                "applied_at timestamptz NOT NULL DEFAULT now())");
  database.exec("CREATE TABLE first_table (x integer)");
  database.exec("INSERT INTO schema_migrations (version, name) VALUES (1, 'first')");
  std::array<storage::migration, 1> const original{{{1, "first", "CREATE TABLE first_table (x integer)"}}};
  auto const adopted = storage::apply_migrations(database.url(), original);
  REQUIRE(adopted.has_value());
  CHECK(adopted.value().applied_count == 0);
  CHECK(adopted.value().adopted_versions == std::vector<int>{1});
  CHECK(database.query_int("SELECT count(*) FROM schema_migrations WHERE sha256 IS NOT NULL") == 1);
  // Adopted with the right checksum: the same text passes, nothing is adopted twice, an edit is refused.
  auto const again = storage::apply_migrations(database.url(), original);
  REQUIRE(again.has_value());
  CHECK(again.value().adopted_versions.empty());
  std::array<storage::migration, 1> const edited{{{1, "first", "CREATE TABLE first_table (y integer)"}}};
  auto const refused = storage::apply_migrations(database.url(), edited);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message.find("0001_first was changed after it was applied") != std::string::npos);
}

TEST_CASE("a migration's checksum is of its bytes, whatever the session's client encoding", "[pg]") {
  fresh_database database;
  std::array<storage::migration, 1> const accented{{{1, "first", "COMMENT ON SCHEMA public IS 'caf\xc3\xa9 \xe2\x80\x94 UTF-8'"}}};
  REQUIRE(storage::apply_migrations(database.url(), accented).has_value());
  database.exec("ALTER DATABASE " + database.name() + " SET client_encoding = 'LATIN1'");
  auto const again = storage::apply_migrations(database.url(), accented);
  CHECK(again.has_value());
}

TEST_CASE("readiness reports pending migrations, then ready once migrated", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 1, 4));
  auto check = [&pool] {
    std::promise<storage::readiness> answered;
    auto future = answered.get_future();
    auto const status = storage::submit_ready_check(
      pool, [&answered](storage::readiness answer) { answered.set_value(std::move(answer)); });
    REQUIRE(status == storage::submit_status::accepted);
    REQUIRE(future.wait_for(job_wait_max) == std::future_status::ready);
    return future.get();
  };
  auto const before = check();
  CHECK_FALSE(before.ready);
  CHECK(before.reason.find("migrations have not run") != std::string::npos);

  REQUIRE(storage::migrate(database.url()).has_value());
  auto const after = check();
  CHECK(after.ready);
}

TEST_CASE("a binary older than the schema stays ready; one newer than the schema does not", "[pg]") {
  fresh_database database;
  REQUIRE(storage::migrate(database.url()).has_value());
  storage::connection_pool pool(pool_settings(database, 1, 4));
  auto check_with = [&pool](int expected_version) {
    std::promise<storage::readiness> answered;
    auto future = answered.get_future();
    REQUIRE(pool.submit(
              [&answered, expected_version](pqxx::connection& connection) {
                answered.set_value(storage::check_ready(connection, expected_version));
              },
              [&answered](storage::error const& failure) {
                answered.set_value({false, failure.message});
              })
            == storage::submit_status::accepted);
    REQUIRE(future.wait_for(job_wait_max) == std::future_status::ready);
    return future.get();
  };
  int const current = storage::expected_schema_version();
  // During a rolling deploy a new pod migrates first; the old pods must keep serving.
  CHECK(check_with(current - 1).ready);
  auto const pending = check_with(current + 1);
  CHECK_FALSE(pending.ready);
  CHECK(pending.reason.find("migrations pending") != std::string::npos);
}

TEST_CASE("a full queue refuses a job at once instead of blocking the caller", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 1, 1));
  std::promise<void> slow_job_started;
  std::promise<void> queued_job_done;
  auto const slow = pool.submit(
    [&slow_job_started](pqxx::connection& connection) {
      slow_job_started.set_value();
      pqxx::nontransaction(connection).exec("SELECT pg_sleep(1)");
    },
    nullptr);
  REQUIRE(slow == storage::submit_status::accepted);
  REQUIRE(slow_job_started.get_future().wait_for(job_wait_max) == std::future_status::ready);

  auto const queued = pool.submit([&queued_job_done](pqxx::connection&) { queued_job_done.set_value(); },
                                  nullptr);
  CHECK(queued == storage::submit_status::accepted);
  auto const before_submit = std::chrono::steady_clock::now();
  auto const refused = pool.submit([](pqxx::connection&) {}, nullptr);
  auto const submit_duration = std::chrono::steady_clock::now() - before_submit;
  CHECK(refused == storage::submit_status::queue_full);
  CHECK(submit_duration < 50ms);

  auto const stats = pool.stats();
  CHECK(stats.connection_count == 1);
  CHECK(stats.connections_busy == 1);
  CHECK(stats.queue_depth == 1);
  CHECK(stats.queue_size_max == 1);
  CHECK(stats.jobs_rejected_total == 1);
  CHECK(queued_job_done.get_future().wait_for(job_wait_max) == std::future_status::ready);
}

TEST_CASE("closing the pool fails queued jobs with pool_closed and lets the running job finish", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 1, 4));
  std::promise<void> running_started;
  std::atomic<bool> running_finished{false};
  std::vector<storage::error_code> queued_failures;
  std::mutex failures_mutex;
  auto record_failure = [&](storage::error const& failure) {
    std::lock_guard lock(failures_mutex);
    queued_failures.push_back(failure.code);
  };
  REQUIRE(pool.submit(
            [&](pqxx::connection& connection) {
              running_started.set_value();
              pqxx::nontransaction(connection).exec("SELECT pg_sleep(0.3)");
              running_finished = true;
            },
            record_failure)
          == storage::submit_status::accepted);
  REQUIRE(running_started.get_future().wait_for(job_wait_max) == std::future_status::ready);
  REQUIRE(pool.submit([](pqxx::connection&) {}, record_failure) == storage::submit_status::accepted);
  REQUIRE(pool.submit([](pqxx::connection&) {}, record_failure) == storage::submit_status::accepted);

  pool.close();
  CHECK(running_finished);
  CHECK(queued_failures == std::vector{storage::error_code::pool_closed, storage::error_code::pool_closed});
  CHECK(pool.submit([](pqxx::connection&) {}, nullptr) == storage::submit_status::closed);
  CHECK(pool.stats().connections_open == 0);
}

TEST_CASE("jobs run on the pool's threads, never on the caller's thread", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 2, 16));
  std::set<std::thread::id> job_threads;
  for (int job = 0; job < 8; ++job) {
    auto const thread = run_job(pool, [](pqxx::connection&) { return std::this_thread::get_id(); });
    REQUIRE(thread.has_value());
    job_threads.insert(thread.value());
  }
  CHECK_FALSE(job_threads.contains(std::this_thread::get_id()));
  CHECK(job_threads.size() <= 2);
}

TEST_CASE("a failed statement reports its SQLSTATE and the connection stays in use", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 1, 4));
  auto const first_pid = run_job(pool, backend_pid);
  REQUIRE(first_pid.has_value());
  auto const failed = run_job(pool, [](pqxx::connection& connection) {
    pqxx::work transaction(connection);
    return transaction.exec("SELECT 1 / 0").size();
  });
  REQUIRE_FALSE(failed.has_value());
  CHECK(failed.error().code == storage::error_code::query_failed);
  CHECK(failed.error().sqlstate == "22012");
  auto const second_pid = run_job(pool, backend_pid);
  REQUIRE(second_pid.has_value());
  CHECK(second_pid.value() == first_pid.value());
}

TEST_CASE("a connection the server terminated is replaced on the next job", "[pg]") {
  fresh_database database;
  storage::connection_pool pool(pool_settings(database, 1, 4));
  auto const old_pid = run_job(pool, backend_pid);
  REQUIRE(old_pid.has_value());

  pqxx::connection observer = database.connect();
  {
    pqxx::nontransaction session(observer);
    session.exec("SELECT pg_terminate_backend(" + std::to_string(old_pid.value()) + ")");
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    pqxx::nontransaction session(observer);
    auto const rows = session.exec(
      "SELECT count(*) FROM pg_stat_activity WHERE pid = " + std::to_string(old_pid.value()));
    if (rows[0][0].as<int>() == 0)
      break;
    std::this_thread::sleep_for(20ms);
  }

  // The job that meets the dead connection fails: the pool never retries on its own, since
  // only the caller knows whether its statement may run twice.
  auto const on_dead_connection = run_job(pool, backend_pid);
  REQUIRE_FALSE(on_dead_connection.has_value());
  CAPTURE(on_dead_connection.error().message);
  CHECK(on_dead_connection.error().code == storage::error_code::connection_broken);
  CHECK(on_dead_connection.error().message.starts_with("connection to PostgreSQL at 127.0.0.1:"));

  auto const new_pid = run_job(pool, backend_pid);
  if (!new_pid)
    FAIL(describe(new_pid.error()));
  CHECK(new_pid.value() != old_pid.value());
  CHECK(pool.stats().connections_open == 1);
}
