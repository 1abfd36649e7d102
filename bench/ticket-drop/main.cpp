// ticket_drop: the ticket-release benchmark of issue 3. For each strategy — the row_lock
// baseline first, then the quota actors — it starts the real node on a throw-away database,
// creates a published event with one ticket type, fires the drop, checks in PostgreSQL that
// nothing was oversold, and prints both side by side, because the machine is shared and only
// figures taken in the same run compare.
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>

#include "bench/ticket-drop/bench_database.hpp"
#include "bench/ticket-drop/cpu_usage.hpp"
#include "bench/ticket-drop/drop.hpp"
#include "bench/ticket-drop/node_process.hpp"
#include "bench/ticket-drop/report.hpp"
#include "bench/ticket-drop/scenario.hpp"

namespace {

using namespace eventstripe::bench;

// One process may hold about 20,000 open files here; the node needs as many as we open.
constexpr std::size_t connections_max = 15'000;
constexpr std::size_t spare_files = 64;  // setup client, database, logs
constexpr std::size_t requests_max = 10'000'000;
constexpr std::int64_t capacity_max = 1'000'000;  // the API's own limit
constexpr int rounds_max = 10;
constexpr std::chrono::seconds node_start_timeout_s{60};
constexpr std::chrono::seconds node_stop_timeout_s{60};

struct options {
  std::string binary;
  std::string database_url;
  std::int64_t capacity = 1'000;
  std::size_t requests = 10'000;
  std::size_t connections = 1'000;
  int rounds = 2;
  std::int64_t window_ms = 0;
  std::size_t pool_size = 8;
  std::int64_t timeout_s = 120;
  std::string log_directory;
  std::vector<std::string> strategies = {"row_lock", "actor"};
  std::vector<std::string> node_flags;
  bool keep_databases = false;
};

const char* usage_text =
    "usage: ticket_drop --binary PATH --database-url URL [options]\n"
    "  --binary PATH          the eventstripe binary to measure\n"
    "  --database-url URL     a PostgreSQL server; throw-away databases bench_<random> are created on it\n"
    "  --capacity N           seats of the one ticket type (default 1000)\n"
    "  --requests N           one-ticket hold requests in the drop (default 10000)\n"
    "  --connections N        concurrent keep-alive connections (default 1000, at most 15000)\n"
    "  --rounds N             rounds of all strategies; 2: the better one is reported, 3+: the median (default 2)\n"
    "  --window-ms N          0: burst, all at once (default); N: spread the requests evenly over N ms (open loop)\n"
    "  --pool-size N          the node's database.pool_size (default 8)\n"
    "  --timeout-s N          give up on unanswered requests after N s (default 120)\n"
    "  --strategies LIST      comma-separated, in run order (default row_lock,actor)\n"
    "  --node-flag FLAG       an extra flag for the node, repeatable (e.g. --node-flag=--log.level=debug)\n"
    "  --log-dir DIR          where the node logs go (default /tmp/ticket-drop-<pid>)\n"
    "  --keep-databases       leave the bench_<random> databases for inspection (they are dropped otherwise)\n";

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

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream stream{text};
  for (std::string item; std::getline(stream, item, ',');)
    if (item != "row_lock" && item != "actor") usage_error("--strategies: unknown strategy '" + item + "'");
    else items.push_back(item);
  return items;
}

void apply(options& chosen, const std::string& flag, const std::string& value) {
  if (flag == "--binary") chosen.binary = value;
  else if (flag == "--database-url") chosen.database_url = value;
  else if (flag == "--capacity") chosen.capacity = number(flag, value, 1, capacity_max);
  else if (flag == "--requests") chosen.requests = static_cast<std::size_t>(number(flag, value, 1, requests_max));
  else if (flag == "--connections")
    chosen.connections = static_cast<std::size_t>(number(flag, value, 1, connections_max));
  else if (flag == "--rounds") chosen.rounds = static_cast<int>(number(flag, value, 1, rounds_max));
  else if (flag == "--window-ms") chosen.window_ms = number(flag, value, 0, 3'600'000);
  else if (flag == "--pool-size") chosen.pool_size = static_cast<std::size_t>(number(flag, value, 1, 256));
  else if (flag == "--timeout-s") chosen.timeout_s = number(flag, value, 1, 3'600);
  else if (flag == "--strategies") chosen.strategies = split_list(value);
  else if (flag == "--node-flag") chosen.node_flags.push_back(value);
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
  if (chosen.strategies.empty()) usage_error("--strategies: name at least one");
  if (chosen.log_directory.empty()) chosen.log_directory = "/tmp/ticket-drop-" + std::to_string(::getpid());
  return chosen;
}

// Raises the soft open-files limit to the hard one; the drop needs one file per connection.
void ensure_open_files(std::size_t connections) {
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);
  if (connections + spare_files > files.rlim_cur)
    usage_error("--connections " + std::to_string(connections) + " needs more open files than this process may have (" +
                std::to_string(files.rlim_cur) + "); split the load over several processes");
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
      << "drop: capacity " << chosen.capacity << ", " << chosen.requests << " one-ticket holds from "
      << chosen.connections << " keep-alive connections, "
      << (chosen.window_ms == 0 ? std::string{"burst (closed loop per connection)"}
                                : "open loop over " + std::to_string(chosen.window_ms) + " ms")
      << ", node pool_size " << chosen.pool_size << ", " << chosen.rounds << " round(s)\n";
}

std::vector<std::string> node_flags(const options& chosen, const std::string& strategy, const std::string& conninfo) {
  std::vector<std::string> flags = {
      "--http.port=0",
      "--database.url=" + conninfo,
      "--inventory.hold_strategy=" + strategy,
      "--inventory.address_checkouts_max=10000000",
      "--inventory.buyer_checkouts_max=1000",
      "--http.connections_max=" + std::to_string(chosen.connections + spare_files),
      "--log.level=warning",
      "--database.pool_size=" + std::to_string(chosen.pool_size),
  };
  flags.insert(flags.end(), chosen.node_flags.begin(), chosen.node_flags.end());
  return flags;
}

// Everything that must hold after a drop; each broken promise is one line.
std::vector<std::string> verify(const run_summary& run, const options& chosen, int node_exit_code) {
  auto expected = static_cast<std::int64_t>(std::min<std::size_t>(chosen.requests, chosen.capacity));
  const auto& database = run.database;
  std::vector<std::string> problems;
  auto require = [&problems](bool holds, const std::string& what) {
    if (!holds) problems.push_back(what);
  };
  require(run.errors == 0, std::to_string(run.errors) + " requests failed (expected 0)");
  require(static_cast<std::int64_t>(run.held) == expected,
          std::to_string(run.held) + " holds answered 201 (expected " + std::to_string(expected) + ")");
  require(database.capacity == chosen.capacity, "capacity in the database is " + std::to_string(database.capacity));
  require(database.held == expected, "ticket_types.held is " + std::to_string(database.held) + " (expected " +
                                         std::to_string(expected) + ")");
  require(database.sold == 0, "ticket_types.sold is " + std::to_string(database.sold) + " (expected 0)");
  require(database.held_holds == expected && database.held_quantity == expected,
          std::to_string(database.held_holds) + " held holds for " + std::to_string(database.held_quantity) +
              " seats in the holds table (expected " + std::to_string(expected) + ")");
  require(database.held + database.sold <= database.capacity, "OVERSOLD: held + sold exceeds the capacity");
  require(node_exit_code == 0, "the node exited with code " + std::to_string(node_exit_code) + " on SIGTERM");
  return problems;
}

run_summary run_once(const options& chosen, const std::string& strategy, int round, std::string& server_facts) {
  bench_database database{chosen.database_url};
  if (chosen.keep_databases) database.keep();
  if (server_facts.empty()) server_facts = database.server_facts();
  auto log_path = chosen.log_directory + "/" + database.name() + "-" + strategy + ".log";
  node_process node{chosen.binary, node_flags(chosen, strategy, database.conninfo()), log_path};
  auto port = node.start(node_start_timeout_s);
  auto target = prepare_drop_target(port, chosen.capacity);
  drop_plan plan{port, target.event_id, target.ticket_type_id, chosen.requests, chosen.connections,
                 std::chrono::milliseconds{chosen.window_ms}, std::chrono::seconds{chosen.timeout_s}};
  auto load_before = load_average();
  cpu_usage cpu_before, cpu_after;
  plan.on_fire_start = [&] { cpu_before = measure_cpu(node.pid(), database.name()); };
  plan.on_fire_end = [&] { cpu_after = measure_cpu(node.pid(), database.name()); };
  auto drop = run_drop(plan);
  auto exit_code = node.stop(node_stop_timeout_s);
  auto run = summarize(strategy, round, drop, database.check(target.ticket_type_id), database.counts(), load_before,
                       cpu_after - cpu_before);
  auto problems = verify(run, chosen, exit_code);
  if (problems.empty()) return run;
  database.keep();
  std::cerr << "ticket_drop: FAILED " << strategy << " round " << round << " (node log " << log_path << ")\n";
  for (const auto& problem : problems) std::cerr << "  - " << problem << "\n";
  for (const auto& [kind, count] : drop.error_kinds) std::cerr << "  error " << kind << ": " << count << "\n";
  for (const auto& sample : drop.error_samples) std::cerr << "  sample " << sample << "\n";
  throw std::runtime_error("the drop broke a promise; see above");
}

}  // namespace

int main(int argc, char** argv) {
  auto chosen = parse(argc, argv);
  ensure_open_files(chosen.connections);
  std::filesystem::create_directories(chosen.log_directory);
  std::vector<run_summary> runs;
  std::string server_facts;
  try {
    for (int round = 1; round <= chosen.rounds; ++round)
      for (const auto& strategy : chosen.strategies) {
        std::cerr << "ticket_drop: round " << round << ", " << strategy << " ..." << std::endl;
        runs.push_back(run_once(chosen, strategy, round, server_facts));
        print_run(std::cerr, runs.back());
      }
  } catch (const std::exception& failure) {
    std::cerr << "ticket_drop: " << failure.what() << "\n";
    return 1;
  }
  print_machine(std::cout, chosen, server_facts);
  std::cout << "\nevery run (holds, sold_out, errors: answers; hold_tx, max_batch: transactions that wrote holds "
               "and the largest; commits: the node's whole life):\n";
  print_run_header(std::cout);
  for (const auto& run : runs) print_run(std::cout, run);
  std::cout << "\nreported (" << (chosen.rounds <= 2 ? "better" : "median") << " of " << chosen.rounds
            << " round(s) by requests/s):\n";
  print_run_header(std::cout);
  std::map<std::string, run_summary> reported;
  for (const auto& strategy : chosen.strategies) {
    std::vector<run_summary> of_strategy;
    std::copy_if(runs.begin(), runs.end(), std::back_inserter(of_strategy),
                 [&strategy](const auto& run) { return run.strategy == strategy; });
    reported[strategy] = representative(of_strategy);
    print_run(std::cout, reported[strategy]);
  }
  if (reported.count("row_lock") && reported.count("actor"))
    print_comparison(std::cout << "\n", reported["row_lock"], reported["actor"]);
  std::cout << "verified after every run: holds answered = ticket_types.held = held holds rows = capacity, 0 errors, "
               "no oversell\n";
  return 0;
}
