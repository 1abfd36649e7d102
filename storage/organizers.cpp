#include "storage/organizers.hpp"

#include <pqxx/binarystring>
#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <utility>

namespace eventstripe::storage {
namespace {

// Renders a timestamptz column as RFC 3339 UTC text with milliseconds, whatever the session's
// time zone setting.
std::string rfc3339(std::string_view column) {
  std::string const name(column);
  return "to_char(" + name + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

std::string const api_key_columns = "id, workspace_id, name, " + rfc3339("created_at") + ", "
                                    + rfc3339("revoked_at");

pqxx::binarystring as_bytea(api_key_secret_hash const& hash) {
  return pqxx::binarystring(hash.data(), hash.size());
}

api_key_secret_hash secret_hash_from(pqxx::field const& field) {
  pqxx::binarystring const bytes(field);
  api_key_secret_hash hash{};
  // The schema's CHECK guarantees the size; a mismatch means the schema changed under us.
  if (bytes.size() != hash.size())
    throw std::runtime_error("api_keys.secret_hash has " + std::to_string(bytes.size()) + " bytes, expected "
                             + std::to_string(hash.size()));
  std::copy(bytes.begin(), bytes.end(), hash.begin());
  return hash;
}

// Reads the columns of `api_key_columns`, starting at `first`.
api_key_row api_key_from(pqxx::row const& row, pqxx::row::size_type first = 0) {
  api_key_row key;
  key.id = row[first].as<std::string>();
  key.workspace_id = row[first + 1].as<std::string>();
  key.name = row[first + 2].as<std::string>();
  key.created_at = row[first + 3].as<std::string>();
  if (!row[first + 4].is_null())
    key.revoked_at = row[first + 4].as<std::string>();
  return key;
}

} // namespace

signup_outcome insert_signup(pqxx::connection& connection, new_signup const& signup) {
  pqxx::work transaction(connection);
  signup_outcome outcome;
  auto const workspace = transaction.exec_params(
    "INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING " + rfc3339("created_at"),
    signup.workspace_id, signup.workspace_name);
  // ON CONFLICT instead of catching unique_violation: a concurrent sign-up with the same email
  // makes this wait for it, then insert nothing, and the transaction stays usable.
  auto const organizer = transaction.exec_params(
    "INSERT INTO organizers (id, workspace_id, email, password_hash) VALUES ($1, $2, $3, $4) "
    "ON CONFLICT (email) DO NOTHING RETURNING " + rfc3339("created_at"),
    signup.organizer_id, signup.workspace_id, signup.email, signup.password_hash);
  if (organizer.empty()) {
    transaction.abort(); // the workspace goes too: a failed sign-up leaves nothing behind
    outcome.status = signup_status::email_taken;
    return outcome;
  }
  auto const key = transaction.exec_params(
    "INSERT INTO api_keys (id, workspace_id, name, secret_hash) VALUES ($1, $2, $3, $4) RETURNING "
      + api_key_columns,
    signup.first_key.id, signup.workspace_id, signup.first_key.name, as_bytea(signup.first_key.secret_hash));
  transaction.commit();

  outcome.status = signup_status::created;
  outcome.workspace = {signup.workspace_id, signup.workspace_name, workspace[0][0].as<std::string>()};
  outcome.organizer = {signup.organizer_id, signup.workspace_id, signup.email, signup.password_hash,
                       organizer[0][0].as<std::string>()};
  outcome.first_key = api_key_from(key[0]);
  return outcome;
}

bool email_registered(pqxx::connection& connection, std::string_view email) {
  pqxx::nontransaction session(connection);
  auto const rows = session.exec_params("SELECT 1 FROM organizers WHERE email = $1", std::string(email));
  return !rows.empty();
}

std::optional<organizer_row> find_organizer_by_email(pqxx::connection& connection, std::string_view email) {
  pqxx::nontransaction session(connection);
  auto const rows = session.exec_params("SELECT id, workspace_id, email, password_hash, " + rfc3339("created_at")
                                          + " FROM organizers WHERE email = $1",
                                        std::string(email));
  if (rows.empty())
    return std::nullopt;
  auto const& row = rows[0];
  return organizer_row{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                       row[3].as<std::string>(), row[4].as<std::string>()};
}

std::optional<workspace_row> find_workspace(pqxx::connection& connection, std::string_view workspace_id) {
  pqxx::nontransaction session(connection);
  auto const rows = session.exec_params("SELECT id, name, " + rfc3339("created_at") + " FROM workspaces WHERE id = $1",
                                        std::string(workspace_id));
  if (rows.empty())
    return std::nullopt;
  return workspace_row{rows[0][0].as<std::string>(), rows[0][1].as<std::string>(), rows[0][2].as<std::string>()};
}

std::optional<stored_api_key> find_api_key(pqxx::connection& connection, std::string_view key_id) {
  pqxx::nontransaction session(connection);
  auto const rows = session.exec_params("SELECT " + api_key_columns + ", secret_hash FROM api_keys WHERE id = $1",
                                        std::string(key_id));
  if (rows.empty())
    return std::nullopt;
  return stored_api_key{api_key_from(rows[0]), secret_hash_from(rows[0][5])};
}

create_api_key_outcome insert_api_key(pqxx::connection& connection, std::string_view workspace_id,
                                      new_api_key const& key, std::size_t active_keys_max) {
  pqxx::work transaction(connection);
  create_api_key_outcome outcome;
  std::string const workspace(workspace_id);
  auto const locked = transaction.exec_params("SELECT 1 FROM workspaces WHERE id = $1 FOR UPDATE", workspace);
  if (locked.empty()) {
    outcome.status = create_api_key_status::workspace_not_found;
    return outcome;
  }
  auto const active = transaction.exec_params(
    "SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL", workspace);
  if (active[0][0].as<std::size_t>() >= active_keys_max) {
    outcome.status = create_api_key_status::limit_reached;
    return outcome;
  }
  auto const inserted = transaction.exec_params(
    "INSERT INTO api_keys (id, workspace_id, name, secret_hash) VALUES ($1, $2, $3, $4) RETURNING "
      + api_key_columns,
    key.id, workspace, key.name, as_bytea(key.secret_hash));
  transaction.commit();
  outcome.status = create_api_key_status::created;
  outcome.key = api_key_from(inserted[0]);
  return outcome;
}

api_key_page list_api_keys(pqxx::connection& connection, std::string_view workspace_id, std::size_t size_max) {
  pqxx::nontransaction session(connection);
  // One row more than asked for tells whether there are more.
  auto const rows = session.exec_params("SELECT " + api_key_columns
                                          + " FROM api_keys WHERE workspace_id = $1"
                                            " ORDER BY revoked_at IS NOT NULL, created_at DESC, id LIMIT $2",
                                        std::string(workspace_id), size_max + 1);
  api_key_page page;
  for (auto const& row : rows) {
    if (page.keys.size() == size_max) {
      page.has_more = true;
      break;
    }
    page.keys.push_back(api_key_from(row));
  }
  return page;
}

revoke_status revoke_api_key(pqxx::connection& connection, std::string_view workspace_id, std::string_view key_id) {
  pqxx::work transaction(connection);
  std::string const workspace(workspace_id);
  std::string const key(key_id);
  auto const revoked = transaction.exec_params(
    "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND workspace_id = $2 AND revoked_at IS NULL RETURNING id",
    key, workspace);
  if (!revoked.empty()) {
    transaction.commit();
    return revoke_status::revoked;
  }
  auto const existing = transaction.exec_params("SELECT 1 FROM api_keys WHERE id = $1 AND workspace_id = $2", key,
                                                workspace);
  return existing.empty() ? revoke_status::not_found : revoke_status::already_revoked;
}

} // namespace eventstripe::storage
