#include "actors/call_pool.hpp"

namespace eventstripe::actors {

call_pool::call_pool(std::size_t threads, std::size_t queue_max) : queue_max_(queue_max) {
  for (std::size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

call_pool::~call_pool() { stop(); }

bool call_pool::submit(std::function<void()> call) {
  {
    std::lock_guard lock{mutex_};
    if (stopping_ || queue_.size() >= queue_max_) return false;
    queue_.push_back(std::move(call));
  }
  ready_.notify_one();
  return true;
}

void call_pool::stop() {
  {
    std::lock_guard lock{mutex_};
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    queue_.clear();
  }
  ready_.notify_all();
  for (auto& thread : threads_)
    if (thread.joinable()) thread.join();
  threads_.clear();
}

void call_pool::work() {
  for (;;) {
    std::function<void()> call;
    {
      std::unique_lock lock{mutex_};
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      call = std::move(queue_.front());
      queue_.pop_front();
    }
    call();
  }
}

}  // namespace eventstripe::actors
