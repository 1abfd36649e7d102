#pragma once

// Small SQL helpers shared by storage's sources (not part of storage's interface).
#include <cstdint>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <pqxx/pqxx>

namespace eventstripe::storage::sql {

// Lower-case hex of `bytes`, for bytea parameters (decode($n, 'hex')).
inline std::string hex_of(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char byte : bytes) {
    hex += digits[byte >> 4];
    hex += digits[byte & 0x0f];
  }
  return hex;
}

// SQL for a unix-milliseconds literal as timestamptz.
inline std::string timestamp(std::int64_t unix_ms) {
  return "to_timestamp(" + std::to_string(unix_ms) + "::double precision / 1000)";
}

inline std::string optional_timestamp(const std::optional<std::int64_t>& unix_ms) {
  return unix_ms ? timestamp(*unix_ms) : "NULL";
}

// SQL reading a timestamptz column as unix milliseconds.
inline std::string unix_ms(const std::string& column) {
  return "(extract(epoch from " + column + ") * 1000)::bigint";
}

inline std::optional<std::int64_t> optional_int64(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<std::int64_t>();
}

// Runs `statement` as a prepared statement of the transaction's connection: parsed and planned
// once per connection instead of on every call. Unprepared, PostgreSQL spent more time planning
// a purchase's statements than running them. The name is derived from the text, so one text is
// one statement on every connection; only constant texts may come here (a text with a value in
// it would prepare a new statement per value).
template <typename... Args>
pqxx::result prepared(pqxx::transaction_base& transaction, const std::string& statement, Args&&... args) {
  char name[24];
  std::snprintf(name, sizeof name, "es_%016zx", std::hash<std::string>{}(statement));
  transaction.conn().prepare(name, statement);
  return transaction.exec_prepared(name, std::forward<Args>(args)...);
}

// The fence (DESIGN.md): the shard row is read FOR SHARE, so a change of owner (FOR UPDATE)
// waits for this transaction and every later write of the old owner sees the new epoch.
// Returns false when this node does not own the shard under `epoch`.
inline bool owns_shard(pqxx::work& transaction, std::int32_t shard, std::int64_t epoch, const std::string& node_id) {
  auto rows = prepared(transaction, "SELECT owner_node, owner_epoch FROM shards WHERE shard_id = $1 FOR SHARE", shard);
  return !rows.empty() && !rows[0][0].is_null() && rows[0][0].as<std::string>() == node_id &&
         rows[0][1].as<std::int64_t>() == epoch;
}

}  // namespace eventstripe::storage::sql

namespace eventstripe::storage {
struct ticket_type_row;
// The ticket_types columns read_ticket_type() expects, in order (defined in inventory.cpp).
std::string ticket_type_columns();
ticket_type_row read_ticket_type(const pqxx::row& row);
}  // namespace eventstripe::storage
