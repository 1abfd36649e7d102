#include "storage/payments.hpp"

#include <stdexcept>

#include <pqxx/pqxx>

#include "storage/connect.hpp"
#include "storage/sql_support.hpp"

namespace eventstripe::storage {
namespace {

// "a,b,c" (an array_to_string of ids, which never contain commas) -> {"a", "b", "c"}.
std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> items;
  for (std::size_t start = 0; start < list.size();) {
    auto end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    if (end > start) items.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return items;
}

// A text[] literal of `items`, each quoted as an SQL string inside the array.
std::string text_array_literal(const std::vector<std::string>& items) {
  std::string literal = "{";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  return literal + "}";
}

std::optional<std::string> nullable(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

const std::string payment_columns =
    "id, checkout_id, event_id, workspace_id, method, method_token, buyer_country, holder_name, amount_minor, "
    "currency, status, coalesce(provider, ''), coalesce(provider_reference, ''), captured_minor, refunded_minor, "
    "coalesce(decline_code, ''), coalesce(failure_message, ''), coalesce(action_url, ''), "
    "coalesce(idempotency_key, ''), encode(request_hash, 'hex'), " +
    sql::unix_ms("created_at") + ", return_url";

payment_row read_payment(const pqxx::row& row) {
  payment_row payment;
  payment.id = row[0].as<std::string>();
  payment.checkout_id = row[1].as<std::string>();
  payment.event_id = row[2].as<std::string>();
  payment.workspace_id = row[3].as<std::string>();
  payment.method = row[4].as<std::string>();
  payment.method_token = row[5].as<std::string>();
  payment.buyer_country = row[6].as<std::string>();
  payment.holder_name = row[7].as<std::string>();
  payment.amount_minor = row[8].as<std::int64_t>();
  payment.currency = row[9].as<std::string>();
  payment.status = row[10].as<std::string>();
  payment.provider = row[11].as<std::string>();
  payment.provider_reference = row[12].as<std::string>();
  payment.captured_minor = row[13].as<std::int64_t>();
  payment.refunded_minor = row[14].as<std::int64_t>();
  payment.decline_code = row[15].as<std::string>();
  payment.failure_message = row[16].as<std::string>();
  payment.action_url = row[17].as<std::string>();
  payment.idempotency_key = row[18].as<std::string>();
  payment.request_hash_hex = row[19].as<std::string>();
  payment.created_at_ms = row[20].as<std::int64_t>();
  payment.return_url = row[21].as<std::string>();
  return payment;
}

const std::string ticket_columns = "t.id, t.ticket_type_id, tt.name, t.seq, t.holder_name, t.unit_price_minor, t.currency, " +
                                   sql::unix_ms("t.valid_from") + ", " + sql::unix_ms("t.valid_until") +
                                   ", t.payload, t.status, " + sql::unix_ms("c.checked_in_at");

ticket_row read_ticket(const pqxx::row& row) {
  ticket_row ticket;
  ticket.id = row[0].as<std::string>();
  ticket.ticket_type_id = row[1].as<std::string>();
  ticket.ticket_type_name = row[2].as<std::string>();
  ticket.seq = row[3].as<std::int32_t>();
  ticket.holder_name = row[4].as<std::string>();
  ticket.unit_price_minor = row[5].as<std::int64_t>();
  ticket.currency = row[6].as<std::string>();
  ticket.valid_from_ms = row[7].as<std::int64_t>();
  ticket.valid_until_ms = row[8].as<std::int64_t>();
  ticket.payload = row[9].as<std::string>();
  ticket.status = row[10].as<std::string>();
  ticket.checked_in_at_ms = sql::optional_int64(row[11]);
  return ticket;
}

std::vector<ticket_row> tickets_of(pqxx::transaction_base& transaction, const std::string& checkout_id) {
  std::vector<ticket_row> tickets;
  for (const auto& row : sql::prepared(transaction,
           "SELECT " + ticket_columns +
               " FROM tickets t JOIN ticket_types tt ON tt.id = t.ticket_type_id "
               "LEFT JOIN checkins c ON c.ticket_id = t.id WHERE t.checkout_id = $1 ORDER BY tt.position, t.ticket_type_id, t.seq",
           checkout_id))
    tickets.push_back(read_ticket(row));
  return tickets;
}

std::vector<webhook_event_row> verdicts_in(pqxx::transaction_base& transaction, const std::string& checkout_id) {
  std::vector<webhook_event_row> verdicts;
  for (const auto& row : sql::prepared(transaction,
           "SELECT provider, event_id, type, reference, merchant_reference, success FROM webhook_events "
           "WHERE checkout_id = $1 AND type IN ('AUTHORISATION', 'REFUND') ORDER BY received_at, event_id",
           checkout_id))
    verdicts.push_back({row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                        row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<bool>()});
  return verdicts;
}

}  // namespace

std::vector<webhook_event_row> verdicts_of(pqxx::connection& connection, const std::string& checkout_id) {
  pqxx::read_transaction transaction{connection};
  return verdicts_in(transaction, checkout_id);
}

std::optional<order_row> load_order(pqxx::connection& connection, const std::string& checkout_id) {
  pqxx::read_transaction transaction{connection};
  auto rows = sql::prepared(transaction,
      "SELECT c.id, c.event_id, e.workspace_id, c.buyer_email, coalesce(c.order_status, ''), " +
          sql::unix_ms("e.starts_at") + ", " + sql::unix_ms("e.ends_at") +
          " FROM checkouts c JOIN events e ON e.id = c.event_id WHERE c.id = $1 AND c.failure_code IS NULL",
      checkout_id);
  if (rows.empty()) return std::nullopt;
  order_row order;
  order.checkout_id = rows[0][0].as<std::string>();
  order.event_id = rows[0][1].as<std::string>();
  order.workspace_id = rows[0][2].as<std::string>();
  order.buyer_email = rows[0][3].as<std::string>();
  order.order_status = rows[0][4].as<std::string>();
  order.event_starts_at_ms = rows[0][5].as<std::int64_t>();
  order.event_ends_at_ms = rows[0][6].as<std::int64_t>();
  for (const auto& line : sql::prepared(transaction,
           "SELECT h.ticket_type_id, h.quantity, h.unit_price_minor, h.discount_per_ticket_minor, "
           "coalesce(h.tier_name, ''), h.status "
           "FROM holds h JOIN ticket_types t ON t.id = h.ticket_type_id WHERE h.checkout_id = $1 ORDER BY t.position, t.id",
           checkout_id))
    order.lines.push_back({line[0].as<std::string>(), line[1].as<std::int32_t>(), line[2].as<std::int64_t>(),
                           line[3].as<std::int64_t>(), line[4].as<std::string>(), line[5].as<std::string>()});
  for (const auto& row : sql::prepared(transaction,
           "SELECT " + payment_columns + " FROM payments WHERE checkout_id = $1 ORDER BY created_at, id", checkout_id))
    order.payments.push_back(read_payment(row));
  for (const auto& row : sql::prepared(transaction,
           "SELECT payment_id, attempt, provider, idempotency_key, coalesce(provider_reference, ''), status, "
           "coalesce(http_status, 0), coalesce(detail, '') FROM payment_attempts WHERE checkout_id = $1 "
           "ORDER BY payment_id, attempt",
           checkout_id)) {
    payment_attempt_row attempt{row[0].as<std::string>(), row[1].as<std::int32_t>(), row[2].as<std::string>(),
                                row[3].as<std::string>(), row[4].as<std::string>(), row[5].as<std::string>(),
                                row[6].as<std::int32_t>(), row[7].as<std::string>()};
    for (auto& payment : order.payments)
      if (payment.id == attempt.payment_id) payment.attempts.push_back(std::move(attempt));
  }
  order.tickets = tickets_of(transaction, checkout_id);
  order.verdicts = verdicts_in(transaction, checkout_id);
  for (const auto& row : sql::prepared(transaction,
           "SELECT r.id, r.payment_id, r.amount_minor, r.currency, r.reason, array_to_string(r.ticket_type_ids, ','), "
           "r.release_seats, r.status, coalesce(r.provider_reference, ''), r.idempotency_key, r.seats_released "
           "FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE p.checkout_id = $1 ORDER BY r.created_at, r.id",
           checkout_id)) {
    refund_row refund{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::int64_t>(),
                      row[3].as<std::string>(), row[4].as<std::string>(), {}, row[6].as<bool>(),
                      row[7].as<std::string>(), row[8].as<std::string>(), row[9].as<std::string>(),
                      row[10].as<bool>()};
    refund.ticket_type_ids = split_list(row[5].as<std::string>());
    order.refunds.push_back(std::move(refund));
  }
  return order;
}

payment_start start_payment(pqxx::connection& connection, const fence& where, const payment_row& payment) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, where.shard, where.epoch, where.node_id)) return payment_start::fenced;
  if (!payment.idempotency_key.empty()) {
    auto existing = sql::prepared(transaction,
        "SELECT 1 FROM payments WHERE checkout_id = $1 AND idempotency_key = $2", payment.checkout_id,
        payment.idempotency_key);
    if (!existing.empty()) return payment_start::replayed;
  }
  auto live = sql::prepared(transaction,
      "SELECT 1 FROM payments WHERE checkout_id = $1 AND status NOT IN ('declined', 'failed', 'cancelled')",
      payment.checkout_id);
  if (!live.empty()) return payment_start::live_payment_exists;
  auto moved = sql::prepared(transaction,
      "UPDATE checkouts SET order_status = 'payment_pending', order_updated_at = now() "
      "WHERE id = $1 AND order_status IS NULL",
      payment.checkout_id);
  if (moved.affected_rows() != 1) return payment_start::not_payable;
  sql::prepared(transaction,
      "INSERT INTO payments (id, checkout_id, event_id, workspace_id, shard_id, method, method_token, buyer_country, "
      "holder_name, amount_minor, currency, status, idempotency_key, request_hash, return_url) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending', $12, decode($13, 'hex'), $14)",
      payment.id, payment.checkout_id, payment.event_id, payment.workspace_id, where.shard, payment.method,
      payment.method_token, payment.buyer_country, payment.holder_name, payment.amount_minor, payment.currency,
      nullable(payment.idempotency_key), payment.request_hash_hex, payment.return_url);
  transaction.commit();
  return payment_start::created;
}

write_result write_payment_step(pqxx::connection& connection, const fence& where, const payment_step& step) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, where.shard, where.epoch, where.node_id)) return write_result::fenced;
  if (step.attempt) {
    const auto& attempt = *step.attempt;
    sql::prepared(transaction,
        "INSERT INTO payment_attempts (payment_id, attempt, checkout_id, provider, idempotency_key, "
        "provider_reference, status, http_status, detail) "
        "SELECT $1, $2, checkout_id, $3, $4, $5, $6, $7, $8 FROM payments WHERE id = $1 "
        "ON CONFLICT (payment_id, attempt) DO UPDATE SET provider_reference = "
        "coalesce(EXCLUDED.provider_reference, payment_attempts.provider_reference), status = EXCLUDED.status, "
        "http_status = EXCLUDED.http_status, detail = EXCLUDED.detail, updated_at = now()",
        attempt.payment_id, attempt.attempt, attempt.provider, attempt.idempotency_key, nullable(attempt.reference),
        attempt.status, attempt.http_status == 0 ? std::optional<std::int32_t>{} : attempt.http_status,
        nullable(attempt.detail));
  }
  if (step.payment_status) {
    sql::prepared(transaction,
        "UPDATE payments SET status = $2, provider = coalesce($3, provider), "
        "provider_reference = coalesce($4, provider_reference), captured_minor = coalesce($5, captured_minor), "
        "decline_code = $6, failure_message = $7, action_url = $8, updated_at = now() WHERE id = $1",
        step.payment_id, *step.payment_status, nullable(step.provider), nullable(step.provider_reference),
        step.captured_minor, nullable(step.decline_code), nullable(step.failure_message), nullable(step.action_url));
  }
  if (step.order_status_from != "-") {
    auto moved = sql::prepared(transaction,
        "UPDATE checkouts SET order_status = $2, order_updated_at = now() "
        "WHERE id = (SELECT checkout_id FROM payments WHERE id = $1) AND order_status IS NOT DISTINCT FROM $3",
        step.payment_id, nullable(step.order_status_to), nullable(step.order_status_from));
    if (moved.affected_rows() != 1) return write_result::conflict;
  }
  transaction.commit();
  return write_result::written;
}

ticket_key_row ticket_key(pqxx::connection& connection, const std::string& event_id, const ticket_key_row& generated) {
  pqxx::work transaction{connection};
  sql::prepared(transaction,
      "INSERT INTO event_ticket_keys (event_id, key_id, private_key, public_key, wrapped_by) "
      "VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'), NULLIF($5, '')) ON CONFLICT (event_id) DO NOTHING",
      event_id, generated.key_id, sql::hex_of(generated.private_key), sql::hex_of(generated.public_key),
      generated.wrapped_by);
  auto row = sql::prepared(transaction,
      "SELECT key_id, private_key, public_key, coalesce(wrapped_by, '') FROM event_ticket_keys WHERE event_id = $1",
      event_id);
  ticket_key_row key{row[0][0].as<std::string>(), pqxx::binarystring{row[0][1]}.str(),
                     pqxx::binarystring{row[0][2]}.str(), row[0][3].as<std::string>()};
  transaction.commit();
  return key;
}

result<ticket_key_wrapping_start> prepare_ticket_key_wrapping(const std::string& url,
                                                              std::chrono::seconds connect_timeout,
                                                              const std::string& wrapping_key_id,
                                                              const seed_wrapping& wrap) {
  conninfo_settings settings;
  settings.connect_timeout = connect_timeout;
  auto connection = open_connection(url, settings);
  if (!connection) return connection.error();
  try {
    pqxx::work transaction{*connection.value()};
    if (!wrapping_key_id.empty())
      transaction.exec_params("INSERT INTO ticket_key_wrapping (wrapped_by) VALUES ($1) ON CONFLICT DO NOTHING",
                              wrapping_key_id);
    ticket_key_wrapping_start start;
    auto recorded = transaction.exec("SELECT wrapped_by FROM ticket_key_wrapping");
    if (!recorded.empty()) start.recorded = recorded[0][0].as<std::string>();
    auto wrapped_otherwise = transaction.exec_params(
        "SELECT count(*) FROM event_ticket_keys WHERE wrapped_by IS DISTINCT FROM NULLIF($1, '') AND wrapped_by IS NOT NULL",
        wrapping_key_id);
    start.refused = start.recorded != wrapping_key_id || wrapped_otherwise[0][0].as<std::int64_t>() > 0;
    if (start.refused || wrapping_key_id.empty()) return start;
    auto raw = transaction.exec(
        "SELECT event_id, key_id, private_key FROM event_ticket_keys WHERE wrapped_by IS NULL ORDER BY event_id FOR UPDATE");
    for (const auto& row : raw) {
      auto event_id = row[0].as<std::string>();
      auto key_id = row[1].as<std::string>();
      auto wrapped = wrap(event_id, key_id, pqxx::binarystring{row[2]}.str());
      transaction.exec_params(
          "UPDATE event_ticket_keys SET private_key = decode($2, 'hex'), wrapped_by = $3 WHERE event_id = $1",
          event_id, sql::hex_of(wrapped), wrapping_key_id);
      ++start.wrapped_now;
    }
    transaction.commit();
    return start;
  } catch (const std::exception& failure) {
    return error{error_code::query_failed,
                 scrub_password(std::string{"cannot prepare the ticket keys' wrapping: "} + failure.what(), url)};
  }
}

std::optional<ticket_key_row> public_ticket_key(pqxx::connection& connection, const std::string& event_id) {
  pqxx::read_transaction transaction{connection};
  auto row = sql::prepared(transaction, "SELECT key_id, public_key FROM event_ticket_keys WHERE event_id = $1", event_id);
  if (row.empty()) return std::nullopt;
  return ticket_key_row{row[0][0].as<std::string>(), {}, pqxx::binarystring{row[0][1]}.str(), {}};
}

issue_result issue_tickets(pqxx::connection& connection, const fence& where, const std::string& checkout_id,
                           const std::string& payment_id, const std::string& event_id,
                           const std::vector<new_ticket>& tickets) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, where.shard, where.epoch, where.node_id)) return {write_result::fenced, {}};
  for (const auto& ticket : tickets)
    sql::prepared(transaction,
        "INSERT INTO tickets (id, checkout_id, payment_id, event_id, ticket_type_id, seq, holder_name, "
        "unit_price_minor, currency, valid_from, valid_until, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
        "to_timestamp($10::double precision / 1000), to_timestamp($11::double precision / 1000), $12) "
        "ON CONFLICT (checkout_id, ticket_type_id, seq) DO NOTHING",
        ticket.id, checkout_id, payment_id, event_id, ticket.ticket_type_id, ticket.seq, ticket.holder_name,
        ticket.unit_price_minor, ticket.currency, ticket.valid_from_ms, ticket.valid_until_ms, ticket.payload);
  auto moved = sql::prepared(transaction,
      "UPDATE checkouts SET order_status = 'tickets_issued', order_updated_at = now() "
      "WHERE id = $1 AND order_status IN ('paid', 'tickets_issued')",
      checkout_id);
  if (moved.affected_rows() != 1) return {write_result::conflict, {}};
  issue_result result;
  result.tickets = tickets_of(transaction, checkout_id);
  transaction.commit();
  return result;
}

refund_start begin_refund(pqxx::connection& connection, const fence& where, const refund_row& refund) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, where.shard, where.epoch, where.node_id)) return refund_start::fenced;
  if (!sql::prepared(transaction, "SELECT 1 FROM refunds WHERE idempotency_key = $1", refund.idempotency_key).empty())
    return refund_start::replayed;
  // The payment row is locked: two refunds of one payment are decided one after the other.
  auto payment = sql::prepared(transaction,
      "SELECT p.captured_minor, (SELECT coalesce(sum(amount_minor), 0) FROM refunds r "
      "WHERE r.payment_id = p.id AND r.status IN ('pending', 'succeeded')), c.order_status "
      "FROM payments p JOIN checkouts c ON c.id = p.checkout_id WHERE p.id = $1 AND p.status = 'succeeded' FOR UPDATE OF p",
      refund.payment_id);
  if (payment.empty() || payment[0][2].is_null()) return refund_start::not_refundable;
  auto order_status = payment[0][2].as<std::string>();
  if (order_status != "tickets_issued" && order_status != "partially_refunded" && order_status != "paid" &&
      order_status != "refund_pending")
    return refund_start::not_refundable;
  if (refund.amount_minor > payment[0][0].as<std::int64_t>() - payment[0][1].as<std::int64_t>())
    return refund_start::exceeds_payment;
  sql::prepared(transaction,
      "INSERT INTO refunds (id, payment_id, amount_minor, currency, reason, ticket_type_ids, release_seats, status, "
      "idempotency_key) VALUES ($1, $2, $3, $4, $5, $6::text[], $7, 'pending', $8)",
      refund.id, refund.payment_id, refund.amount_minor, refund.currency, refund.reason,
      text_array_literal(refund.ticket_type_ids), refund.release_seats,
      refund.idempotency_key);
  sql::prepared(transaction,
      "UPDATE checkouts SET order_status = 'refund_pending', order_updated_at = now() "
      "WHERE id = (SELECT checkout_id FROM payments WHERE id = $1)",
      refund.payment_id);
  transaction.commit();
  return refund_start::created;
}

void finish_refund(pqxx::connection& connection, const fence& where, const refund_row& refund,
                   const std::string& provider_reference, bool succeeded) {
  pqxx::work transaction{connection};
  if (!sql::owns_shard(transaction, where.shard, where.epoch, where.node_id))
    throw std::runtime_error("fenced: the shard moved");
  auto moved = sql::prepared(transaction,
      "UPDATE refunds SET status = $2, provider_reference = coalesce($3, provider_reference), updated_at = now() "
      "WHERE id = $1 AND status = 'pending'",
      refund.id, succeeded ? "succeeded" : "failed", nullable(provider_reference));
  if (moved.affected_rows() == 1 && succeeded) {
    sql::prepared(transaction, "UPDATE payments SET refunded_minor = refunded_minor + $2, updated_at = now() WHERE id = $1",
                            refund.payment_id, refund.amount_minor);
    // The revocation list: a refunded line's tickets no longer admit anyone.
    sql::prepared(transaction,
        "UPDATE tickets SET status = 'revoked', revoked_at = now(), revoked_reason = $3 "
        "WHERE payment_id = $1 AND ticket_type_id = ANY($2::text[]) AND status = 'valid'",
        refund.payment_id, text_array_literal(refund.ticket_type_ids), "refunded: " + refund.reason);
  }
  // Whatever remains pending keeps the order refund_pending; otherwise it says what was refunded.
  sql::prepared(transaction,
      "UPDATE checkouts c SET order_status = CASE "
      "WHEN EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.status = 'pending') THEN 'refund_pending' "
      "WHEN p.refunded_minor >= p.captured_minor THEN 'refunded' "
      "WHEN p.refunded_minor > 0 THEN 'partially_refunded' "
      "WHEN EXISTS (SELECT 1 FROM tickets t WHERE t.checkout_id = c.id) THEN 'tickets_issued' ELSE 'paid' END, "
      "order_updated_at = now() FROM payments p WHERE p.id = $1 AND c.id = p.checkout_id",
      refund.payment_id);
  transaction.commit();
}

void note_refund_reference(pqxx::connection& connection, const std::string& refund_id,
                           const std::string& provider_reference) {
  pqxx::work transaction{connection};
  sql::prepared(transaction,
      "UPDATE refunds SET provider_reference = $2, updated_at = now() "
      "WHERE id = $1 AND status = 'pending' AND provider_reference IS NULL",
      refund_id, provider_reference);
  transaction.commit();
}

void mark_seats_released(pqxx::connection& connection, const std::string& refund_id) {
  pqxx::work transaction{connection};
  sql::prepared(transaction, "UPDATE refunds SET seats_released = true, updated_at = now() WHERE id = $1", refund_id);
  transaction.commit();
}

std::optional<std::string> record_webhook_event(pqxx::connection& connection, const webhook_event_row& event,
                                                const std::string& fallback_checkout) {
  pqxx::work transaction{connection};
  auto rows = sql::prepared(transaction,
      "INSERT INTO webhook_events (provider, event_id, type, reference, merchant_reference, success, checkout_id) "
      "VALUES ($1, $2, $3, $4, $5, $6, coalesce("
      "(SELECT checkout_id FROM payment_attempts WHERE provider = $1 AND provider_reference = $4 LIMIT 1), "
      "(SELECT id FROM checkouts WHERE id = $7))) "
      "ON CONFLICT DO NOTHING RETURNING coalesce(checkout_id, '')",
      event.provider, event.event_id, event.type, event.reference, event.merchant_reference, event.success,
      fallback_checkout);
  transaction.commit();
  if (rows.empty() || rows[0][0].as<std::string>().empty()) return std::nullopt;
  return rows[0][0].as<std::string>();
}

std::vector<std::string> checkouts_with_open_orders(pqxx::connection& connection, std::int32_t shard) {
  pqxx::read_transaction transaction{connection};
  std::vector<std::string> ids;
  for (const auto& row : sql::prepared(transaction,
           "SELECT DISTINCT p.checkout_id FROM payments p JOIN checkouts c ON c.id = p.checkout_id "
           "WHERE p.shard_id = $1 AND (p.status IN ('pending', 'requires_action', 'processing', 'unknown') "
           "OR c.order_status IN ('payment_pending', 'paid', 'refund_pending') "
           "OR EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id AND r.status = 'succeeded' "
           "AND r.release_seats AND NOT r.seats_released))",
           shard))
    ids.push_back(row[0].as<std::string>());
  return ids;
}

std::vector<std::string> payment_route(pqxx::connection& connection, const std::string& workspace_id,
                                       const std::string& method, const std::string& currency,
                                       const std::string& country) {
  pqxx::read_transaction transaction{connection};
  // Most specific first: an exact method beats '*', then currency, then country.
  auto rows = sql::prepared(transaction,
      "SELECT array_to_string(providers, ',') FROM payment_routes WHERE workspace_id = $1 "
      "AND method IN ($2, '*') AND currency IN ($3, '*') AND country IN ($4, '*') "
      "ORDER BY (method = '*'), (currency = '*'), (country = '*') LIMIT 1",
      workspace_id, method, currency, country);
  if (rows.empty()) return {};
  return split_list(rows[0][0].as<std::string>());
}

}  // namespace eventstripe::storage
