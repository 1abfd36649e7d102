// Retry backoff: every wait stays within its exponential, capped bound, retries stop after the
// last allowed attempt, and the same random value always gives the same wait.
#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "actors/payments/retry_backoff.hpp"

using namespace eventstripe::actors::payments;
using std::chrono::milliseconds;

namespace {
constexpr std::uint64_t random_max = std::numeric_limits<std::uint64_t>::max();
}  // namespace

TEST_CASE("the bound doubles from the initial wait up to the cap and stays there") {
  std::vector<std::int64_t> ceilings;
  for (int attempt = 1; attempt <= 10; ++attempt)
    ceilings.push_back(retry_delay_ceiling(attempt, milliseconds(100), milliseconds(10'000)).count());
  CHECK(ceilings == std::vector<std::int64_t>{100, 200, 400, 800, 1600, 3200, 6400, 10'000, 10'000, 10'000});
  // A huge attempt number neither overflows nor exceeds the cap.
  CHECK(retry_delay_ceiling(1'000'000, milliseconds(100), milliseconds(10'000)) == milliseconds(10'000));
  CHECK(retry_delay_ceiling(63, milliseconds(1), milliseconds::max()) == milliseconds(std::int64_t{1} << 62));
  CHECK(retry_delay_ceiling(64, milliseconds(1), milliseconds::max()) == milliseconds::max());
  CHECK(retry_delay(64, milliseconds(1), milliseconds::max(), retry_attempts_limit, random_max) == milliseconds::max());
  // An initial wait above the cap is capped; negative durations count as zero.
  CHECK(retry_delay_ceiling(1, milliseconds(5'000), milliseconds(1'000)) == milliseconds(1'000));
  CHECK(retry_delay_ceiling(3, milliseconds(-5), milliseconds(1'000)) == milliseconds(0));
  CHECK(retry_delay_ceiling(3, milliseconds(100), milliseconds(-1)) == milliseconds(0));
}

TEST_CASE("every wait lies between zero and its bound, for every attempt") {
  std::mt19937_64 random(20260101);
  const milliseconds initial(250), max(30'000);
  const int attempts_max = 12;
  for (int round = 0; round < 2'000; ++round)
    for (int attempt = 1; attempt < attempts_max; ++attempt) {
      auto delay = retry_delay(attempt, initial, max, attempts_max, random());
      REQUIRE(delay);
      REQUIRE(*delay >= milliseconds(0));
      REQUIRE(*delay <= retry_delay_ceiling(attempt, initial, max));
      REQUIRE(*delay <= max);
    }
  // The ends of the random range reach the ends of the interval.
  CHECK(retry_delay(3, initial, max, attempts_max, 0) == milliseconds(0));
  CHECK(retry_delay(3, initial, max, attempts_max, random_max) == milliseconds(1'000));
  CHECK(retry_delay(20, initial, max, 50, random_max) == max);
}

TEST_CASE("no wait is given after the last allowed attempt") {
  const milliseconds initial(100), max(5'000);
  CHECK(retry_delay(1, initial, max, 3, 0));
  CHECK(retry_delay(2, initial, max, 3, 0));
  CHECK_FALSE(retry_delay(3, initial, max, 3, 0));
  CHECK_FALSE(retry_delay(4, initial, max, 3, 0));
  CHECK_FALSE(retry_delay(1, initial, max, 1, 0));  // one attempt allowed: no retry
  CHECK_FALSE(retry_delay(1, initial, max, 0, 0));
  CHECK_FALSE(retry_delay(0, initial, max, 3, 0));
  CHECK_FALSE(retry_delay(-1, initial, max, 3, 0));
  // attempts_max is capped by the named limit.
  CHECK(retry_delay(retry_attempts_limit - 1, initial, max, 1'000'000, 0));
  CHECK_FALSE(retry_delay(retry_attempts_limit, initial, max, 1'000'000, 0));
}

TEST_CASE("waits grow with the attempt number for the same random value, and repeat exactly") {
  const milliseconds initial(100), max(60'000);
  for (std::uint64_t random : {random_max, random_max / 2, random_max / 3 * 2, std::uint64_t{1} << 60}) {
    std::int64_t previous = -1;
    for (int attempt = 1; attempt < 15; ++attempt) {
      auto delay = retry_delay(attempt, initial, max, 15, random);
      REQUIRE(delay);
      CHECK(delay->count() >= previous);
      CHECK(retry_delay(attempt, initial, max, 15, random) == delay);
      previous = delay->count();
    }
  }
  CHECK(retry_delay(1, initial, max, 15, random_max / 2) == milliseconds(50));
  CHECK(retry_delay(4, initial, max, 15, random_max / 2) == milliseconds(400));
  CHECK(retry_delay(12, initial, max, 15, random_max / 2) == milliseconds(30'000));
}

TEST_CASE("the jitter is spread over the whole interval, not bunched at the bound") {
  std::mt19937_64 random(7);
  const milliseconds initial(1'000), max(1'000);
  std::int64_t sum = 0, below_quarter = 0, above_three_quarters = 0;
  const int samples = 20'000;
  for (int i = 0; i < samples; ++i) {
    auto delay = retry_delay(1, initial, max, 2, random())->count();
    sum += delay;
    below_quarter += delay < 250;
    above_three_quarters += delay > 750;
  }
  CHECK(sum / samples > 450);
  CHECK(sum / samples < 550);
  CHECK(below_quarter > samples / 5);
  CHECK(above_three_quarters > samples / 5);
}
