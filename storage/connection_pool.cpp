#include "storage/connection_pool.hpp"

#include "storage/connect.hpp"

#include <pqxx/connection>
#include <pqxx/except>
#include <spdlog/spdlog.h>

#include <pthread.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace eventstripe::storage {
namespace {

conninfo_settings make_conninfo_settings(connection_pool_settings const& settings) {
  conninfo_settings result;
  result.connect_timeout = settings.connect_timeout;
  result.statement_timeout = settings.statement_timeout;
  result.application_name = settings.application_name;
  return result;
}

// SQLSTATE classes that mean the session is gone: 08 connection exception, 57P01..57P03
// administrator shutdown / crash shutdown / cannot connect now.
bool sqlstate_means_session_lost(std::string const& sqlstate) {
  return sqlstate.starts_with("08") || sqlstate == "57P01" || sqlstate == "57P02"
         || sqlstate == "57P03";
}

// Runs the job and turns whatever it throws into an error value: nothing may escape a worker
// thread, and a caller can only act on a reason it receives.
std::optional<error> run_guarded(job_function const& run, pqxx::connection& connection) {
  try {
    run(connection);
    return std::nullopt;
  } catch (pqxx::in_doubt_error const& failure) {
    return error{error_code::commit_outcome_unknown, failure.what()};
  } catch (pqxx::statement_completion_unknown const& failure) {
    return error{error_code::commit_outcome_unknown, failure.what(), "40003"};
  } catch (pqxx::serialization_failure const& failure) {
    return error{error_code::query_failed, failure.what(), "40001"};
  } catch (pqxx::deadlock_detected const& failure) {
    return error{error_code::query_failed, failure.what(), "40P01"};
  } catch (pqxx::transaction_rollback const& failure) {
    return error{error_code::query_failed, failure.what(), "40000"};
  } catch (pqxx::broken_connection const& failure) {
    return error{error_code::connection_broken, failure.what()};
  } catch (pqxx::sql_error const& failure) {
    auto const code = sqlstate_means_session_lost(failure.sqlstate()) ? error_code::connection_broken
                                                                      : error_code::query_failed;
    return error{code, failure.what(), failure.sqlstate()};
  } catch (std::exception const& failure) {
    return error{error_code::job_failed, failure.what()};
  } catch (...) {
    return error{error_code::job_failed, "the job threw a non-standard exception"};
  }
}

bool needs_new_connection(error const& failure) {
  return failure.code == error_code::connection_broken
         || failure.code == error_code::commit_outcome_unknown;
}

void name_current_thread(std::size_t worker_index) {
  // Linux limits thread names to 15 characters; the name shows in top and gdb.
  std::string const name = "es-storage-" + std::to_string(worker_index % 1000);
  pthread_setname_np(pthread_self(), name.c_str());
}

} // namespace

struct connection_pool::worker_state {
  std::unique_ptr<pqxx::connection> connection;
  std::optional<error> last_connect_error;
  std::chrono::steady_clock::time_point next_connect_attempt{};
};

connection_pool::connection_pool(connection_pool_settings settings)
  : settings_(std::move(settings)),
    conninfo_settings_(make_conninfo_settings(settings_)),
    target_description_(describe_target(settings_.url)) {
  if (settings_.connection_count == 0)
    throw std::invalid_argument("connection_pool: connection_count must be at least 1");
  if (settings_.queue_size_max == 0)
    throw std::invalid_argument("connection_pool: queue_size_max must be at least 1");
  try {
    workers_.reserve(settings_.connection_count);
    worker_ids_.reserve(settings_.connection_count);
    for (std::size_t index = 0; index < settings_.connection_count; ++index) {
      workers_.emplace_back([this, index] {
        name_current_thread(index);
        worker_loop();
      });
      worker_ids_.push_back(workers_.back().get_id());
    }
  } catch (...) {
    close(); // threads already started must be joined before the members they use go away
    throw;
  }
}

connection_pool::~connection_pool() {
  close();
}

submit_status connection_pool::submit(job_function run, failure_function on_failure) {
  {
    std::lock_guard lock(queue_mutex_);
    if (closed_) {
      jobs_rejected_total_.fetch_add(1, std::memory_order_relaxed);
      return submit_status::closed;
    }
    if (queue_.size() >= settings_.queue_size_max) {
      jobs_rejected_total_.fetch_add(1, std::memory_order_relaxed);
      return submit_status::queue_full;
    }
    queue_.push_back(job{std::move(run), std::move(on_failure)});
  }
  queue_not_empty_.notify_one();
  return submit_status::accepted;
}

void connection_pool::close() {
  if (on_worker_thread()) {
    // Joining itself would hang shutdown forever: a programmer error, so fail loudly.
    spdlog::critical("storage: connection_pool::close() called from inside a job");
    std::abort();
  }
  std::lock_guard close_lock(close_mutex_);
  std::deque<job> rejected;
  {
    std::lock_guard lock(queue_mutex_);
    closed_ = true;
    rejected.swap(queue_);
  }
  queue_not_empty_.notify_all();
  for (job& queued : rejected)
    fail(queued, error{error_code::pool_closed, "the storage pool closed before this job ran"});
  for (std::thread& worker : workers_)
    if (worker.joinable())
      worker.join();
}

connection_pool_stats connection_pool::stats() const {
  connection_pool_stats snapshot;
  {
    std::lock_guard lock(queue_mutex_);
    snapshot.queue_depth = queue_.size();
  }
  snapshot.connection_count = settings_.connection_count;
  snapshot.queue_size_max = settings_.queue_size_max;
  snapshot.connections_open = connections_open_.load(std::memory_order_relaxed);
  snapshot.connections_busy = connections_busy_.load(std::memory_order_relaxed);
  snapshot.connect_failures_total = connect_failures_total_.load(std::memory_order_relaxed);
  snapshot.jobs_rejected_total = jobs_rejected_total_.load(std::memory_order_relaxed);
  snapshot.jobs_completed_total = jobs_completed_total_.load(std::memory_order_relaxed);
  snapshot.jobs_failed_total = jobs_failed_total_.load(std::memory_order_relaxed);
  return snapshot;
}

void connection_pool::worker_loop() {
  worker_state worker;
  job next;
  while (take_job(next)) {
    connections_busy_.fetch_add(1, std::memory_order_relaxed);
    run_job(worker, next);
    next = job{}; // release the job's captures now, not when the next job arrives
    connections_busy_.fetch_sub(1, std::memory_order_relaxed);
  }
  if (worker.connection) {
    worker.connection.reset();
    connections_open_.fetch_sub(1, std::memory_order_relaxed);
  }
}

bool connection_pool::take_job(job& next) {
  std::unique_lock lock(queue_mutex_);
  queue_not_empty_.wait(lock, [this] { return closed_ || !queue_.empty(); });
  if (queue_.empty())
    return false; // closed: close() has taken over whatever was queued
  next = std::move(queue_.front());
  queue_.pop_front();
  return true;
}

void connection_pool::run_job(worker_state& worker, job& next) {
  if (!ensure_connected(worker, next))
    return;
  std::optional<error> failure = run_guarded(next.run, *worker.connection);
  if (!failure) {
    jobs_completed_total_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (needs_new_connection(*failure) || !worker.connection->is_open()) {
    worker.connection.reset(); // the next job connects afresh
    connections_open_.fetch_sub(1, std::memory_order_relaxed);
    // libpqxx's own words ("Could not obtain client encoding: not connected.") do not say which
    // database was lost.
    failure->message = "connection to PostgreSQL at " + target_description_ + " lost: " + failure->message;
  }
  fail(next, *failure);
}

bool connection_pool::ensure_connected(worker_state& worker, job& next) {
  if (worker.connection)
    return true;
  if (worker.last_connect_error && std::chrono::steady_clock::now() < worker.next_connect_attempt) {
    fail(next, *worker.last_connect_error);
    return false;
  }
  auto opened = open_connection(settings_.url, conninfo_settings_);
  if (!opened) {
    connect_failures_total_.fetch_add(1, std::memory_order_relaxed);
    worker.last_connect_error = opened.error();
    worker.next_connect_attempt = std::chrono::steady_clock::now() + settings_.reconnect_backoff;
    fail(next, opened.error());
    return false;
  }
  worker.connection = std::move(opened.value());
  worker.last_connect_error.reset();
  connections_open_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void connection_pool::fail(job& failed, error const& reason) {
  jobs_failed_total_.fetch_add(1, std::memory_order_relaxed);
  if (!failed.on_failure)
    return;
  try {
    failed.on_failure(reason);
  } catch (std::exception const& failure) {
    spdlog::error("storage: a job's failure callback threw: {}", failure.what());
  } catch (...) {
    spdlog::error("storage: a job's failure callback threw a non-standard exception");
  }
}

bool connection_pool::on_worker_thread() const {
  auto const current = std::this_thread::get_id();
  return std::find(worker_ids_.begin(), worker_ids_.end(), current) != worker_ids_.end();
}

} // namespace eventstripe::storage
