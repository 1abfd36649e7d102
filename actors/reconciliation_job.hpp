#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

#include <caf/actor.hpp>
#include <caf/actor_control_block.hpp>
#include <caf/fwd.hpp>

#include "storage/reconciliation.hpp"

namespace eventstripe::storage {
class job_runner;
}

namespace eventstripe::actors {

using reconciliation_report_pointer = std::shared_ptr<const storage::reconciliation_report>;

struct reconciliation_job_settings {
  std::chrono::milliseconds interval_ms{300'000};  // between periodic runs; 0: only on demand
  storage::reconciliation_settings checks;
  // On-demand requests waiting for the next run; beyond it they are refused (overloaded).
  std::size_t waiting_requests_max = 64;
};

// Why this class exists: the job actor is restarted by its supervisor and read from gateway
// threads (/metrics, the API), which never wait on an actor. The job publishes each report here;
// readers copy a pointer under a small lock.
class reconciliation_board {
 public:
  void publish(reconciliation_report_pointer report) {
    std::lock_guard lock{mutex_};
    last_ = std::move(report);
    ++runs_total_;
  }
  void count_failure() {
    std::lock_guard lock{mutex_};
    ++failures_total_;
  }
  // The last completed run's report; nullptr before the first.
  reconciliation_report_pointer last() const {
    std::lock_guard lock{mutex_};
    return last_;
  }
  std::uint64_t runs_total() const {
    std::lock_guard lock{mutex_};
    return runs_total_;
  }
  std::uint64_t failures_total() const {
    std::lock_guard lock{mutex_};
    return failures_total_;
  }
  // The running job; every (re)start of the job attaches itself. Held weakly: the board may be
  // destroyed after the actor system.
  void attach(const caf::actor& job);
  // Invalid when no job is running.
  caf::actor job() const;

 private:
  mutable std::mutex mutex_;
  reconciliation_report_pointer last_;
  std::uint64_t runs_total_ = 0;
  std::uint64_t failures_total_ = 0;
  caf::weak_actor_ptr job_;
};

// Spawns the reconciliation job: every `interval_ms` (and on demand) it runs
// storage::run_reconciliation as a pool job — never on a scheduler thread — one run at a time,
// logs one `reconciliation finished` line per run and one error line per kind of mismatch found,
// and publishes the report on `board`. On-demand requests that arrive during a run are served by
// the next run (one run serves them all), so their report is never older than the request.
caf::actor spawn_reconciliation_job(caf::actor_system& system, storage::job_runner& pool,
                                    std::shared_ptr<reconciliation_board> board, reconciliation_job_settings settings);

enum class reconciliation_failure {
  none,
  not_running,           // no job is attached (the node is starting or stopping)
  overloaded,            // too many requests are waiting for the next run
  database_unavailable,  // the run could not run or failed; nothing was stored
  timed_out,             // no report within the caller's timeout
};

// Asks the job for a run that starts after this call. `done` is called exactly once, on an actor
// thread, with the run's report (and `none`) or with nullptr and why not.
using reconciliation_callback = std::function<void(reconciliation_report_pointer, reconciliation_failure)>;
void request_reconciliation_run(caf::actor_system& system, const reconciliation_board& board,
                                std::chrono::milliseconds timeout, reconciliation_callback done);

}  // namespace eventstripe::actors
