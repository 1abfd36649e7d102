#pragma once

// How long a payment worker waits before retrying a provider call: exponential backoff with
// full jitter (a uniform wait in [0, min(max, initial * 2^(n-1))]) and a bounded number of
// attempts. Jitter spreads the retries of the thousands of checkouts a provider outage hits at
// once, so they do not return in one wave. The random value is a parameter, so a stored retry
// schedule can be recomputed and tests are deterministic.
#include <chrono>
#include <cstdint>
#include <optional>

namespace eventstripe::actors::payments {

// No caller may ask for more attempts than this; a retry loop without an end is a bug.
inline constexpr int retry_attempts_limit = 100;

// The upper bound of the wait after failed attempt `attempt_number` (1-based):
// min(max, initial * 2^(attempt_number - 1)), computed without overflow. Negative durations
// count as zero; attempt numbers below 1 count as 1.
std::chrono::milliseconds retry_delay_ceiling(int attempt_number, std::chrono::milliseconds initial,
                                              std::chrono::milliseconds max);

// The wait before the attempt after `attempt_number` failed, or nullopt when no attempt is left:
// attempt_number >= attempts_max (attempts_max counts every attempt, the first included and at
// most retry_attempts_limit), or attempt_number < 1. The wait is uniform in
// [0, retry_delay_ceiling(...)], chosen by `random` (any uint64, e.g. one draw of a
// std::mt19937_64): 0 gives 0, UINT64_MAX gives the ceiling, and the same inputs give the same
// wait.
std::optional<std::chrono::milliseconds> retry_delay(int attempt_number, std::chrono::milliseconds initial,
                                                     std::chrono::milliseconds max, int attempts_max,
                                                     std::uint64_t random);

}  // namespace eventstripe::actors::payments
