#include "storage/inventory.hpp"

#include <algorithm>
#include <set>

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "storage/connect.hpp"
#include "storage/conninfo.hpp"
#include "storage/error.hpp"
#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

using sql::timestamp;

std::string id_list(pqxx::work& transaction, const std::vector<std::string>& ids) {
  std::string list = "ARRAY[";
  for (std::size_t i = 0; i < ids.size(); ++i) list += (i ? "," : "") + transaction.quote(ids[i]);
  return list + "]::text[]";
}

// A PostgreSQL array literal of text elements, {"a","b"}, for a statement parameter; an empty
// string becomes NULL when `empty_is_null`.
template <typename Element>
std::string text_array(const std::vector<const new_hold*>& holds, Element element, bool empty_is_null = false) {
  std::string literal = "{";
  for (std::size_t i = 0; i < holds.size(); ++i) {
    if (i) literal += ',';
    const std::string& value = element(*holds[i]);
    if (empty_is_null && value.empty()) {
      literal += "NULL";
      continue;
    }
    literal += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

template <typename Element>
std::string number_array(const std::vector<const new_hold*>& holds, Element element) {
  std::string literal = "{";
  for (std::size_t i = 0; i < holds.size(); ++i) literal += (i ? "," : "") + std::to_string(element(*holds[i]));
  return literal + "}";
}

// Elements already in array-literal form (true/false, NULL, numbers).
template <typename Element>
std::string literal_array(const std::vector<const new_hold*>& holds, Element element) {
  std::string literal = "{";
  for (std::size_t i = 0; i < holds.size(); ++i) literal += (i ? "," : "") + element(*holds[i]);
  return literal + "}";
}

std::string boolean_literal(bool value) { return value ? "true" : "false"; }

// A group commit's rows go in as arrays through prepared statements: one parse and plan per
// connection instead of one per batch, whatever the batch's size.
constexpr const char* owns_shard_statement = "quota_batch_owns_shard";
constexpr const char* writer_statement = "quota_batch_writer";
constexpr const char* insert_checkouts_statement = "quota_batch_insert_checkouts";
constexpr const char* insert_holds_statement = "quota_batch_insert_holds";

void prepare_batch_statements(pqxx::connection_base& connection) {
  // The fence (DESIGN.md): FOR SHARE, so a change of owner waits for this transaction.
  connection.prepare(owns_shard_statement,
                     "SELECT 1 FROM shards WHERE shard_id = $1 AND owner_epoch = $2 AND owner_node = $3 FOR SHARE");
  connection.prepare(writer_statement,
                     "SELECT 1 FROM ticket_types WHERE id = $1 AND writer_generation = $2 FOR NO KEY UPDATE");
  // Arrays keep their order, so checkout rows go in in id order (see insert_holds).
  connection.prepare(insert_checkouts_statement,
                     "INSERT INTO checkouts (id, event_id, buyer_email, client_address, item_count, request_hash, "
                     "idempotency_key, expires_at, tax_mode, reverse_charge, buyer_vat_id) "
                     "SELECT id, event_id, email, address, items, decode(hash, 'hex'), key, "
                     "to_timestamp(expires_ms::double precision / 1000), "
                     "CASE WHEN exclusive THEN 'exclusive' ELSE 'inclusive' END, reverse_charge, vat_id "
                     "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], "
                     "$7::text[], $8::bigint[], $9::boolean[], $10::boolean[], $11::text[]) "
                     "AS c(id, event_id, email, address, items, hash, key, expires_ms, exclusive, reverse_charge, vat_id) "
                     "ON CONFLICT (id) DO NOTHING");
  connection.prepare(insert_holds_statement,
                     "INSERT INTO holds (checkout_id, ticket_type_id, quantity, unit_price_minor, currency, status, "
                     "expires_at, tier_name, promo_code_id, promo_code, discount_per_ticket_minor, fee_fixed_minor, "
                     "fee_percent_bp, fee_cap_minor, fee_absorbed, tax_rate_bp) "
                     "SELECT id, $1, quantity, price, $2, 'held', to_timestamp(expires_ms::double precision / 1000), "
                     "tier, code_id, code, discount, fee_fixed, fee_percent, fee_cap, fee_absorbed, tax_rate "
                     "FROM unnest($3::text[], $4::integer[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], "
                     "$9::text[], $10::bigint[], $11::bigint[], $12::integer[], $13::bigint[], $14::boolean[], "
                     "$15::integer[]) AS h(id, quantity, price, expires_ms, tier, code_id, code, discount, fee_fixed, "
                     "fee_percent, fee_cap, fee_absorbed, tax_rate) "
                     "ON CONFLICT (checkout_id, ticket_type_id) DO NOTHING RETURNING checkout_id");
}

// Returns the checkouts whose hold was not inserted (it existed already).
std::vector<std::string> insert_holds(pqxx::work& transaction, const quota_batch& batch) {
  // Checkout rows are inserted in id order: two quotas whose batches share multi-item checkouts
  // then take the unique-index locks in the same order and cannot deadlock.
  std::vector<const new_hold*> ordered;
  for (const auto& hold : batch.holds) ordered.push_back(&hold);
  std::sort(ordered.begin(), ordered.end(), [](auto* a, auto* b) { return a->checkout_id < b->checkout_id; });
  auto ids = text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.checkout_id; });
  auto expires = number_array(ordered, [](const new_hold& hold) { return hold.expires_at_ms; });
  // A checkout with several ticket types is written by the first of their quotas to commit.
  transaction.exec_prepared(
      insert_checkouts_statement, ids,
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.event_id; }),
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.buyer_email; }),
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.client_address; }),
      number_array(ordered, [](const new_hold& hold) { return hold.item_count; }),
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.request_hash_hex; }),
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.idempotency_key; }, true),
      expires, literal_array(ordered, [](const new_hold& hold) { return boolean_literal(hold.taxation.tax_exclusive); }),
      literal_array(ordered, [](const new_hold& hold) { return boolean_literal(hold.taxation.reverse_charge); }),
      text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.taxation.buyer_vat_id; }, true));
  std::set<std::string> inserted;
  for (const auto& row : transaction.exec_prepared(
           insert_holds_statement, batch.ticket_type_id, batch.currency, ids,
           number_array(ordered, [](const new_hold& hold) { return hold.quantity; }),
           number_array(ordered, [](const new_hold& hold) { return hold.unit_price_minor; }), expires,
           text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.pricing.tier_name; }, true),
           text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.pricing.promo_code_id; }, true),
           text_array(ordered, [](const new_hold& hold) -> const std::string& { return hold.pricing.promo_code; }, true),
           number_array(ordered, [](const new_hold& hold) { return hold.pricing.discount_per_ticket_minor; }),
           number_array(ordered, [](const new_hold& hold) { return hold.pricing.fee_fixed_minor; }),
           number_array(ordered, [](const new_hold& hold) { return hold.pricing.fee_percent_bp; }),
           literal_array(ordered,
                         [](const new_hold& hold) {
                           return hold.pricing.fee_cap_minor ? std::to_string(*hold.pricing.fee_cap_minor)
                                                             : std::string{"NULL"};
                         }),
           literal_array(ordered, [](const new_hold& hold) { return boolean_literal(hold.pricing.fee_absorbed); }),
           number_array(ordered, [](const new_hold& hold) { return hold.pricing.tax_rate_bp; })))
    inserted.insert(row[0].as<std::string>());
  std::vector<std::string> refused;
  for (const auto& hold : batch.holds)
    if (!inserted.count(hold.checkout_id)) refused.push_back(hold.checkout_id);
  return refused;
}

// The holds columns read_hold_pricing() expects, in order.
std::string hold_pricing_columns(const std::string& prefix = "") {
  return "coalesce(" + prefix + "tier_name, ''), coalesce(" + prefix + "promo_code_id, ''), coalesce(" + prefix +
         "promo_code, ''), " + prefix + "discount_per_ticket_minor, " + prefix + "fee_fixed_minor, " + prefix +
         "fee_percent_bp, " + prefix + "fee_cap_minor, " + prefix + "fee_absorbed, " + prefix + "tax_rate_bp";
}

hold_pricing_row read_hold_pricing(const pqxx::row& row, pqxx::row::size_type first) {
  return {row[first].as<std::string>(),        row[first + 1].as<std::string>(),
          row[first + 2].as<std::string>(),    row[first + 3].as<std::int64_t>(),
          row[first + 4].as<std::int64_t>(),   row[first + 5].as<std::int32_t>(),
          sql::optional_int64(row[first + 6]), row[first + 7].as<bool>(),
          row[first + 8].as<std::int32_t>()};
}

// Moves `ids` from held to `status`; false when any of them was not held any more.
bool transition(pqxx::work& transaction, const quota_batch& batch, const std::vector<std::string>& ids,
                const char* status, std::optional<std::int64_t> deadline_ms) {
  if (ids.empty()) return true;
  std::string sql = "UPDATE holds SET status = '" + std::string{status} +
                    "', updated_at = now() WHERE ticket_type_id = " + transaction.quote(batch.ticket_type_id) +
                    " AND status = 'held' AND checkout_id = ANY(" + id_list(transaction, ids) + ")";
  if (deadline_ms) sql += " AND expires_at <= " + timestamp(*deadline_ms);
  return transaction.exec(sql).affected_rows() == ids.size();
}

bool extend(pqxx::work& transaction, const quota_batch& batch) {
  // In checkout order, like the inserts: a multi-item checkout's row is updated by each quota.
  auto extensions = batch.extensions;
  std::sort(extensions.begin(), extensions.end(), [](auto& a, auto& b) { return a.checkout_id < b.checkout_id; });
  for (const auto& extension : extensions) {
    auto held = transaction.exec(
        "UPDATE holds SET expires_at = " + timestamp(extension.expires_at_ms) +
        ", updated_at = now() WHERE ticket_type_id = " + transaction.quote(batch.ticket_type_id) +
        " AND checkout_id = " + transaction.quote(extension.checkout_id) + " AND status = 'held'");
    if (held.affected_rows() != 1) return false;
    transaction.exec("UPDATE checkouts SET expires_at = " + timestamp(extension.expires_at_ms) +
                     ", extended = true WHERE id = " + transaction.quote(extension.checkout_id));
  }
  return true;
}

// Moves each of `ids` from `from` to `to` in its own savepoint; returns the ones that did not
// move (not in `from` any more, or refused by a CHECK: no seat, tier place or code use left).
// The savepoints are plain SQL: libpqxx 6.4's subtransaction sends its SAVEPOINT only on a first
// exec(), never before exec_params/exec_prepared, so a refused change used to abort the whole
// batch, and as the batch's last statement turned its COMMIT into a silent rollback.
std::vector<std::string> change_sold(pqxx::work& transaction, const quota_batch& batch,
                                     const std::vector<std::string>& ids, const char* from, const char* to) {
  std::vector<std::string> refused;
  for (const auto& checkout_id : ids) {
    transaction.exec("SAVEPOINT sold_change");
    try {
      // Prepared: (from, to) takes a handful of values, so the texts are few.
      auto moved = sql::prepared(
          transaction, std::string{"UPDATE holds SET status = '"} + to +
                           "', updated_at = now() WHERE ticket_type_id = $1 AND checkout_id = $2 AND status = '" + from + "'",
          batch.ticket_type_id, checkout_id);
      transaction.exec("RELEASE SAVEPOINT sold_change");
      if (moved.affected_rows() != 1) refused.push_back(checkout_id);
    } catch (const pqxx::check_violation&) {
      // No seat, tier place or code use left. Any other error (a deadlock, a lost connection)
      // fails the whole batch, whose outcome the quota then treats as unknown. This only works
      // because the failed statement went through exec_prepared: a failure inside exec() makes
      // libpqxx abort the transaction object, and the ROLLBACK TO below would then throw.
      transaction.exec("ROLLBACK TO SAVEPOINT sold_change");
      transaction.exec("RELEASE SAVEPOINT sold_change");
      refused.push_back(checkout_id);
    }
  }
  return refused;
}

}  // namespace

std::vector<std::int64_t> claim_all_shards(pqxx::connection& connection, const std::string& node_id,
                                           std::uint32_t shard_count) {
  pqxx::work transaction{connection};
  transaction.exec_params(
      "INSERT INTO shards (shard_id) SELECT generate_series(0, $1::integer - 1) ON CONFLICT DO NOTHING",
      static_cast<std::int64_t>(shard_count));
  auto rows = transaction.exec_params(
      "UPDATE shards SET owner_node = $1, owner_epoch = owner_epoch + 1, updated_at = now() "
      "WHERE shard_id < $2 RETURNING shard_id, owner_epoch",
      node_id, static_cast<std::int64_t>(shard_count));
  std::vector<std::int64_t> epochs(shard_count, 0);
  for (const auto& row : rows) epochs.at(row[0].as<std::size_t>()) = row[1].as<std::int64_t>();
  transaction.commit();
  return epochs;
}

// The tiers come along as one JSON array per ticket type, so every query that loads ticket types
// loads their offered (not retired) tiers in the same statement. The subquery's unqualified `id`
// is the outer ticket type's (price_tiers has no `id` column), so the columns work with or
// without a table alias.
std::string ticket_type_columns() {
  return "id, event_id, name, description, price_minor, currency, capacity, held, sold, " +
         sql::unix_ms("sale_starts_at") + ", " + sql::unix_ms("sale_ends_at") +
         ", min_per_order, max_per_order, hidden, position, tax_rate_bp, "
         "(SELECT coalesce(json_agg(json_build_object('name', pt.name, 'price_minor', pt.price_minor, 'from_ms', " +
         sql::unix_ms("pt.starts_at") + ", 'until_ms', " + sql::unix_ms("pt.ends_at") +
         ", 'quantity', pt.quantity, 'taken', pt.taken) ORDER BY pt.position), '[]'::json)::text "
         "FROM price_tiers pt WHERE pt.ticket_type_id = id AND pt.position IS NOT NULL)";
}

namespace {

template <typename Value>
std::optional<Value> optional_member(const nlohmann::json& object, const char* name) {
  const auto& member = object.at(name);
  if (member.is_null()) return std::nullopt;
  return member.get<Value>();
}

std::vector<price_tier_row> read_tiers(const std::string& json_text) {
  std::vector<price_tier_row> tiers;
  for (const auto& tier : nlohmann::json::parse(json_text))
    tiers.push_back({tier.at("name").get<std::string>(), tier.at("price_minor").get<std::int64_t>(),
                     optional_member<std::int64_t>(tier, "from_ms"), optional_member<std::int64_t>(tier, "until_ms"),
                     optional_member<std::int32_t>(tier, "quantity"), tier.at("taken").get<std::int32_t>()});
  return tiers;
}

}  // namespace

ticket_type_row read_ticket_type(const pqxx::row& row) {
  ticket_type_row type;
  type.id = row[0].as<std::string>();
  type.event_id = row[1].as<std::string>();
  type.name = row[2].as<std::string>();
  type.description = row[3].as<std::string>();
  type.price_minor = row[4].as<std::int64_t>();
  type.currency = row[5].as<std::string>();
  type.capacity = row[6].as<std::int32_t>();
  type.held = row[7].as<std::int32_t>();
  type.sold = row[8].as<std::int32_t>();
  type.sale_starts_at_ms = sql::optional_int64(row[9]);
  type.sale_ends_at_ms = sql::optional_int64(row[10]);
  type.min_per_order = row[11].as<std::int32_t>();
  type.max_per_order = row[12].as<std::int32_t>();
  type.hidden = row[13].as<bool>();
  type.position = row[14].as<std::int32_t>();
  if (!row[15].is_null()) type.tax_rate_bp = row[15].as<std::int32_t>();
  type.tiers = read_tiers(row[16].as<std::string>());
  return type;
}

result<std::vector<std::int64_t>> claim_shards_at_start(const std::string& url, const std::string& node_id,
                                                        std::uint32_t shard_count,
                                                        std::chrono::seconds connect_timeout) {
  conninfo_settings settings;
  settings.connect_timeout = connect_timeout;
  auto connection = open_connection(url, settings);
  if (!connection) return connection.error();
  try {
    return claim_all_shards(*connection.value(), node_id, shard_count);
  } catch (const std::exception& failure) {
    return error{error_code::query_failed, scrub_password(std::string{"cannot claim shards: "} + failure.what(), url)};
  }
}

std::optional<quota_snapshot> load_quota(pqxx::connection& connection, const std::string& ticket_type_id) {
  pqxx::work transaction{connection};
  auto generation = transaction.exec_params(
      "UPDATE ticket_types SET writer_generation = writer_generation + 1 WHERE id = $1 RETURNING writer_generation",
      ticket_type_id);
  if (generation.empty()) return std::nullopt;
  auto rows = transaction.exec_params("SELECT " + ticket_type_columns() + " FROM ticket_types WHERE id = $1",
                                      ticket_type_id);
  quota_snapshot snapshot;
  snapshot.writer_generation = generation[0][0].as<std::int64_t>();
  snapshot.ticket_type = read_ticket_type(rows[0]);
  auto holds = transaction.exec_params("SELECT checkout_id, quantity, " + sql::unix_ms("expires_at") +
                                           ", unit_price_minor, " + hold_pricing_columns() +
                                           " FROM holds WHERE ticket_type_id = $1 AND status = 'held'",
                                       ticket_type_id);
  for (const auto& hold : holds)
    snapshot.holds.push_back({hold[0].as<std::string>(), hold[1].as<std::int32_t>(), hold[2].as<std::int64_t>(),
                              hold[3].as<std::int64_t>(), read_hold_pricing(hold, 4)});
  transaction.commit();
  return snapshot;
}

batch_result commit_quota_batch(pqxx::connection& connection, const quota_batch& batch) {
  prepare_batch_statements(connection);
  pqxx::work transaction{connection};
  if (transaction.exec_prepared(owns_shard_statement, batch.shard, batch.epoch, batch.node_id).empty())
    return {batch_outcome::fenced, {}, {}};
  if (transaction.exec_prepared(writer_statement, batch.ticket_type_id, batch.writer_generation).empty())
    return {batch_outcome::conflict, {}, {}};  // a newer activation owns it now
  // What frees seats, tier places and code uses goes first: the quota decided this batch's new
  // holds on the counters after its releases and expiries, and the CHECKs judge each statement.
  if (!transition(transaction, batch, batch.releases, "released", std::nullopt) ||
      !transition(transaction, batch, batch.expiries, "expired", batch.expiry_now_ms) || !extend(transaction, batch))
    return {batch_outcome::conflict, {}, {}};  // rolled back by the transaction's destructor
  // The holds trigger moves the code's uses and discount from the old code to the new one.
  for (const auto& change : batch.discounts) {
    auto updated = transaction.exec_params(
        "UPDATE holds SET promo_code_id = NULLIF($3, ''), promo_code = NULLIF($4, ''), "
        "discount_per_ticket_minor = $5, updated_at = now() "
        "WHERE ticket_type_id = $1 AND checkout_id = $2 AND status = 'held'",
        batch.ticket_type_id, change.checkout_id, change.promo_code_id, change.promo_code,
        change.discount_per_ticket_minor);
    if (updated.affected_rows() != 1) return {batch_outcome::conflict, {}, {}};
  }
  batch_result result;
  result.refused_changes = change_sold(transaction, batch, batch.returns, "sold", "refunded");
  if (!transition(transaction, batch, batch.sales, "sold", std::nullopt)) return {batch_outcome::conflict, {}, {}};
  if (batch.new_capacity)
    transaction.exec_params("UPDATE ticket_types SET capacity = $1, updated_at = now() WHERE id = $2",
                            *batch.new_capacity, batch.ticket_type_id);
  for (auto& refused : change_sold(transaction, batch, batch.resales, "expired", "sold"))
    result.refused_changes.push_back(std::move(refused));
  if (!batch.holds.empty()) result.refused_holds = insert_holds(transaction, batch);
  transaction.commit();
  return result;
}

std::vector<std::string> ticket_types_with_live_holds(pqxx::connection& connection, std::int32_t shard) {
  pqxx::read_transaction transaction{connection};
  std::vector<std::string> ids;
  for (const auto& row : transaction.exec_params(
           "SELECT t.id FROM ticket_types t WHERE t.shard_id = $1 AND EXISTS "
           "(SELECT 1 FROM holds h WHERE h.ticket_type_id = t.id AND h.status = 'held')",
           shard))
    ids.push_back(row[0].as<std::string>());
  return ids;
}

}  // namespace eventstripe::storage

namespace eventstripe::storage {

std::optional<checkout_row> load_checkout(pqxx::connection& connection, const std::string& checkout_id) {
  pqxx::read_transaction transaction{connection};
  auto rows = transaction.exec_params(
      "SELECT id, event_id, buyer_email, client_address, item_count, encode(request_hash, 'hex'), "
      "coalesce(idempotency_key, ''), " +
          sql::unix_ms("expires_at") +
          ", extended, failure_code, tax_mode = 'exclusive', reverse_charge, coalesce(buyer_vat_id, ''), "
          "coalesce(order_status, '') FROM checkouts WHERE id = $1",
      checkout_id);
  if (rows.empty()) return std::nullopt;
  const auto& row = rows[0];
  checkout_row checkout{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>(), row[4].as<std::int32_t>(), row[5].as<std::string>(),
                        row[6].as<std::string>(), row[7].as<std::int64_t>(), row[8].as<bool>(), {}, {}, {}, {}};
  if (!row[9].is_null()) checkout.failure_code = row[9].as<std::int32_t>();
  checkout.taxation = {row[10].as<bool>(), row[11].as<bool>(), row[12].as<std::string>()};
  checkout.order_status = row[13].as<std::string>();
  for (const auto& line : transaction.exec_params(
           "SELECT h.ticket_type_id, t.name, h.quantity, h.unit_price_minor, h.currency, h.status, " +
               sql::unix_ms("h.expires_at") + ", " + hold_pricing_columns("h.") +
               " FROM holds h JOIN ticket_types t ON t.id = h.ticket_type_id WHERE h.checkout_id = $1 "
               "ORDER BY t.position, t.id",
           checkout_id))
    checkout.lines.push_back({line[0].as<std::string>(), line[1].as<std::string>(), line[2].as<std::int32_t>(),
                              line[3].as<std::int64_t>(), line[4].as<std::string>(), line[5].as<std::string>(),
                              line[6].as<std::int64_t>(), read_hold_pricing(line, 7)});
  return checkout;
}

}  // namespace eventstripe::storage

namespace eventstripe::storage {

std::vector<promo_line_row> live_promo_lines(pqxx::connection& connection, const std::string& event_id) {
  pqxx::read_transaction transaction{connection};
  std::vector<promo_line_row> lines;
  for (const auto& row : transaction.exec_params(
           "SELECT h.checkout_id, h.ticket_type_id, h.promo_code_id, c.buyer_email, h.quantity, "
           "h.quantity * h.discount_per_ticket_minor FROM holds h JOIN checkouts c ON c.id = h.checkout_id "
           "WHERE c.event_id = $1 AND h.promo_code_id IS NOT NULL AND h.status IN ('held', 'sold')",
           event_id))
    lines.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                     row[3].as<std::string>(), row[4].as<std::int32_t>(), row[5].as<std::int64_t>()});
  return lines;
}

bool record_checkout_failure(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                             const std::string& node_id, const std::string& checkout_id, std::int32_t failure_code) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return false;
  transaction.exec_params("UPDATE checkouts SET failure_code = $2 WHERE id = $1", checkout_id, failure_code);
  transaction.commit();
  return true;
}

}  // namespace eventstripe::storage
