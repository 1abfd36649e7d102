#pragma once

// A database of its own for one `pg` test, on the server in ES_TEST_DATABASE_URL, so tests are
// independent and can run in any order and in parallel. Shared by the test executables that
// need PostgreSQL.
#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "storage/conninfo.hpp"

namespace eventstripe::test_support {

inline std::string server_url() {
  char const* url = std::getenv("ES_TEST_DATABASE_URL");
  if (url == nullptr || *url == '\0')
    FAIL("ES_TEST_DATABASE_URL is not set. The `pg` tests need a PostgreSQL server:\n"
         "  bash storage/local-postgres.sh start /tmp/es-storage-pg 55432\n"
         "  export ES_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/eventstripe");
  return url;
}

inline std::string conninfo_for(std::string const& database_name) {
  eventstripe::storage::conninfo_settings settings;
  settings.database_name = database_name;
  auto conninfo = eventstripe::storage::make_conninfo(server_url(), settings);
  if (!conninfo)
    FAIL(conninfo.error().message);
  return conninfo.value();
}

// A database of its own for one test, dropped (with its connections) at the end.
class fresh_database {
public:
  fresh_database() : name_(random_name()) {
    pqxx::connection server(conninfo_for(""));
    pqxx::nontransaction session(server);
    session.exec("CREATE DATABASE " + name_);
    url_ = conninfo_for(name_);
  }

  ~fresh_database() {
    try {
      pqxx::connection server(conninfo_for(""));
      pqxx::nontransaction session(server);
      session.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (std::exception const&) {
      // A leftover es_test_ database is harmless; failing a test over it is not.
    }
  }

  std::string const& url() const { return url_; }
  std::string const& name() const { return name_; }

  // A plain connection for setting up and checking, outside the code under test.
  pqxx::connection connect() const { return pqxx::connection(url_); }

  void exec(std::string const& sql) const {
    pqxx::connection connection = connect();
    pqxx::nontransaction session(connection);
    session.exec(sql);
  }

  int query_int(std::string const& sql) const {
    pqxx::connection connection = connect();
    pqxx::nontransaction session(connection);
    auto const rows = session.exec(sql);
    return rows[0][0].as<int>();
  }

private:
  static std::string random_name() {
    std::random_device source;
    std::uniform_int_distribution<std::uint64_t> draw;
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(draw(source)));
    return std::string("es_test_") + digits;
  }

  std::string name_;
  std::string url_;
};

}  // namespace eventstripe::test_support
