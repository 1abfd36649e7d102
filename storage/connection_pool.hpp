#pragma once

#include "storage/conninfo.hpp"
#include "storage/error.hpp"
#include "storage/pqxx_fwd.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace eventstripe::storage {

struct connection_pool_settings {
  std::string url;                       // URL or conninfo; may hold a password, never logged
  std::size_t connection_count = 4;      // worker threads, one connection each
  std::size_t queue_size_max = 1024;     // jobs waiting for a connection; more are refused
  std::chrono::seconds connect_timeout{5};
  std::chrono::milliseconds statement_timeout{10'000}; // zero: the server's setting
  // After a failed connect, jobs fail at once for this long instead of each waiting out
  // connect_timeout against a database that is down.
  std::chrono::milliseconds reconnect_backoff{1'000};
  std::string application_name = "eventstripe";
};

// A point-in-time copy of the pool's counters, for /metrics and the inspector.
struct connection_pool_stats {
  std::size_t connection_count = 0;
  std::size_t connections_open = 0;
  std::size_t connections_busy = 0;
  std::size_t queue_depth = 0;
  std::size_t queue_size_max = 0;
  std::uint64_t connect_failures_total = 0;
  std::uint64_t jobs_rejected_total = 0; // refused because the queue was full or closed
  std::uint64_t jobs_completed_total = 0;
  std::uint64_t jobs_failed_total = 0;
};

// Runs a job on one of the pool's connections. It reports its outcome through whatever the
// caller captured (an actor will `caf::anon_send` from here), and runs on a pool thread.
using job_function = std::function<void(pqxx::connection&)>;
// Called instead, exactly once, when the job could not run or threw.
using failure_function = std::function<void(error const&)>;

enum class submit_status { accepted, queue_full, closed };

// Why this class exists: libpqxx calls block, and a blocked CAF scheduler thread stalls every
// actor queued behind it. The pool owns a fixed set of threads, each with one connection, and
// a bounded queue; submit() never blocks, so a full queue becomes an immediate "try later"
// (HTTP 503) at the edge instead of an unbounded backlog.
//
// Contract for an accepted job: either `run` returns normally, or `on_failure` is called once
// with the reason (connect failure, broken connection, SQL error, pool closed). A job is never
// retried: after a broken connection the statement may or may not have run, and only the
// caller knows whether repeating it is safe. A broken connection is replaced on the next job.
// So `run` should report its outcome as its last step, and that report must not throw: if it
// did, `on_failure` would be called as well.
// What actors hold: somewhere to run a database job without blocking. The connection pool is
// the production one; deterministic actor tests run jobs inline on the test thread against a
// real database (tests/support), so the actor code under test is the same.
class job_runner {
public:
  virtual ~job_runner() = default;
  // Never blocks the caller. `queue_full` and `closed` leave the callbacks uncalled.
  [[nodiscard]] virtual submit_status submit(job_function run, failure_function on_failure) = 0;
};

class connection_pool final : public job_runner {
public:
  explicit connection_pool(connection_pool_settings settings);
  ~connection_pool() override;

  connection_pool(connection_pool const&) = delete;
  connection_pool& operator=(connection_pool const&) = delete;

  // Never blocks. `queue_full` and `closed` leave the callbacks uncalled: the caller answers.
  [[nodiscard]] submit_status submit(job_function run, failure_function on_failure) override;

  // Stops accepting jobs, fails queued ones with error_code::pool_closed, lets running jobs
  // finish (bounded by statement_timeout), and joins the threads. Idempotent. Must not be
  // called from inside a job.
  void close();

  connection_pool_stats stats() const;

private:
  struct job {
    job_function run;
    failure_function on_failure;
  };
  struct worker_state;

  void worker_loop();
  bool take_job(job& next);
  void run_job(worker_state& worker, job& next);
  bool ensure_connected(worker_state& worker, job& next);
  void fail(job& failed, error const& reason);
  bool on_worker_thread() const;

  connection_pool_settings const settings_;
  conninfo_settings const conninfo_settings_;
  std::string const target_description_; // host:port/database, safe to put in messages

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_not_empty_;
  std::deque<job> queue_;
  bool closed_ = false;

  std::mutex close_mutex_; // serialises close() so a second caller waits for the joins
  std::vector<std::thread> workers_;
  std::vector<std::thread::id> worker_ids_; // fixed after construction; read without locks

  std::atomic<std::size_t> connections_open_{0};
  std::atomic<std::size_t> connections_busy_{0};
  std::atomic<std::uint64_t> connect_failures_total_{0};
  std::atomic<std::uint64_t> jobs_rejected_total_{0};
  std::atomic<std::uint64_t> jobs_completed_total_{0};
  std::atomic<std::uint64_t> jobs_failed_total_{0};
};

} // namespace eventstripe::storage
