#include "bench/ticket-drop/cpu_usage.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace eventstripe::bench {
namespace {

// utime + stime of a process (all its threads), from /proc/<pid>/stat, in milliseconds.
double process_cpu_ms(const std::string& pid) {
  std::ifstream file{"/proc/" + pid + "/stat"};
  std::string stat;
  std::getline(file, stat);
  auto after_name = stat.rfind(')');  // the command name may contain spaces
  if (after_name == std::string::npos) return 0;
  std::istringstream fields{stat.substr(after_name + 2)};
  std::string field;
  // Fields 3..13 precede utime (14) and stime (15).
  for (int skipped = 0; skipped < 11; ++skipped) fields >> field;
  long long user_ticks = 0, system_ticks = 0;
  fields >> user_ticks >> system_ticks;
  return static_cast<double>(user_ticks + system_ticks) * 1000.0 / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

bool serves_database(const std::string& pid, const std::string& database_name) {
  std::ifstream file{"/proc/" + pid + "/cmdline"};
  std::string command;
  std::getline(file, command, '\0');
  return command.starts_with("postgres: ") && command.find(" " + database_name + " ") != std::string::npos;
}

}  // namespace

cpu_usage measure_cpu(pid_t node, const std::string& database_name, pid_t sandbox) {
  cpu_usage usage;
  usage.node_ms = process_cpu_ms(std::to_string(node));
  if (sandbox > 0) usage.sandbox_ms = process_cpu_ms(std::to_string(sandbox));
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator{"/proc", ignored}) {
    auto pid = entry.path().filename().string();
    if (pid.empty() || !std::isdigit(static_cast<unsigned char>(pid[0]))) continue;
    if (serves_database(pid, database_name)) usage.database_ms += process_cpu_ms(pid);
  }
  // The bench and its generator processes, once they have been waited for.
  for (auto who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage used{};
    ::getrusage(who, &used);
    usage.bench_ms += static_cast<double>(used.ru_utime.tv_sec + used.ru_stime.tv_sec) * 1000.0 +
                      static_cast<double>(used.ru_utime.tv_usec + used.ru_stime.tv_usec) / 1000.0;
  }
  return usage;
}

}  // namespace eventstripe::bench
