#pragma once

#include "storage/connection_pool.hpp"
#include "storage/pqxx_fwd.hpp"

#include <functional>
#include <string>

// The database half of the node's readiness probe: the database answers and its schema is
// the one this binary was built for.
namespace eventstripe::storage {

struct readiness {
  bool ready = false;
  std::string reason; // why not ready; "ready" when ready
};

// Runs `SELECT 1` and reads max(version) from schema_migrations. Blocking, so it runs as a
// pool job; it throws like any job, and the pool reports connection failures.
readiness check_ready(pqxx::connection& connection, int expected_version);

// Submits check_ready() with expected_schema_version() to `pool`; `on_done` is called once on
// a pool thread, with a not-ready answer when the job could not run. A refused submit
// (queue full, closed) is returned and `on_done` is not called: the caller answers "not ready".
[[nodiscard]] submit_status submit_ready_check(job_runner& pool,
                                               std::function<void(readiness)> on_done);

} // namespace eventstripe::storage
