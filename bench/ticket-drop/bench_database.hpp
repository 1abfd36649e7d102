#pragma once

// A throw-away database `bench_<random>` on the given PostgreSQL server for one node run, and
// the questions the bench asks it afterwards: did the drop oversell, and how many transactions
// did it take. Dropped when it goes out of scope, unless kept for a post-mortem.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

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

// The whole purchase as PostgreSQL sees it after a purchase phase: the promises of issue 5 (no
// oversell, no double charge, every capture ends as tickets or a refund) as counts that the
// bench sets against its answers and the sandbox's captures.
struct purchase_check {
  std::int64_t capacity = 0;
  std::int64_t held = 0;  // ticket_types.held / sold (the triggers' counts)
  std::int64_t sold = 0;
  std::int64_t sold_holds = 0;  // holds rows with status 'sold', and their seats
  std::int64_t sold_quantity = 0;
  std::int64_t held_quantity = 0;  // seats of holds rows still 'held'
  std::int64_t payments = 0;
  std::int64_t succeeded_payments = 0;
  std::int64_t captured_minor = 0;  // sum of payments.captured_minor
  std::int64_t unsettled_payments = 0;  // pending, requires_action, processing, unknown
  std::int64_t attempts = 0;
  std::map<std::string, std::int64_t> attempts_by_status;  // "stripe succeeded" → n
  std::int64_t checkouts_charged_twice = 0;  // checkouts with more than one succeeded payment
  std::int64_t payments_captured_twice = 0;  // payments with more than one succeeded attempt
  std::int64_t captures_without_outcome = 0;  // succeeded payments whose order is not tickets_issued / refunded
  std::map<std::string, std::int64_t> order_statuses;  // of checkouts with a payment
  std::int64_t tickets = 0;        // status 'valid'
  std::int64_t ticket_rows = 0;    // any status
  std::int64_t ticket_mismatches = 0;  // tickets_issued orders whose valid tickets ≠ their sold seats
  std::int64_t tickets_without_capture = 0;  // tickets of a checkout with no succeeded payment
  std::int64_t refunds_succeeded = 0;
  std::int64_t refunded_minor = 0;
  std::int64_t webhook_events = 0;  // distinct verified webhooks recorded
};

// How PostgreSQL read a table during a node's life (pg_stat_user_tables, complete once the
// node's sessions ended): sequential scans of a table that grows with every purchase make each
// purchase slower than the one before.
struct table_reads {
  std::string table;
  std::int64_t sequential_scans = 0;
  std::int64_t rows_read_sequentially = 0;
  std::int64_t index_scans = 0;
  std::int64_t rows = 0;  // live rows at the end
};

// Database timestamps of one paid checkout (µs since the epoch; now() of the transaction that
// wrote each one, i.e. when that transaction started), for the time breakdown of a purchase.
struct purchase_timing {
  std::string checkout_id;
  std::int64_t hold_written_us = 0;      // holds.created_at: the quota's batch
  std::int64_t payment_written_us = 0;   // payments.created_at: the payment and payment_pending
  std::int64_t attempt_written_us = 0;   // payment_attempts.created_at: the attempt and its key, before the provider call
  std::int64_t captured_written_us = 0;  // the succeeded attempt's updated_at: the capture recorded
  std::int64_t sold_written_us = 0;      // holds.updated_at of the sold hold: the quota's sell batch
  std::int64_t tickets_written_us = 0;   // tickets.created_at
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
  purchase_check check_purchases(const std::string& ticket_type_id) const;
  std::vector<purchase_timing> purchase_timings() const;
  // The tables read sequentially most (by rows), at most `tables_max` of them.
  std::vector<table_reads> sequential_reads(std::size_t tables_max) const;
  // Orders still on their way: payment_pending, paid, refund_pending.
  std::int64_t open_orders() const;
  // Server version, fsync and synchronous_commit: what one commit costs depends on them.
  std::string server_facts() const;

 private:
  std::string server_url_;
  std::string name_;
  std::string conninfo_;
  bool kept_ = false;
};

}  // namespace eventstripe::bench
