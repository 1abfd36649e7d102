#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "io/http_types.hpp"
#include "storage/error.hpp"
#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {
class connection_pool;
}

// How an HTTP handler does database work: blocking libpqxx calls run as connection_pool jobs,
// never on a gateway thread, and every way a job can fail has one answer.
namespace eventstripe::io {

// 503 `overloaded` with `Retry-After: 1`: a bounded queue or set of slots is full.
http_response overloaded_problem(std::string_view detail);

// The answer to a job that could not run or threw: 503 `database-unavailable` when the database
// cannot be reached (or a commit's outcome is unknown), 500 `internal-error` for anything else.
// Logs the reason with the request's trace id; the answer never carries SQL or server text.
http_response database_failure_problem(const storage::error& failure, std::string_view request_id);

// Does the work and returns the answer; runs on a pool thread. May throw (libpqxx does).
using database_work = std::function<http_response(pqxx::connection&)>;

// Runs `work` as a pool job and answers with what it returns; a refused submit (queue full,
// pool closed) answers 503 at once, a failed job answers database_failure_problem. Never blocks.
void answer_from_database(storage::connection_pool& pool, std::string request_id, database_work work,
                          responder respond);

}  // namespace eventstripe::io
