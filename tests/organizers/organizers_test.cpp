// Organizers, workspaces and API keys (label `pg`): the credential rules (Argon2id passwords,
// API key format, email and name rules), the storage functions against a fresh database, and the
// authenticator over a real connection pool. The server comes from ES_TEST_DATABASE_URL.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "io/auth.hpp"
#include "io/credentials.hpp"
#include "io/json_body.hpp"
#include "io/organizer_routes.hpp"
#include "io/router.hpp"
#include "storage/connection_pool.hpp"
#include "storage/migrations.hpp"
#include "storage/organizers.hpp"
#include "tests/support/fresh_database.hpp"

namespace io = eventstripe::io;
namespace storage = eventstripe::storage;
using eventstripe::test_support::fresh_database;
using namespace std::chrono_literals;

namespace {

constexpr auto answer_wait_max = 30s;

void migrate(const fresh_database& database) {
  auto migrated = storage::migrate(database.url());
  if (!migrated) FAIL(migrated.error().message);
}

storage::new_signup make_signup(const std::string& email, const std::string& workspace_name = "Acme Events") {
  storage::new_signup signup;
  signup.workspace_id = io::random_id(io::workspace_id_prefix);
  signup.workspace_name = workspace_name;
  signup.organizer_id = io::random_id(io::organizer_id_prefix);
  signup.email = email;
  // A real Argon2id string costs 0.1 s; the storage tests only need the column's shape.
  signup.password_hash = "$argon2id$v=19$m=65536,t=2,p=1$not-a-real-hash";
  auto key = io::generate_api_key();
  signup.first_key = {key.key_id, "default", key.secret_hash};
  return signup;
}

storage::new_api_key make_key(const std::string& name, io::generated_api_key& generated) {
  generated = io::generate_api_key();
  return {generated.key_id, name, generated.secret_hash};
}

std::string basic_authorization(const std::string& email, const std::string& password) {
  std::string pair = email + ":" + password;
  std::string encoded(sodium_base64_ENCODED_LEN(pair.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(encoded.data(), encoded.size(), reinterpret_cast<const unsigned char*>(pair.data()), pair.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  encoded.resize(encoded.size() - 1);  // the terminating NUL
  return "Basic " + encoded;
}

io::http_request request_with(const std::string& authorization) {
  io::http_request request;
  request.method = "GET";
  request.path = "/api/v1/workspace";
  request.request_id = "test";
  if (!authorization.empty()) request.headers.emplace_back("authorization", authorization);
  return request;
}

struct authentication_outcome {
  std::optional<io::principal> caller;
  io::http_response refusal;
};

authentication_outcome authenticate(io::authenticator& credentials, const io::http_request& request,
                                    io::accepted_credentials accepted = io::accepted_credentials::api_key) {
  auto promise = std::make_shared<std::promise<authentication_outcome>>();
  auto future = promise->get_future();
  io::authenticate(
      request, credentials,
      [promise](std::optional<io::principal> caller, io::http_response refusal) {
        promise->set_value({std::move(caller), std::move(refusal)});
      },
      accepted);
  REQUIRE(future.wait_for(answer_wait_max) == std::future_status::ready);
  return future.get();
}

// Sends one request through the router, as the gateway would, and waits for the answer.
io::http_response call(io::router& routes, std::string method, std::string path, std::string body,
                       std::string authorization = {}) {
  io::http_request request = request_with(authorization);
  request.method = std::move(method);
  request.path = std::move(path);
  request.body = std::move(body);
  auto match = routes.find(request, false);
  REQUIRE(match.handler != nullptr);
  auto promise = std::make_shared<std::promise<io::http_response>>();
  auto future = promise->get_future();
  (*match.handler)(request, [promise](io::http_response answer) { promise->set_value(std::move(answer)); });
  REQUIRE(future.wait_for(answer_wait_max) == std::future_status::ready);
  return future.get();
}

std::string problem_type(const io::http_response& answer) {
  return nlohmann::json::parse(answer.body).at("type").get<std::string>();
}

storage::connection_pool_settings pool_settings(const fresh_database& database) {
  storage::connection_pool_settings settings;
  settings.url = database.url();
  settings.connection_count = 4;
  settings.queue_size_max = 64;
  return settings;
}

}  // namespace

// --- credentials: no database -----------------------------------------------------------------

TEST_CASE("a password hashes to Argon2id and verifies; a wrong password does not", "[credentials]") {
  auto hash = io::hash_password("correct horse battery staple");
  CHECK(hash.starts_with("$argon2id$"));
  CHECK(io::verify_password(hash, "correct horse battery staple"));
  CHECK_FALSE(io::verify_password(hash, "correct horse battery stapler"));
  CHECK_FALSE(io::verify_password(hash, ""));
  CHECK_FALSE(io::verify_password("not a hash", "correct horse battery staple"));
  // Salted: the same password never hashes to the same string twice.
  CHECK(io::hash_password("correct horse battery staple") != hash);
  CHECK_FALSE(io::verify_password_of_nobody("correct horse battery staple"));
}

TEST_CASE("an API key parses back to its id and secret, and nothing else parses", "[credentials]") {
  auto generated = io::generate_api_key();
  REQUIRE(generated.key.starts_with("es_key_"));
  auto parts = io::parse_api_key(generated.key);
  REQUIRE(parts.has_value());
  CHECK(parts->key_id == generated.key_id);
  CHECK(io::is_random_id(parts->key_id, io::api_key_id_prefix));
  CHECK(parts->secret.size() == io::api_key_secret_size_bytes);
  CHECK(io::api_key_secret_matches(parts->secret, generated.secret_hash));

  auto other = io::generate_api_key();
  CHECK(other.key_id != generated.key_id);
  CHECK_FALSE(io::api_key_secret_matches(parts->secret, other.secret_hash));

  std::string secret_hex = generated.key.substr(generated.key.rfind('_') + 1);
  std::string upper_hex = secret_hex;
  for (auto& c : upper_hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const std::string& bad : {
           std::string{},
           std::string{"es_"},
           generated.key.substr(3),                                // no es_ prefix
           generated.key.substr(0, generated.key.size() - 1),      // a digit short
           generated.key + "0",                                    // a digit long
           "es_" + generated.key_id + "_" + upper_hex,             // upper-case hex
           "es_" + generated.key_id + secret_hex,                  // no separator
           "es_key_AAAAAAAAAAAAAAAAAAAA_" + secret_hex,            // id outside the alphabet
           "es_ws_" + generated.key_id.substr(4) + "_" + secret_hex,  // wrong id prefix
           "es_" + generated.key_id + "_" + std::string(64, 'g'),  // not hex
       }) {
    CAPTURE(bad);
    CHECK_FALSE(io::parse_api_key(bad).has_value());
  }
}

TEST_CASE("emails are lower-cased, and addresses without a sane syntax are refused", "[credentials]") {
  CHECK(io::normalize_email("Ada.Lovelace+tix@Example.COM") == "ada.lovelace+tix@example.com");
  CHECK(io::normalize_email("a@b.co") == "a@b.co");
  std::string longest_local(64, 'a');
  CHECK(io::normalize_email(longest_local + "@example.com").has_value());
  for (const std::string& bad : {
           std::string{}, std::string{"plain"}, std::string{"@example.com"}, std::string{"a@"},
           std::string{"a@b"}, std::string{"a@@b.com"}, std::string{"a@b@c.com"}, std::string{".a@b.com"},
           std::string{"a.@b.com"}, std::string{"a..b@c.com"}, std::string{"a b@c.com"},
           std::string{"a@-b.com"}, std::string{"a@b-.com"}, std::string{"a@b..com"}, std::string{"a@1.2.3.4"},
           std::string{"a@exa_mple.com"}, std::string{"\xc3\xa9@example.com"}, std::string{"a\n@example.com"},
           std::string(65, 'a') + "@example.com", "a@" + std::string(250, 'b') + ".com",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(io::normalize_email(bad).has_value());
  }
}

TEST_CASE("display names: 1 to 200 characters, not blank, no control characters", "[credentials]") {
  CHECK_FALSE(io::display_name_problem("Acme Events").has_value());
  CHECK_FALSE(io::display_name_problem(std::string(200, 'x')).has_value());
  std::string two_hundred_e_acute;
  for (int i = 0; i < 200; ++i) two_hundred_e_acute += "\xc3\xa9";  // 400 bytes, 200 characters
  CHECK_FALSE(io::display_name_problem(two_hundred_e_acute).has_value());
  CHECK(io::display_name_problem("").has_value());
  CHECK(io::display_name_problem("   ").has_value());
  CHECK(io::display_name_problem(std::string(201, 'x')).has_value());
  CHECK(io::display_name_problem(std::string("a\0b", 3)).has_value());
  CHECK(io::display_name_problem("tab\there").has_value());
  CHECK(io::display_name_problem("c1\xc2\x85").has_value());
}

TEST_CASE("the password hashing gate admits at most its limit and frees a slot with its last token",
          "[credentials]") {
  io::password_hashing_gate gate{2};
  auto first = gate.try_enter();
  auto second = gate.try_enter();
  REQUIRE(first);
  REQUIRE(second);
  CHECK_FALSE(gate.try_enter());
  auto copy = first;
  first.reset();
  CHECK_FALSE(gate.try_enter());  // a copy still holds the slot
  copy.reset();
  CHECK(gate.in_use() == 1);
  CHECK(gate.try_enter());
}

TEST_CASE("request bodies: malformed JSON, non-objects, unknown members and wrong types are refused",
          "[credentials]") {
  auto slug_of = [](std::string_view text) {
    io::json_body body{text, {"name"}};
    body.required_string("name");
    return body.ok() ? std::string{"ok"} : problem_type(body.failure());
  };
  const std::string base = "https://eventstripe.dev/problems/";
  CHECK(slug_of(R"({"name":"x"})") == "ok");
  CHECK(slug_of(R"({"name":)") == base + "malformed-json");
  CHECK(slug_of("") == base + "malformed-json");
  CHECK(slug_of(R"(["name"])") == base + "invalid-body");
  CHECK(slug_of(R"({"name":"x","admin":true})") == base + "unknown-field");
  CHECK(slug_of(R"({})") == base + "missing-field");
  CHECK(slug_of(R"({"name":null})") == base + "missing-field");
  CHECK(slug_of(R"({"name":42})") == base + "invalid-field");
  io::json_body long_member{"{\"" + std::string(1000, 'x') + "\":1}", {"name"}};
  REQUIRE_FALSE(long_member.ok());
  CHECK(long_member.failure().body.size() < 400);  // the member's name is quoted only in part
}

// --- storage ------------------------------------------------------------------------------------

TEST_CASE("a sign-up writes workspace, organizer and first key; the same email in any case is taken and "
          "writes nothing", "[pg]") {
  fresh_database database;
  migrate(database);
  auto connection = database.connect();

  auto first = storage::insert_signup(connection, make_signup("ada@example.com"));
  REQUIRE(first.status == storage::signup_status::created);
  CHECK(first.workspace.name == "Acme Events");
  CHECK(first.organizer.email == "ada@example.com");
  CHECK(first.first_key.workspace_id == first.workspace.id);
  CHECK_FALSE(first.first_key.revoked_at.has_value());
  CHECK(first.workspace.created_at.ends_with("Z"));
  CHECK(storage::email_registered(connection, "ada@example.com"));

  auto again = storage::insert_signup(connection, make_signup("ada@example.com", "Second Workspace"));
  CHECK(again.status == storage::signup_status::email_taken);
  CHECK(database.query_int("SELECT count(*) FROM workspaces") == 1);
  CHECK(database.query_int("SELECT count(*) FROM organizers") == 1);
  CHECK(database.query_int("SELECT count(*) FROM api_keys") == 1);

  // Case-insensitive uniqueness rests on storing lower case; the schema refuses anything else.
  CHECK_THROWS_AS(storage::insert_signup(connection, make_signup("ADA@example.com")), pqxx::check_violation);
  CHECK(database.query_int("SELECT count(*) FROM workspaces") == 1);

  auto found = storage::find_organizer_by_email(connection, "ada@example.com");
  REQUIRE(found.has_value());
  CHECK(found->id == first.organizer.id);
  CHECK(found->workspace_id == first.workspace.id);
  CHECK_FALSE(storage::find_organizer_by_email(connection, "nobody@example.com").has_value());
}

TEST_CASE("concurrent sign-ups with one email: exactly one wins, the others are told it is taken", "[pg]") {
  fresh_database database;
  migrate(database);
  constexpr int contender_count = 6;
  std::latch start(contender_count);
  std::vector<storage::signup_status> outcomes(contender_count);
  std::vector<std::thread> contenders;
  for (int i = 0; i < contender_count; ++i)
    contenders.emplace_back([&, i] {
      auto connection = database.connect();
      auto signup = make_signup("race@example.com");
      start.arrive_and_wait();
      outcomes[i] = storage::insert_signup(connection, signup).status;
    });
  for (auto& contender : contenders) contender.join();
  CHECK(std::count(outcomes.begin(), outcomes.end(), storage::signup_status::created) == 1);
  CHECK(database.query_int("SELECT count(*) FROM workspaces") == 1);
  CHECK(database.query_int("SELECT count(*) FROM api_keys") == 1);
}

TEST_CASE("a key is found by id and verified by its secret; once revoked it stays listed as revoked", "[pg]") {
  fresh_database database;
  migrate(database);
  auto connection = database.connect();
  auto workspace = storage::insert_signup(connection, make_signup("ada@example.com")).workspace;

  io::generated_api_key generated;
  auto created = storage::insert_api_key(connection, workspace.id, make_key("ci", generated), 100);
  REQUIRE(created.status == storage::create_api_key_status::created);
  CHECK(created.key.name == "ci");

  auto parts = io::parse_api_key(generated.key);
  REQUIRE(parts.has_value());
  auto stored = storage::find_api_key(connection, parts->key_id);
  REQUIRE(stored.has_value());
  CHECK(stored->key.workspace_id == workspace.id);
  CHECK(io::api_key_secret_matches(parts->secret, stored->secret_hash));
  CHECK_FALSE(io::api_key_secret_matches(std::string(io::api_key_secret_size_bytes, 'x'), stored->secret_hash));
  CHECK_FALSE(storage::find_api_key(connection, io::random_id(io::api_key_id_prefix)).has_value());

  CHECK(storage::revoke_api_key(connection, workspace.id, parts->key_id) == storage::revoke_status::revoked);
  CHECK(storage::revoke_api_key(connection, workspace.id, parts->key_id) == storage::revoke_status::already_revoked);
  stored = storage::find_api_key(connection, parts->key_id);
  REQUIRE(stored.has_value());
  CHECK(stored->key.revoked_at.has_value());

  auto page = storage::list_api_keys(connection, workspace.id, 10);
  REQUIRE(page.keys.size() == 2);
  CHECK_FALSE(page.has_more);
  CHECK(page.keys[0].name == "default");  // active keys first
  CHECK(page.keys[1].id == parts->key_id);
  CHECK(page.keys[1].revoked_at.has_value());
  CHECK(storage::list_api_keys(connection, workspace.id, 1).has_more);
}

TEST_CASE("a key of another workspace can be neither revoked nor listed: it is not found", "[pg]") {
  fresh_database database;
  migrate(database);
  auto connection = database.connect();
  auto a = storage::insert_signup(connection, make_signup("a@example.com"));
  auto b = storage::insert_signup(connection, make_signup("b@example.com"));

  CHECK(storage::revoke_api_key(connection, b.workspace.id, a.first_key.id) == storage::revoke_status::not_found);
  auto stored = storage::find_api_key(connection, a.first_key.id);
  REQUIRE(stored.has_value());
  CHECK_FALSE(stored->key.revoked_at.has_value());
  auto b_keys = storage::list_api_keys(connection, b.workspace.id, 10).keys;
  REQUIRE(b_keys.size() == 1);
  CHECK(b_keys[0].id == b.first_key.id);
}

TEST_CASE("a workspace cannot hold more active keys than the limit; revoking one makes room", "[pg]") {
  fresh_database database;
  migrate(database);
  auto connection = database.connect();
  auto workspace = storage::insert_signup(connection, make_signup("ada@example.com")).workspace;
  constexpr std::size_t limit = 3;  // the first key counts
  io::generated_api_key generated;
  REQUIRE(storage::insert_api_key(connection, workspace.id, make_key("two", generated), limit).status ==
          storage::create_api_key_status::created);
  auto third = storage::insert_api_key(connection, workspace.id, make_key("three", generated), limit);
  REQUIRE(third.status == storage::create_api_key_status::created);
  CHECK(storage::insert_api_key(connection, workspace.id, make_key("four", generated), limit).status ==
        storage::create_api_key_status::limit_reached);
  CHECK(database.query_int("SELECT count(*) FROM api_keys") == 3);
  REQUIRE(storage::revoke_api_key(connection, workspace.id, third.key.id) == storage::revoke_status::revoked);
  CHECK(storage::insert_api_key(connection, workspace.id, make_key("four", generated), limit).status ==
        storage::create_api_key_status::created);
  CHECK(storage::insert_api_key(connection, io::random_id(io::workspace_id_prefix), make_key("x", generated), limit)
            .status == storage::create_api_key_status::workspace_not_found);
}

// --- the authenticator and the routes over a real pool -------------------------------------------

TEST_CASE("the authenticator accepts a valid key, refuses a wrong or revoked one at once, and checks "
          "passwords only where allowed", "[pg]") {
  fresh_database database;
  migrate(database);
  storage::connection_pool pool{pool_settings(database)};
  io::authenticator credentials{pool};
  io::router routes;
  io::add_organizer_routes(routes, {&pool, &credentials});

  auto signed_up = call(routes, "POST", "/api/v1/organizers",
                        R"({"email":"Ada@Example.com","password":"correct horse battery","workspace_name":"Acme"})");
  REQUIRE(signed_up.status == 201);
  auto body = nlohmann::json::parse(signed_up.body);
  auto key = body["api_key"]["key"].get<std::string>();
  auto workspace_id = body["workspace"]["id"].get<std::string>();
  CHECK(body["organizer"]["email"] == "ada@example.com");

  auto by_key = authenticate(credentials, request_with("Bearer " + key));
  REQUIRE(by_key.caller.has_value());
  CHECK(by_key.caller->workspace_id == workspace_id);
  CHECK(by_key.caller->api_key_id == body["api_key"]["id"]);
  auto cached = authenticate(credentials, request_with("Bearer " + key));  // served from the cache
  REQUIRE(cached.caller.has_value());

  auto wrong = key;
  wrong.back() = wrong.back() == '0' ? '1' : '0';
  for (const std::string& header : {std::string{}, "Bearer " + wrong, std::string{"Bearer es_nonsense"},
                                    std::string{"Token abc"}, basic_authorization("ada@example.com", "correct horse battery")}) {
    CAPTURE(header);
    auto refused = authenticate(credentials, request_with(header));
    CHECK_FALSE(refused.caller.has_value());
    CHECK(refused.refusal.status == 401);
    CHECK(problem_type(refused.refusal) == "https://eventstripe.dev/problems/unauthenticated");
    REQUIRE(refused.refusal.headers.size() == 1);
    CHECK(refused.refusal.headers[0].first == "WWW-Authenticate");
    CHECK(refused.refusal.headers[0].second.starts_with("Bearer"));
  }

  auto by_password = authenticate(credentials, request_with(basic_authorization("ADA@example.com", "correct horse battery")),
                                  io::accepted_credentials::api_key_or_password);
  REQUIRE(by_password.caller.has_value());
  CHECK(by_password.caller->workspace_id == workspace_id);
  CHECK_FALSE(by_password.caller->organizer_id.empty());
  for (const auto& [email, password] : {std::pair<std::string, std::string>{"ada@example.com", "correct horse batterY"},
                                        {"eve@example.com", "correct horse battery"}}) {
    auto refused = authenticate(credentials, request_with(basic_authorization(email, password)),
                                io::accepted_credentials::api_key_or_password);
    CHECK_FALSE(refused.caller.has_value());
    CHECK(refused.refusal.status == 401);
  }

  auto key_id = body["api_key"]["id"].get<std::string>();
  auto revoked = call(routes, "DELETE", "/api/v1/api-keys/" + key_id, "", "Bearer " + key);
  CHECK(revoked.status == 204);
  auto after_revoke = authenticate(credentials, request_with("Bearer " + key));  // the cache held it a moment ago
  CHECK_FALSE(after_revoke.caller.has_value());
  CHECK(after_revoke.refusal.status == 401);
}

TEST_CASE("bad sign-up input is refused with a problem and creates nothing", "[pg]") {
  fresh_database database;
  migrate(database);
  storage::connection_pool pool{pool_settings(database)};
  io::authenticator credentials{pool};
  io::router routes;
  io::add_organizer_routes(routes, {&pool, &credentials});

  const std::string base = "https://eventstripe.dev/problems/";
  struct bad_input {
    std::string body;
    int status;
    std::string slug;
  };
  for (const auto& bad : std::vector<bad_input>{
           {R"({"email":"a@example.com",)", 400, "malformed-json"},
           {R"({"email":"a@example.com","password":"long enough pw","workspace_name":"W","x":1})", 422, "unknown-field"},
           {R"({"password":"long enough pw","workspace_name":"W"})", 422, "missing-field"},
           {R"({"email":"a@example.com","password":"short","workspace_name":"W"})", 422, "invalid-field"},
           {R"({"email":"not-an-email","password":"long enough pw","workspace_name":"W"})", 422, "invalid-field"},
           {R"({"email":"a@example.com","password":"long enough pw","workspace_name":")" + std::string(201, 'w') + "\"}",
            422, "invalid-field"},
           {R"({"email":"a@example.com","password":12345678901234,"workspace_name":"W"})", 422, "invalid-field"},
       }) {
    CAPTURE(bad.body);
    auto answer = call(routes, "POST", "/api/v1/organizers", bad.body);
    CHECK(answer.status == bad.status);
    CHECK(answer.content_type == "application/problem+json");
    CHECK(problem_type(answer) == base + bad.slug);
  }
  CHECK(database.query_int("SELECT count(*) FROM organizers") == 0);
  CHECK(database.query_int("SELECT count(*) FROM workspaces") == 0);

  auto taken_first = call(routes, "POST", "/api/v1/organizers",
                          R"({"email":"a@example.com","password":"long enough pw","workspace_name":"W"})");
  CHECK(taken_first.status == 201);
  auto taken = call(routes, "POST", "/api/v1/organizers",
                    R"({"email":"A@EXAMPLE.COM","password":"long enough pw","workspace_name":"W2"})");
  CHECK(taken.status == 409);
  CHECK(problem_type(taken) == base + "email-taken");
  CHECK(database.query_int("SELECT count(*) FROM workspaces") == 1);
}
