#pragma once

#include <atomic>
#include <chrono>
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

  bool shutting_down() const { return shutting_down_; }
  bool ready() const {
    std::lock_guard lock{mutex_};
    return database_ready_ && !shutting_down_;
  }
  // "ready", or why not: shutting down, or the database's reason.
  std::string reason() const {
    std::lock_guard lock{mutex_};
    if (shutting_down_) return "shutting down";
    return database_reason_;
  }
  bool database_ready() const {
    std::lock_guard lock{mutex_};
    return database_ready_;
  }

 private:
  mutable std::mutex mutex_;
  bool database_ready_ = false;
  std::string database_reason_ = "database not checked yet";
  std::atomic<bool> shutting_down_{false};
};

}  // namespace eventstripe::actors
