#include "actors/payments/retry_backoff.hpp"

#include <algorithm>

namespace eventstripe::actors::payments {

std::chrono::milliseconds retry_delay_ceiling(int attempt_number, std::chrono::milliseconds initial,
                                              std::chrono::milliseconds max) {
  const std::int64_t initial_ms = std::max<std::int64_t>(initial.count(), 0);
  const std::int64_t max_ms = std::max<std::int64_t>(max.count(), 0);
  const int doublings = std::max(attempt_number, 1) - 1;
  std::int64_t ceiling_ms = std::min(initial_ms, max_ms);
  // Doubling stops at the cap, so the product never overflows.
  for (int i = 0; i < doublings && ceiling_ms < max_ms; ++i)
    ceiling_ms = ceiling_ms > max_ms / 2 ? max_ms : ceiling_ms * 2;
  return std::chrono::milliseconds(ceiling_ms);
}

std::optional<std::chrono::milliseconds> retry_delay(int attempt_number, std::chrono::milliseconds initial,
                                                     std::chrono::milliseconds max, int attempts_max,
                                                     std::uint64_t random) {
  const int attempts = std::min(attempts_max, retry_attempts_limit);
  if (attempt_number < 1 || attempt_number >= attempts) return std::nullopt;
  const auto ceiling_ms = static_cast<unsigned __int128>(retry_delay_ceiling(attempt_number, initial, max).count());
  // Scales random from [0, 2^64) onto [0, ceiling]: multiply-high uses every bit, unlike modulo.
  const auto delay_ms = static_cast<std::int64_t>((random * (ceiling_ms + 1)) >> 64);
  return std::chrono::milliseconds(delay_ms);
}

}  // namespace eventstripe::actors::payments
