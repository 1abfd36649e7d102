#include "bench/ticket-drop/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace eventstripe::bench {
namespace {

constexpr double nanoseconds_per_millisecond = 1e6;

// Nearest-rank percentile of sorted values, in milliseconds.
double percentile_ms(const std::vector<std::int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1]) /
         nanoseconds_per_millisecond;
}

double per_second(std::size_t count, std::int64_t nanoseconds) {
  return nanoseconds > 0 ? static_cast<double>(count) * 1e9 / static_cast<double>(nanoseconds) : 0;
}

std::string format(const char* pattern, auto... values) {
  char line[512];
  std::snprintf(line, sizeof line, pattern, values...);
  return line;
}

}  // namespace

run_summary summarize(const std::string& strategy, int round, const drop_result& drop, const inventory_check& check,
                      const transaction_counts& transactions, double load_average_before, const cpu_usage& cpu) {
  run_summary run;
  run.strategy = strategy;
  run.round = round;
  run.requests = drop.held + drop.sold_out + drop.errors;
  run.held = drop.held;
  run.sold_out = drop.sold_out;
  run.errors = drop.errors;
  run.wall_ms = static_cast<double>(drop.wall_ns) / nanoseconds_per_millisecond;
  run.requests_per_second = per_second(run.requests, drop.wall_ns);
  run.holds_per_second = per_second(drop.held, drop.last_hold_ns);
  auto sorted = drop.latencies_ns;
  std::sort(sorted.begin(), sorted.end());
  run.p50_ms = percentile_ms(sorted, 0.50);
  run.p99_ms = percentile_ms(sorted, 0.99);
  run.max_ms = percentile_ms(sorted, 1.0);
  run.database = check;
  run.transactions = transactions;
  run.load_average_before = load_average_before;
  run.cpu = cpu;
  return run;
}

run_summary representative(std::vector<run_summary> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const auto& a, const auto& b) { return a.requests_per_second > b.requests_per_second; });
  return runs.size() <= 2 ? runs.front() : runs[runs.size() / 2];
}

void print_run_header(std::ostream& out) {
  out << format("%-8s %5s %6s %8s %6s %8s %9s %8s %8s %8s %8s %7s %9s %7s %17s %6s\n", "strategy", "round",
                "holds", "sold_out", "errors", "wall_ms", "req/s", "holds/s", "p50_ms", "p99_ms", "max_ms", "hold_tx",
                "max_batch", "commits", "cpu_ms node/pg/me", "load1");
}

void print_run(std::ostream& out, const run_summary& run) {
  auto cpu = format("%.0f/%.0f/%.0f", run.cpu.node_ms, run.cpu.database_ms, run.cpu.bench_ms);
  out << format("%-8s %5d %6zu %8zu %6zu %8.0f %9.0f %8.0f %8.1f %8.1f %8.1f %7lld %9lld %7lld %17s %6.2f\n",
                run.strategy.c_str(), run.round, run.held, run.sold_out, run.errors, run.wall_ms,
                run.requests_per_second, run.holds_per_second, run.p50_ms, run.p99_ms, run.max_ms,
                static_cast<long long>(run.database.hold_transactions),
                static_cast<long long>(run.database.largest_hold_transaction),
                static_cast<long long>(run.transactions.commits), cpu.c_str(), run.load_average_before);
}

void print_comparison(std::ostream& out, const run_summary& baseline, const run_summary& actor) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  out << format("actor vs row_lock: requests/s x%.2f (%.0f vs %.0f), holds/s x%.2f (%.0f vs %.0f), "
                "p99 %.2fx lower (%.1f ms vs %.1f ms)\n",
                ratio(actor.requests_per_second, baseline.requests_per_second), actor.requests_per_second,
                baseline.requests_per_second, ratio(actor.holds_per_second, baseline.holds_per_second),
                actor.holds_per_second, baseline.holds_per_second, ratio(baseline.p99_ms, actor.p99_ms),
                actor.p99_ms, baseline.p99_ms);
  auto verdict = [](double times) { return times >= 10 ? "met" : "NOT met"; };
  out << "issue 3's 10x: " << verdict(ratio(actor.requests_per_second, baseline.requests_per_second))
      << " in requests/s, " << verdict(ratio(actor.holds_per_second, baseline.holds_per_second)) << " in holds/s, "
      << verdict(ratio(baseline.p99_ms, actor.p99_ms)) << " in p99\n";
}

}  // namespace eventstripe::bench
