// Storage tests that need no database: connection strings, the embedded migrations, and what
// happens when the database cannot be reached.
#include "storage/connect.hpp"
#include "storage/connection_pool.hpp"
#include "storage/conninfo.hpp"
#include "storage/migrations.hpp"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <stdexcept>
#include <string>

namespace storage = eventstripe::storage;
using namespace std::chrono_literals;

namespace {

// A port on 127.0.0.1 that nothing listens on: bound by us, then released.
int closed_port() {
  int const socket_descriptor = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(socket_descriptor >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(socket_descriptor, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(socket_descriptor, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(socket_descriptor);
  return ntohs(address.sin_port);
}

constexpr char const* secret = "s3cret-Pw";

} // namespace

TEST_CASE("describe_target names host, port and database and never the password", "[unit]") {
  CHECK(storage::describe_target("postgresql://postgres:s3cret-Pw@127.0.0.1:5432/eventstripe")
        == "127.0.0.1:5432/eventstripe");
  CHECK(storage::describe_target("host=db.internal port=6000 dbname=tickets password=s3cret-Pw")
        == "db.internal:6000/tickets");
  CHECK(storage::describe_target("postgresql://db.internal/tickets") == "db.internal:5432/tickets");
  CHECK(storage::describe_target("dbname=tickets") == "local-socket:5432/tickets");
}

TEST_CASE("make_conninfo applies the named limits and keeps the credentials", "[unit]") {
  storage::conninfo_settings settings;
  settings.connect_timeout = 3s;
  settings.statement_timeout = 2500ms;
  settings.database_name = "es_test_1";
  auto const conninfo = storage::make_conninfo(
    "postgresql://postgres:it's@127.0.0.1:55432/eventstripe?options=-c%20work_mem%3D8MB", settings);
  REQUIRE(conninfo.has_value());
  CHECK(conninfo.value().find("connect_timeout='3'") != std::string::npos);
  CHECK(conninfo.value().find("dbname='es_test_1'") != std::string::npos);
  CHECK(conninfo.value().find("password='it\\'s'") != std::string::npos);
  CHECK(conninfo.value().find("options='-c work_mem=8MB -c statement_timeout=2500'") != std::string::npos);
  CHECK(conninfo.value().find("application_name='eventstripe'") != std::string::npos);
}

TEST_CASE("a connect timeout below libpq's minimum is raised to 2 s, never 0 (forever)", "[unit]") {
  storage::conninfo_settings settings;
  settings.connect_timeout = 0s;
  auto const conninfo = storage::make_conninfo("host=db", settings);
  REQUIRE(conninfo.has_value());
  CHECK(conninfo.value().find("connect_timeout='2'") != std::string::npos);
}

TEST_CASE("an unparsable URL is a clear error that does not show its password", "[unit]") {
  auto const bad_parameter = storage::make_conninfo("postgresql://u:s3cret-Pw@h/db?no_such_key=1", {});
  REQUIRE_FALSE(bad_parameter.has_value());
  CHECK(bad_parameter.error().code == storage::error_code::invalid_url);
  CHECK(bad_parameter.error().message.find("no_such_key") != std::string::npos);
  CHECK(bad_parameter.error().message.find(secret) == std::string::npos);

  auto const bad_encoding = storage::make_conninfo("postgresql://u:s3cret-Pw%zz@h/db", {});
  REQUIRE_FALSE(bad_encoding.has_value());
  CHECK(bad_encoding.error().message.find(secret) == std::string::npos);
}

TEST_CASE("scrub_password also removes the password libpq decoded", "[unit]") {
  std::string const url = "postgresql://u:s3cret%2DPw@h/db";
  CHECK(storage::scrub_password("auth failed for s3cret-Pw and s3cret%2DPw", url)
        == "auth failed for *** and ***");
}

TEST_CASE("the binary embeds its migrations in version order, starting with 0001_foundation", "[unit]") {
  auto const migrations = storage::embedded_migrations();
  REQUIRE_FALSE(migrations.empty());
  CHECK(migrations.front().version == 1);
  CHECK(migrations.front().name == "foundation");
  CHECK(migrations.front().sql.find("CREATE TABLE nodes") != std::string_view::npos);
  for (std::size_t index = 1; index < migrations.size(); ++index)
    CHECK(migrations[index].version > migrations[index - 1].version);
  CHECK(storage::expected_schema_version() == migrations.back().version);
}

TEST_CASE("an unreachable database gives one clear error quickly and no password", "[unit]") {
  int const port = closed_port();
  std::string const url =
    "postgresql://postgres:" + std::string(secret) + "@127.0.0.1:" + std::to_string(port) + "/eventstripe";
  auto const started = std::chrono::steady_clock::now();
  auto const failure = storage::check_connection(url, 2s);
  auto const elapsed = std::chrono::steady_clock::now() - started;
  REQUIRE(failure.has_value());
  CAPTURE(failure->message);
  CHECK(failure->code == storage::error_code::connect_failed);
  CHECK(failure->message.starts_with("cannot connect to PostgreSQL at 127.0.0.1:" + std::to_string(port)
                                     + "/eventstripe: "));
  CHECK(failure->message.find("refused") != std::string::npos);
  CHECK(failure->message.find('\n') == std::string::npos);
  CHECK(failure->message.find(secret) == std::string::npos);
  CHECK(elapsed < 2s);
}

TEST_CASE("pool jobs against an unreachable database fail fast, and backoff spares the database", "[unit]") {
  storage::connection_pool_settings settings;
  settings.url = "postgresql://postgres:" + std::string(secret) + "@127.0.0.1:"
                 + std::to_string(closed_port()) + "/eventstripe";
  settings.connection_count = 1;
  settings.reconnect_backoff = 60s;
  storage::connection_pool pool(settings);
  std::atomic<bool> job_ran{false};
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::promise<storage::error> failed;
    auto const status = pool.submit([&job_ran](pqxx::connection&) { job_ran = true; },
                                    [&failed](storage::error const& reason) { failed.set_value(reason); });
    REQUIRE(status == storage::submit_status::accepted);
    auto future = failed.get_future();
    REQUIRE(future.wait_for(5s) == std::future_status::ready);
    storage::error const reason = future.get();
    CHECK(reason.code == storage::error_code::connect_failed);
    CHECK(reason.message.find(secret) == std::string::npos);
  }
  CHECK_FALSE(job_ran);
  auto const stats = pool.stats();
  CHECK(stats.connect_failures_total == 1); // the second job was failed by the backoff
  CHECK(stats.jobs_failed_total == 2);
  CHECK(stats.connections_open == 0);
}

TEST_CASE("a pool with no connections or no queue is refused at construction", "[unit]") {
  storage::connection_pool_settings settings;
  settings.url = "host=127.0.0.1";
  settings.connection_count = 0;
  CHECK_THROWS_AS(storage::connection_pool(settings), std::invalid_argument);
  settings.connection_count = 1;
  settings.queue_size_max = 0;
  CHECK_THROWS_AS(storage::connection_pool(settings), std::invalid_argument);
}
