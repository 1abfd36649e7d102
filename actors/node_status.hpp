#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>

namespace eventstripe::actors {

// What /readyz and the node endpoint report. Written by the readiness probe actor and by the
// shutdown sequence, read by gateway threads; atomics and a small lock, so no reader ever
// waits on an actor.
class node_status {
 public:
  void set_database(bool ready, std::string reason) {
    std::lock_guard lock{mutex_};
    database_ready_ = ready;
    database_reason_ = std::move(reason);
  }
  void begin_shutdown() { shutting_down_ = true; }
  // Whether every shard this node owns has a region taking entity traffic (set once at start;
  // until then, and while a region restarts, requests meet 503 shard-moving).
  void set_serving_check(std::function<bool()> all_shards_served) {
    std::lock_guard lock{mutex_};
    all_shards_served_ = std::move(all_shards_served);
  }

  bool shutting_down() const { return shutting_down_; }
  bool ready() const {
    std::lock_guard lock{mutex_};
    return database_ready_ && !shutting_down_ && serving();
  }
  // "ready", or why not: shutting down, the database's reason, or shards not served yet.
  std::string reason() const {
    std::lock_guard lock{mutex_};
    if (shutting_down_) return "shutting down";
    if (database_ready_ && !serving()) return "shards not served yet";
    return database_reason_;
  }
  bool database_ready() const {
    std::lock_guard lock{mutex_};
    return database_ready_;
  }

 private:
  bool serving() const { return !all_shards_served_ || all_shards_served_(); }

  mutable std::mutex mutex_;
  std::function<bool()> all_shards_served_;
  bool database_ready_ = false;
  std::string database_reason_ = "database not checked yet";
  std::atomic<bool> shutting_down_{false};
};

}  // namespace eventstripe::actors
