#include "io/organizer_routes.hpp"

#include <functional>
#include <memory>
#include <stdexcept>
#include <utility>

#include <nlohmann/json.hpp>

#include "io/auth.hpp"
#include "io/credentials.hpp"
#include "io/database_job.hpp"
#include "io/json_body.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"
#include "storage/organizers.hpp"

namespace eventstripe::io {
namespace {

struct signup_input {
  std::string email;  // normalised
  std::string password;
  std::string workspace_name;
};

// Reads and checks a sign-up body; on failure `body.failure()` is the answer.
std::optional<signup_input> read_signup(json_body& body) {
  auto email = body.required_string("email");
  auto password = body.required_string("password");
  auto workspace_name = body.required_string("workspace_name");
  if (!body.ok()) return std::nullopt;
  auto normalized = normalize_email(*email);
  if (!normalized)
    body.reject("email", "must be an email address of at most " + std::to_string(email_size_max_bytes) +
                             " ASCII characters (use punycode for international domains)");
  if (password->size() < password_size_min_bytes || password->size() > password_size_max_bytes)
    body.reject("password", "must be " + std::to_string(password_size_min_bytes) + " to " +
                                std::to_string(password_size_max_bytes) + " bytes long");
  if (auto problem_text = display_name_problem(*workspace_name)) body.reject("workspace_name", *problem_text);
  if (!body.ok()) return std::nullopt;
  return signup_input{std::move(*normalized), std::move(*password), std::move(*workspace_name)};
}

nlohmann::json api_key_json(const storage::api_key_row& key) {
  return {{"id", key.id},
          {"name", key.name},
          {"created_at", key.created_at},
          {"revoked_at", key.revoked_at ? nlohmann::json(*key.revoked_at) : nlohmann::json(nullptr)}};
}

// The answer to creating a key: the only time the whole key is ever shown.
nlohmann::json new_api_key_json(const storage::api_key_row& key, const std::string& whole_key) {
  return {{"id", key.id}, {"name", key.name}, {"key", whole_key}, {"created_at", key.created_at}};
}

http_response email_taken() {
  return problem(409, "email-taken", "Email taken", "An organizer with this email already exists.");
}

// Runs on a pool thread inside a password-hashing slot, which it frees as soon as the hash exists.
http_response sign_up(pqxx::connection& connection, signup_input& input, std::shared_ptr<void>& hashing_slot) {
  // Cheap check first, so a repeated sign-up spends no Argon2id; the insert still decides.
  if (storage::email_registered(connection, input.email)) return email_taken();
  storage::new_signup signup;
  signup.password_hash = hash_password(input.password);
  hashing_slot.reset();
  signup.workspace_id = random_id(workspace_id_prefix);
  signup.workspace_name = input.workspace_name;
  signup.organizer_id = random_id(organizer_id_prefix);
  signup.email = input.email;
  auto key = generate_api_key();
  signup.first_key = {key.key_id, std::string{first_api_key_name}, key.secret_hash};
  auto outcome = storage::insert_signup(connection, signup);
  if (outcome.status == storage::signup_status::email_taken) return email_taken();
  nlohmann::json body = {
      {"organizer", {{"id", outcome.organizer.id}, {"email", outcome.organizer.email},
                     {"created_at", outcome.organizer.created_at}}},
      {"workspace", {{"id", outcome.workspace.id}, {"name", outcome.workspace.name},
                     {"created_at", outcome.workspace.created_at}}},
      {"api_key", new_api_key_json(outcome.first_key, key.key)},
  };
  return json_response(201, body.dump());
}

void add_signup_route(router& routes, const organizer_routes_context& context) {
  routes.add("POST", "/api/v1/organizers", [context](http_request& request, responder respond) {
    json_body body{request.body, {"email", "password", "workspace_name"}};
    auto input = read_signup(body);
    if (!input) return respond(body.failure());
    auto slot = context.credentials->password_hashing().try_enter();
    if (!slot) return respond(overloaded_problem("Too many sign-ups are being processed; try again shortly."));
    auto shared_input = std::make_shared<signup_input>(std::move(*input));
    answer_from_database(
        *context.pool, request.request_id,
        [shared_input, slot](pqxx::connection& connection) mutable { return sign_up(connection, *shared_input, slot); },
        std::move(respond));
  });
}

http_response create_api_key(pqxx::connection& connection, const principal& caller, const std::string& name) {
  auto key = generate_api_key();
  auto outcome = storage::insert_api_key(connection, caller.workspace_id, {key.key_id, name, key.secret_hash},
                                         active_api_keys_per_workspace_max);
  switch (outcome.status) {
    case storage::create_api_key_status::created:
      return json_response(201, new_api_key_json(outcome.key, key.key).dump());
    case storage::create_api_key_status::limit_reached:
      return problem(409, "api-key-limit-reached", "API key limit reached",
                     "A workspace may have at most " + std::to_string(active_api_keys_per_workspace_max) +
                         " active API keys; revoke one first.");
    case storage::create_api_key_status::workspace_not_found:
      break;
  }
  return problem(404, "not-found", "Not found", "The workspace does not exist.");
}

// The database half of each key and workspace endpoint; each runs on a pool thread.
http_response list_api_keys(pqxx::connection& connection, const principal& caller) {
  auto page = storage::list_api_keys(connection, caller.workspace_id, api_key_list_size_max);
  nlohmann::json keys = nlohmann::json::array();
  for (const auto& key : page.keys) keys.push_back(api_key_json(key));
  return json_response(200, nlohmann::json{{"api_keys", keys}, {"has_more", page.has_more}}.dump());
}

http_response api_key_not_found() {
  // The same answer for a key of another workspace and for no key at all.
  return problem(404, "not-found", "Not found", "No such API key in this workspace.");
}

http_response revoke_api_key(pqxx::connection& connection, const principal& caller, const std::string& key_id,
                             const std::function<void(std::string_view)>& forget) {
  if (storage::revoke_api_key(connection, caller.workspace_id, key_id) == storage::revoke_status::not_found)
    return api_key_not_found();
  // Committed: from now on this node refuses the key, before the caller hears 204.
  forget(key_id);
  return http_response{204, "application/json", {}, {}};
}

http_response show_workspace(pqxx::connection& connection, const principal& caller) {
  auto workspace = storage::find_workspace(connection, caller.workspace_id);
  if (!workspace) return problem(404, "not-found", "Not found", "The workspace does not exist.");
  nlohmann::json body = {{"id", workspace->id}, {"name", workspace->name}, {"created_at", workspace->created_at}};
  return json_response(200, body.dump());
}

void add_api_key_routes(router& routes, const organizer_routes_context& context) {
  auto& credentials = *context.credentials;
  auto* pool = context.pool;
  auto create = [pool](const http_request& request, const principal& caller, responder respond) {
    json_body body{request.body, {"name"}};
    auto name = body.required_string("name");
    if (name)
      if (auto problem_text = display_name_problem(*name)) body.reject("name", *problem_text);
    if (!body.ok()) return respond(body.failure());
    answer_from_database(
        *pool, request.request_id,
        [caller, name = std::move(*name)](pqxx::connection& connection) {
          return create_api_key(connection, caller, name);
        },
        std::move(respond));
  };
  auto list = [pool](const http_request& request, const principal& caller, responder respond) {
    answer_from_database(
        *pool, request.request_id,
        [caller](pqxx::connection& connection) { return list_api_keys(connection, caller); }, std::move(respond));
  };
  auto revoke = [pool, forget = credentials.api_key_forgetter()](const http_request& request, const principal& caller,
                                                                  responder respond) {
    auto key_id = request.path_parameters.at("key_id");
    if (!is_random_id(key_id, api_key_id_prefix)) return respond(api_key_not_found());
    answer_from_database(
        *pool, request.request_id,
        [caller, key_id, forget](pqxx::connection& connection) {
          return revoke_api_key(connection, caller, key_id, forget);
        },
        std::move(respond));
  };
  // Key management also takes the organizer's password, so an organizer who lost every key can
  // make a new one.
  constexpr auto key_or_password = accepted_credentials::api_key_or_password;
  routes.add("POST", "/api/v1/api-keys", require_authentication(credentials, create, key_or_password));
  routes.add("GET", "/api/v1/api-keys", require_authentication(credentials, list, key_or_password));
  routes.add("DELETE", "/api/v1/api-keys/{key_id}", require_authentication(credentials, revoke, key_or_password));
}

void add_workspace_route(router& routes, const organizer_routes_context& context) {
  auto* pool = context.pool;
  auto show = [pool](const http_request& request, const principal& caller, responder respond) {
    answer_from_database(
        *pool, request.request_id,
        [caller](pqxx::connection& connection) { return show_workspace(connection, caller); }, std::move(respond));
  };
  routes.add("GET", "/api/v1/workspace", require_authentication(*context.credentials, show));
}

}  // namespace

void add_organizer_routes(router& routes, organizer_routes_context context) {
  if (context.pool == nullptr || context.credentials == nullptr)
    throw std::invalid_argument("add_organizer_routes needs a connection pool and an authenticator");
  add_signup_route(routes, context);
  add_api_key_routes(routes, context);
  add_workspace_route(routes, context);
}

}  // namespace eventstripe::io
