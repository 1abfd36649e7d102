#include "storage/events.hpp"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

std::string event_columns() {
  return "id, workspace_id, slug, title, description, venue_name, venue_address, venue_latitude, venue_longitude, "
         "time_zone, " +
         sql::unix_ms("starts_at") + ", " + sql::unix_ms("ends_at") +
         ", currency, tax_country, images::text, status, version";
}

event_row read_event(const pqxx::row& row) {
  event_row event;
  event.id = row[0].as<std::string>();
  event.workspace_id = row[1].as<std::string>();
  event.slug = row[2].as<std::string>();
  event.title = row[3].as<std::string>();
  event.description = row[4].as<std::string>();
  event.venue_name = row[5].as<std::string>();
  event.venue_address = row[6].as<std::string>();
  if (!row[7].is_null()) event.venue_latitude = row[7].as<double>();
  if (!row[8].is_null()) event.venue_longitude = row[8].as<double>();
  event.time_zone = row[9].as<std::string>();
  event.starts_at_ms = row[10].as<std::int64_t>();
  event.ends_at_ms = row[11].as<std::int64_t>();
  event.currency = row[12].as<std::string>();
  event.tax_country = row[13].as<std::string>();
  event.image_urls = nlohmann::json::parse(row[14].as<std::string>()).get<std::vector<std::string>>();
  event.status = row[15].as<std::string>();
  event.version = row[16].as<std::int64_t>();
  return event;
}

std::string optional_double(pqxx::work& transaction, const std::optional<double>& value) {
  return value ? transaction.quote(*value) : "NULL";
}

bool is_unique_violation_of(const pqxx::unique_violation& failure, std::string_view constraint_part) {
  return std::string_view{failure.what()}.find(constraint_part) != std::string_view::npos;
}

}  // namespace

std::optional<event_snapshot> load_event(pqxx::connection& connection, const std::string& event_id) {
  pqxx::read_transaction transaction{connection};
  auto rows = transaction.exec_params("SELECT " + event_columns() + " FROM events WHERE id = $1", event_id);
  if (rows.empty()) return std::nullopt;
  event_snapshot snapshot;
  snapshot.event = read_event(rows[0]);
  for (const auto& row : transaction.exec_params(
           "SELECT " + ticket_type_columns() + " FROM ticket_types WHERE event_id = $1 ORDER BY position, id", event_id))
    snapshot.ticket_types.push_back(read_ticket_type(row));
  for (const auto& row : transaction.exec_params(
           "SELECT DISTINCT c.id, c.buyer_email, c.client_address FROM checkouts c JOIN holds h ON h.checkout_id = c.id "
           "WHERE c.event_id = $1 AND h.status = 'held'",
           event_id))
    snapshot.active_checkouts.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>()});
  return snapshot;
}

write_outcome insert_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  try {
    transaction.exec_params(
        "INSERT INTO events (id, workspace_id, shard_id, slug, title, description, venue_name, venue_address, "
        "venue_latitude, venue_longitude, time_zone, starts_at, ends_at, currency, tax_country, images, status, version) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, " +
            optional_double(transaction, event.venue_latitude) + ", " +
            optional_double(transaction, event.venue_longitude) + ", $9, " + sql::timestamp(event.starts_at_ms) + ", " +
            sql::timestamp(event.ends_at_ms) + ", $10, $11, $12::jsonb, $13, 1)",
        event.id, event.workspace_id, shard, event.slug, event.title, event.description, event.venue_name,
        event.venue_address, event.time_zone, event.currency, event.tax_country,
        nlohmann::json(event.image_urls).dump(), event.status);
  } catch (const pqxx::unique_violation& failure) {
    if (is_unique_violation_of(failure, "slug")) return write_outcome::slug_taken;
    throw;
  }
  transaction.commit();
  return write_outcome::written;
}

write_outcome update_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  pqxx::result updated;
  try {
    updated = transaction.exec_params(
        "UPDATE events SET slug = $2, title = $3, description = $4, venue_name = $5, venue_address = $6, "
        "venue_latitude = " +
            optional_double(transaction, event.venue_latitude) +
            ", venue_longitude = " + optional_double(transaction, event.venue_longitude) +
            ", time_zone = $7, starts_at = " + sql::timestamp(event.starts_at_ms) +
            ", ends_at = " + sql::timestamp(event.ends_at_ms) +
            ", currency = $8, tax_country = $9, images = $10::jsonb, status = $11, version = $12, updated_at = now() "
            "WHERE id = $1 AND version = $12 - 1",
        event.id, event.slug, event.title, event.description, event.venue_name, event.venue_address, event.time_zone,
        event.currency, event.tax_country, nlohmann::json(event.image_urls).dump(), event.status, event.version);
  } catch (const pqxx::unique_violation& failure) {
    if (is_unique_violation_of(failure, "slug")) return write_outcome::slug_taken;
    throw;
  }
  if (updated.affected_rows() != 1) return write_outcome::version_conflict;
  transaction.commit();
  return write_outcome::written;
}

write_outcome insert_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type, std::int32_t type_shard) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  transaction.exec_params(
      "INSERT INTO ticket_types (id, event_id, shard_id, name, description, price_minor, currency, capacity, "
      "sale_starts_at, sale_ends_at, min_per_order, max_per_order, hidden, position) VALUES ($1, $2, $3, $4, $5, $6, $7, "
      "$8, " +
          sql::optional_timestamp(type.sale_starts_at_ms) + ", " + sql::optional_timestamp(type.sale_ends_at_ms) +
          ", $9, $10, $11, $12)",
      type.id, type.event_id, type_shard, type.name, type.description, type.price_minor, type.currency, type.capacity,
      type.min_per_order, type.max_per_order, type.hidden, type.position);
  transaction.commit();
  return write_outcome::written;
}

write_outcome update_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  auto updated = transaction.exec_params(
      "UPDATE ticket_types SET name = $2, description = $3, price_minor = $4, sale_starts_at = " +
          sql::optional_timestamp(type.sale_starts_at_ms) +
          ", sale_ends_at = " + sql::optional_timestamp(type.sale_ends_at_ms) +
          ", min_per_order = $5, max_per_order = $6, hidden = $7, position = $8, updated_at = now() "
          "WHERE id = $1 AND event_id = $9",
      type.id, type.name, type.description, type.price_minor, type.min_per_order, type.max_per_order, type.hidden,
      type.position, type.event_id);
  if (updated.affected_rows() != 1) return write_outcome::not_found;
  transaction.commit();
  return write_outcome::written;
}

std::vector<event_summary> list_events(pqxx::connection& connection, const std::string& workspace_id,
                                       std::size_t limit) {
  pqxx::read_transaction transaction{connection};
  std::vector<event_summary> events;
  for (const auto& row : transaction.exec_params("SELECT id, slug, title, status, " + sql::unix_ms("starts_at") +
                                                     " FROM events WHERE workspace_id = $1 ORDER BY starts_at DESC, id "
                                                     "LIMIT $2",
                                                 workspace_id, static_cast<std::int64_t>(limit)))
    events.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                      row[3].as<std::string>(), row[4].as<std::int64_t>()});
  return events;
}

}  // namespace eventstripe::storage
