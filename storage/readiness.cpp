#include "storage/readiness.hpp"

#include "storage/migrations.hpp"

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>

#include <memory>
#include <utility>

namespace eventstripe::storage {

readiness check_ready(pqxx::connection& connection, int expected_version) {
  pqxx::nontransaction session(connection);
  session.exec("SELECT 1");
  // to_regclass instead of querying the table directly: a database that was never migrated
  // is a reason to report, not an error.
  auto const history = session.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!history[0][0].as<bool>())
    return {false, "schema_migrations does not exist: migrations have not run"};
  auto const recorded = session.exec("SELECT coalesce(max(version), 0) FROM schema_migrations");
  int const current_version = recorded[0][0].as<int>();
  if (current_version < expected_version)
    return {false, "schema version " + std::to_string(current_version) + " is older than the "
                     + std::to_string(expected_version) + " this binary expects: migrations pending"};
  // A newer schema is fine: migrations are written expand-then-contract, so during a rolling
  // deploy the pods still on the old binary keep serving after a new pod has migrated.
  return {true, "ready"};
}

submit_status submit_ready_check(job_runner& pool, std::function<void(readiness)> on_done) {
  // Shared because both callbacks need it and only one of them will run.
  auto const done = std::make_shared<std::function<void(readiness)>>(std::move(on_done));
  int const expected_version = expected_schema_version();
  return pool.submit(
    [done, expected_version](pqxx::connection& connection) {
      readiness const answer = check_ready(connection, expected_version);
      (*done)(answer);
    },
    [done](error const& failure) {
      (*done)(readiness{false, "database unavailable: " + failure.message});
    });
}

} // namespace eventstripe::storage
