#include "storage/reconciliation.hpp"

#include <map>

#include <pqxx/pqxx>

#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

// Every check as one statement, so all of them read one snapshot; it stores the findings it
// answers (at most $3 per kind) under run $1, found at $4 (unix ms). $2 is the capture grace in
// milliseconds.
//
// What each kind compares (amounts are minor units; "captured" means payments.captured_minor):
//   capture_without_tickets_or_refund  a succeeded payment with captured > 0 whose order is not
//       tickets_issued, partially_refunded or refunded (refund_pending counts only while the order
//       has tickets, i.e. a partial refund on an issued order), once both the payment and the
//       order have been unchanged for the grace;
//   capture_on_unsuccessful_payment    a payment that is not succeeded but captured > 0, or one of
//       whose provider attempts succeeded;
//   several_captures_for_one_order     a checkout with more than one payment that took money
//       (succeeded, captured > 0, or a succeeded attempt), or a payment with more than one
//       succeeded attempt;
//   ticket_without_capture             valid tickets whose payment is not succeeded, captured
//       nothing of a non-zero amount, or belongs to another checkout (one finding per checkout
//       and payment);
//   tickets_not_matching_order         per (checkout, ticket type): more tickets than the hold's
//       quantity (or tickets with no hold) in any order; and for a tickets_issued or
//       partially_refunded order, fewer tickets than the quantity or a hold that is not sold
//       (or refunded): its seats are not counted as sold (one finding per checkout);
//   amount_mismatch                    for a live payment (not declined, failed or cancelled):
//       captured <> amount when succeeded; amount <> the quote recomputed from the order's holds;
//       the payment's currency <> the holds' currency;
//   refund_exceeds_capture             pending and succeeded refunds of a payment add up to more
//       than it captured;
//   refunded_total_mismatch            payments.refunded_minor <> the sum of its succeeded
//       refunds, or the order is refunded while less than captured went back.
//
// The quote is recomputed exactly as actors/pricing/quote.cpp computes it (make_quote), from the
// columns 0005_hold_pricing.sql locks on every hold and the checkout's tax_mode and
// reverse_charge. Per hold, with P = unit_price_minor, d = discount_per_ticket_minor,
// q = quantity, r = tax_rate_bp, and round() half away from zero (div(2n + m, 2m) for n >= 0):
//   fee per ticket f = 0 if P - d = 0, else min(fee_fixed_minor + round((P - d) * fee_percent_bp / 10000), fee_cap_minor)
//   charged C = q * (P - d) + (fee_absorbed ? 0 : q * f)
//   inclusive: gross = C, or C - round(C * r / (10000 + r)) under reverse charge
//   exclusive: gross = C + round(C * r / 10000), or C under reverse charge
// and the order's amount is the sum of its holds' gross. A change to those rules must change this
// SQL too; the e2e test pays orders with fees, caps, promo codes, both tax modes and reverse
// charge and expects no amount_mismatch for them.
const char* const reconciliation_sql = R"sql(
WITH
attempt_captures AS (
  SELECT payment_id, count(*) AS captures, string_agg(provider || ' #' || attempt, ', ' ORDER BY attempt) AS attempts
    FROM payment_attempts WHERE status = 'succeeded' GROUP BY payment_id
),
capturing AS (
  SELECT p.id, p.checkout_id, p.status, p.captured_minor, p.currency, p.created_at,
         coalesce(a.captures, 0) AS attempt_captures, a.attempts
    FROM payments p LEFT JOIN attempt_captures a ON a.payment_id = p.id
   WHERE p.status = 'succeeded' OR p.captured_minor > 0 OR a.captures IS NOT NULL
),
refund_sums AS (
  SELECT payment_id,
         coalesce(sum(amount_minor) FILTER (WHERE status = 'succeeded'), 0) AS succeeded_minor,
         coalesce(sum(amount_minor) FILTER (WHERE status IN ('pending', 'succeeded')), 0) AS claimed_minor
    FROM refunds GROUP BY payment_id
),
ticket_counts AS (
  SELECT checkout_id, ticket_type_id, count(*) AS tickets FROM tickets GROUP BY checkout_id, ticket_type_id
),
line_problems AS (
  SELECT k.checkout_id,
         CASE WHEN h.checkout_id IS NULL THEN format('%s: %s ticket(s) but the order has no such line', k.ticket_type_id, k.tickets)
              ELSE format('%s: %s ticket(s) for %s seat(s)', k.ticket_type_id, k.tickets, h.quantity) END AS problem
    FROM ticket_counts k LEFT JOIN holds h ON h.checkout_id = k.checkout_id AND h.ticket_type_id = k.ticket_type_id
   WHERE h.checkout_id IS NULL OR k.tickets > h.quantity
  UNION ALL
  SELECT h.checkout_id,
         format('%s: %s seat(s) (hold %s), %s ticket(s)', h.ticket_type_id, h.quantity, h.status, coalesce(k.tickets, 0))
    FROM holds h JOIN checkouts c ON c.id = h.checkout_id
    LEFT JOIN ticket_counts k ON k.checkout_id = h.checkout_id AND k.ticket_type_id = h.ticket_type_id
   WHERE c.order_status IN ('tickets_issued', 'partially_refunded')
     AND (coalesce(k.tickets, 0) < h.quantity OR h.status NOT IN ('sold', 'refunded'))
),
quotes AS (
  SELECT h.checkout_id, sum(g.gross) AS gross_minor, string_agg(DISTINCT h.currency, ',') AS currencies
    FROM holds h JOIN checkouts c ON c.id = h.checkout_id
   CROSS JOIN LATERAL (SELECT (h.unit_price_minor - h.discount_per_ticket_minor)::numeric AS price) a
   CROSS JOIN LATERAL (SELECT CASE WHEN a.price = 0 THEN 0
                              ELSE least(h.fee_fixed_minor + div(2 * a.price * h.fee_percent_bp + 10000, 20000), h.fee_cap_minor)
                              END AS fee) f
   CROSS JOIN LATERAL (SELECT h.quantity * a.price + CASE WHEN h.fee_absorbed THEN 0 ELSE h.quantity * f.fee END AS charged) ch
   CROSS JOIN LATERAL (SELECT CASE WHEN c.tax_mode = 'inclusive'
                              THEN ch.charged - CASE WHEN c.reverse_charge
                                   THEN div(2 * ch.charged * h.tax_rate_bp + 10000 + h.tax_rate_bp, 2 * (10000 + h.tax_rate_bp))
                                   ELSE 0 END
                              ELSE ch.charged + CASE WHEN c.reverse_charge THEN 0
                                   ELSE div(2 * ch.charged * h.tax_rate_bp + 10000, 20000) END
                              END AS gross) g
   WHERE h.checkout_id IN (SELECT checkout_id FROM payments WHERE status NOT IN ('declined', 'failed', 'cancelled'))
   GROUP BY h.checkout_id
),
found AS (
  SELECT 'capture_without_tickets_or_refund'::text AS kind, p.id AS payment_id, p.checkout_id,
         format('captured %s %s, but the order is %s (since %s): no tickets issued and no refund', p.captured_minor,
                p.currency, coalesce(c.order_status, 'not started'),
                coalesce(to_char(c.order_updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'unknown')) AS detail
    FROM payments p JOIN checkouts c ON c.id = p.checkout_id
   WHERE p.status = 'succeeded' AND p.captured_minor > 0
     AND coalesce(c.order_status, '') NOT IN ('tickets_issued', 'partially_refunded', 'refunded')
     AND NOT (c.order_status = 'refund_pending' AND EXISTS (SELECT 1 FROM tickets t WHERE t.checkout_id = c.id))
     AND p.updated_at < now() - $2::bigint * interval '1 millisecond'
     AND coalesce(c.order_updated_at, p.updated_at) < now() - $2::bigint * interval '1 millisecond'
  UNION ALL
  SELECT 'capture_on_unsuccessful_payment', id, checkout_id,
         format('the payment is %s but captured %s %s', status, captured_minor, currency) ||
         coalesce('; attempt ' || attempts || ' succeeded at the provider', '')
    FROM capturing WHERE status <> 'succeeded'
  UNION ALL
  SELECT 'several_captures_for_one_order', (array_agg(id ORDER BY created_at DESC, id DESC))[1], checkout_id,
         format('%s payments of the order took money: %s', count(*),
                string_agg(format('%s (%s, captured %s %s)', id, status, captured_minor, currency), ', ' ORDER BY created_at, id))
    FROM capturing GROUP BY checkout_id HAVING count(*) > 1
  UNION ALL
  SELECT 'several_captures_for_one_order', id, checkout_id,
         format('%s attempts of the payment succeeded (%s): the buyer may have been charged %s times', attempt_captures,
                attempts, attempt_captures)
    FROM capturing WHERE attempt_captures > 1
  UNION ALL
  SELECT 'ticket_without_capture', t.payment_id, t.checkout_id,
         format('%s valid ticket(s) (%s) whose payment %s', count(*), left(string_agg(t.id, ', ' ORDER BY t.id), 300),
                CASE WHEN p.checkout_id <> t.checkout_id THEN 'belongs to another checkout (' || p.checkout_id || ')'
                     WHEN p.status <> 'succeeded' THEN 'is ' || p.status
                     ELSE format('captured nothing of %s %s', p.amount_minor, p.currency) END)
    FROM tickets t JOIN payments p ON p.id = t.payment_id
   WHERE t.status = 'valid'
     AND (p.checkout_id <> t.checkout_id OR p.status <> 'succeeded' OR (p.captured_minor = 0 AND p.amount_minor > 0))
   GROUP BY t.checkout_id, t.payment_id, p.checkout_id, p.status, p.amount_minor, p.currency
  UNION ALL
  SELECT 'tickets_not_matching_order',
         (SELECT p.id FROM payments p WHERE p.checkout_id = l.checkout_id AND p.status = 'succeeded' ORDER BY p.created_at LIMIT 1),
         l.checkout_id,
         format('the order is %s; ', coalesce(c.order_status, 'not started')) ||
         left(string_agg(l.problem, '; ' ORDER BY l.problem), 500)
    FROM line_problems l JOIN checkouts c ON c.id = l.checkout_id
   GROUP BY l.checkout_id, c.order_status
  UNION ALL
  SELECT 'amount_mismatch', p.id, p.checkout_id,
         concat_ws('; ',
           CASE WHEN p.status = 'succeeded' AND p.captured_minor <> p.amount_minor
                THEN format('captured %s %s of an amount of %s', p.captured_minor, p.currency, p.amount_minor) END,
           CASE WHEN q.checkout_id IS NULL THEN 'the order has no lines to price'
                WHEN q.gross_minor <> p.amount_minor
                THEN format('the amount is %s %s, but the order''s lines priced as held come to %s', p.amount_minor,
                            p.currency, q.gross_minor) END,
           CASE WHEN q.currencies <> p.currency THEN format('paid in %s, the lines are in %s', p.currency, q.currencies) END)
    FROM payments p LEFT JOIN quotes q ON q.checkout_id = p.checkout_id
   WHERE p.status NOT IN ('declined', 'failed', 'cancelled')
     AND ((p.status = 'succeeded' AND p.captured_minor <> p.amount_minor) OR q.checkout_id IS NULL
          OR q.gross_minor <> p.amount_minor OR q.currencies <> p.currency)
  UNION ALL
  SELECT 'refund_exceeds_capture', p.id, p.checkout_id,
         format('refunds of %s %s (pending and succeeded) exceed the %s captured', r.claimed_minor, p.currency,
                p.captured_minor)
    FROM payments p JOIN refund_sums r ON r.payment_id = p.id
   WHERE r.claimed_minor > p.captured_minor
  UNION ALL
  SELECT 'refunded_total_mismatch', p.id, p.checkout_id,
         concat_ws('; ',
           CASE WHEN p.refunded_minor <> coalesce(r.succeeded_minor, 0)
                THEN format('the payment counts %s %s refunded, its succeeded refunds add up to %s', p.refunded_minor,
                            p.currency, coalesce(r.succeeded_minor, 0)) END,
           CASE WHEN c.order_status = 'refunded' AND p.status = 'succeeded' AND p.refunded_minor < p.captured_minor
                THEN format('the order is refunded, but only %s of the %s %s captured went back', p.refunded_minor,
                            p.captured_minor, p.currency) END)
    FROM payments p JOIN checkouts c ON c.id = p.checkout_id LEFT JOIN refund_sums r ON r.payment_id = p.id
   WHERE p.refunded_minor <> coalesce(r.succeeded_minor, 0)
      OR (c.order_status = 'refunded' AND p.status = 'succeeded' AND p.refunded_minor < p.captured_minor)
),
ranked AS (
  SELECT f.kind, f.payment_id, f.checkout_id, e.workspace_id, f.detail,
         row_number() OVER (PARTITION BY f.kind ORDER BY f.checkout_id, f.payment_id) AS position,
         count(*) OVER (PARTITION BY f.kind) AS kind_total
    FROM found f JOIN checkouts c ON c.id = f.checkout_id JOIN events e ON e.id = c.event_id
),
stored AS (
  INSERT INTO reconciliation_findings (run_id, kind, payment_id, checkout_id, detail, found_at)
  SELECT $1, kind, payment_id, checkout_id, detail, to_timestamp($4::double precision / 1000)
    FROM ranked WHERE position <= $3
)
SELECT kind, coalesce(payment_id, ''), checkout_id, workspace_id, detail, kind_total
  FROM ranked WHERE position <= $3 ORDER BY kind, checkout_id, payment_id
)sql";

}  // namespace

reconciliation_report run_reconciliation(pqxx::connection& connection, const std::string& run_id,
                                         const reconciliation_settings& settings) {
  reconciliation_report report;
  report.run_id = run_id;
  pqxx::work transaction{connection};
  transaction.exec("SET LOCAL statement_timeout = " + std::to_string(reconciliation_statement_timeout_ms.count()));
  // Read committed: each statement below sees what committed before it started, so a run that
  // waited here for another deletes that run's findings instead of adding to them.
  transaction.exec("SELECT pg_advisory_xact_lock(" + std::to_string(reconciliation_lock_key) + ")");
  report.started_at_ms = transaction.exec("SELECT " + sql::unix_ms("clock_timestamp()"))[0][0].as<std::int64_t>();
  transaction.exec("DELETE FROM reconciliation_findings");
  std::map<std::string, std::int64_t, std::less<>> totals;
  for (const auto& row : transaction.exec_params(reconciliation_sql, run_id,
                                                 static_cast<std::int64_t>(settings.capture_grace_ms.count()),
                                                 static_cast<std::int64_t>(reconciliation_findings_per_kind_max),
                                                 report.started_at_ms)) {
    reconciliation_finding finding{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                                   row[3].as<std::string>(), row[4].as<std::string>()};
    totals[finding.kind] = row[5].as<std::int64_t>();
    report.findings.push_back(std::move(finding));
  }
  report.finished_at_ms = transaction.exec("SELECT " + sql::unix_ms("clock_timestamp()"))[0][0].as<std::int64_t>();
  transaction.commit();
  for (auto kind : reconciliation_kinds) {
    auto found = totals.find(kind);
    report.counts.push_back({std::string{kind}, found == totals.end() ? 0 : found->second});
  }
  return report;
}

}  // namespace eventstripe::storage
