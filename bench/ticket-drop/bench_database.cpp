#include "bench/ticket-drop/bench_database.hpp"

#include <pqxx/pqxx>

#include <cstdio>
#include <initializer_list>
#include <iostream>
#include <random>
#include <stdexcept>

#include "storage/conninfo.hpp"

namespace eventstripe::bench {
namespace {

std::string conninfo_for(const std::string& server_url, const std::string& database_name) {
  storage::conninfo_settings settings;
  settings.database_name = database_name;
  settings.application_name = "ticket_drop";
  auto conninfo = storage::make_conninfo(server_url, settings);
  if (!conninfo) throw std::runtime_error("--database-url: " + conninfo.error().message);
  return conninfo.value();
}

std::string random_name() {
  std::random_device source;
  std::uniform_int_distribution<std::uint64_t> draw;
  char digits[17];
  std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(draw(source)));
  return std::string{"bench_"} + digits;
}

// Both checks start from the ticket type's own counts, which the holds triggers maintain.
constexpr const char* ticket_type_counts_sql = "SELECT capacity, held, sold FROM ticket_types WHERE id = $1";

// Reads a row of counts into `fields`, the first column into the first field and so on.
void read_counts(const pqxx::row& row, std::initializer_list<std::int64_t*> fields) {
  pqxx::row::size_type column = 0;
  for (auto* field : fields) *field = row[column++].as<std::int64_t>();
}

}  // namespace

bench_database::bench_database(const std::string& server_url)
    : server_url_(server_url), name_(random_name()), conninfo_(conninfo_for(server_url, name_)) {
  pqxx::connection server{conninfo_for(server_url_, "")};
  pqxx::nontransaction session{server};
  session.exec("CREATE DATABASE " + name_);
}

bench_database::~bench_database() {
  if (kept_) {
    std::cerr << "ticket_drop: kept database " << name_ << " for inspection\n";
    return;
  }
  try {
    pqxx::connection server{conninfo_for(server_url_, "")};
    pqxx::nontransaction session{server};
    session.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception& failure) {
    std::cerr << "ticket_drop: could not drop database " << name_ << ": " << failure.what() << "\n";
  }
}

inventory_check bench_database::check(const std::string& ticket_type_id) const {
  pqxx::connection connection{conninfo_};
  pqxx::read_transaction transaction{connection};
  inventory_check check;
  read_counts(transaction.exec_params1(ticket_type_counts_sql, ticket_type_id),
              {&check.capacity, &check.held, &check.sold});
  read_counts(transaction.exec_params1(
                  "SELECT count(*), coalesce(sum(quantity), 0) FROM holds WHERE ticket_type_id = $1 AND status = 'held'",
                  ticket_type_id),
              {&check.held_holds, &check.held_quantity});
  read_counts(transaction.exec_params1("SELECT count(*), coalesce(max(size), 0) FROM (SELECT count(*) AS size FROM "
                                       "holds WHERE ticket_type_id = $1 GROUP BY created_at) per_transaction",
                                       ticket_type_id),
              {&check.hold_transactions, &check.largest_hold_transaction});
  return check;
}

purchase_check bench_database::check_purchases(const std::string& ticket_type_id) const {
  pqxx::connection connection{conninfo_};
  pqxx::read_transaction transaction{connection};
  purchase_check check;
  auto count = [&transaction](const std::string& sql) { return transaction.exec1(sql)[0].as<std::int64_t>(); };
  read_counts(transaction.exec_params1(ticket_type_counts_sql, ticket_type_id),
              {&check.capacity, &check.held, &check.sold});
  read_counts(transaction.exec_params1(
                  "SELECT count(*) FILTER (WHERE status = 'sold'), coalesce(sum(quantity) FILTER (WHERE status = "
                  "'sold'), 0), coalesce(sum(quantity) FILTER (WHERE status = 'held'), 0) FROM holds "
                  "WHERE ticket_type_id = $1",
                  ticket_type_id),
              {&check.sold_holds, &check.sold_quantity, &check.held_quantity});
  read_counts(transaction.exec1(
                  "SELECT count(*), count(*) FILTER (WHERE status = 'succeeded'), coalesce(sum(captured_minor), 0), "
                  "count(*) FILTER (WHERE status IN ('pending', 'requires_action', 'processing', 'unknown')) "
                  "FROM payments"),
              {&check.payments, &check.succeeded_payments, &check.captured_minor, &check.unsettled_payments});
  check.attempts = count("SELECT count(*) FROM payment_attempts");
  for (const auto& row : transaction.exec("SELECT provider || ' ' || status, count(*) FROM payment_attempts GROUP BY 1"))
    check.attempts_by_status[row[0].as<std::string>()] = row[1].as<std::int64_t>();
  check.checkouts_charged_twice = count(
      "SELECT count(*) FROM (SELECT checkout_id FROM payments WHERE status = 'succeeded' GROUP BY checkout_id "
      "HAVING count(*) > 1) twice");
  check.payments_captured_twice = count(
      "SELECT count(*) FROM (SELECT payment_id FROM payment_attempts WHERE status = 'succeeded' GROUP BY payment_id "
      "HAVING count(*) > 1) twice");
  check.captures_without_outcome = count(
      "SELECT count(*) FROM payments p JOIN checkouts c ON c.id = p.checkout_id WHERE p.status = 'succeeded' "
      "AND (c.order_status IS NULL OR c.order_status NOT IN ('tickets_issued', 'refunded'))");
  for (const auto& row : transaction.exec(
           "SELECT coalesce(order_status, 'none'), count(*) FROM checkouts c "
           "WHERE EXISTS (SELECT 1 FROM payments p WHERE p.checkout_id = c.id) GROUP BY 1"))
    check.order_statuses[row[0].as<std::string>()] = row[1].as<std::int64_t>();
  check.tickets = count("SELECT count(*) FROM tickets WHERE status = 'valid'");
  check.ticket_rows = count("SELECT count(*) FROM tickets");
  check.ticket_mismatches = count(
      "SELECT count(*) FROM checkouts c WHERE c.order_status = 'tickets_issued' AND "
      "(SELECT count(*) FROM tickets t WHERE t.checkout_id = c.id AND t.status = 'valid') <> "
      "(SELECT coalesce(sum(h.quantity), 0) FROM holds h WHERE h.checkout_id = c.id AND h.status = 'sold')");
  check.tickets_without_capture = count(
      "SELECT count(*) FROM tickets t WHERE NOT EXISTS (SELECT 1 FROM payments p WHERE p.checkout_id = t.checkout_id "
      "AND p.status = 'succeeded')");
  read_counts(transaction.exec1("SELECT count(*), coalesce(sum(amount_minor), 0) FROM refunds WHERE status = 'succeeded'"),
              {&check.refunds_succeeded, &check.refunded_minor});
  check.webhook_events = count("SELECT count(*) FROM webhook_events");
  return check;
}

std::vector<purchase_timing> bench_database::purchase_timings() const {
  pqxx::connection connection{conninfo_};
  pqxx::read_transaction transaction{connection};
  auto micros = [](const char* column) {
    return std::string{"(extract(epoch FROM "} + column + ") * 1000000)::bigint";
  };
  auto rows = transaction.exec(
      "SELECT c.id, " + micros("min(h.created_at)") + ", " + micros("p.created_at") + ", " + micros("a.created_at") +
      ", " + micros("a.updated_at") + ", " + micros("max(h.updated_at)") + ", " +
      "(SELECT " + micros("min(t.created_at)") + " FROM tickets t WHERE t.checkout_id = c.id) "
      "FROM checkouts c JOIN holds h ON h.checkout_id = c.id AND h.status = 'sold' "
      "JOIN payments p ON p.checkout_id = c.id AND p.status = 'succeeded' "
      "JOIN payment_attempts a ON a.payment_id = p.id AND a.status = 'succeeded' "
      "GROUP BY c.id, p.created_at, a.created_at, a.updated_at");
  std::vector<purchase_timing> timings;
  timings.reserve(rows.size());
  for (const auto& row : rows)
    timings.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                       row[3].as<std::int64_t>(), row[4].as<std::int64_t>(), row[5].as<std::int64_t>(),
                       row[6].is_null() ? 0 : row[6].as<std::int64_t>()});
  return timings;
}

std::vector<table_reads> bench_database::sequential_reads(std::size_t tables_max) const {
  pqxx::connection connection{conninfo_};
  pqxx::nontransaction session{connection};
  std::vector<table_reads> tables;
  for (const auto& row : session.exec_params(
           "SELECT relname, seq_scan, seq_tup_read, coalesce(idx_scan, 0), n_live_tup FROM pg_stat_user_tables "
           "WHERE seq_scan > 0 ORDER BY seq_tup_read DESC, seq_scan DESC LIMIT $1",
           static_cast<std::int64_t>(tables_max)))
    tables.push_back({row[0].as<std::string>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
                      row[3].as<std::int64_t>(), row[4].as<std::int64_t>()});
  return tables;
}

std::int64_t bench_database::open_orders() const {
  pqxx::connection connection{conninfo_};
  pqxx::nontransaction session{connection};
  return session
      .exec1("SELECT count(*) FROM checkouts WHERE order_status IN ('payment_pending', 'paid', 'refund_pending')")[0]
      .as<std::int64_t>();
}

transaction_counts bench_database::counts() const {
  pqxx::connection connection{conninfo_};
  pqxx::nontransaction session{connection};
  // This very session has not been counted yet: PostgreSQL flushes a backend's counters later.
  auto row = session.exec_params1("SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = $1", name_);
  return {row[0].as<std::int64_t>(), row[1].as<std::int64_t>()};
}

std::string bench_database::server_facts() const {
  pqxx::connection connection{conninfo_};
  pqxx::nontransaction session{connection};
  auto version = session.exec1("SHOW server_version")[0].as<std::string>();
  auto fsync = session.exec1("SHOW fsync")[0].as<std::string>();
  auto synchronous_commit = session.exec1("SHOW synchronous_commit")[0].as<std::string>();
  return "PostgreSQL " + version + ", fsync=" + fsync + ", synchronous_commit=" + synchronous_commit;
}

}  // namespace eventstripe::bench
