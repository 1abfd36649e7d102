#pragma once

#include "storage/error.hpp"

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Schema migrations: numbered SQL files in storage/migrations/NNNN_name.sql, embedded into the
// binary at build time (embed_migrations.cmake), applied at start by migrate(). Each is applied
// in its own transaction and recorded in schema_migrations(version, name, applied_at), all under
// one advisory lock, so nodes starting together apply each migration exactly once.
namespace eventstripe::storage {

struct migration {
  int version;           // NNNN from the file name; strictly increasing
  std::string_view name; // the file name's part after NNNN_, without .sql
  std::string_view sql;  // the file's text, possibly several statements
};

// The migrations built into this binary, ordered by version.
std::span<migration const> embedded_migrations();

// The schema version this binary needs: the highest embedded version. Readiness compares the
// database's recorded version with it.
int expected_schema_version();

// pg_advisory_lock key held while migrating: ASCII "EvStripe" as a big-endian 64-bit integer.
// Advisory locks are per database, so this only excludes migrators of the same database.
inline constexpr std::int64_t migration_lock_key = 0x4576537472697065;

struct migrate_settings {
  std::chrono::seconds connect_timeout{10};
  // Bounds the wait for the advisory lock (another node migrating) and for each migration's
  // table locks, so a stuck peer turns into a clear start-up error rather than a hang.
  std::chrono::milliseconds lock_timeout{60'000};
};

struct migrate_report {
  int applied_count = 0;  // migrations applied by this call
  int schema_version = 0; // highest version recorded after this call
  // Versions recorded before checksums were kept, whose checksum this call took from the
  // binary's text: they could not be verified (worth a warning).
  std::vector<int> adopted_versions;
};

// Applies the embedded migrations that the database has not recorded yet. Blocking: call it at
// start before the actor system serves requests.
result<migrate_report> migrate(std::string_view url, migrate_settings const& settings = {});

// As migrate(), with an explicit list (ordered by version); tests use it for failure cases.
result<migrate_report> apply_migrations(std::string_view url, std::span<migration const> migrations,
                                        migrate_settings const& settings = {});

} // namespace eventstripe::storage
