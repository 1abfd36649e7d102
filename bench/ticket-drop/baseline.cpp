#include "bench/ticket-drop/baseline.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>

#include <pqxx/pqxx>

namespace eventstripe::bench {
namespace {

// \gset keeps the seat number the UPDATE returned for the INSERT, as an application would.
constexpr const char* reservation_script =
    "\\set client random(1, 1000000000)\n"
    "BEGIN;\n"
    "UPDATE quota SET sold = sold + 1 WHERE id = 1 AND sold < capacity RETURNING sold \\gset\n"
    "INSERT INTO reservation (quota_id, seat_no, client_id) VALUES (1, :sold, :client);\n"
    "END;\n";

void create_tables(const bench_database& database, std::int64_t capacity) {
  pqxx::connection connection{database.conninfo()};
  pqxx::work transaction{connection};
  transaction.exec(
      "CREATE TABLE quota (id integer PRIMARY KEY, sold bigint NOT NULL, capacity bigint NOT NULL, "
      "CHECK (sold <= capacity))");
  transaction.exec(
      "CREATE TABLE reservation (id bigserial PRIMARY KEY, quota_id integer NOT NULL REFERENCES quota (id), "
      "seat_no bigint NOT NULL, client_id bigint NOT NULL)");
  transaction.exec_params("INSERT INTO quota (id, sold, capacity) VALUES (1, 0, $1)", capacity);
  transaction.commit();
}

std::string single_quoted(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string{"'\\''"} : std::string(1, c);
  return quoted + "'";
}

// Runs a shell command and returns its exit status and everything it printed.
std::pair<int, std::string> run_command(const std::string& command) {
  std::string output;
  auto* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run pgbench");
  std::array<char, 4096> chunk{};
  while (auto read = std::fread(chunk.data(), 1, chunk.size(), pipe)) output.append(chunk.data(), read);
  return {::pclose(pipe), output};
}

double figure(const std::string& output, const std::string& pattern) {
  std::smatch found;
  if (!std::regex_search(output, found, std::regex{pattern})) throw std::runtime_error("pgbench printed no " + pattern);
  return std::stod(found[1]);
}

}  // namespace

baseline_result run_baseline(const bench_database& database, const baseline_plan& plan) {
  create_tables(database, plan.capacity);
  auto script = std::filesystem::temp_directory_path() / ("ticket-drop-baseline-" + std::to_string(::getpid()) + ".sql");
  std::ofstream{script} << reservation_script;
  auto command = "pgbench -n -M prepared -c " + std::to_string(plan.clients) + " -j " + std::to_string(plan.threads) +
                 " -T " + std::to_string(plan.seconds) + " -f " + single_quoted(script.string()) + " " +
                 single_quoted(database.conninfo());
  auto [status, output] = run_command(command);
  std::filesystem::remove(script);
  if (status != 0) throw std::runtime_error("pgbench failed:\n" + output);
  baseline_result result;
  result.tps = figure(output, R"(tps = ([0-9.]+) \(without initial connection time\))");
  result.latency_ms = figure(output, R"(latency average = ([0-9.]+) ms)");
  result.transactions = static_cast<std::int64_t>(figure(output, R"(number of transactions actually processed: ([0-9]+))"));
  pqxx::connection connection{database.conninfo()};
  pqxx::read_transaction transaction{connection};
  result.sold = transaction.exec1("SELECT sold FROM quota WHERE id = 1")[0].as<std::int64_t>();
  result.reservations = transaction.exec1("SELECT count(*) FROM reservation")[0].as<std::int64_t>();
  if (result.sold != result.reservations || result.sold != result.transactions || result.sold > plan.capacity)
    throw std::runtime_error("the baseline's books do not agree: sold " + std::to_string(result.sold) + ", " +
                             std::to_string(result.reservations) + " reservations, " +
                             std::to_string(result.transactions) + " transactions");
  return result;
}

}  // namespace eventstripe::bench
