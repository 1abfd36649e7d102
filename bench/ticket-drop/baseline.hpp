#pragma once

// The baseline issue 3 measures the quota actors against: the conventional row-locking design
// of ticketing apps, run by pgbench against the same PostgreSQL. One transaction per
// reservation on one hot row:
//   UPDATE quota SET sold = sold + 1 WHERE id = 1 AND sold < capacity RETURNING sold;
//   INSERT INTO reservation (quota_id, seat_no, client_id) VALUES (...);
// with `pgbench -M prepared -c 64 -j 2 -T 10`: every client queues on that row's lock.
#include <cstdint>
#include <string>

#include "bench/ticket-drop/bench_database.hpp"

namespace eventstripe::bench {

struct baseline_plan {
  int clients = 64;
  int threads = 2;
  int seconds = 10;
  std::int64_t capacity = 1'000'000'000;  // ample: every transaction takes a seat
};

struct baseline_result {
  double tps = 0;                 // pgbench's, without the initial connection time
  double latency_ms = 0;          // pgbench's average
  std::int64_t transactions = 0;  // pgbench's count of processed transactions
  std::int64_t sold = 0;          // quota.sold afterwards
  std::int64_t reservations = 0;  // reservation rows afterwards
};

// Creates the two tables in `database`, runs pgbench (the binary found on PATH) and checks the
// outcome: sold = reservations = transactions ≤ capacity. Throws with pgbench's output when it
// fails or the check does not hold.
baseline_result run_baseline(const bench_database& database, const baseline_plan& plan);

}  // namespace eventstripe::bench
