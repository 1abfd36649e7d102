#pragma once

// The reconciliation checks (issue 5): SQL that proves the payments' promise from what is stored,
// whatever the actors believed — every captured payment ends as one order with issued tickets or
// a refund, every valid ticket has a captured payment, and the amounts agree with the quote and
// with the refunds. A run replaces the stored findings (reconciliation_findings) with its own, so
// the table always holds the latest run's, whichever node ran it.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {

// The kinds of mismatch, as stored in reconciliation_findings.kind and labelled on the metric.
// What each compares is documented next to its SQL in reconciliation.cpp.
inline constexpr std::array<std::string_view, 8> reconciliation_kinds = {
    "capture_without_tickets_or_refund", "capture_on_unsuccessful_payment", "several_captures_for_one_order",
    "ticket_without_capture",            "tickets_not_matching_order",      "amount_mismatch",
    "refund_exceeds_capture",            "refunded_total_mismatch",
};

// Findings of one kind kept (stored and answered) per run; the count per kind stays exact.
inline constexpr std::size_t reconciliation_findings_per_kind_max = 1000;
// A run's statements may take this long (the pool's default statement timeout is shorter).
inline constexpr std::chrono::milliseconds reconciliation_statement_timeout_ms{60'000};
// Runs on several nodes (or an on-demand run during a periodic one) take turns on this
// transaction-level advisory lock ("EvStrRec").
inline constexpr std::int64_t reconciliation_lock_key = 0x4576537472526563;

struct reconciliation_finding {
  std::string kind;
  std::string payment_id;  // empty when the finding is about the order as a whole
  std::string checkout_id;
  std::string workspace_id;  // the checkout's event's workspace: organizers see their own only
  std::string detail;        // one sentence for a person: what disagrees, with the amounts
};

struct reconciliation_count {
  std::string kind;
  std::int64_t count = 0;  // exact, also when more than reconciliation_findings_per_kind_max were found
};

struct reconciliation_report {
  std::string run_id;
  // Unix ms on the database's clock: when the run began reading (after waiting for any other run;
  // stored as the findings' found_at) and when it had read everything.
  std::int64_t started_at_ms = 0;
  std::int64_t finished_at_ms = 0;
  std::vector<reconciliation_count> counts;        // every kind of reconciliation_kinds, in that order
  std::vector<reconciliation_finding> findings;    // by kind, then checkout
};

struct reconciliation_settings {
  // A captured payment whose order has not moved on for this long is a mismatch; a younger one
  // may be being fulfilled right now (quotas selling its seats, tickets being signed).
  std::chrono::milliseconds capture_grace_ms{60'000};
};

// Runs every check in one transaction (read committed; the findings come from one statement, so
// from one snapshot), replaces the stored findings with this run's under `run_id`, commits and
// answers them. Blocking: run it as a pool job. Throws what libpqxx throws. Each run reads every
// payment, attempt, refund, ticket and paid order's holds once (hash joins, no per-row queries),
// bounded by reconciliation_statement_timeout_ms; a platform whose history outgrows that needs
// the checks windowed by updated_at.
reconciliation_report run_reconciliation(pqxx::connection& connection, const std::string& run_id,
                                         const reconciliation_settings& settings = {});

}  // namespace eventstripe::storage
