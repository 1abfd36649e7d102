#include "io/database_job.hpp"

#include <memory>
#include <utility>

#include "config/log.hpp"
#include "io/problem.hpp"
#include "storage/connection_pool.hpp"

namespace eventstripe::io {

http_response overloaded_problem(std::string_view detail) {
  auto answer = problem(503, "overloaded", "Overloaded", detail);
  answer.headers.emplace_back("Retry-After", "1");
  return answer;
}

http_response database_failure_problem(const storage::error& failure, std::string_view request_id) {
  log::error("database job failed", {{"trace.id", request_id},
                                     {"error.type", storage::to_string(failure.code)},
                                     {"error.code", failure.sqlstate},
                                     {"error.message", failure.message}});
  auto unavailable = [](std::string_view detail) {
    auto answer = problem(503, "database-unavailable", "Database unavailable", detail);
    answer.headers.emplace_back("Retry-After", "1");
    return answer;
  };
  switch (failure.code) {
    case storage::error_code::connect_failed:
    case storage::error_code::queue_full:
    case storage::error_code::pool_closed:
      return unavailable("The database could not be reached; nothing was changed. Try again shortly.");
    case storage::error_code::connection_broken:
    case storage::error_code::commit_outcome_unknown:
      return unavailable("The connection to the database broke; the request may or may not have taken effect.");
    default:
      return problem(500, "internal-error", "Internal error", "The request could not be handled.");
  }
}

void answer_from_database(storage::connection_pool& pool, std::string request_id, database_work work,
                          responder respond) {
  // Shared because both callbacks need it and only one of them runs.
  auto shared_respond = std::make_shared<responder>(std::move(respond));
  auto status = pool.submit(
      [shared_respond, work = std::move(work)](pqxx::connection& connection) {
        auto answer = work(connection);
        (*shared_respond)(std::move(answer));
      },
      [shared_respond, request_id](const storage::error& failure) {
        (*shared_respond)(database_failure_problem(failure, request_id));
      });
  if (status != storage::submit_status::accepted)
    (*shared_respond)(overloaded_problem("Too many database requests are waiting; try again shortly."));
}

}  // namespace eventstripe::io
