#pragma once

// Turns the runs into the figures the bench prints: one row per run of each phase, the median
// run of each phase (by holds/s for the sustained loop, by p99 for the drop), and issue 3's
// verdicts: sustained holds/s ≥ 10× the row-locking baseline's tps (and ≥ 15,000), the drop's
// p99 ≤ 100 ms, every request answered, zero oversell.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "bench/ticket-drop/baseline.hpp"
#include "bench/ticket-drop/bench_database.hpp"
#include "bench/ticket-drop/cpu_usage.hpp"
#include "bench/ticket-drop/drop.hpp"

namespace eventstripe::bench {

struct run_summary {
  std::string phase;  // "sustained" or "drop"
  int round = 0;
  std::size_t requests = 0;
  std::size_t held = 0;
  std::size_t sold_out = 0;
  std::size_t errors = 0;
  double wall_ms = 0;
  double requests_per_second = 0;
  double holds_per_second = 0;  // successful holds ÷ (first request → the last successful hold)
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  inventory_check database;
  transaction_counts transactions;  // over the node's whole life, setup included
  double load_average_before = 0;   // 1-minute load average of the machine before the run
  cpu_usage cpu;                    // during the measured part
};

struct baseline_summary {
  int round = 0;
  baseline_result result;
  double load_average_before = 0;
};

run_summary summarize(const std::string& phase, int round, const drop_result& drop, const inventory_check& check,
                      const transaction_counts& transactions, double load_average_before, const cpu_usage& cpu);

// The median run (the better one of two): by holds/s for "sustained", by lowest p99 for "drop".
run_summary representative(std::vector<run_summary> runs);
baseline_summary representative(std::vector<baseline_summary> runs);

void print_run_header(std::ostream& out);
void print_run(std::ostream& out, const run_summary& run);
void print_baseline(std::ostream& out, const baseline_summary& run);

struct targets {
  double ratio_min = 10;               // sustained holds/s ÷ baseline tps
  double holds_per_second_min = 15'000;
  double drop_p99_ms_max = 100;
};

// The verdict lines; true when every target is met.
bool print_verdicts(std::ostream& out, const baseline_summary* baseline, const run_summary* sustained,
                    const run_summary* drop, const targets& wanted = {});

// Issue 4's figures: the priced runs beside the plain ones of the same invocation.
void print_priced_comparison(std::ostream& out, const run_summary* sustained, const run_summary* drop,
                             const run_summary* sustained_priced, const run_summary* drop_priced);

}  // namespace eventstripe::bench
