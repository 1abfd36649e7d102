// ticket_drop: the ticket-release benchmark of issue 3, three measurements side by side in one
// run, because the machine is shared and noisy and only figures taken together compare:
//   baseline   the conventional row-locking design, pgbench against the same PostgreSQL;
//   sustained  the real node, a closed loop of keep-alive connections taking one-seat holds on a
//              ticket type with ample capacity, for a fixed time;
//   drop       the real node, one buyer per connection (spread over several processes) all
//              sending inside one window on a ticket type of limited capacity.
// Issue 4 adds priced variants of the last two; issue 5 the whole purchase against the sandbox
// payment provider, which the bench starts beside each node:
//   purchase       a closed loop of hold → pay → poll the tickets until issued;
//   purchase-drop  the drop's buyers and schedule; the winners pay at once and wait for their
//                  tickets on the checkout's WebSocket.
//   purchase-drop-paced  the same, but each winner pays after a think time (typing its card
//                  details), so the payments arrive over a realistic checkout time, not at once.
// After every node run it checks in PostgreSQL that every answer is committed and nothing is
// oversold (and, for purchases, nothing charged twice and every capture issued as tickets, as
// many as the sandbox captured); a broken promise fails the run loudly.
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "bench/ticket-drop/baseline.hpp"
#include "bench/ticket-drop/bench_database.hpp"
#include "bench/ticket-drop/cpu_usage.hpp"
#include "bench/ticket-drop/drop.hpp"
#include "bench/ticket-drop/node_metrics.hpp"
#include "bench/ticket-drop/node_process.hpp"
#include "bench/ticket-drop/purchase.hpp"
#include "bench/ticket-drop/report.hpp"
#include "bench/ticket-drop/sandbox_provider.hpp"
#include "bench/ticket-drop/scenario.hpp"
#include "bench/ticket-drop/spread.hpp"
#include "config/settings.hpp"

namespace {

using namespace eventstripe::bench;

// One process may hold about 20,000 open files here: the node needs one per buyer of the drop,
// each generator process one per connection it opens.
constexpr std::size_t connections_per_process_max = 15'000;
constexpr std::size_t drop_buyers_max = 15'000;
constexpr std::size_t spare_files = 64;  // setup client, database, logs
constexpr std::int64_t capacity_max = 1'000'000;  // the API's own limit
constexpr int rounds_max = 10;
constexpr std::chrono::seconds node_start_timeout_s{60};
constexpr std::chrono::seconds node_stop_timeout_s{60};
constexpr std::chrono::seconds sandbox_start_timeout_s{30};
constexpr std::chrono::seconds sandbox_stop_timeout_s{30};
constexpr std::chrono::milliseconds settle_poll_interval_ms{200};
constexpr std::chrono::milliseconds load_sample_interval_ms{100};
constexpr std::size_t sequential_read_tables_max = 6;
// Connections the sandbox's webhook deliveries may open to the node besides the buyers'.
constexpr std::size_t webhook_connections_spare = 1'024;
constexpr std::int64_t pay_think_ms_max = 3'600'000;  // as the node's http.idle_timeout_ms at most
// A paced buyer's connection idles through its think time; the node's idle clock starts when it
// wrote the hold's answer, a little before the buyer read it, and the buyer's timer may fire
// late on a loaded machine. The think time must end this much before the node would close.
constexpr std::chrono::milliseconds idle_timeout_margin_ms{5'000};

struct options {
  std::string binary;
  std::string database_url;
  int rounds = 3;
  std::vector<std::string> phases = {"baseline",    "sustained", "drop",          "sustained-priced",
                                     "drop-priced", "purchase",  "purchase-drop", "purchase-drop-paced"};
  int baseline_s = 10;
  int baseline_clients = 64;
  std::int64_t sustained_ms = 10'000;
  std::size_t sustained_connections = 256;
  std::int64_t sustained_capacity = capacity_max;
  std::size_t drop_buyers = 10'000;
  std::int64_t drop_capacity = 1'000;
  std::int64_t drop_window_ms = 1'000;
  std::size_t drop_processes = 4;
  std::size_t pool_size = 8;
  std::int64_t timeout_s = 120;
  std::int64_t purchase_ms = 10'000;
  std::size_t purchase_connections = 64;
  std::int64_t poll_interval_ms = 20;
  tickets_wait purchase_drop_wait = tickets_wait::websocket;
  std::int64_t pay_think_min_ms = 5'000;
  std::int64_t pay_think_max_ms = 30'000;
  std::string sandbox_script = "sandbox/server.mjs";
  std::string node_js = "node";
  std::int64_t settle_timeout_s = 120;
  double step_p99_ms_max = 120;
  std::string log_directory;
  std::vector<std::string> node_flags;
  bool keep_databases = false;
};

const char* usage_text =
    "usage: ticket_drop --binary PATH --database-url URL [options]\n"
    "  --binary PATH               the eventstripe binary to measure\n"
    "  --database-url URL          a PostgreSQL server; throw-away databases bench_<random> are created on it\n"
    "  --rounds N                  rounds of every phase; the median is reported (default 3)\n"
    "  --phases LIST               comma-separated, in this order (default baseline,sustained,drop,\n"
    "                              sustained-priced,drop-priced,purchase,purchase-drop,purchase-drop-paced; the\n"
    "                              priced ones: two tiers and a promo code for half the buyers; purchase: hold, pay,\n"
    "                              tickets; paced: the drop's winners pay after a think time)\n"
    "  --baseline-s N              pgbench -T (default 10)\n"
    "  --baseline-clients N        pgbench -c (default 64; -j 2)\n"
    "  --sustained-ms N            length of the sustained closed loop (default 10000)\n"
    "  --sustained-connections N   its keep-alive connections (default 256)\n"
    "  --drop-buyers N             buyers in the drop, one connection and one request each (default 10000)\n"
    "  --drop-capacity N           seats of the drop's ticket type (default 1000)\n"
    "  --drop-window-ms N          the window all buyers send in, evenly spread (default 1000)\n"
    "  --drop-processes N          generator processes the buyers are spread over (default 4)\n"
    "  --pool-size N               the node's database.pool_size (default 8)\n"
    "  --timeout-s N               give up on unanswered requests after N s (default 120)\n"
    "  --purchase-ms N             length of the purchase closed loop (default 10000)\n"
    "  --purchase-connections N    its keep-alive connections, one purchase at a time each (default 64)\n"
    "  --poll-interval-ms N        pause between two GET .../tickets of one buyer (default 20)\n"
    "  --purchase-drop-wait HOW    websocket (default) or poll: how the drop's winners wait for their tickets\n"
    "  --pay-think-ms MIN-MAX      purchase-drop-paced: each winner pays after a think time drawn uniformly from\n"
    "                              this range, the same per buyer every round (default 5000-30000)\n"
    "  --sandbox PATH              the sandbox provider's server.mjs (default sandbox/server.mjs)\n"
    "  --node-js PATH              the Node.js that runs it (default node, from PATH)\n"
    "  --settle-timeout-s N        after a purchase phase, wait this long at most for every order and webhook\n"
    "                              to settle (default 120)\n"
    "  --step-p99-target-ms N      issue 5's target for each buyer-facing step of the purchase drop (default 120)\n"
    "  --node-flag FLAG            an extra flag for the node, repeatable (e.g. --node-flag=--log.level=debug)\n"
    "  --log-dir DIR               where the node logs go (default /tmp/ticket-drop-<pid>)\n"
    "  --keep-databases            leave the bench_<random> databases for inspection (they are dropped otherwise)\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "ticket_drop: " << message << "\n" << usage_text;
  std::exit(2);
}

std::int64_t number(const std::string& flag, const std::string& text, std::int64_t minimum, std::int64_t maximum) {
  std::int64_t value = 0;
  auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (failure != std::errc{} || end != text.data() + text.size() || value < minimum || value > maximum)
    usage_error(flag + " expects a whole number from " + std::to_string(minimum) + " to " + std::to_string(maximum) +
                ", got '" + text + "'");
  return value;
}

std::vector<std::string> split_phases(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream{text};
  for (std::string item; std::getline(stream, item, ',');)
    if (item != "baseline" && item != "sustained" && item != "drop" && item != "sustained-priced" &&
        item != "drop-priced" && item != "purchase" && item != "purchase-drop" && item != "purchase-drop-paced")
      usage_error("--phases: unknown phase '" + item + "'");
    else items.push_back(item);
  return items;
}

// MIN-MAX in ms, e.g. 5000-30000.
void parse_think_range(options& chosen, const std::string& value) {
  auto dash = value.find('-');
  if (dash == std::string::npos)
    usage_error("--pay-think-ms expects MIN-MAX in ms, e.g. 5000-30000, got '" + value + "'");
  chosen.pay_think_min_ms = number("--pay-think-ms MIN", value.substr(0, dash), 0, pay_think_ms_max);
  chosen.pay_think_max_ms = number("--pay-think-ms MAX", value.substr(dash + 1), 0, pay_think_ms_max);
  if (chosen.pay_think_min_ms > chosen.pay_think_max_ms)
    usage_error("--pay-think-ms: MIN is above MAX in '" + value + "'");
}

// The node's http.idle_timeout_ms as the bench starts it: its default, or the last
// --node-flag=--http.idle_timeout_ms=N.
std::chrono::milliseconds node_idle_timeout(const options& chosen) {
  const std::string prefix = "--http.idle_timeout_ms=";
  auto timeout = eventstripe::config::settings{}.http_idle_timeout_ms;
  for (const auto& flag : chosen.node_flags) {
    if (!flag.starts_with(prefix)) continue;
    // Not a whole number: the node refuses it and the run fails as it starts.
    std::int64_t value = 0;
    auto [end, failure] = std::from_chars(flag.data() + prefix.size(), flag.data() + flag.size(), value);
    if (failure == std::errc{} && end == flag.data() + flag.size()) timeout = std::chrono::milliseconds{value};
  }
  return timeout;
}

void apply(options& chosen, const std::string& flag, const std::string& value) {
  auto count = [&](std::int64_t minimum, std::int64_t maximum) {
    return static_cast<std::size_t>(number(flag, value, minimum, maximum));
  };
  if (flag == "--binary") chosen.binary = value;
  else if (flag == "--database-url") chosen.database_url = value;
  else if (flag == "--rounds") chosen.rounds = static_cast<int>(number(flag, value, 1, rounds_max));
  else if (flag == "--phases") chosen.phases = split_phases(value);
  else if (flag == "--baseline-s") chosen.baseline_s = static_cast<int>(number(flag, value, 1, 3'600));
  else if (flag == "--baseline-clients") chosen.baseline_clients = static_cast<int>(number(flag, value, 1, 1'000));
  else if (flag == "--sustained-ms") chosen.sustained_ms = number(flag, value, 100, 3'600'000);
  else if (flag == "--sustained-connections") chosen.sustained_connections = count(1, connections_per_process_max);
  else if (flag == "--drop-buyers") chosen.drop_buyers = count(1, drop_buyers_max);
  else if (flag == "--drop-capacity") chosen.drop_capacity = number(flag, value, 1, capacity_max);
  else if (flag == "--drop-window-ms") chosen.drop_window_ms = number(flag, value, 0, 3'600'000);
  else if (flag == "--drop-processes") chosen.drop_processes = count(1, 64);
  else if (flag == "--pool-size") chosen.pool_size = count(1, 256);
  else if (flag == "--timeout-s") chosen.timeout_s = number(flag, value, 1, 3'600);
  else if (flag == "--node-flag") chosen.node_flags.push_back(value);
  else if (flag == "--purchase-ms") chosen.purchase_ms = number(flag, value, 100, 3'600'000);
  else if (flag == "--purchase-connections") chosen.purchase_connections = count(1, connections_per_process_max);
  else if (flag == "--poll-interval-ms") chosen.poll_interval_ms = number(flag, value, 1, 60'000);
  else if (flag == "--purchase-drop-wait" && (value == "websocket" || value == "poll"))
    chosen.purchase_drop_wait = value == "poll" ? tickets_wait::poll : tickets_wait::websocket;
  else if (flag == "--purchase-drop-wait") usage_error("--purchase-drop-wait expects websocket or poll");
  else if (flag == "--pay-think-ms") parse_think_range(chosen, value);
  else if (flag == "--sandbox") chosen.sandbox_script = value;
  else if (flag == "--node-js") chosen.node_js = value;
  else if (flag == "--settle-timeout-s") chosen.settle_timeout_s = number(flag, value, 1, 3'600);
  else if (flag == "--step-p99-target-ms") chosen.step_p99_ms_max = static_cast<double>(number(flag, value, 1, 600'000));
  else if (flag == "--log-dir") chosen.log_directory = value;
  else usage_error("unknown option " + flag);
}

options parse(int argc, char** argv) {
  options chosen;
  for (int i = 1; i < argc; ++i) {
    std::string argument = argv[i];
    if (argument == "--help" || argument == "-h") {
      std::cout << usage_text;
      std::exit(0);
    }
    if (argument == "--keep-databases") {
      chosen.keep_databases = true;
      continue;
    }
    auto equals = argument.find('=');
    if (equals != std::string::npos) {
      apply(chosen, argument.substr(0, equals), argument.substr(equals + 1));
    } else {
      if (i + 1 >= argc) usage_error(argument + " needs a value");
      apply(chosen, argument, argv[++i]);
    }
  }
  if (chosen.binary.empty() || chosen.database_url.empty()) usage_error("--binary and --database-url are required");
  if (!std::filesystem::exists(chosen.binary)) usage_error("--binary: no such file " + chosen.binary);
  if (chosen.phases.empty()) usage_error("--phases: name at least one");
  if (chosen.drop_buyers / chosen.drop_processes >= connections_per_process_max)
    usage_error("--drop-buyers " + std::to_string(chosen.drop_buyers) + " over " +
                std::to_string(chosen.drop_processes) + " processes is more than " +
                std::to_string(connections_per_process_max) + " connections per process; raise --drop-processes");
  bool buys = std::any_of(chosen.phases.begin(), chosen.phases.end(),
                          [](const std::string& phase) { return phase.starts_with("purchase"); });
  // A paced buyer keeps its connection open and idle while it thinks (the simplest faithful
  // choice while the node keeps idle connections longer than a buyer types): should the node
  // close it, the buyer would have to reconnect, which the generator does not do.
  bool paced = std::find(chosen.phases.begin(), chosen.phases.end(), "purchase-drop-paced") != chosen.phases.end();
  auto idle_timeout = node_idle_timeout(chosen);
  if (paced && std::chrono::milliseconds{chosen.pay_think_max_ms} + idle_timeout_margin_ms > idle_timeout)
    usage_error("--pay-think-ms: a buyer may think " + std::to_string(chosen.pay_think_max_ms) +
                " ms, but the node closes an idle connection after " + std::to_string(idle_timeout.count()) +
                " ms (http.idle_timeout_ms); keep the think time " + std::to_string(idle_timeout_margin_ms.count()) +
                " ms shorter, or raise it with --node-flag=--http.idle_timeout_ms=N");
  if (buys && !std::filesystem::exists(chosen.sandbox_script))
    usage_error("--sandbox: no such file " + chosen.sandbox_script + " (the purchase phases run the sandbox provider)");
  if (buys) chosen.sandbox_script = std::filesystem::absolute(chosen.sandbox_script).string();
  if (chosen.log_directory.empty()) chosen.log_directory = "/tmp/ticket-drop-" + std::to_string(::getpid());
  return chosen;
}

// Raises the soft open-files limit to the hard one; the drop needs one file per connection.
// (The node inherits the limit: it holds one file per connection of the drop.)
void ensure_open_files(std::size_t files_needed) {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (files_needed + spare_files > files.rlim_cur)
    usage_error(std::to_string(files_needed) + " connections need more open files than a process may have here (" +
                std::to_string(files.rlim_cur) + ")");
}

std::string first_line_with(const std::string& path, const std::string& prefix) {
  std::ifstream file{path};
  for (std::string line; std::getline(file, line);)
    if (line.starts_with(prefix)) return line.substr(line.find(':') + 1);
  return " unknown";
}

double load_average() {
  std::ifstream file{"/proc/loadavg"};
  double one_minute = 0;
  file >> one_minute;
  return one_minute;
}

void print_machine(std::ostream& out, const options& chosen, const std::string& server_facts) {
  utsname system{};
  ::uname(&system);
  out << "machine: nproc=" << ::sysconf(_SC_NPROCESSORS_ONLN) << ", cpu:" << first_line_with("/proc/cpuinfo", "model name")
      << ", memory:" << first_line_with("/proc/meminfo", "MemTotal") << ", kernel " << system.release
      << ", load average " << load_average() << "\n"
      << "database: " << server_facts << "\n"
      << "baseline: pgbench -n -M prepared -c " << chosen.baseline_clients << " -j 2 -T " << chosen.baseline_s
      << ", one UPDATE ... RETURNING + INSERT per transaction on one hot row\n"
      << "sustained: " << chosen.sustained_connections << " keep-alive connections, closed loop, one-seat holds for "
      << chosen.sustained_ms << " ms on a ticket type of " << chosen.sustained_capacity << " seats\n"
      << "drop: " << chosen.drop_buyers << " buyers, one connection each over " << chosen.drop_processes
      << " processes, all sending within " << chosen.drop_window_ms << " ms (open loop) for " << chosen.drop_capacity
      << " seats\n"
      << "priced phases: tiers 'Early bird' (the first half of the seats, 39.00) and 'Regular' (49.00), "
         "and every second buyer sends the 10 %-off code\n"
      << "purchase: " << chosen.purchase_connections << " keep-alive connections, closed loop of hold -> pay "
         "(sandbox card pm_card_visa) -> GET tickets every " << chosen.poll_interval_ms << " ms until issued, for "
      << chosen.purchase_ms << " ms; purchase-drop: the drop's buyers and schedule, the winners pay at once and wait "
         "for their tickets "
      << (chosen.purchase_drop_wait == tickets_wait::websocket ? "on the checkout's WebSocket" : "by polling")
      << "; purchase-drop-paced: the same, each winner pays after a think time drawn uniformly from "
      << chosen.pay_think_min_ms << "-" << chosen.pay_think_max_ms
      << " ms (per buyer; its connection idle meanwhile); a fresh sandbox provider (" << chosen.sandbox_script
      << ") per node, webhooks to the node\n"
      << "node: database.pool_size " << chosen.pool_size;
  for (const auto& flag : chosen.node_flags) out << " " << flag;
  out << "; " << chosen.rounds << " round(s), medians reported\n";
}

std::vector<std::string> node_flags(const options& chosen, const std::string& conninfo, std::uint16_t port = 0) {
  auto connections = std::max({chosen.drop_buyers, chosen.sustained_connections, chosen.purchase_connections});
  std::vector<std::string> flags = {
      "--http.port=" + std::to_string(port),
      "--database.url=" + conninfo,
      "--inventory.address_checkouts_max=10000000",
      "--http.connections_max=" + std::to_string(connections + spare_files + webhook_connections_spare),
      "--log.level=warning",
      "--database.pool_size=" + std::to_string(chosen.pool_size),
      // As a deployment runs: ticket signing keys wrapped at rest (a fixed bench-only key).
      "--payments.ticket_key_wrapping_key=1b32c28cb38c05480eccc1bd60ff97029b57a05c96718b96dad7e9d84894f549",
  };
  flags.insert(flags.end(), chosen.node_flags.begin(), chosen.node_flags.end());
  return flags;
}

// Everything that must hold after a node run; each broken promise is one line. The drop must
// sell exactly its capacity (or every buyer); the sustained loop must never run out of seats.
std::vector<std::string> verify(const run_summary& run, std::int64_t capacity, std::int64_t expected_held,
                                int node_exit_code) {
  const auto& database = run.database;
  std::vector<std::string> problems;
  auto require = [&problems](bool holds, const std::string& what) {
    if (!holds) problems.push_back(what);
  };
  auto held = static_cast<std::int64_t>(run.held);
  require(run.errors == 0, std::to_string(run.errors) + " requests failed or went unanswered (expected 0)");
  require(held == expected_held,
          std::to_string(run.held) + " holds answered 201 (expected " + std::to_string(expected_held) + ")");
  require(database.capacity == capacity, "capacity in the database is " + std::to_string(database.capacity));
  require(database.held == held, "ticket_types.held is " + std::to_string(database.held) + " but " +
                                     std::to_string(held) + " holds were answered");
  require(database.sold == 0, "ticket_types.sold is " + std::to_string(database.sold) + " (expected 0)");
  require(database.held_holds == held && database.held_quantity == held,
          std::to_string(database.held_holds) + " held holds for " + std::to_string(database.held_quantity) +
              " seats in the holds table (expected " + std::to_string(held) + ")");
  require(database.held + database.sold <= database.capacity, "OVERSOLD: held + sold exceeds the capacity");
  require(node_exit_code == 0, "the node exited with code " + std::to_string(node_exit_code) + " on SIGTERM");
  return problems;
}

[[noreturn]] void fail_run(bench_database& database, const std::string& what, const std::string& log_path,
                           const std::vector<std::string>& problems, const drop_result& drop) {
  database.keep();
  std::cerr << "ticket_drop: FAILED " << what << " (node log " << log_path << ")\n";
  for (const auto& problem : problems) std::cerr << "  - " << problem << "\n";
  for (const auto& [kind, count] : drop.error_kinds) std::cerr << "  error " << kind << ": " << count << "\n";
  for (const auto& sample : drop.error_samples) std::cerr << "  sample " << sample << "\n";
  throw std::runtime_error("a run broke a promise; see above");
}

baseline_summary run_baseline_once(const options& chosen, int round, std::string& server_facts) {
  bench_database database{chosen.database_url};
  if (chosen.keep_databases) database.keep();
  if (server_facts.empty()) server_facts = database.server_facts();
  baseline_plan plan;
  plan.clients = chosen.baseline_clients;
  plan.seconds = chosen.baseline_s;
  baseline_summary run{round, {}, load_average()};
  run.result = run_baseline(database, plan);
  return run;
}

run_summary run_node_once(const options& chosen, const std::string& phase, int round, std::string& server_facts) {
  bool sustained = phase.starts_with("sustained");
  bool priced = phase.ends_with("-priced");
  auto capacity = sustained ? chosen.sustained_capacity : chosen.drop_capacity;
  bench_database database{chosen.database_url};
  if (chosen.keep_databases) database.keep();
  if (server_facts.empty()) server_facts = database.server_facts();
  auto log_path = chosen.log_directory + "/" + database.name() + "-" + phase + ".log";
  node_process node{chosen.binary, node_flags(chosen, database.conninfo()), log_path};
  auto port = node.start(node_start_timeout_s);
  auto target = prepare_drop_target(port, capacity, priced);
  drop_plan plan;
  plan.port = port;
  plan.event_id = target.event_id;
  plan.ticket_type_id = target.ticket_type_id;
  plan.timeout_s = std::chrono::seconds{chosen.timeout_s};
  plan.promo_code = target.promo_code;
  if (sustained) {
    plan.connections = chosen.sustained_connections;
    plan.duration_ms = std::chrono::milliseconds{chosen.sustained_ms};
  } else {
    plan.requests = chosen.drop_buyers;
    plan.connections = chosen.drop_buyers;
    plan.window_ms = std::chrono::milliseconds{chosen.drop_window_ms};
  }
  auto load_before = load_average();
  cpu_usage cpu_before, cpu_after;
  plan.on_fire_start = [&] { cpu_before = measure_cpu(node.pid(), database.name()); };
  plan.on_fire_end = [&] { cpu_after = measure_cpu(node.pid(), database.name()); };
  auto drop = sustained ? run_drop(plan) : run_spread_drop(plan, chosen.drop_processes);
  auto exit_code = node.stop(node_stop_timeout_s);
  auto run = summarize(phase, round, drop, database.check(target.ticket_type_id), database.counts(), load_before,
                       cpu_after - cpu_before);
  auto expected_held = sustained ? static_cast<std::int64_t>(run.held)
                                 : std::min<std::int64_t>(static_cast<std::int64_t>(chosen.drop_buyers), capacity);
  auto problems = verify(run, capacity, expected_held, exit_code);
  if (sustained && run.sold_out > 0) problems.push_back("the sustained loop ran out of seats: raise its capacity");
  if (!problems.empty()) fail_run(database, phase + " round " + std::to_string(round), log_path, problems, drop);
  return run;
}

// Everything issue 5 promises after a purchase run; each broken promise is one line.
std::vector<std::string> verify_purchases(const purchase_summary& run, std::int64_t capacity, bool closed_loop,
                                          std::size_t buyers, int node_exit_code, int sandbox_exit_code) {
  const auto& db = run.database;
  const auto& sandbox = run.sandbox;
  std::vector<std::string> problems;
  auto require = [&problems](bool holds, const std::string& what) {
    if (!holds) problems.push_back(what);
  };
  auto n = [](auto value) { return std::to_string(value); };
  auto holds = static_cast<std::int64_t>(run.holds);
  require(run.errors == 0, n(run.errors) + " requests failed or went unanswered (expected 0)");
  if (!closed_loop) {
    auto winners = std::min<std::int64_t>(static_cast<std::int64_t>(buyers), capacity);
    require(holds == winners, n(holds) + " holds answered 201 (expected " + n(winners) + ")");
    require(static_cast<std::int64_t>(run.sold_out) == static_cast<std::int64_t>(buyers) - winners,
            n(run.sold_out) + " sold-out answers (expected " + n(static_cast<std::int64_t>(buyers) - winners) + ")");
  } else {
    require(run.sold_out == 0, "the purchase loop ran out of seats: raise its capacity");
  }
  require(static_cast<std::int64_t>(run.paid + run.pay_pending) == holds,
          n(run.paid + run.pay_pending) + " payments answered for " + n(holds) + " holds");
  require(static_cast<std::int64_t>(run.issued) == holds, n(run.issued) + " buyers saw their tickets of " + n(holds));
  require(db.capacity == capacity, "capacity in the database is " + n(db.capacity));
  require(db.sold <= db.capacity, "OVERSOLD: sold " + n(db.sold) + " > capacity " + n(db.capacity));
  require(db.held + db.sold <= db.capacity, "OVERSOLD: held + sold exceeds the capacity");
  require(db.sold == db.sold_quantity, "ticket_types.sold is " + n(db.sold) + " but sold holds have " +
                                           n(db.sold_quantity) + " seats");
  require(db.sold == holds, "ticket_types.sold is " + n(db.sold) + " for " + n(holds) + " holds paid");
  require(db.held == 0 && db.held_quantity == 0, "seats still held after every purchase ended: " + n(db.held));
  require(db.checkouts_charged_twice == 0, "DOUBLE CHARGE: " + n(db.checkouts_charged_twice) +
                                               " checkouts with more than one succeeded payment");
  require(db.payments_captured_twice == 0, "DOUBLE CHARGE: " + n(db.payments_captured_twice) +
                                               " payments with more than one succeeded attempt");
  require(db.succeeded_payments == holds, n(db.succeeded_payments) + " succeeded payments for " + n(holds) + " holds");
  require(db.unsettled_payments == 0, n(db.unsettled_payments) + " payments still unsettled");
  require(db.captures_without_outcome == 0, n(db.captures_without_outcome) +
                                                " captured payments whose order is neither tickets_issued nor refunded");
  require(db.tickets == db.sold, n(db.tickets) + " valid tickets for " + n(db.sold) + " sold seats");
  require(db.ticket_mismatches == 0, n(db.ticket_mismatches) + " issued orders whose tickets differ from their seats");
  require(db.tickets_without_capture == 0, n(db.tickets_without_capture) + " tickets of checkouts never charged");
  require(sandbox.captured == db.succeeded_payments, "the sandbox captured " + n(sandbox.captured) + " payments, " +
                                                         "the database has " + n(db.succeeded_payments) + " succeeded");
  require(sandbox.captured_minor == db.captured_minor, "the sandbox captured " + n(sandbox.captured_minor) +
                                                           " minor units, the database " + n(db.captured_minor));
  require(sandbox.refunded == db.refunds_succeeded && sandbox.refunded_minor == db.refunded_minor,
          "the sandbox refunded " + n(sandbox.refunded) + " (" + n(sandbox.refunded_minor) + "), the database " +
              n(db.refunds_succeeded) + " (" + n(db.refunded_minor) + ")");
  require(node_exit_code == 0, "the node exited with code " + n(node_exit_code) + " on SIGTERM");
  require(sandbox_exit_code == 0, "the sandbox exited with code " + n(sandbox_exit_code) + " on SIGTERM");
  return problems;
}

// After the measured part: every order leaves payment_pending/paid and every webhook is
// delivered (or given up) before the node is stopped and the books are checked. Returns how
// long that took.
double settle(const options& chosen, const bench_database& database, const sandbox_provider& sandbox) {
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + std::chrono::seconds{chosen.settle_timeout_s};
  while (std::chrono::steady_clock::now() < deadline) {
    if (database.open_orders() == 0 && sandbox.stats().webhooks_pending == 0) break;
    std::this_thread::sleep_for(settle_poll_interval_ms);
  }
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
}

[[noreturn]] void fail_purchase_run(bench_database& database, const std::string& what, const std::string& log_path,
                                    const std::string& sandbox_log, const std::vector<std::string>& problems,
                                    const purchase_result& result, const purchase_summary& run) {
  database.keep();
  print_purchase_header(std::cerr);
  print_purchase(std::cerr, run);
  print_purchase_details(std::cerr, run);
  std::cerr << "ticket_drop: FAILED " << what << " (node log " << log_path << ", sandbox log " << sandbox_log << ")\n";
  for (const auto& problem : problems) std::cerr << "  - " << problem << "\n";
  for (const auto& [kind, count] : result.error_kinds) std::cerr << "  error " << kind << ": " << count << "\n";
  for (const auto& sample : result.error_samples) std::cerr << "  sample " << sample << "\n";
  throw std::runtime_error("a run broke a promise; see above");
}

purchase_summary run_purchase_once(const options& chosen, const std::string& phase, int round,
                                   std::string& server_facts) {
  bool closed_loop = phase == "purchase";
  auto capacity = closed_loop ? chosen.sustained_capacity : chosen.drop_capacity;
  bench_database database{chosen.database_url};
  if (chosen.keep_databases) database.keep();
  if (server_facts.empty()) server_facts = database.server_facts();
  auto log_path = chosen.log_directory + "/" + database.name() + "-" + phase + ".log";
  auto node_port = pick_free_port();
  sandbox_provider sandbox{chosen.node_js, chosen.sandbox_script, chosen.log_directory,
                           database.name() + "-" + phase + "-sandbox", node_port};
  sandbox.start(sandbox_start_timeout_s);
  auto flags = node_flags(chosen, database.conninfo(), node_port);
  auto payment_flags = sandbox.node_flags();
  // The sandbox's flags first: a --node-flag of the caller's may override them.
  flags.insert(flags.begin() + 2, payment_flags.begin(), payment_flags.end());
  node_process node{chosen.binary, flags, log_path};
  auto port = node.start(node_start_timeout_s);
  auto target = prepare_drop_target(port, capacity);
  purchase_plan plan;
  plan.port = port;
  plan.event_id = target.event_id;
  plan.ticket_type_id = target.ticket_type_id;
  plan.timeout_s = std::chrono::seconds{chosen.timeout_s};
  plan.poll_interval_ms = std::chrono::milliseconds{chosen.poll_interval_ms};
  if (closed_loop) {
    plan.connections = chosen.purchase_connections;
    plan.duration_ms = std::chrono::milliseconds{chosen.purchase_ms};
    plan.wait = tickets_wait::poll;
  } else {
    plan.buyers = chosen.drop_buyers;
    plan.window_ms = std::chrono::milliseconds{chosen.drop_window_ms};
    plan.wait = chosen.purchase_drop_wait;
  }
  if (phase == "purchase-drop-paced") {
    plan.pay_think_min_ms = std::chrono::milliseconds{chosen.pay_think_min_ms};
    plan.pay_think_max_ms = std::chrono::milliseconds{chosen.pay_think_max_ms};
  }
  purchase_observations seen;
  seen.load_average_before = load_average();
  cpu_usage cpu_before, cpu_after;
  // The sampler's thread starts after a spread drop forked its generators, never before.
  load_sampler sampler{port, sandbox.port(), load_sample_interval_ms};
  plan.on_fire_start = [&] {
    cpu_before = measure_cpu(node.pid(), database.name(), sandbox.pid());
    sampler.start();
  };
  plan.on_fire_end = [&] {
    cpu_after = measure_cpu(node.pid(), database.name(), sandbox.pid());
    seen.load = sampler.stop();
  };
  auto result = closed_loop ? run_purchases(plan) : run_spread_purchases(plan, chosen.drop_processes);
  seen.cpu = cpu_after - cpu_before;
  seen.settle_ms = settle(chosen, database, sandbox);
  seen.routes = scrape_route_timings(port);
  auto node_exit_code = node.stop(node_stop_timeout_s);
  seen.sandbox = sandbox.stats();
  auto sandbox_exit_code = sandbox.stop(sandbox_stop_timeout_s);
  seen.node_log = log_warnings_and_errors(log_path);
  seen.database = database.check_purchases(target.ticket_type_id);
  seen.timings = database.purchase_timings();
  seen.sequential_reads = database.sequential_reads(sequential_read_tables_max);
  seen.transactions = database.counts();
  auto run = summarize_purchases(phase, round, result, seen);
  run.pay_think_min_ms = plan.pay_think_min_ms;
  run.pay_think_max_ms = plan.pay_think_max_ms;
  auto problems = verify_purchases(run, capacity, closed_loop, closed_loop ? 0 : chosen.drop_buyers, node_exit_code,
                                   sandbox_exit_code);
  if (!problems.empty())
    fail_purchase_run(database, phase + " round " + std::to_string(round), log_path, sandbox.log_path(), problems,
                      result, run);
  return run;
}

template <typename Run>
std::vector<Run> of_phase(const std::vector<Run>& runs, const std::string& phase) {
  std::vector<Run> chosen;
  std::copy_if(runs.begin(), runs.end(), std::back_inserter(chosen), [&phase](const Run& run) { return run.phase == phase; });
  return chosen;
}

}  // namespace

int main(int argc, char** argv) {
  auto chosen = parse(argc, argv);
  ensure_open_files(std::max({chosen.sustained_connections, chosen.drop_buyers, chosen.purchase_connections}));
  std::filesystem::create_directories(chosen.log_directory);
  std::vector<baseline_summary> baselines;
  std::vector<run_summary> runs;
  std::vector<purchase_summary> purchases;
  std::string server_facts;
  try {
    for (int round = 1; round <= chosen.rounds; ++round)
      for (const auto& phase : chosen.phases) {
        std::cerr << "ticket_drop: round " << round << ", " << phase << " ..." << std::endl;
        if (phase == "baseline") {
          baselines.push_back(run_baseline_once(chosen, round, server_facts));
          print_baseline(std::cerr, baselines.back());
        } else if (phase.starts_with("purchase")) {
          purchases.push_back(run_purchase_once(chosen, phase, round, server_facts));
          print_purchase_header(std::cerr);
          print_purchase(std::cerr, purchases.back());
        } else {
          runs.push_back(run_node_once(chosen, phase, round, server_facts));
          print_run(std::cerr, runs.back());
        }
      }
  } catch (const std::exception& failure) {
    std::cerr << "ticket_drop: " << failure.what() << "\n";
    return 1;
  }
  print_machine(std::cout, chosen, server_facts);
  std::cout << "\nevery run (holds, sold_out, errors: answers; hold_tx, max_batch: transactions that wrote holds "
               "and the largest; commits: the node's whole life; cpu during the measured part):\n";
  for (const auto& baseline : baselines) print_baseline(std::cout, baseline);
  if (!runs.empty()) print_run_header(std::cout);
  for (const auto& run : runs) print_run(std::cout, run);
  if (!purchases.empty()) {
    std::cout << "\npurchases (latencies in ms; hold from when due or sent, pay from sending it, tickets from the "
                 "payment's answer to tickets issued seen, purchase: hold + pay + tickets, a paced buyer's think time "
                 "left out; settle: after the measured part until no order was open and no webhook pending):\n";
    print_purchase_header(std::cout);
    for (const auto& run : purchases) print_purchase(std::cout, run);
  }

  std::cout << "\nreported (median of " << chosen.rounds << " round(s); of two, the better):\n";
  std::optional<baseline_summary> baseline;
  std::optional<run_summary> sustained, drop;
  if (!baselines.empty()) print_baseline(std::cout, *(baseline = representative(baselines)));
  if (!runs.empty()) print_run_header(std::cout);
  if (auto found = of_phase(runs, "sustained"); !found.empty()) print_run(std::cout, *(sustained = representative(found)));
  if (auto found = of_phase(runs, "drop"); !found.empty()) print_run(std::cout, *(drop = representative(found)));
  std::optional<run_summary> sustained_priced, drop_priced;
  if (auto found = of_phase(runs, "sustained-priced"); !found.empty())
    print_run(std::cout, *(sustained_priced = representative(found)));
  if (auto found = of_phase(runs, "drop-priced"); !found.empty())
    print_run(std::cout, *(drop_priced = representative(found)));
  std::optional<purchase_summary> purchase, purchase_drop, purchase_drop_paced;
  if (auto found = of_phase(purchases, "purchase"); !found.empty()) purchase = representative(found);
  if (auto found = of_phase(purchases, "purchase-drop"); !found.empty()) purchase_drop = representative(found);
  if (auto found = of_phase(purchases, "purchase-drop-paced"); !found.empty())
    purchase_drop_paced = representative(found);
  const purchase_summary* reported_purchases[] = {purchase ? &*purchase : nullptr,
                                                  purchase_drop ? &*purchase_drop : nullptr,
                                                  purchase_drop_paced ? &*purchase_drop_paced : nullptr};
  if (purchase || purchase_drop || purchase_drop_paced) {
    print_purchase_header(std::cout);
    for (const auto* run : reported_purchases)
      if (run) print_purchase(std::cout, *run);
    for (const auto* run : reported_purchases)
      if (run) {
        std::cout << run->phase << " round " << run->round << ":\n";
        print_purchase_details(std::cout, *run);
      }
  }
  std::cout << "\n";
  print_verdicts(std::cout, baseline ? &*baseline : nullptr, sustained ? &*sustained : nullptr, drop ? &*drop : nullptr);
  print_priced_comparison(std::cout, sustained ? &*sustained : nullptr, drop ? &*drop : nullptr,
                          sustained_priced ? &*sustained_priced : nullptr, drop_priced ? &*drop_priced : nullptr);
  print_purchase_verdicts(std::cout, reported_purchases[0], reported_purchases[1], reported_purchases[2],
                          sustained ? &*sustained : nullptr, drop ? &*drop : nullptr, chosen.step_p99_ms_max);
  std::cout << "verified after every node run: holds answered = ticket_types.held = held holds rows, 0 errors, "
               "no oversell; after every baseline: transactions = reservations = sold\n";
  if (!purchases.empty())
    std::cout << "verified after every purchase run: 0 errors; sold = holds paid = succeeded payments = valid tickets "
                 "<= capacity, nothing left held; no checkout with two succeeded payments, no payment with two "
                 "succeeded attempts, none unsettled; every capture's order tickets_issued or refunded; sandbox "
                 "captures and amounts = the database's\n";
  return 0;
}
