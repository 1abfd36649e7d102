#pragma once

// A job_runner that runs each job at once on the calling thread, on one real connection. With
// CAF's test coordinator (everything on the test thread) it makes actor tests deterministic
// while they still write to a real PostgreSQL: the actor code under test is the production
// code, only the thread that runs its jobs differs.
#include <exception>
#include <string>

#include <pqxx/pqxx>

#include "storage/connection_pool.hpp"

namespace eventstripe::test_support {

class inline_runner final : public storage::job_runner {
 public:
  explicit inline_runner(const std::string& url) : connection_(url) {}

  storage::submit_status submit(storage::job_function run, storage::failure_function on_failure) override {
    if (refusing_) return storage::submit_status::queue_full;
    try {
      run(connection_);
    } catch (const std::exception& failure) {
      on_failure({storage::error_code::job_failed, failure.what()});
    }
    ++jobs_run_;
    return storage::submit_status::accepted;
  }

  // Makes submit() answer queue_full, as a saturated pool would.
  void refuse(bool refusing) { refusing_ = refusing; }
  int jobs_run() const { return jobs_run_; }
  pqxx::connection& connection() { return connection_; }

 private:
  pqxx::connection connection_;
  bool refusing_ = false;
  int jobs_run_ = 0;
};

}  // namespace eventstripe::test_support
