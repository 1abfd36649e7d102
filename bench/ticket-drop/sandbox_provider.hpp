#pragma once

// The sandbox payment provider (sandbox/server.mjs: Stripe's and Adyen's wire formats, signed
// webhooks) for one node run of a purchase phase: its configuration points the webhooks at the
// node's port (chosen before either starts), the node is given flags that point it at the
// sandbox, and afterwards the sandbox says what it really charged (GET /_sandbox/stats), which
// the bench sets against the payments the node committed. A fresh sandbox per run, so its totals
// are that run's.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bench/ticket-drop/node_process.hpp"

namespace eventstripe::bench {

struct sandbox_stats {
  std::int64_t created = 0;
  std::int64_t captured = 0;  // captures, over both accounts
  std::int64_t refunded = 0;
  std::int64_t declined = 0;
  std::int64_t canceled = 0;
  std::int64_t captured_minor = 0;  // EUR, the bench's currency
  std::int64_t refunded_minor = 0;
  std::map<std::string, std::int64_t> captured_by_account;
  std::int64_t webhooks_emitted = 0;
  std::int64_t webhooks_delivered = 0;
  std::int64_t webhooks_failed = 0;
  std::int64_t webhooks_dropped = 0;
  std::int64_t webhooks_pending = 0;  // queued, sending or waiting for a retry
};

class sandbox_provider {
 public:
  // `script` is sandbox/server.mjs, `interpreter` the Node.js binary ("node": found on PATH).
  sandbox_provider(std::string interpreter, std::string script, std::string directory, std::string name,
                   std::uint16_t node_port);

  // Writes the configuration and starts the sandbox; returns its port. Throws when it does not
  // start.
  std::uint16_t start(std::chrono::seconds timeout);
  // SIGTERM; the exit code (0 when it stopped cleanly).
  int stop(std::chrono::seconds timeout);
  pid_t pid() const { return process_.pid(); }
  std::uint16_t port() const { return port_; }
  const std::string& log_path() const { return process_.log_path(); }

  // The node's --payments.* flags for this sandbox (both accounts, like tests/e2e's suites).
  std::vector<std::string> node_flags() const;

  // GET /_sandbox/stats; throws when the sandbox does not answer.
  sandbox_stats stats() const;

 private:
  std::string config_path_;
  std::uint16_t node_port_;
  std::uint16_t port_ = 0;
  node_process process_;
};

}  // namespace eventstripe::bench
