#include "bench/ticket-drop/spread.hpp"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>

#include "bench/ticket-drop/error_counts.hpp"
#include "bench/ticket-drop/generator_clock.hpp"

namespace eventstripe::bench {
namespace {

// Every child has reported ready before the start is set; this margin lets the last "go" reach
// its child before the first request is due.
constexpr std::int64_t start_margin_ns = 50'000'000;

struct child {
  pid_t pid = -1;
  int ready_fd = -1;  // the child writes one byte when its connections are open and checked
  int go_fd = -1;     // the parent writes the common start instant
  std::string result_path;
};

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// A child's result as lines of text, read back by the parent.
void write_result(const std::string& path, const drop_result& result) {
  std::ofstream out{path};
  out << "counts " << result.held << ' ' << result.sold_out << ' ' << result.errors << ' ' << result.wall_ns << ' '
      << result.last_hold_ns << '\n';
  for (const auto& [kind, count] : result.error_kinds) out << "kind " << count << ' ' << one_line(kind) << '\n';
  for (const auto& sample : result.error_samples) out << "sample " << one_line(sample) << '\n';
  for (auto latency : result.latencies_ns) out << "latency " << latency << '\n';
}

// The first line of a child's result: its counts, or the failure it reported.
std::string first_line(std::ifstream& in, const std::string& path) {
  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error("a generator process left no result in " + path);
  if (line.starts_with("failure ")) throw std::runtime_error("a generator process failed: " + line.substr(8));
  return line;
}

void merge_error_line(const std::string& line, std::map<std::string, std::size_t>& kinds,
                      std::vector<std::string>& samples) {
  if (line.starts_with("kind ")) {
    std::istringstream kind{line.substr(5)};
    std::size_t count = 0;
    kind >> count;
    std::string name;
    std::getline(kind >> std::ws, name);
    kinds[name] += count;
  } else if (line.starts_with("sample ") && samples.size() < error_samples_max) {
    samples.push_back(line.substr(7));
  }
}

void merge_result(const std::string& path, drop_result& merged) {
  std::ifstream in{path};
  auto line = first_line(in, path);
  std::istringstream counts{line.substr(7)};
  std::size_t held = 0, sold_out = 0, errors = 0;
  std::int64_t wall_ns = 0, last_hold_ns = 0;
  counts >> held >> sold_out >> errors >> wall_ns >> last_hold_ns;
  merged.held += held;
  merged.sold_out += sold_out;
  merged.errors += errors;
  merged.wall_ns = std::max(merged.wall_ns, wall_ns);
  merged.last_hold_ns = std::max(merged.last_hold_ns, last_hold_ns);
  while (std::getline(in, line)) {
    if (line.starts_with("latency ")) merged.latencies_ns.push_back(std::stoll(line.substr(8)));
    else merge_error_line(line, merged.error_kinds, merged.error_samples);
  }
}

void write_result(const std::string& path, const purchase_result& result) {
  std::ofstream out{path};
  out << "counts " << result.holds << ' ' << result.sold_out << ' ' << result.paid << ' ' << result.pay_pending << ' '
      << result.issued << ' ' << result.polls << ' ' << result.errors << ' ' << result.wall_ns << ' '
      << result.last_issued_ns << '\n';
  for (const auto& [kind, count] : result.error_kinds) out << "kind " << count << ' ' << one_line(kind) << '\n';
  for (const auto& sample : result.error_samples) out << "sample " << one_line(sample) << '\n';
  for (auto latency : result.hold_ns) out << "hold " << latency << '\n';
  for (auto latency : result.pay_ns) out << "pay " << latency << '\n';
  for (auto latency : result.tickets_ns) out << "tickets " << latency << '\n';
  for (auto latency : result.purchase_ns) out << "purchase " << latency << '\n';
  for (const auto& trace : result.traces)
    out << "trace " << trace.checkout_id << ' ' << trace.hold_from_us << ' ' << trace.hold_answered_us << ' '
        << trace.pay_sent_us << ' ' << trace.pay_answered_us << ' ' << trace.issued_seen_us << '\n';
}

void merge_result(const std::string& path, purchase_result& merged) {
  std::ifstream in{path};
  auto line = first_line(in, path);
  std::istringstream counts{line.substr(7)};
  std::size_t holds = 0, sold_out = 0, paid = 0, pay_pending = 0, issued = 0, polls = 0, errors = 0;
  std::int64_t wall_ns = 0, last_issued_ns = 0;
  counts >> holds >> sold_out >> paid >> pay_pending >> issued >> polls >> errors >> wall_ns >> last_issued_ns;
  merged.holds += holds;
  merged.sold_out += sold_out;
  merged.paid += paid;
  merged.pay_pending += pay_pending;
  merged.issued += issued;
  merged.polls += polls;
  merged.errors += errors;
  merged.wall_ns = std::max(merged.wall_ns, wall_ns);
  merged.last_issued_ns = std::max(merged.last_issued_ns, last_issued_ns);
  const std::pair<const char*, std::vector<std::int64_t>*> series[] = {{"hold ", &merged.hold_ns},
                                                                        {"pay ", &merged.pay_ns},
                                                                        {"tickets ", &merged.tickets_ns},
                                                                        {"purchase ", &merged.purchase_ns}};
  while (std::getline(in, line)) {
    bool latency = false;
    for (const auto& [prefix, values] : series)
      if (line.starts_with(prefix)) {
        values->push_back(std::stoll(line.substr(std::strlen(prefix))));
        latency = true;
      }
    if (latency) continue;
    if (line.starts_with("trace ")) {
      std::istringstream fields{line.substr(6)};
      purchase_trace trace;
      fields >> trace.checkout_id >> trace.hold_from_us >> trace.hold_answered_us >> trace.pay_sent_us >>
          trace.pay_answered_us >> trace.issued_seen_us;
      merged.traces.push_back(std::move(trace));
    } else {
      merge_error_line(line, merged.error_kinds, merged.error_samples);
    }
  }
}

// The share of `count` that child k of `processes` takes: k, k + P, k + 2P, … below count.
std::size_t share(std::size_t count, std::size_t k, std::size_t processes) {
  return count / processes + (k < count % processes ? 1 : 0);
}

// What a child does with its share: run its generator (calling start_at once its connections
// are ready) and write its result to the path.
using child_work = std::function<void(std::size_t k, std::function<std::int64_t()> start_at, const std::string& path)>;

[[noreturn]] void run_child(const child_work& work, std::size_t k, int ready_fd, int go_fd,
                            const std::string& result_path) {
  int code = 0;
  try {
    work(k,
         [ready_fd, go_fd] {
           char ready = 'r';
           if (::write(ready_fd, &ready, 1) != 1) throw std::runtime_error("cannot report ready");
           std::int64_t start = 0;
           if (::read(go_fd, &start, sizeof start) != sizeof start) throw std::runtime_error("no start from the parent");
           return start;
         },
         result_path);
  } catch (const std::exception& failure) {
    std::ofstream{result_path} << "failure " << one_line(failure.what()) << '\n';
    code = 1;
  }
  // Not exit(): the parent's destructors (its database sessions) must not run in the child.
  std::fflush(nullptr);
  ::_exit(code);
}

// Forks the children, starts them at one instant once all are ready, waits for them, and hands
// each child's result file to `merge`.
void spread(std::size_t processes, const child_work& work, const std::function<void()>& on_fire_start,
            const std::function<void()>& on_fire_end, const std::function<void(const std::string&)>& merge) {
  auto directory = std::filesystem::temp_directory_path() / ("ticket-drop-spread-" + std::to_string(::getpid()));
  std::filesystem::create_directories(directory);
  std::vector<child> children(processes);
  for (std::size_t k = 0; k < processes; ++k) {
    int ready[2], go[2];
    if (::pipe(ready) != 0 || ::pipe(go) != 0) throw std::runtime_error(std::string{"pipe: "} + std::strerror(errno));
    auto& spawned = children[k];
    spawned.result_path = (directory / ("generator-" + std::to_string(k))).string();
    spawned.pid = ::fork();
    if (spawned.pid < 0) throw std::runtime_error(std::string{"fork: "} + std::strerror(errno));
    if (spawned.pid == 0) {
      ::close(ready[0]);
      ::close(go[1]);
      run_child(work, k, ready[1], go[0], spawned.result_path);
    }
    ::close(ready[1]);
    ::close(go[0]);
    spawned.ready_fd = ready[0];
    spawned.go_fd = go[1];
  }
  // A child that fails its set-up exits without reporting ready: its read ends with 0 bytes.
  bool all_ready = true;
  for (auto& spawned : children) {
    char ready = 0;
    all_ready = ::read(spawned.ready_fd, &ready, 1) == 1 && all_ready;
  }
  if (all_ready) on_fire_start();
  auto start = now_ns() + start_margin_ns;
  for (auto& spawned : children) {
    if (all_ready) (void)!::write(spawned.go_fd, &start, sizeof start);
    ::close(spawned.go_fd);
    ::close(spawned.ready_fd);
  }
  for (auto& spawned : children) {
    int status = 0;
    while (::waitpid(spawned.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (all_ready) on_fire_end();
  std::string failure;
  for (auto& spawned : children) {
    try {
      merge(spawned.result_path);
    } catch (const std::exception& problem) {
      if (failure.empty()) failure = problem.what();
    }
  }
  std::filesystem::remove_all(directory);
  if (!failure.empty()) throw std::runtime_error(failure);
}

// Runs `generate` (run_drop or run_purchases) in `processes` children, child k on its share of
// `plan`'s `count` requests or buyers: `narrow` sets its count (and its connections), and its
// requests are the drop's k, k + P, k + 2P, … on the common start. Merges the children's results.
template <typename plan_type, typename result_type>
result_type spread_open_loop(const plan_type& plan, std::size_t count, std::size_t processes,
                             const std::function<void(plan_type& mine, std::size_t k)>& narrow,
                             result_type (*generate)(const plan_type&)) {
  auto work = [&](std::size_t k, std::function<std::int64_t()> start_at, const std::string& path) {
    plan_type mine = plan;
    narrow(mine, k);
    mine.offset = k;
    mine.stride = processes;
    mine.total = count;
    mine.on_fire_start = [] {};
    mine.on_fire_end = [] {};
    mine.start_at = std::move(start_at);
    write_result(path, generate(mine));
  };
  result_type merged;
  spread(processes, work, plan.on_fire_start, plan.on_fire_end,
         [&merged](const std::string& path) { merge_result(path, merged); });
  return merged;
}

}  // namespace

drop_result run_spread_drop(const drop_plan& plan, std::size_t processes) {
  processes = std::clamp<std::size_t>(processes, 1, std::max<std::size_t>(1, plan.requests));
  auto narrow = [&plan, processes](drop_plan& mine, std::size_t k) {
    mine.requests = share(plan.requests, k, processes);
    mine.connections = std::max<std::size_t>(1, share(plan.connections, k, processes));
  };
  return spread_open_loop<drop_plan, drop_result>(plan, plan.requests, processes, narrow, run_drop);
}

purchase_result run_spread_purchases(const purchase_plan& plan, std::size_t processes) {
  processes = std::clamp<std::size_t>(processes, 1, std::max<std::size_t>(1, plan.buyers));
  auto narrow = [&plan, processes](purchase_plan& mine, std::size_t k) {
    mine.buyers = share(plan.buyers, k, processes);
  };
  return spread_open_loop<purchase_plan, purchase_result>(plan, plan.buyers, processes, narrow, run_purchases);
}

}  // namespace eventstripe::bench
