#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "config/loader.hpp"
#include "config/redact.hpp"

using eventstripe::config::environment;
using eventstripe::config::load;
using eventstripe::config::source;

namespace {

std::string temporary_file(const std::string& content) {
  char name[] = "/tmp/eventstripe-config-XXXXXX";
  int descriptor = mkstemp(name);
  REQUIRE(descriptor >= 0);
  ::close(descriptor);
  std::ofstream{name} << content;
  return name;
}

}  // namespace

TEST_CASE("defaults apply when no layer sets a key") {
  auto result = load({}, {});
  REQUIRE_FALSE(result.error);
  CHECK(result.values.http_port == 8080);
  CHECK(result.values.http_read_timeout_ms.count() == 10'000);
  CHECK(result.sources.at("http.port") == source::defaults);
}

TEST_CASE("layers override in order: defaults < file < environment < flags") {
  auto path = temporary_file("# comment\nhttp.port = 9001\nlog.level = debug\nhttp.threads = 3\n");
  environment env{{"EVENTSTRIPE_CONFIG", path}, {"EVENTSTRIPE_HTTP_PORT", "9002"}, {"EVENTSTRIPE_HTTP_THREADS", "4"}};
  auto result = load({"--http.port=9003"}, env);
  REQUIRE_FALSE(result.error);
  CHECK(result.values.http_port == 9003);
  CHECK(result.sources.at("http.port") == source::flag);
  CHECK(result.values.http_threads == 4);
  CHECK(result.sources.at("http.threads") == source::environment);
  CHECK(result.values.log_level == "debug");
  CHECK(result.sources.at("log.level") == source::file);
  std::remove(path.c_str());
}

TEST_CASE("flags take the value after a space as well as after '='") {
  auto result = load({"--http.port", "7000", "--http.debug_endpoints=true"}, {});
  REQUIRE_FALSE(result.error);
  CHECK(result.values.http_port == 7000);
  CHECK(result.values.http_debug_endpoints);
}

TEST_CASE("invalid values stop the start with one message naming the key") {
  struct row {
    std::vector<std::string> arguments;
    environment env;
    std::string expected;
  };
  const std::vector<row> table = {
      {{"--http.port=-1"}, {}, "http.port: expected a whole number of port from 0 to 65535, got '-1'"},
      {{"--http.port=70000"}, {}, "http.port"},
      {{"--http.port=eighty"}, {}, "http.port"},
      {{"--http.read_timeout_ms=-5"}, {}, "http.read_timeout_ms: expected a whole number of milliseconds"},
      {{"--shutdown.deadline_ms=1.5"}, {}, "shutdown.deadline_ms"},
      {{"--http.debug_endpoints=maybe"}, {}, "http.debug_endpoints: expected true or false"},
      {{"--log.level=loud"}, {}, "log.level: expected one of trace, debug, info"},
      {{"--no.such_key=1"}, {}, "unknown configuration key 'no.such_key'"},
      {{}, {{"EVENTSTRIPE_HTTP_PROT", "1"}}, "unknown configuration variable EVENTSTRIPE_HTTP_PROT"},
      {{}, {{"EVENTSTRIPE_HTTP_PORT", "-1"}}, "from environment variable EVENTSTRIPE_HTTP_PORT"},
      {{"--config=/nonexistent/eventstripe.conf"}, {}, "cannot read configuration file '/nonexistent/eventstripe.conf'"},
      {{"stray"}, {}, "unexpected argument 'stray'"},
      {{"--http.port"}, {}, "flag --http.port needs a value"},
  };
  for (const auto& entry : table) {
    INFO(entry.expected);
    auto result = load(entry.arguments, entry.env);
    REQUIRE(result.error);
    CHECK_THAT(*result.error, Catch::Contains(entry.expected));
  }
}

TEST_CASE("an unknown key or malformed line in the config file names the file and line") {
  auto path = temporary_file("http.port = 9001\nbogus.key = 1\n");
  auto result = load({"--config", path}, {});
  REQUIRE(result.error);
  CHECK_THAT(*result.error, Catch::Contains("'bogus.key'") && Catch::Contains(path + ":2"));
  std::remove(path.c_str());

  auto malformed = temporary_file("http.port 9001\n");
  result = load({"--config", malformed}, {});
  REQUIRE(result.error);
  CHECK_THAT(*result.error, Catch::Contains(malformed + ":1"));
  std::remove(malformed.c_str());
}

TEST_CASE("secrets never appear in the printed configuration or help") {
  auto result = load({"--database.url=postgresql://app:hunter2@db:5432/eventstripe", "--database.password=s3cret"}, {});
  REQUIRE_FALSE(result.error);
  auto printed = eventstripe::config::describe(result);
  CHECK_THAT(printed, !Catch::Contains("hunter2") && !Catch::Contains("s3cret"));
  CHECK_THAT(printed, Catch::Contains("postgresql://app:***@db:5432/eventstripe"));
  CHECK_THAT(printed, Catch::Contains("database.password = ***  # flag"));
}

TEST_CASE("provider secrets print as set or unset, each on its own, never their values") {
  auto result = load({"--payments.stripe.secret_key=sk_live_topsecret", "--payments.adyen.hmac_keys=AABBCC"}, {});
  REQUIRE_FALSE(result.error);
  auto printed = eventstripe::config::describe(result);
  CHECK_THAT(printed, !Catch::Contains("topsecret") && !Catch::Contains("AABBCC"));
  CHECK_THAT(printed, Catch::Contains("payments.stripe.secret_key = ***"));
  CHECK_THAT(printed, Catch::Contains("payments.adyen.hmac_keys = ***"));
  CHECK_THAT(printed, !Catch::Contains("payments.stripe.webhook_secrets = ***"));
  CHECK_THAT(printed, !Catch::Contains("database.password = ***"));
}

TEST_CASE("help lists every key with its default and unit") {
  auto help = eventstripe::config::help_text();
  auto printed = eventstripe::config::describe(load({}, {}));
  for (std::size_t begin = 0; begin < printed.size();) {
    auto end = printed.find(" = ", begin);
    auto key = printed.substr(begin, end - begin);
    CHECK_THAT(help, Catch::Contains("--" + key + " ("));
    begin = printed.find('\n', begin) + 1;
  }
  CHECK_THAT(help, Catch::Contains("--http.port (port, default '8080')"));
  CHECK_THAT(help, Catch::Contains("--http.read_timeout_ms (ms, default '10000')"));
}

TEST_CASE("redact_url removes every form of password and keeps the rest readable") {
  struct row {
    std::string input;
    std::string expected;
  };
  auto const table = GENERATE(values<row>({
    {"postgresql://postgres:s3cret-Pw@127.0.0.1:5432/eventstripe",
     "postgresql://postgres:***@127.0.0.1:5432/eventstripe"},
    {"postgres://user:s3cret%40Pw@db.internal/eventstripe?sslmode=require",
     "postgres://user:***@db.internal/eventstripe?sslmode=require"},
    {"postgresql://user:s3c@ret@host/db", "postgresql://user:***@host/db"},
    {"postgresql://user:s3c/ret@host/db", "postgresql://user:***@host/db"},
    {"postgresql://host/db?sslmode=require&password=s3cret-Pw&x=1",
     "postgresql://host/db?sslmode=require&password=***&x=1"},
    {"postgresql://postgres@127.0.0.1:55432/eventstripe",
     "postgresql://postgres@127.0.0.1:55432/eventstripe"},
    {"postgresql://user@host/db?application_name=a@b", "postgresql://user@host/db?application_name=a@b"},
    {"postgresql://host:5432/db", "postgresql://host:5432/db"},
    {"host=db port=5432 password=s3cret-Pw dbname=eventstripe",
     "host=db port=5432 password=*** dbname=eventstripe"},
    {"password='s3 cr\\'et' host=db", "password=*** host=db"},
    {"host=db password = s3cret-Pw", "host=db password = ***"},
    {"  password=s3cret-Pw", "  password=***"},
    {"host=db dbname=eventstripe", "host=db dbname=eventstripe"},
    {"", ""},
  }));
  CAPTURE(table.input);
  CHECK(eventstripe::config::redact_url(table.input) == table.expected);
}

