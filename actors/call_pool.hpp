#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace eventstripe::actors {

// Threads for blocking calls that are not database calls (payment providers over the network):
// actors hand a call over and get the outcome back as a message, so no CAF scheduler thread
// ever waits on a socket. The queue is bounded: a full pool refuses at once (the caller retries
// later) instead of queueing without limit during a provider outage.
class call_pool {
 public:
  call_pool(std::size_t threads, std::size_t queue_max);
  ~call_pool();
  call_pool(const call_pool&) = delete;
  call_pool& operator=(const call_pool&) = delete;

  // False when the queue is full or the pool stopped; the call then never runs.
  [[nodiscard]] bool submit(std::function<void()> call);
  // Lets running calls finish, drops queued ones, joins the threads.
  void stop();

 private:
  void work();

  std::size_t queue_max_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace eventstripe::actors
