#pragma once

// Turns drops into the figures the bench prints: one row per run, the representative run of
// each strategy (the better of two rounds, the median of three or more, by requests/s), and
// the actor ÷ row_lock ratios that issue 3's "10× faster than row locking" is judged by.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "bench/ticket-drop/bench_database.hpp"
#include "bench/ticket-drop/cpu_usage.hpp"
#include "bench/ticket-drop/drop.hpp"

namespace eventstripe::bench {

struct run_summary {
  std::string strategy;
  int round = 0;
  std::size_t requests = 0;
  std::size_t held = 0;
  std::size_t sold_out = 0;
  std::size_t errors = 0;
  double wall_ms = 0;
  double requests_per_second = 0;
  double holds_per_second = 0;  // successful holds until the last seat was held
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  inventory_check database;
  transaction_counts transactions;  // over the node's whole life, setup included
  double load_average_before = 0;   // 1-minute load average of the machine before the drop
  cpu_usage cpu;                    // during the drop
};

run_summary summarize(const std::string& strategy, int round, const drop_result& drop, const inventory_check& check,
                      const transaction_counts& transactions, double load_average_before, const cpu_usage& cpu);

// The better of two rounds, the median of three or more (by requests/s).
run_summary representative(std::vector<run_summary> runs);

void print_run_header(std::ostream& out);
void print_run(std::ostream& out, const run_summary& run);
void print_comparison(std::ostream& out, const run_summary& baseline, const run_summary& actor);

}  // namespace eventstripe::bench
