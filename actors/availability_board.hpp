#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace eventstripe::actors {

// Seats still available per ticket type, as each quota on this node last committed them. The
// gateway reads it to answer "sold out" without waking any actor: in a ticket drop nine buyers
// in ten arrive after the last seat is gone, and their answer changes nothing, so it needs no
// commit. The figure is never ahead of the database (quotas publish after committing), and a
// seat that comes back is published by the commit that returned it.
class availability_board {
 public:
  void publish(const std::string& ticket_type_id, std::int32_t available) {
    std::unique_lock lock{mutex_};
    counts_[ticket_type_id] = available;
  }
  // nullopt when no quota of this node has published the ticket type.
  std::optional<std::int32_t> available(const std::string& ticket_type_id) const {
    std::shared_lock lock{mutex_};
    auto found = counts_.find(ticket_type_id);
    if (found == counts_.end()) return std::nullopt;
    return found->second;
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::int32_t> counts_;
};

}  // namespace eventstripe::actors
