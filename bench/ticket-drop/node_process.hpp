#pragma once

// One run of the real `eventstripe` binary: started with the bench's flags, its stdout and
// stderr in a log file (so a full pipe can never stall it), its port read from the
// "serving on http://127.0.0.1:PORT" line, stopped with SIGTERM like an orchestrator would.
// The purchase phases run the sandbox payment provider (`node sandbox/server.mjs`) the same
// way, reading its "sandbox listening on http://127.0.0.1:PORT" line.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace eventstripe::bench {

class node_process {
 public:
  // `port_marker` precedes "127.0.0.1:PORT" on the line that says the process serves.
  node_process(std::string binary, std::vector<std::string> flags, std::string log_path,
               std::string port_marker = "serving on http://");
  // Kills a node that is still running (after a failure of the bench itself).
  ~node_process();
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  // Starts the node and waits for its "serving on" line; returns the port. Throws with the
  // log's last lines when it exits or stays silent past `timeout`.
  std::uint16_t start(std::chrono::seconds timeout);

  // SIGTERM, then SIGKILL after `timeout`; returns the exit code (128 + signal if killed).
  int stop(std::chrono::seconds timeout);

  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  std::string log_tail() const;

  std::string binary_;
  std::vector<std::string> flags_;
  std::string log_path_;
  std::string port_marker_;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago: the node of a purchase phase needs its
// port before it starts, because the sandbox started first must know where to send webhooks.
std::uint16_t pick_free_port();

}  // namespace eventstripe::bench
