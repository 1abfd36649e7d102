// Reconciliation over HTTP (no Beast here): an organizer asks the job for a run now, or reads the
// latest run's findings from the database; both answers hold the caller's workspace's findings only.
#include "io/reconciliation_routes.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "actors/reconciliation_job.hpp"
#include "actors/time_format.hpp"
#include "io/auth.hpp"
#include "io/database_job.hpp"
#include "io/json_body.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"

namespace eventstripe::io {
namespace {

bool is_kind(std::string_view text) {
  const auto& kinds = storage::reconciliation_kinds;
  return std::find(kinds.begin(), kinds.end(), text) != kinds.end();
}

std::string kind_list() {
  std::string list;
  for (auto kind : storage::reconciliation_kinds) list += (list.empty() ? "" : ", ") + std::string{kind};
  return list;
}

// The answer of both endpoints: the run, a count for every kind (0 included) and the findings,
// all of them already scoped to `workspace_id`.
std::string findings_json(const std::string& workspace_id, const std::string& run_id,
                          std::optional<std::int64_t> checked_at_ms,
                          const std::vector<storage::reconciliation_finding>& findings) {
  nlohmann::json counts = nlohmann::json::object();
  for (auto kind : storage::reconciliation_kinds) counts[std::string{kind}] = 0;
  nlohmann::json listed = nlohmann::json::array();
  for (const auto& finding : findings) {
    counts[finding.kind] = counts[finding.kind].get<std::int64_t>() + 1;
    listed.push_back({{"kind", finding.kind},
                      {"checkout_id", finding.checkout_id},
                      {"payment_id", finding.payment_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(finding.payment_id)},
                      {"detail", finding.detail}});
  }
  nlohmann::json body{{"workspace_id", workspace_id},
                      {"run_id", run_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(run_id)},
                      {"checked_at", checked_at_ms ? nlohmann::json(actors::iso8601_ms(*checked_at_ms)) : nlohmann::json(nullptr)},
                      {"counts", counts},
                      {"findings", listed}};
  return body.dump();
}

http_response failure_problem(actors::reconciliation_failure failure) {
  using actors::reconciliation_failure;
  auto try_again = [](std::string_view slug, std::string_view title, std::string_view detail) {
    auto answer = problem(503, slug, title, detail);
    answer.headers.emplace_back("Retry-After", "5");
    return answer;
  };
  switch (failure) {
    case reconciliation_failure::overloaded:
      return overloaded_problem("Too many reconciliation runs are waiting; try again shortly.");
    case reconciliation_failure::timed_out:
      return try_again("timeout", "Try again", "The reconciliation run did not finish in time; retry.");
    case reconciliation_failure::not_running:
      return try_again("not-ready", "Not ready", "The reconciliation job is not running (the node is starting or stopping).");
    default:
      return try_again("database-unavailable", "Database unavailable",
                       "The reconciliation run could not read the database; nothing was stored. Try again shortly.");
  }
}

// POST .../runs: the body may be empty or an empty object (no options yet).
void run_now(const reconciliation_routes_context& context, const http_request& request, const principal& who,
             responder respond) {
  if (!request.body.empty()) {
    json_body body{request.body, {}};
    if (!body.ok()) return respond(body.failure());
  }
  auto workspace_id = who.workspace_id;
  actors::request_reconciliation_run(
      *context.system, *context.board, context.answer_timeout,
      [respond, workspace_id](actors::reconciliation_report_pointer report, actors::reconciliation_failure failure) {
        if (!report) return respond(failure_problem(failure));
        std::vector<storage::reconciliation_finding> mine;
        std::copy_if(report->findings.begin(), report->findings.end(), std::back_inserter(mine),
                     [&](const auto& finding) { return finding.workspace_id == workspace_id; });
        respond(json_response(200, findings_json(workspace_id, report->run_id, report->started_at_ms, mine)));
      });
}

// GET .../findings: what the latest run (of any node) stored, from the database.
void latest_findings(const reconciliation_routes_context& context, const http_request& request, const principal& who,
                     responder respond) {
  auto kind = request.query_value("kind");
  if (kind && !is_kind(*kind))
    return respond(problem(400, "invalid-parameter", "Invalid parameter", "kind: one of " + kind_list()));
  answer_from_database(*context.pool, request.request_id, [workspace_id = who.workspace_id, kind](pqxx::connection& connection) {
    pqxx::read_transaction transaction{connection};
    std::string run_id;
    std::optional<std::int64_t> checked_at_ms;
    std::vector<storage::reconciliation_finding> findings;
    for (const auto& row : transaction.exec_params(
             "SELECT f.run_id, f.kind, coalesce(f.payment_id, ''), f.checkout_id, f.detail, "
             "(extract(epoch from f.found_at) * 1000)::bigint "
             "FROM reconciliation_findings f JOIN checkouts c ON c.id = f.checkout_id JOIN events e ON e.id = c.event_id "
             "WHERE e.workspace_id = $1 AND ($2::text IS NULL OR f.kind = $2) "
             "ORDER BY f.kind, f.checkout_id, f.payment_id NULLS FIRST",
             workspace_id, kind)) {
      run_id = row[0].as<std::string>();
      checked_at_ms = row[5].as<std::int64_t>();
      findings.push_back({row[1].as<std::string>(), row[2].as<std::string>(), row[3].as<std::string>(), workspace_id,
                          row[4].as<std::string>()});
    }
    return json_response(200, findings_json(workspace_id, run_id, checked_at_ms, findings));
  }, std::move(respond));
}

}  // namespace

void add_reconciliation_routes(router& routes, const reconciliation_routes_context& context) {
  routes.add("POST", "/api/v1/organizer/reconciliation/runs",
             require_authentication(*context.credentials, [context](const http_request& request, const principal& who,
                                                                    responder respond) {
               run_now(context, request, who, std::move(respond));
             }));
  routes.add("GET", "/api/v1/organizer/reconciliation/findings",
             require_authentication(*context.credentials, [context](const http_request& request, const principal& who,
                                                                    responder respond) {
               latest_findings(context, request, who, std::move(respond));
             }));
}

}  // namespace eventstripe::io
