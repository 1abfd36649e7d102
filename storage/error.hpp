#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace eventstripe::storage {

// What went wrong, coarse enough for a caller to choose an answer (503, retry, 500).
enum class error_code {
  invalid_url,            // the URL or conninfo cannot be parsed
  connect_failed,         // no connection could be opened (down, refused, auth, timeout)
  connection_broken,      // an open connection broke during a job; the job is not retried
  commit_outcome_unknown, // the connection broke during COMMIT: it may or may not have happened
  query_failed,           // the server rejected a statement; `sqlstate` says why
  job_failed,             // the job threw something that is not a database error
  queue_full,             // the pool's queue is at queue_size_max
  pool_closed,            // the pool was closed before the job ran
  migration_failed,       // a migration could not be applied or the schema history disagrees
};

std::string_view to_string(error_code code);

// An error value: storage never lets an exception cross a thread or a callback.
struct error {
  error_code code;
  std::string message; // never contains a password: see redact_url()
  std::string sqlstate = {}; // set for query_failed when the server sent one
};

// A value or an error (C++20 has no std::expected).
template <typename value_type>
class result {
public:
  result(value_type value) : state_(std::move(value)) {}
  result(storage::error failure) : state_(std::move(failure)) {}

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  value_type& value() { return std::get<0>(state_); }
  value_type const& value() const { return std::get<0>(state_); }
  storage::error const& error() const { return std::get<1>(state_); }

private:
  std::variant<value_type, storage::error> state_;
};

} // namespace eventstripe::storage
