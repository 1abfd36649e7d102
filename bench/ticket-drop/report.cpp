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

run_summary summarize(const std::string& phase, int round, const drop_result& drop, const inventory_check& check,
                      const transaction_counts& transactions, double load_average_before, const cpu_usage& cpu) {
  run_summary run;
  run.phase = phase;
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
  // Best first: the most holds/s for the sustained loop, the lowest p99 for the drop.
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.phase.starts_with("drop") ? a.p99_ms < b.p99_ms : a.holds_per_second > b.holds_per_second;
  });
  return runs.size() <= 2 ? runs.front() : runs[runs.size() / 2];
}

baseline_summary representative(std::vector<baseline_summary> runs) {
  // The baseline's best is its highest tps: the comparison never flatters the actors.
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.result.tps > b.result.tps; });
  return runs.size() <= 2 ? runs.front() : runs[runs.size() / 2];
}

void print_run_header(std::ostream& out) {
  out << format("%-16s %5s %7s %6s %8s %6s %8s %9s %8s %8s %8s %8s %7s %9s %7s %17s %6s\n", "phase", "round",
                "requests", "holds", "sold_out", "errors", "wall_ms", "req/s", "holds/s", "p50_ms", "p99_ms", "max_ms",
                "hold_tx", "max_batch", "commits", "cpu_ms node/pg/me", "load1");
}

void print_run(std::ostream& out, const run_summary& run) {
  auto cpu = format("%.0f/%.0f/%.0f", run.cpu.node_ms, run.cpu.database_ms, run.cpu.bench_ms);
  out << format("%-16s %5d %7zu %6zu %8zu %6zu %8.0f %9.0f %8.0f %8.1f %8.1f %8.1f %7lld %9lld %7lld %17s %6.2f\n",
                run.phase.c_str(), run.round, run.requests, run.held, run.sold_out, run.errors, run.wall_ms,
                run.requests_per_second, run.holds_per_second, run.p50_ms, run.p99_ms, run.max_ms,
                static_cast<long long>(run.database.hold_transactions),
                static_cast<long long>(run.database.largest_hold_transaction),
                static_cast<long long>(run.transactions.commits), cpu.c_str(), run.load_average_before);
}

void print_baseline(std::ostream& out, const baseline_summary& run) {
  out << format("baseline  round %d: %.0f tps, average latency %.1f ms, %lld transactions = %lld reservations = "
                "sold, load1 %.2f\n",
                run.round, run.result.tps, run.result.latency_ms, static_cast<long long>(run.result.transactions),
                static_cast<long long>(run.result.reservations), run.load_average_before);
}

bool print_verdicts(std::ostream& out, const baseline_summary* baseline, const run_summary* sustained,
                    const run_summary* drop, const targets& wanted) {
  bool all_met = true;
  auto verdict = [&all_met](bool met) {
    all_met = all_met && met;
    return met ? "met" : "NOT met";
  };
  if (baseline && sustained) {
    auto ratio = baseline->result.tps > 0 ? sustained->holds_per_second / baseline->result.tps : 0.0;
    out << format("sustained holds/s / baseline tps: %.0f / %.0f = x%.2f (target x%.0f): %s\n",
                  sustained->holds_per_second, baseline->result.tps, ratio, wanted.ratio_min,
                  verdict(ratio >= wanted.ratio_min));
  }
  if (sustained)
    out << format("sustained holds/s: %.0f (target >= %.0f): %s\n", sustained->holds_per_second,
                  wanted.holds_per_second_min, verdict(sustained->holds_per_second >= wanted.holds_per_second_min));
  if (drop)
    out << format("drop: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 <= %.0f ms): %s; %zu of %zu answered, "
                  "%zu held, %zu sold out\n",
                  drop->p50_ms, drop->p99_ms, drop->max_ms, wanted.drop_p99_ms_max,
                  verdict(drop->p99_ms <= wanted.drop_p99_ms_max), drop->requests - drop->errors, drop->requests,
                  drop->held, drop->sold_out);
  return all_met;
}

void print_priced_comparison(std::ostream& out, const run_summary* sustained, const run_summary* drop,
                             const run_summary* sustained_priced, const run_summary* drop_priced) {
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  if (sustained && sustained_priced)
    out << format("priced vs plain, sustained holds/s: %.0f vs %.0f = x%.2f\n", sustained_priced->holds_per_second,
                  sustained->holds_per_second, ratio(sustained_priced->holds_per_second, sustained->holds_per_second));
  if (drop && drop_priced)
    out << format("priced vs plain, drop p99: %.1f ms vs %.1f ms = x%.2f\n", drop_priced->p99_ms, drop->p99_ms,
                  ratio(drop_priced->p99_ms, drop->p99_ms));
}

}  // namespace eventstripe::bench
