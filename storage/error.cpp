#include "storage/error.hpp"

namespace eventstripe::storage {

std::string_view to_string(error_code code) {
  switch (code) {
    case error_code::invalid_url: return "invalid_url";
    case error_code::connect_failed: return "connect_failed";
    case error_code::connection_broken: return "connection_broken";
    case error_code::commit_outcome_unknown: return "commit_outcome_unknown";
    case error_code::query_failed: return "query_failed";
    case error_code::job_failed: return "job_failed";
    case error_code::queue_full: return "queue_full";
    case error_code::pool_closed: return "pool_closed";
    case error_code::migration_failed: return "migration_failed";
  }
  return "unknown";
}

} // namespace eventstripe::storage
