#include "storage/migrations.hpp"

#include "storage/connect.hpp"
#include "storage/sql_support.hpp"

#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <cstdio>
#include <map>
#include <optional>
#include <string>

namespace eventstripe::storage {
namespace {

// Made by the runner rather than by a migration: it must exist before the first one runs.
constexpr char const* create_history_sql = R"(CREATE TABLE IF NOT EXISTS schema_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  sha256     text
))";

std::string label(migration const& step) {
  char version[16];
  std::snprintf(version, sizeof version, "%04d", step.version);
  return std::string(version) + "_" + std::string(step.name);
}

std::optional<error> check_order(std::span<migration const> migrations) {
  int previous_version = 0;
  for (migration const& step : migrations) {
    if (step.version <= previous_version)
      return error{error_code::migration_failed,
                   "migration " + label(step) + " is out of order: versions must strictly increase from 1"};
    previous_version = step.version;
  }
  return std::nullopt;
}

// Takes the advisory lock first and only then creates the history table: concurrent
// CREATE TABLE IF NOT EXISTS can itself fail on a catalog unique index.
// The SHA-256 (hex) of a migration's bytes, sent hex-encoded ($1) so that neither the session's
// client_encoding nor the database's encoding changes them; computed by PostgreSQL so that
// storage needs no crypto library of its own.
constexpr char const* text_sha256_sql = "encode(sha256(decode($1, 'hex')), 'hex')";

void lock_history(pqxx::connection& connection, std::chrono::milliseconds lock_timeout) {
  pqxx::nontransaction session(connection);
  session.exec("SET lock_timeout = " + std::to_string(lock_timeout.count()));
  session.exec("SELECT pg_advisory_lock(" + std::to_string(migration_lock_key) + ")");
  session.exec(create_history_sql);
}

// Histories written before checksums were kept get the column, once: ALTER TABLE takes an
// exclusive lock even when there is nothing to add, which would queue every readiness probe
// behind a long reader of schema_migrations (a pg_dump) on each start.
void add_checksum_column(pqxx::connection& connection) {
  pqxx::nontransaction session(connection);
  auto const present = session.exec(
      "SELECT 1 FROM pg_attribute WHERE attrelid = 'schema_migrations'::regclass AND attname = 'sha256' "
      "AND NOT attisdropped");
  if (present.empty())
    session.exec("ALTER TABLE schema_migrations ADD COLUMN sha256 text");
}

struct recorded_step {
  std::string name;
  std::string sha256;  // empty: recorded before checksums were
};

std::map<int, recorded_step> read_history(pqxx::connection& connection) {
  pqxx::nontransaction session(connection);
  std::map<int, recorded_step> recorded;
  for (auto const& row : session.exec("SELECT version, name, coalesce(sha256, '') FROM schema_migrations"))
    recorded.emplace(row[0].as<int>(), recorded_step{row[1].as<std::string>(), row[2].as<std::string>()});
  return recorded;
}

std::string sha256_of(pqxx::connection& connection, std::string_view text) {
  pqxx::nontransaction session(connection);
  return session.exec_params1(std::string("SELECT ") + text_sha256_sql, sql::hex_of(text))[0].as<std::string>();
}

// A recorded version whose name differs means two branches used the same number, and one whose
// text differs means a migration was edited after it ran somewhere: the schema is then not what
// this binary's migrations make, so applying "the rest" on top would be guesswork. Refuse both.
std::optional<error> check_history(pqxx::connection& connection, std::span<migration const> migrations,
                                   std::map<int, recorded_step> const& recorded) {
  for (migration const& step : migrations) {
    auto const found = recorded.find(step.version);
    if (found == recorded.end())
      continue;
    if (found->second.name != step.name)
      return error{error_code::migration_failed,
                   "schema_migrations records version " + std::to_string(step.version) + " as '"
                     + found->second.name + "' but this binary's migration is " + label(step)};
    if (!found->second.sha256.empty() && found->second.sha256 != sha256_of(connection, step.sql))
      return error{error_code::migration_failed,
                   "migration " + label(step) + " was changed after it was applied to this database "
                   "(its SHA-256 differs from the one schema_migrations recorded); a change to the "
                   "schema needs a new migration"};
  }
  return std::nullopt;
}

// Rows recorded without a checksum (before checksums were kept, or by an older binary) get this
// binary's: what ran then cannot be verified any more, but from now on an edit is caught. The
// adopted versions are reported, for a warning.
std::vector<int> adopt_unchecked(pqxx::connection& connection, std::span<migration const> migrations,
                                 std::map<int, recorded_step> const& recorded) {
  std::vector<int> adopted;
  for (migration const& step : migrations) {
    auto const found = recorded.find(step.version);
    if (found == recorded.end() || !found->second.sha256.empty())
      continue;
    pqxx::work transaction(connection, "adopt");
    transaction.exec_params(std::string("UPDATE schema_migrations SET sha256 = ") + text_sha256_sql
                              + " WHERE version = $2 AND sha256 IS NULL",
                            sql::hex_of(step.sql), step.version);
    transaction.commit();
    adopted.push_back(step.version);
  }
  return adopted;
}

void apply_one(pqxx::connection& connection, migration const& step) {
  pqxx::work transaction(connection, "migration");
  transaction.exec(std::string(step.sql));
  transaction.exec_params(std::string("INSERT INTO schema_migrations (version, name, sha256) VALUES ($2, $3, ")
                            + text_sha256_sql + ")",
                          sql::hex_of(step.sql), step.version, std::string(step.name));
  transaction.commit();
}

error migration_error(std::string_view url, std::string const& step, std::exception const& failure) {
  std::string sqlstate;
  if (auto const* sql_failure = dynamic_cast<pqxx::sql_error const*>(&failure))
    sqlstate = sql_failure->sqlstate();
  std::string reason = failure.what();
  while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' '))
    reason.pop_back();
  return error{error_code::migration_failed,
               "migrating " + describe_target(url) + " failed while " + step + ": " + reason,
               sqlstate};
}

} // namespace

result<migrate_report> apply_migrations(std::string_view url, std::span<migration const> migrations,
                                        migrate_settings const& settings) {
  if (auto invalid = check_order(migrations))
    return *invalid;
  conninfo_settings connect_settings;
  connect_settings.connect_timeout = settings.connect_timeout;
  connect_settings.application_name = "eventstripe-migrate";
  auto opened = open_connection(url, connect_settings);
  if (!opened)
    return opened.error();
  pqxx::connection& connection = *opened.value();
  // The advisory lock is released when `opened` closes the connection, on every path.
  std::string step = "waiting for the migration lock (is another node migrating?)";
  try {
    lock_history(connection, settings.lock_timeout);
    step = "adding the checksum column to schema_migrations";
    add_checksum_column(connection);
    step = "reading schema_migrations";
    std::map<int, recorded_step> recorded = read_history(connection);
    if (auto mismatch = check_history(connection, migrations, recorded))
      return *mismatch;
    step = "recording the checksums of migrations applied before they were kept";
    migrate_report report;
    report.adopted_versions = adopt_unchecked(connection, migrations, recorded);
    for (migration const& pending : migrations) {
      if (recorded.contains(pending.version))
        continue;
      step = "applying " + label(pending);
      apply_one(connection, pending);
      recorded.emplace(pending.version, recorded_step{std::string(pending.name), {}});
      ++report.applied_count;
    }
    report.schema_version = recorded.empty() ? 0 : recorded.rbegin()->first;
    return report;
  } catch (std::exception const& failure) {
    return migration_error(url, step, failure);
  }
}

result<migrate_report> migrate(std::string_view url, migrate_settings const& settings) {
  return apply_migrations(url, embedded_migrations(), settings);
}

int expected_schema_version() {
  auto const migrations = embedded_migrations();
  return migrations.empty() ? 0 : migrations.back().version;
}

} // namespace eventstripe::storage
