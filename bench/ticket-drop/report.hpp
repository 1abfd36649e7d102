#pragma once

// Turns the runs into the figures the bench prints: one row per run of each phase, the median
// run of each phase (by holds/s for the sustained loop, by p99 for the drop), and issue 3's
// verdicts: sustained holds/s ≥ 10× the row-locking baseline's tps (and ≥ 15,000), the drop's
// p99 ≤ 100 ms, every request answered, zero oversell.
#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bench/ticket-drop/baseline.hpp"
#include "bench/ticket-drop/bench_database.hpp"
#include "bench/ticket-drop/cpu_usage.hpp"
#include "bench/ticket-drop/drop.hpp"
#include "bench/ticket-drop/node_metrics.hpp"
#include "bench/ticket-drop/purchase.hpp"
#include "bench/ticket-drop/sandbox_provider.hpp"

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

// --- issue 5: the whole purchase -----------------------------------------------------------------

struct latency_figures {
  std::size_t count = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
};

struct purchase_summary {
  std::string phase;  // "purchase" (closed loop), "purchase-drop" or "purchase-drop-paced"
  int round = 0;
  std::size_t buyers = 0;  // holds asked for
  std::size_t holds = 0;
  std::size_t sold_out = 0;
  std::size_t paid = 0;
  std::size_t pay_pending = 0;
  std::size_t issued = 0;
  std::size_t polls = 0;
  std::size_t errors = 0;
  double wall_ms = 0;
  double purchases_per_second = 0;  // tickets issued seen ÷ (first hold → the last of them)
  double settle_ms = 0;             // after the measured part, until no order was open and no webhook pending
  latency_figures hold, pay, tickets, purchase;  // purchase: hold + pay + tickets (no think time)
  // purchase-drop-paced: the winners' think time before paying (0-0: at once), and the first pay
  // sent → the last, how long the payments were actually spread over.
  std::chrono::milliseconds pay_think_min_ms{0};
  std::chrono::milliseconds pay_think_max_ms{0};
  double pay_sent_span_ms = 0;
  // Where the time of a paid purchase went, between the bench's and the database's timestamps.
  std::vector<std::pair<std::string, latency_figures>> breakdown;
  std::vector<route_timing> routes;  // the node's own view
  std::map<std::string, std::int64_t> node_log;  // warnings and errors by message
  purchase_check database;
  sandbox_stats sandbox;
  transaction_counts transactions;
  double load_average_before = 0;
  cpu_usage cpu;
  // Sampled while measured.
  std::size_t samples = 0;
  double pool_queue_max = 0;
  double pool_queue_mean = 0;
  double pool_busy_mean = 0;
  double provider_calls_mean = 0;
  double provider_calls_max = 0;
  latency_figures metrics_answer;
  latency_figures sandbox_answer;
  std::vector<table_reads> sequential_reads;
};

struct purchase_observations {
  purchase_check database;
  std::vector<purchase_timing> timings;
  sandbox_stats sandbox;
  std::vector<route_timing> routes;
  std::map<std::string, std::int64_t> node_log;
  transaction_counts transactions;
  double load_average_before = 0;
  cpu_usage cpu;
  double settle_ms = 0;
  load_samples load;
  std::vector<table_reads> sequential_reads;
};

purchase_summary summarize_purchases(const std::string& phase, int round, const purchase_result& result,
                                     const purchase_observations& seen);

// The median run: by purchases/s for "purchase", by the worst step p99 for the drops.
purchase_summary representative(std::vector<purchase_summary> runs);

void print_purchase_header(std::ostream& out);
void print_purchase(std::ostream& out, const purchase_summary& run);
// The breakdown of a purchase's time, the node's route timings, its warnings, the database's and
// the sandbox's counts.
void print_purchase_details(std::ostream& out, const purchase_summary& run);

// Issue 5's verdicts: every buyer-facing step of the purchase drops (hold, pay, tickets) at
// p99 <= step_p99_ms_max, and the purchase figures beside the hold-only ones of the same run;
// for the paced drop its think times and the pay arrival rate they make.
bool print_purchase_verdicts(std::ostream& out, const purchase_summary* purchase, const purchase_summary* purchase_drop,
                             const purchase_summary* purchase_drop_paced, const run_summary* sustained,
                             const run_summary* drop, double step_p99_ms_max);

}  // namespace eventstripe::bench
