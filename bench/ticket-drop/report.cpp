#include "bench/ticket-drop/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <unordered_map>

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

// --- issue 5: the whole purchase -----------------------------------------------------------------

namespace {

latency_figures figures_of(std::vector<std::int64_t> nanoseconds) {
  std::sort(nanoseconds.begin(), nanoseconds.end());
  return {nanoseconds.size(), percentile_ms(nanoseconds, 0.50), percentile_ms(nanoseconds, 0.99),
          percentile_ms(nanoseconds, 1.0)};
}

// Intervals between the bench's timestamps (when it sent and was answered) and the database's
// (when the transaction that wrote each row started: PostgreSQL's now()). Both read the same
// system clock. A transaction's own duration falls into the interval after its timestamp.
std::vector<std::pair<std::string, latency_figures>> breakdown_of(const std::vector<purchase_trace>& traces,
                                                                   const std::vector<purchase_timing>& timings) {
  std::unordered_map<std::string, const purchase_timing*> by_checkout;
  for (const auto& timing : timings) by_checkout.emplace(timing.checkout_id, &timing);
  struct interval {
    const char* name;
    std::int64_t (*length_us)(const purchase_trace&, const purchase_timing&);
  };
  static const interval intervals[] = {
      {"hold: due/sent -> quota batch tx starts", [](auto& b, auto& d) { return d.hold_written_us - b.hold_from_us; }},
      {"hold: quota batch tx -> answer", [](auto& b, auto& d) { return b.hold_answered_us - d.hold_written_us; }},
      {"pay: sent -> payment row tx", [](auto& b, auto& d) { return d.payment_written_us - b.pay_sent_us; }},
      {"pay: payment row tx -> attempt row tx", [](auto&, auto& d) { return d.attempt_written_us - d.payment_written_us; }},
      {"pay: attempt tx -> capture tx (create+confirm)",
       [](auto&, auto& d) { return d.captured_written_us - d.attempt_written_us; }},
      {"pay: capture tx -> answer", [](auto& b, auto& d) { return b.pay_answered_us - d.captured_written_us; }},
      {"tickets: capture tx -> sell batch tx", [](auto&, auto& d) { return d.sold_written_us - d.captured_written_us; }},
      {"tickets: sell batch tx -> tickets tx", [](auto&, auto& d) { return d.tickets_written_us - d.sold_written_us; }},
      {"tickets: tickets tx -> buyer sees", [](auto& b, auto& d) { return b.issued_seen_us - d.tickets_written_us; }},
      {"tickets: pay answer -> tickets tx", [](auto& b, auto& d) { return d.tickets_written_us - b.pay_answered_us; }},
  };
  std::vector<std::pair<std::string, latency_figures>> breakdown;
  for (const auto& [name, length_us] : intervals) {
    std::vector<std::int64_t> values;
    for (const auto& trace : traces) {
      auto found = by_checkout.find(trace.checkout_id);
      if (found == by_checkout.end() || trace.issued_seen_us == 0 || found->second->tickets_written_us == 0) continue;
      values.push_back(length_us(trace, *found->second) * 1'000);
    }
    breakdown.emplace_back(name, figures_of(std::move(values)));
  }
  return breakdown;
}

double worst_step_p99(const purchase_summary& run) {
  return std::max({run.hold.p99_ms, run.pay.p99_ms, run.tickets.p99_ms});
}

std::string figures_text(const latency_figures& figures) {
  return format("%.1f/%.1f/%.1f", figures.p50_ms, figures.p99_ms, figures.max_ms);
}

}  // namespace

purchase_summary summarize_purchases(const std::string& phase, int round, const purchase_result& result,
                                     const purchase_observations& seen) {
  purchase_summary run;
  run.phase = phase;
  run.round = round;
  run.buyers = result.hold_ns.size() + result.errors;
  run.holds = result.holds;
  run.sold_out = result.sold_out;
  run.paid = result.paid;
  run.pay_pending = result.pay_pending;
  run.issued = result.issued;
  run.polls = result.polls;
  run.errors = result.errors;
  run.wall_ms = static_cast<double>(result.wall_ns) / nanoseconds_per_millisecond;
  run.purchases_per_second = per_second(result.issued, result.last_issued_ns);
  run.settle_ms = seen.settle_ms;
  run.hold = figures_of(result.hold_ns);
  run.pay = figures_of(result.pay_ns);
  run.tickets = figures_of(result.tickets_ns);
  run.purchase = figures_of(result.purchase_ns);
  run.breakdown = breakdown_of(result.traces, seen.timings);
  std::int64_t first_pay_us = 0, last_pay_us = 0;
  for (const auto& trace : result.traces) {
    if (trace.pay_sent_us == 0) continue;
    first_pay_us = first_pay_us == 0 ? trace.pay_sent_us : std::min(first_pay_us, trace.pay_sent_us);
    last_pay_us = std::max(last_pay_us, trace.pay_sent_us);
  }
  run.pay_sent_span_ms = static_cast<double>(last_pay_us - first_pay_us) / 1'000;
  run.routes = seen.routes;
  run.node_log = seen.node_log;
  run.database = seen.database;
  run.sandbox = seen.sandbox;
  run.transactions = seen.transactions;
  run.load_average_before = seen.load_average_before;
  run.cpu = seen.cpu;
  run.samples = seen.load.pool_queue_depth.size();
  for (auto depth : seen.load.pool_queue_depth) {
    run.pool_queue_max = std::max(run.pool_queue_max, depth);
    run.pool_queue_mean += depth / static_cast<double>(run.samples);
  }
  for (auto busy : seen.load.pool_connections_busy) run.pool_busy_mean += busy / static_cast<double>(run.samples);
  for (auto calls : seen.load.provider_calls_in_flight) {
    run.provider_calls_max = std::max(run.provider_calls_max, calls);
    run.provider_calls_mean += calls / static_cast<double>(seen.load.provider_calls_in_flight.size());
  }
  run.sequential_reads = seen.sequential_reads;
  run.metrics_answer = figures_of(seen.load.metrics_answer_ns);
  run.sandbox_answer = figures_of(seen.load.sandbox_answer_ns);
  return run;
}

purchase_summary representative(std::vector<purchase_summary> runs) {
  std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) {
    return a.phase.starts_with("purchase-drop") ? worst_step_p99(a) < worst_step_p99(b)
                                      : a.purchases_per_second > b.purchases_per_second;
  });
  return runs.size() <= 2 ? runs.front() : runs[runs.size() / 2];
}

void print_purchase_header(std::ostream& out) {
  out << format("%-19s %5s %6s %5s %8s %5s %6s %6s %6s %8s %7s %19s %19s %19s %19s %8s %7s %23s %5s\n", "phase",
                "round", "buyers", "holds", "sold_out", "paid", "issued", "errors", "polls", "wall_ms", "purch/s",
                "hold p50/p99/max", "pay p50/p99/max", "tickets p50/p99/max", "purchase p50/p99/max", "settle",
                "commits", "cpu_ms node/pg/me/sbx", "load1");
}

void print_purchase(std::ostream& out, const purchase_summary& run) {
  auto cpu = format("%.0f/%.0f/%.0f/%.0f", run.cpu.node_ms, run.cpu.database_ms, run.cpu.bench_ms, run.cpu.sandbox_ms);
  out << format("%-19s %5d %6zu %5zu %8zu %5zu %6zu %6zu %6zu %8.0f %7.1f %19s %19s %19s %19s %8.0f %7lld %23s %5.2f\n",
                run.phase.c_str(), run.round, run.buyers, run.holds, run.sold_out, run.paid, run.issued, run.errors,
                run.polls, run.wall_ms, run.purchases_per_second, figures_text(run.hold).c_str(),
                figures_text(run.pay).c_str(), figures_text(run.tickets).c_str(), figures_text(run.purchase).c_str(),
                run.settle_ms, static_cast<long long>(run.transactions.commits), cpu.c_str(), run.load_average_before);
}

void print_purchase_details(std::ostream& out, const purchase_summary& run) {
  out << "  where a paid purchase's time went (ms, p50/p99/max over " << run.breakdown.front().second.count
      << " purchases; database times are when each transaction started):\n";
  for (const auto& [name, figures] : run.breakdown)
    out << format("    %-48s %8.1f %8.1f %8.1f\n", name.c_str(), figures.p50_ms, figures.p99_ms, figures.max_ms);
  out << "  the node's own timings (gateway: complete request -> answer written):\n";
  for (const auto& route : run.routes)
    out << format("    %-58s %7lld answers, mean %7.1f ms, p99 <= %6.0f ms, %5.1f %% over 100 ms\n",
                  route.route.c_str(), static_cast<long long>(route.count), route.mean_ms, route.p99_at_most_ms,
                  route.over_100ms_share * 100);
  out << format("  sampled every 100 ms while measured (%zu samples): database pool queue mean %.1f, max %.0f jobs; "
                "busy connections mean %.1f; provider calls in flight mean %.1f, max %.0f; GET /metrics answered in "
                "%s ms, the sandbox's GET /_sandbox/health in %s ms (p50/p99/max)\n",
                run.samples, run.pool_queue_mean, run.pool_queue_max, run.pool_busy_mean, run.provider_calls_mean,
                run.provider_calls_max, figures_text(run.metrics_answer).c_str(),
                figures_text(run.sandbox_answer).c_str());
  out << "  tables read sequentially (the node's whole life):";
  for (const auto& table : run.sequential_reads)
    out << format(" %s %lld scans / %lld rows read (%lld index scans, %lld rows);", table.table.c_str(),
                  static_cast<long long>(table.sequential_scans), static_cast<long long>(table.rows_read_sequentially),
                  static_cast<long long>(table.index_scans), static_cast<long long>(table.rows));
  out << "\n";
  const auto& db = run.database;
  out << format("  database: capacity %lld, sold %lld (sold holds %lld, %lld seats), held %lld; payments %lld "
                "(succeeded %lld, unsettled %lld), captured %lld minor; attempts %lld;",
                static_cast<long long>(db.capacity), static_cast<long long>(db.sold),
                static_cast<long long>(db.sold_holds), static_cast<long long>(db.sold_quantity),
                static_cast<long long>(db.held), static_cast<long long>(db.payments),
                static_cast<long long>(db.succeeded_payments), static_cast<long long>(db.unsettled_payments),
                static_cast<long long>(db.captured_minor), static_cast<long long>(db.attempts));
  for (const auto& [status, count] : db.attempts_by_status) out << " " << status << " " << count << ";";
  out << " orders:";
  for (const auto& [status, count] : db.order_statuses) out << " " << status << " " << count << ";";
  out << format(" tickets %lld valid of %lld; refunds %lld; webhooks recorded %lld\n", static_cast<long long>(db.tickets),
                static_cast<long long>(db.ticket_rows), static_cast<long long>(db.refunds_succeeded),
                static_cast<long long>(db.webhook_events));
  const auto& sandbox = run.sandbox;
  out << format("  sandbox: created %lld, captured %lld (%lld minor), refunded %lld, declined %lld;",
                static_cast<long long>(sandbox.created), static_cast<long long>(sandbox.captured),
                static_cast<long long>(sandbox.captured_minor), static_cast<long long>(sandbox.refunded),
                static_cast<long long>(sandbox.declined));
  for (const auto& [account, count] : sandbox.captured_by_account)
    out << " " << account << " captured " << count << ";";
  out << format(" webhooks emitted %lld, delivered %lld, failed %lld, dropped %lld, pending %lld\n",
                static_cast<long long>(sandbox.webhooks_emitted), static_cast<long long>(sandbox.webhooks_delivered),
                static_cast<long long>(sandbox.webhooks_failed), static_cast<long long>(sandbox.webhooks_dropped),
                static_cast<long long>(sandbox.webhooks_pending));
  if (run.pay_pending > 0)
    out << "  " << run.pay_pending << " payments were answered 202 (not settled within the node's wait)\n";
  if (run.node_log.empty()) out << "  node log: no warnings or errors\n";
  for (const auto& [message, count] : run.node_log)
    out << format("  node log: %6lld x %s\n", static_cast<long long>(count), message.c_str());
}

namespace {

// A purchase drop's verdict lines: each buyer-facing step against the target, then its counts.
bool print_drop_step_verdicts(std::ostream& out, const purchase_summary& run, double step_p99_ms_max) {
  bool all_met = true;
  const std::pair<const char*, const latency_figures*> steps[] = {
      {"hold", &run.hold}, {"pay", &run.pay}, {"pay answer -> tickets issued", &run.tickets}};
  for (const auto& [name, figures] : steps) {
    bool met = figures->p99_ms <= step_p99_ms_max;
    all_met = all_met && met;
    out << format("%s %s: p50 %.1f ms, p99 %.1f ms, max %.1f ms (target p99 <= %.0f ms): %s", run.phase.c_str(), name,
                  figures->p50_ms, figures->p99_ms, figures->max_ms, step_p99_ms_max, met ? "met" : "NOT met");
    if (!met)
      out << format(" by %.1f ms (x%.1f)", figures->p99_ms - step_p99_ms_max, figures->p99_ms / step_p99_ms_max);
    out << "\n";
  }
  out << format("%s: %zu buyers, %zu holds, %zu sold out, %zu paid, %zu tickets issued, %zu errors; "
                "%.1f purchases/s; whole purchase p99 %.1f ms%s\n",
                run.phase.c_str(), run.buyers, run.holds, run.sold_out, run.paid, run.issued, run.errors,
                run.purchases_per_second, run.purchase.p99_ms,
                run.pay_think_max_ms.count() > 0 ? " (hold + pay + tickets, think time left out)" : "");
  return all_met;
}

}  // namespace

bool print_purchase_verdicts(std::ostream& out, const purchase_summary* purchase, const purchase_summary* purchase_drop,
                             const purchase_summary* purchase_drop_paced, const run_summary* sustained,
                             const run_summary* drop, double step_p99_ms_max) {
  bool all_met = true;
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  if (purchase) {
    out << format("purchase (closed loop): %.1f purchases/s; hold p99 %.1f ms, pay p99 %.1f ms, pay answer -> "
                  "tickets p99 %.1f ms\n",
                  purchase->purchases_per_second, purchase->hold.p99_ms, purchase->pay.p99_ms, purchase->tickets.p99_ms);
    if (sustained)
      out << format("purchases/s / sustained holds/s: %.1f / %.0f = x%.3f\n", purchase->purchases_per_second,
                    sustained->holds_per_second, ratio(purchase->purchases_per_second, sustained->holds_per_second));
  }
  for (const auto* run : {purchase_drop, purchase_drop_paced}) {
    if (!run) continue;
    all_met = print_drop_step_verdicts(out, *run, step_p99_ms_max) && all_met;
    if (run == purchase_drop_paced) {
      // The pays of W winners whose think times are spread evenly over a span S arrive at about
      // W / S per second (plus the hold window's second): the load the node's pay path sees.
      auto span_s = static_cast<double>((run->pay_think_max_ms - run->pay_think_min_ms).count()) / 1'000;
      if (span_s <= 0)
        out << format("%s think time: %lld ms for every buyer; the pays follow the holds (sent over %.1f s, first to "
                      "last)\n",
                      run->phase.c_str(), static_cast<long long>(run->pay_think_min_ms.count()),
                      run->pay_sent_span_ms / 1'000);
      else
        out << format("%s think time: %lld-%lld ms, uniform per buyer; pay arrival rate %zu winners / %.1f s = "
                      "%.1f pays/s (sent over %.1f s, first to last)\n",
                      run->phase.c_str(), static_cast<long long>(run->pay_think_min_ms.count()),
                      static_cast<long long>(run->pay_think_max_ms.count()), run->holds, span_s,
                      ratio(static_cast<double>(run->holds), span_s), run->pay_sent_span_ms / 1'000);
    }
    if (drop)
      out << format("%s hold p99 vs drop (holds only) p99: %.1f ms vs %.1f ms = x%.2f\n", run->phase.c_str(),
                    run->hold.p99_ms, drop->p99_ms, ratio(run->hold.p99_ms, drop->p99_ms));
  }
  if (purchase_drop && purchase_drop_paced)
    out << format("paced vs at once, pay p99: %.1f ms vs %.1f ms = x%.2f\n", purchase_drop_paced->pay.p99_ms,
                  purchase_drop->pay.p99_ms, ratio(purchase_drop_paced->pay.p99_ms, purchase_drop->pay.p99_ms));
  return all_met;
}

}  // namespace eventstripe::bench
