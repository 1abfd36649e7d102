#include "storage/row_lock_baseline.hpp"

#include <pqxx/pqxx>

#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

// Prepared once per connection (pqxx keeps the definitions and re-prepares after a reconnect):
// the conventional design at its best, like `pgbench -M prepared` in issue 3's baseline.
constexpr const char* lock_ticket_type = "row_lock_baseline_lock_ticket_type";
constexpr const char* insert_checkout = "row_lock_baseline_insert_checkout";
constexpr const char* insert_hold = "row_lock_baseline_insert_hold";

void prepare_statements(pqxx::connection& connection) {
  // Every hold of a ticket type waits on this row lock until the previous one committed or rolled back.
  connection.prepare(lock_ticket_type,
                     "SELECT t.capacity, t.held, t.sold, t.price_minor, t.currency, t.name, t.hidden, "
                     "t.min_per_order, t.max_per_order, t.event_id, " +
                         sql::unix_ms("t.sale_starts_at") + " AS sale_starts_at_ms, " + sql::unix_ms("t.sale_ends_at") +
                         " AS sale_ends_at_ms, e.status AS event_status, " + sql::unix_ms("e.ends_at") +
                         " AS event_ends_at_ms FROM ticket_types t JOIN events e ON e.id = t.event_id "
                         "WHERE t.id = $1 FOR UPDATE OF t");
  connection.prepare(insert_checkout,
                     "INSERT INTO checkouts (id, event_id, buyer_email, client_address, item_count, request_hash, "
                     "idempotency_key, expires_at) VALUES ($1, $2, $3, $4, 1, decode($5, 'hex'), NULLIF($6, ''), "
                     "to_timestamp($7::double precision / 1000)) ON CONFLICT (id) DO NOTHING");
  // The holds trigger adds the quantity to ticket_types.held; the CHECK refuses an oversell.
  connection.prepare(insert_hold,
                     "INSERT INTO holds (checkout_id, ticket_type_id, quantity, unit_price_minor, currency, status, "
                     "expires_at) VALUES ($1, $2, $3, $4, $5, 'held', to_timestamp($6::double precision / 1000))");
}

// Mirrors the event actor's prepare and the quota's decide_reserve, so both strategies refuse
// the same requests with the same errors.
row_lock_outcome judge(const pqxx::row& row, const row_lock_hold_request& request) {
  if (row["event_id"].as<std::string>() != request.event_id) return row_lock_outcome::unknown_ticket_type;
  auto status = row["event_status"].as<std::string>();
  if (status == "draft") return row_lock_outcome::event_not_found;
  if (status != "published" || request.now_ms >= row["event_ends_at_ms"].as<std::int64_t>())
    return row_lock_outcome::not_on_sale;
  if (row["hidden"].as<bool>()) return row_lock_outcome::hidden_ticket_type;
  auto sale_starts_at_ms = sql::optional_int64(row["sale_starts_at_ms"]);
  auto sale_ends_at_ms = sql::optional_int64(row["sale_ends_at_ms"]);
  if ((sale_starts_at_ms && request.now_ms < *sale_starts_at_ms) || (sale_ends_at_ms && request.now_ms >= *sale_ends_at_ms))
    return row_lock_outcome::not_on_sale;
  if (request.quantity < row["min_per_order"].as<std::int32_t>() ||
      request.quantity > row["max_per_order"].as<std::int32_t>())
    return row_lock_outcome::quantity_out_of_range;
  auto taken = row["sold"].as<std::int64_t>() + row["held"].as<std::int64_t>();
  if (taken + request.quantity > row["capacity"].as<std::int64_t>()) return row_lock_outcome::sold_out;
  return row_lock_outcome::held;
}

}  // namespace

row_lock_hold reserve_with_row_lock(pqxx::connection& connection, const row_lock_hold_request& request) {
  prepare_statements(connection);
  pqxx::work transaction{connection};
  auto rows = transaction.exec_prepared(lock_ticket_type, request.ticket_type_id);
  row_lock_hold hold;
  if (rows.empty()) return hold;  // unknown_ticket_type; the transaction rolls back
  const auto& row = rows[0];
  hold.outcome = judge(row, request);
  if (hold.outcome != row_lock_outcome::held) return hold;
  hold.ticket_type_name = row["name"].as<std::string>();
  hold.unit_price_minor = row["price_minor"].as<std::int64_t>();
  hold.currency = row["currency"].as<std::string>();
  auto inserted = transaction.exec_prepared(insert_checkout, request.checkout_id, request.event_id,
                                            request.buyer_email, request.client_address, request.request_hash_hex,
                                            request.idempotency_key, request.expires_at_ms);
  if (inserted.affected_rows() != 1) {
    hold.outcome = row_lock_outcome::checkout_exists;
    return hold;
  }
  transaction.exec_prepared(insert_hold, request.checkout_id, request.ticket_type_id, request.quantity,
                            hold.unit_price_minor, hold.currency, request.expires_at_ms);
  transaction.commit();
  return hold;
}

}  // namespace eventstripe::storage
