#include "bench/ticket-drop/bench_database.hpp"

#include <pqxx/pqxx>

#include <cstdio>
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
  auto type = transaction.exec_params1("SELECT capacity, held, sold FROM ticket_types WHERE id = $1", ticket_type_id);
  check.capacity = type[0].as<std::int64_t>();
  check.held = type[1].as<std::int64_t>();
  check.sold = type[2].as<std::int64_t>();
  auto holds = transaction.exec_params1(
      "SELECT count(*), coalesce(sum(quantity), 0) FROM holds WHERE ticket_type_id = $1 AND status = 'held'",
      ticket_type_id);
  check.held_holds = holds[0].as<std::int64_t>();
  check.held_quantity = holds[1].as<std::int64_t>();
  auto batches = transaction.exec_params1(
      "SELECT count(*), coalesce(max(size), 0) FROM (SELECT count(*) AS size FROM holds WHERE ticket_type_id = $1 "
      "GROUP BY created_at) per_transaction",
      ticket_type_id);
  check.hold_transactions = batches[0].as<std::int64_t>();
  check.largest_hold_transaction = batches[1].as<std::int64_t>();
  return check;
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
