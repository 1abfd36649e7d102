#pragma once

// A throw-away database `bench_<random>` on the given PostgreSQL server for one node run, and
// the questions the bench asks it afterwards: did the drop oversell, and how many transactions
// did it take. Dropped when it goes out of scope, unless kept for a post-mortem.
#include <cstdint>
#include <string>

namespace eventstripe::bench {

// The ticket type as PostgreSQL sees it after a drop.
struct inventory_check {
  std::int64_t capacity = 0;
  std::int64_t held = 0;          // ticket_types.held, maintained by the holds triggers
  std::int64_t sold = 0;
  std::int64_t held_holds = 0;    // holds rows with status 'held'
  std::int64_t held_quantity = 0;
  // Holds of one transaction share created_at (now() is the transaction's start), so these
  // count the transactions that wrote holds and the largest of them: a group commit's batches.
  std::int64_t hold_transactions = 0;
  std::int64_t largest_hold_transaction = 0;
};

// pg_stat_database counters of this database (complete once the node's connections closed).
struct transaction_counts {
  std::int64_t commits = 0;
  std::int64_t rollbacks = 0;
};

class bench_database {
 public:
  explicit bench_database(const std::string& server_url);
  ~bench_database();
  bench_database(const bench_database&) = delete;
  bench_database& operator=(const bench_database&) = delete;

  const std::string& name() const { return name_; }
  // A key/value conninfo for this database, to hand to the node as --database.url.
  const std::string& conninfo() const { return conninfo_; }
  // Leaves the database in place for inspection.
  void keep() { kept_ = true; }

  inventory_check check(const std::string& ticket_type_id) const;
  transaction_counts counts() const;
  // Server version, fsync and synchronous_commit: what one commit costs depends on them.
  std::string server_facts() const;

 private:
  std::string server_url_;
  std::string name_;
  std::string conninfo_;
  bool kept_ = false;
};

}  // namespace eventstripe::bench
