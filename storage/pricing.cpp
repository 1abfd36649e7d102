#include "storage/pricing.hpp"

#include <string_view>

#include <pqxx/pqxx>

#include <nlohmann/json.hpp>

#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

std::string promo_code_columns() {
  return "id, event_id, code, kind, percent_off_bp, amount_minor, currency, "
         "array_to_json(ticket_type_ids)::text, " +
         sql::unix_ms("valid_from") + ", " + sql::unix_ms("valid_until") +
         ", max_uses, max_uses_per_buyer, budget_minor, active, uses, discount_spent_minor, " +
         sql::unix_ms("created_at") + ", " + sql::unix_ms("updated_at");
}

template <typename Value>
std::optional<Value> optional_field(const pqxx::field& field) {
  if (field.is_null()) return std::nullopt;
  return field.as<Value>();
}

promo_code_row read_promo_code(const pqxx::row& row) {
  promo_code_row code;
  code.id = row[0].as<std::string>();
  code.event_id = row[1].as<std::string>();
  code.code = row[2].as<std::string>();
  code.kind = row[3].as<std::string>();
  code.percent_off_bp = optional_field<std::int32_t>(row[4]);
  code.amount_minor = optional_field<std::int64_t>(row[5]);
  code.currency = row[6].as<std::string>();
  code.ticket_type_ids = nlohmann::json::parse(row[7].as<std::string>()).get<std::vector<std::string>>();
  code.valid_from_ms = optional_field<std::int64_t>(row[8]);
  code.valid_until_ms = optional_field<std::int64_t>(row[9]);
  code.max_uses = optional_field<std::int32_t>(row[10]);
  code.max_uses_per_buyer = optional_field<std::int32_t>(row[11]);
  code.budget_minor = optional_field<std::int64_t>(row[12]);
  code.active = row[13].as<bool>();
  code.uses = row[14].as<std::int32_t>();
  code.discount_spent_minor = row[15].as<std::int64_t>();
  code.created_at_ms = row[16].as<std::int64_t>();
  code.updated_at_ms = row[17].as<std::int64_t>();
  return code;
}

// Statement parameters for the nullable columns (libpqxx sends an empty optional as NULL).
// Times go in as unix milliseconds and are converted by the statement (NULL stays NULL).
std::string optional_time_parameter(int number) {
  return "to_timestamp($" + std::to_string(number) + "::double precision / 1000)";
}

std::string ticket_type_ids_json(const promo_code_row& code) { return nlohmann::json(code.ticket_type_ids).dump(); }

// The scope as a text[], in the order given.
std::string ticket_type_ids_parameter(int number) {
  return "ARRAY(SELECT value FROM json_array_elements_text($" + std::to_string(number) +
         "::json) WITH ORDINALITY AS scope(value, ordinal) ORDER BY ordinal)";
}

bool names_constraint(const pqxx::sql_error& failure, std::string_view constraint) {
  return std::string_view{failure.what()}.find(constraint) != std::string_view::npos;
}

}  // namespace

std::vector<promo_code_row> load_promo_codes(pqxx::transaction_base& transaction, const std::string& event_id) {
  std::vector<promo_code_row> codes;
  auto rows = transaction.exec_params(
      "SELECT " + promo_code_columns() + " FROM promo_codes WHERE event_id = $1 ORDER BY created_at, id", event_id);
  for (const auto& row : rows) codes.push_back(read_promo_code(row));
  return codes;
}

namespace {

// One fenced write of a promo code that answers the written row. The database's constraints
// decide duplicates (the case-insensitive unique code) and limits below the counters.
template <class Statement>
write_outcome write_promo_code(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                               const std::string& node_id, promo_code_row& written, Statement statement) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, shard, epoch, node_id)) return write_outcome::fenced;
  pqxx::result rows;
  try {
    rows = statement(transaction);
  } catch (const pqxx::unique_violation& failure) {
    if (names_constraint(failure, "promo_codes_event_id_code_key")) return write_outcome::duplicate_code;
    throw;
  } catch (const pqxx::check_violation& failure) {
    // The counters are the quota's: the database knows them exactly, the caller may not.
    if (names_constraint(failure, "promo_within_max_uses") || names_constraint(failure, "promo_within_budget"))
      return write_outcome::below_usage;
    throw;
  }
  if (rows.empty()) return write_outcome::not_found;
  written = read_promo_code(rows[0]);
  transaction.commit();
  return write_outcome::written;
}

}  // namespace

write_outcome insert_promo_code(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                const std::string& node_id, const promo_code_row& code, promo_code_row& written) {
  return write_promo_code(connection, shard, epoch, node_id, written, [&code](pqxx::work& transaction) {
    return transaction.exec_params(
        "INSERT INTO promo_codes (id, event_id, code, kind, percent_off_bp, amount_minor, currency, ticket_type_ids, "
        "valid_from, valid_until, max_uses, max_uses_per_buyer, budget_minor, active) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, " +
            ticket_type_ids_parameter(8) + ", " + optional_time_parameter(9) + ", " + optional_time_parameter(10) +
            ", $11, $12, $13, $14) RETURNING " + promo_code_columns(),
        code.id, code.event_id, code.code, code.kind, code.percent_off_bp, code.amount_minor, code.currency,
        ticket_type_ids_json(code), code.valid_from_ms, code.valid_until_ms, code.max_uses, code.max_uses_per_buyer,
        code.budget_minor, code.active);
  });
}

write_outcome update_promo_code(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                const std::string& node_id, const promo_code_row& code, promo_code_row& written) {
  return write_promo_code(connection, shard, epoch, node_id, written, [&code](pqxx::work& transaction) {
    return transaction.exec_params(
        "UPDATE promo_codes SET code = $3, percent_off_bp = $4, amount_minor = $5, currency = $6, "
        "ticket_type_ids = " +
            ticket_type_ids_parameter(7) + ", valid_from = " + optional_time_parameter(8) +
            ", valid_until = " + optional_time_parameter(9) +
            ", max_uses = $10, max_uses_per_buyer = $11, budget_minor = $12, active = $13, updated_at = now() "
            "WHERE id = $1 AND event_id = $2 RETURNING " +
            promo_code_columns(),
        code.id, code.event_id, code.code, code.percent_off_bp, code.amount_minor, code.currency,
        ticket_type_ids_json(code), code.valid_from_ms, code.valid_until_ms, code.max_uses, code.max_uses_per_buyer,
        code.budget_minor, code.active);
  });
}

std::optional<std::vector<promo_code_row>> list_promo_codes(pqxx::connection& connection,
                                                            const std::string& workspace_id,
                                                            const std::string& event_id) {
  pqxx::read_transaction transaction{connection};
  if (transaction.exec_params("SELECT 1 FROM events WHERE id = $1 AND workspace_id = $2", event_id, workspace_id)
          .empty())
    return std::nullopt;
  return load_promo_codes(transaction, event_id);
}

std::optional<promo_code_row> find_promo_code(pqxx::connection& connection, const std::string& workspace_id,
                                              const std::string& event_id, const std::string& promo_code_id) {
  pqxx::read_transaction transaction{connection};
  auto rows = transaction.exec_params("SELECT " + promo_code_columns() +
                                          " FROM promo_codes p WHERE p.id = $1 AND p.event_id = $2 AND EXISTS "
                                          "(SELECT 1 FROM events e WHERE e.id = p.event_id AND e.workspace_id = $3)",
                                      promo_code_id, event_id, workspace_id);
  if (rows.empty()) return std::nullopt;
  return read_promo_code(rows[0]);
}

}  // namespace eventstripe::storage
