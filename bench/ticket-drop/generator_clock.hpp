#pragma once

// The clock the load generators (drop.cpp, purchase.cpp, spread over processes by spread.cpp)
// read, and when an open loop's requests are due on it. A drop spread over processes is one
// open loop: every generator sends its share on the one common start, so that together they
// send evenly over the window.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace eventstripe::bench {

// Steady, in ns since its epoch: due times, latencies and a spread drop's common start
// (drop_plan::start_at) are all read on it.
std::int64_t now_ns();

// When this generator's `count` requests are due: its request i is the loop's request
// offset + i·stride of `total`, due at start + that·window/total.
std::vector<std::int64_t> due_times_ns(std::int64_t start_ns, std::chrono::milliseconds window, std::size_t count,
                                       std::size_t offset, std::size_t stride, std::size_t total);

}  // namespace eventstripe::bench
