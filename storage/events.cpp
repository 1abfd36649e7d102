#include "storage/events.hpp"

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "storage/pricing.hpp"
#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

std::string event_columns() {
  return "id, workspace_id, slug, title, description, venue_name, venue_address, venue_latitude, venue_longitude, "
         "time_zone, " +
         sql::unix_ms("starts_at") + ", " + sql::unix_ms("ends_at") +
         ", currency, tax_country, images::text, status, version, tax_mode, tax_rate_bp, fee_fixed_minor, "
         "fee_percent_bp, fee_cap_minor, fee_mode";
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
  event.tax_mode = row[17].as<std::string>();
  if (!row[18].is_null()) event.tax_rate_bp = row[18].as<std::int32_t>();
  event.fee_fixed_minor = row[19].as<std::int64_t>();
  event.fee_percent_bp = row[20].as<std::int32_t>();
  event.fee_cap_minor = sql::optional_int64(row[21]);
  event.fee_mode = row[22].as<std::string>();
  return event;
}

std::string optional_double(pqxx::work& transaction, const std::optional<double>& value) {
  return value ? transaction.quote(*value) : "NULL";
}

bool is_unique_violation_of(const pqxx::unique_violation& failure, std::string_view constraint_part) {
  return std::string_view{failure.what()}.find(constraint_part) != std::string_view::npos;
}

// The name of the first new tier whose quantity is below what its namesake has already taken.
std::optional<std::string> first_tier_below_taken(pqxx::transaction_base& transaction,
                                                  const std::string& ticket_type_id,
                                                  const std::vector<price_tier_row>& tiers) {
  for (const auto& row :
       transaction.exec_params("SELECT name, taken FROM price_tiers WHERE ticket_type_id = $1", ticket_type_id)) {
    auto name = row[0].as<std::string>();
    auto taken = row[1].as<std::int32_t>();
    for (const auto& tier : tiers)
      if (tier.quantity && tier.name == name && *tier.quantity < taken) return name;
  }
  return std::nullopt;
}

// Makes the offered tiers exactly `tiers`, in order. Tiers are matched by name, so a tier that
// stays keeps its row and its `taken` counter (a hold's later increment or decrement by name lands
// on it); positions may swap within the transaction because their uniqueness is checked at commit.
// A tier left out is deleted if nothing is taken at it and retired (position NULL) otherwise.
void write_tiers(pqxx::work& transaction, const std::string& ticket_type_id, const std::vector<price_tier_row>& tiers) {
  // A new writer generation: a quota batch priced on the old tiers can no longer commit (it
  // reloads), and the row lock orders this write against the quota's batches.
  transaction.exec_params("UPDATE ticket_types SET writer_generation = writer_generation + 1 WHERE id = $1",
                          ticket_type_id);
  std::vector<std::string> names;
  for (const auto& tier : tiers) names.push_back(tier.name);
  auto names_json = nlohmann::json(names).dump();
  const std::string left_out =
      "ticket_type_id = $1 AND NOT (name = ANY (ARRAY(SELECT json_array_elements_text($2::json))))";
  transaction.exec_params("DELETE FROM price_tiers WHERE " + left_out + " AND taken = 0", ticket_type_id, names_json);
  transaction.exec_params("UPDATE price_tiers SET position = NULL, updated_at = now() WHERE " + left_out +
                              " AND position IS NOT NULL",
                          ticket_type_id, names_json);
  for (std::size_t position = 0; position < tiers.size(); ++position) {
    const auto& tier = tiers[position];
    transaction.exec_params(
        "INSERT INTO price_tiers (ticket_type_id, name, position, price_minor, starts_at, ends_at, quantity) VALUES "
        "($1, $2, $3, $4, to_timestamp($5::double precision / 1000), to_timestamp($6::double precision / 1000), $7) "
        "ON CONFLICT (ticket_type_id, name) DO UPDATE SET position = excluded.position, price_minor = "
        "excluded.price_minor, starts_at = excluded.starts_at, ends_at = excluded.ends_at, quantity = "
        "excluded.quantity, updated_at = now()",
        ticket_type_id, tier.name, static_cast<std::int32_t>(position), tier.price_minor, tier.from_ms, tier.until_ms,
        tier.quantity);
  }
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
  snapshot.promo_codes = load_promo_codes(transaction, event_id);
  return snapshot;
}

write_outcome insert_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  try {
    transaction.exec_params(
        "INSERT INTO events (id, workspace_id, shard_id, slug, title, description, venue_name, venue_address, "
        "venue_latitude, venue_longitude, time_zone, starts_at, ends_at, currency, tax_country, images, status, "
        "version, tax_mode, tax_rate_bp, fee_fixed_minor, fee_percent_bp, fee_cap_minor, fee_mode) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, " +
            optional_double(transaction, event.venue_latitude) + ", " +
            optional_double(transaction, event.venue_longitude) + ", $9, " + sql::timestamp(event.starts_at_ms) + ", " +
            sql::timestamp(event.ends_at_ms) + ", $10, $11, $12::jsonb, $13, 1, $14, $15, $16, $17, $18, $19)",
        event.id, event.workspace_id, shard, event.slug, event.title, event.description, event.venue_name,
        event.venue_address, event.time_zone, event.currency, event.tax_country,
        nlohmann::json(event.image_urls).dump(), event.status, event.tax_mode, event.tax_rate_bp,
        event.fee_fixed_minor, event.fee_percent_bp, event.fee_cap_minor, event.fee_mode);
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
            ", currency = $8, tax_country = $9, images = $10::jsonb, status = $11, version = $12, tax_mode = $13, "
            "tax_rate_bp = $14, fee_fixed_minor = $15, fee_percent_bp = $16, fee_cap_minor = $17, fee_mode = $18, "
            "updated_at = now() WHERE id = $1 AND version = $12 - 1",
        event.id, event.slug, event.title, event.description, event.venue_name, event.venue_address, event.time_zone,
        event.currency, event.tax_country, nlohmann::json(event.image_urls).dump(), event.status, event.version,
        event.tax_mode, event.tax_rate_bp, event.fee_fixed_minor, event.fee_percent_bp, event.fee_cap_minor,
        event.fee_mode);
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
      "sale_starts_at, sale_ends_at, min_per_order, max_per_order, hidden, position, tax_rate_bp) VALUES ($1, $2, $3, "
      "$4, $5, $6, $7, $8, " +
          sql::optional_timestamp(type.sale_starts_at_ms) + ", " + sql::optional_timestamp(type.sale_ends_at_ms) +
          ", $9, $10, $11, $12, $13)",
      type.id, type.event_id, type_shard, type.name, type.description, type.price_minor, type.currency, type.capacity,
      type.min_per_order, type.max_per_order, type.hidden, type.position, type.tax_rate_bp);
  write_tiers(transaction, type.id, type.tiers);
  transaction.commit();
  return write_outcome::written;
}

write_outcome update_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type, bool replace_tiers,
                                 std::string* refused_tier) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  auto updated = transaction.exec_params(
      "UPDATE ticket_types SET name = $2, description = $3, price_minor = $4, sale_starts_at = " +
          sql::optional_timestamp(type.sale_starts_at_ms) +
          ", sale_ends_at = " + sql::optional_timestamp(type.sale_ends_at_ms) +
          ", min_per_order = $5, max_per_order = $6, hidden = $7, position = $8, tax_rate_bp = $10, updated_at = now() "
          "WHERE id = $1 AND event_id = $9",
      type.id, type.name, type.description, type.price_minor, type.min_per_order, type.max_per_order, type.hidden,
      type.position, type.event_id, type.tax_rate_bp);
  if (updated.affected_rows() != 1) return write_outcome::not_found;
  if (replace_tiers) {
    // The ticket type's row lock (taken by the UPDATE above) keeps the quota's batches out until
    // this commits, so the taken counters read here are the ones the new quantities must cover.
    if (auto refused = first_tier_below_taken(transaction, type.id, type.tiers)) {
      if (refused_tier != nullptr) *refused_tier = *refused;
      return write_outcome::tier_below_taken;
    }
    write_tiers(transaction, type.id, type.tiers);
  }
  transaction.commit();
  return write_outcome::written;
}

std::optional<std::string> tier_below_taken(pqxx::connection& connection, const std::string& ticket_type_id,
                                            const std::vector<price_tier_row>& tiers) {
  pqxx::read_transaction transaction{connection};
  return first_tier_below_taken(transaction, ticket_type_id, tiers);
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
