#pragma once

#include "storage/pqxx_fwd.hpp"

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// The tables of organizers, their workspaces and the workspaces' API keys (migration 0002).
// Plain blocking SQL on a connection the caller owns: call these inside a connection_pool job.
// They throw what libpqxx throws (the pool turns it into an error value); outcomes the caller
// must tell apart — an email already taken, a key of another workspace — are returned values.
// Inputs are already validated and hashed by the caller (io/credentials.hpp); the schema's
// CHECKs only back those rules up.
namespace eventstripe::storage {

// An API key's secret is stored only as its SHA-256.
inline constexpr std::size_t api_key_secret_hash_size_bytes = 32;
using api_key_secret_hash = std::array<unsigned char, api_key_secret_hash_size_bytes>;

// Timestamps leave the database as RFC 3339 UTC text with milliseconds: 2024-05-01T12:00:00.123Z.
struct workspace_row {
  std::string id;
  std::string name;
  std::string created_at;
};

struct organizer_row {
  std::string id;
  std::string workspace_id;
  std::string email; // lower-case
  std::string password_hash; // crypto_pwhash_str's encoded Argon2id string
  std::string created_at;
};

struct api_key_row {
  std::string id;
  std::string workspace_id;
  std::string name;
  std::string created_at;
  std::optional<std::string> revoked_at;
};

struct new_api_key {
  std::string id;
  std::string name;
  api_key_secret_hash secret_hash;
};

// Everything a sign-up writes, in one transaction: the workspace, its first organizer and the
// workspace's first API key.
struct new_signup {
  std::string workspace_id;
  std::string workspace_name;
  std::string organizer_id;
  std::string email; // lower-case
  std::string password_hash;
  new_api_key first_key;
};

enum class signup_status { created, email_taken };

struct signup_outcome {
  signup_status status = signup_status::email_taken;
  workspace_row workspace;  // set when created
  organizer_row organizer;  // set when created
  api_key_row first_key;    // set when created
};

// Inserts the sign-up, or writes nothing and answers email_taken when an organizer already has
// `signup.email` (also when a concurrent sign-up with the same email commits first).
signup_outcome insert_signup(pqxx::connection& connection, new_signup const& signup);

// Whether an organizer has this (lower-case) email; a cheap check before hashing a password.
bool email_registered(pqxx::connection& connection, std::string_view email);

std::optional<organizer_row> find_organizer_by_email(pqxx::connection& connection, std::string_view email);

std::optional<workspace_row> find_workspace(pqxx::connection& connection, std::string_view workspace_id);

struct stored_api_key {
  api_key_row key;
  api_key_secret_hash secret_hash;
};

// The key with this id in any workspace, revoked or not (the caller checks both).
std::optional<stored_api_key> find_api_key(pqxx::connection& connection, std::string_view key_id);

enum class create_api_key_status { created, limit_reached, workspace_not_found };

struct create_api_key_outcome {
  create_api_key_status status = create_api_key_status::workspace_not_found;
  api_key_row key; // set when created
};

// Adds a key unless the workspace already has `active_keys_max` unrevoked keys. The workspace
// row is locked while counting, so concurrent creations cannot overshoot the limit.
create_api_key_outcome insert_api_key(pqxx::connection& connection, std::string_view workspace_id,
                                      new_api_key const& key, std::size_t active_keys_max);

struct api_key_page {
  std::vector<api_key_row> keys; // active keys first, then revoked; newest first within each
  bool has_more = false;         // more keys exist than `size_max`
};

api_key_page list_api_keys(pqxx::connection& connection, std::string_view workspace_id, std::size_t size_max);

enum class revoke_status { revoked, already_revoked, not_found };

// Revokes the key if it belongs to `workspace_id`; a key of another workspace is not_found,
// exactly like a key that does not exist.
revoke_status revoke_api_key(pqxx::connection& connection, std::string_view workspace_id, std::string_view key_id);

} // namespace eventstripe::storage
