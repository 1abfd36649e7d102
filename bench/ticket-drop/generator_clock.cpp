#include "bench/ticket-drop/generator_clock.hpp"

#include <algorithm>

namespace eventstripe::bench {

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::vector<std::int64_t> due_times_ns(std::int64_t start_ns, std::chrono::milliseconds window, std::size_t count,
                                       std::size_t offset, std::size_t stride, std::size_t total) {
  auto window_ns = std::chrono::nanoseconds{window}.count();
  auto requests = static_cast<std::int64_t>(std::max<std::size_t>(1, total));
  std::vector<std::int64_t> due(count);
  for (std::size_t i = 0; i < count; ++i)
    due[i] = start_ns + window_ns * static_cast<std::int64_t>(offset + i * stride) / requests;
  return due;
}

}  // namespace eventstripe::bench
