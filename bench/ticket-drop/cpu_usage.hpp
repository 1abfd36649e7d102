#pragma once

// CPU time spent by the parties of a drop on this shared machine: the node, the PostgreSQL
// backends serving the bench's database, the bench itself and, in the purchase phases, the
// sandbox payment provider. With the wall time it
// tells whether a run was bound by CPU (and whose) or by waiting (locks, fsync).
#include <sys/types.h>

#include <string>

namespace eventstripe::bench {

struct cpu_usage {
  double node_ms = 0;
  double database_ms = 0;  // backends whose command line names the database
  double bench_ms = 0;
  double sandbox_ms = 0;   // the sandbox provider's process, when there is one
};

// `sandbox` 0: no sandbox running.
cpu_usage measure_cpu(pid_t node, const std::string& database_name, pid_t sandbox = 0);

inline cpu_usage operator-(const cpu_usage& after, const cpu_usage& before) {
  return {after.node_ms - before.node_ms, after.database_ms - before.database_ms, after.bench_ms - before.bench_ms,
          after.sandbox_ms - before.sandbox_ms};
}

}  // namespace eventstripe::bench
