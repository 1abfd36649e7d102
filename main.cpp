// The `eventstripe` node: configuration, database, actors, gateway, and the orderly way down.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <unistd.h>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/after.hpp>

#include "actors/node_status.hpp"
#include "actors/payments/key_wrapping.hpp"
#include "actors/protocol.hpp"
#include "actors/services.hpp"
#include "cluster/entity_host.hpp"
#include "cluster/router.hpp"
#include "storage/inventory.hpp"
#include "actors/readiness_probe.hpp"
#include "actors/reconciliation_job.hpp"
#include "config/loader.hpp"
#include "config/log.hpp"
#include "io/auth.hpp"
#include "io/gateway.hpp"
#include "io/inventory_routes.hpp"
#include "io/organizer_routes.hpp"
#include "io/payment_routes.hpp"
#include "io/reconciliation_routes.hpp"
#include "io/providers/registry.hpp"
#include "actors/call_pool.hpp"
#include "io/metrics.hpp"
#include "io/router.hpp"
#include "io/system_routes.hpp"
#include "storage/connect.hpp"
#include "storage/connection_pool.hpp"
#include "storage/migrations.hpp"
#include "storage/payments.hpp"
#include "supervision/supervision_error.hpp"
#include "supervision/supervisor.hpp"

namespace {

using namespace eventstripe;
using std::chrono::milliseconds;

constexpr const char* version = "0.1.0";
// How long the root supervisor gets to stop every actor before the node exits anyway.
constexpr milliseconds supervisor_shutdown_timeout_ms{30'000};
// Provider calls waiting for a provider thread before new ones are refused (the payment retries).
constexpr std::size_t provider_queue_max = 10'000;

std::chrono::seconds whole_seconds_at_least_one(milliseconds duration) {
  return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(duration));
}

std::string default_node_id(const config::settings& values) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "node");
  return std::string{host} + ":" + std::to_string(values.http_port);
}

// Start-up failures print one line for a person and one JSON log line for the collector.
int fail_start(int exit_code, const std::string& message) {
  log::error(message);
  std::cerr << "eventstripe: " << message << "\n";
  return exit_code;
}

std::string lower_case(std::string text) {
  for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

io::gateway_limits limits_from(const config::settings& values) {
  return {values.http_header_size_max_bytes, values.http_body_size_max_bytes,
          values.http_read_timeout_ms,       values.http_idle_timeout_ms,
          values.http_connections_max,       values.websocket_message_size_max_bytes,
          values.websocket_send_queue_max,   lower_case(values.http_client_address_header)};
}

void report_pool_metrics(io::metrics& stats, const storage::connection_pool& pool) {
  auto snapshot = pool.stats();
  stats.set_gauge("eventstripe_database_pool_connections", "PostgreSQL connections the pool may hold",
                  static_cast<double>(snapshot.connection_count));
  stats.set_gauge("eventstripe_database_pool_connections_open", "PostgreSQL connections currently open",
                  static_cast<double>(snapshot.connections_open));
  stats.set_gauge("eventstripe_database_pool_connections_busy", "PostgreSQL connections running a job",
                  static_cast<double>(snapshot.connections_busy));
  stats.set_gauge("eventstripe_database_pool_queue_depth", "Database jobs waiting for a connection",
                  static_cast<double>(snapshot.queue_depth));
  stats.set_gauge("eventstripe_database_pool_connect_failures", "Failed connection attempts since start",
                  static_cast<double>(snapshot.connect_failures_total));
}

// Blocks until SIGINT or SIGTERM; every thread was started with both blocked, so only this
// call sees them.
int wait_for_signal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

std::shared_ptr<actors::services> make_services(const config::settings& values, const std::string& node_id,
                                                storage::job_runner& database, storage::job_runner& payments_database,
                                                const actors::entity_directory& directory,
                                                caf::actor_system& system, const io::providers::provider_registry& providers) {
  auto shared = std::make_shared<actors::services>();
  shared->database = &database;
  shared->payments_database = &payments_database;
  shared->directory = &directory;
  shared->node_id = node_id;
  shared->fault_injection = values.fault_injection;
  auto& limits = shared->limits;
  limits.hold_ttl_ms = values.hold_ttl_ms;
  limits.hold_extension_ms = values.hold_extension_ms;
  limits.batch_size_max = values.quota_batch_size_max;
  limits.request_timeout_ms = values.entity_request_timeout_ms;
  limits.buyer_checkouts_max = static_cast<std::int32_t>(values.buyer_checkouts_max);
  limits.address_checkouts_max = static_cast<std::int32_t>(values.address_checkouts_max);
  limits.checkout_items_max = static_cast<std::int32_t>(values.checkout_items_max);
  limits.availability_push_interval_ms = values.availability_push_interval_ms;
  limits.expiry_warning_ms = values.expiry_warning_ms;
  limits.entity_idle_timeout_ms = values.entity_idle_timeout_ms;
  auto& payments = shared->payments;
  payments.attempts_max = values.payment_attempts_max;
  payments.retry_initial_ms = values.payment_retry_initial_ms;
  payments.retry_max_ms = values.payment_retry_max_ms;
  payments.action_recheck_ms = values.payment_action_recheck_ms;
  payments.default_providers = io::providers::split_comma_list(values.payments_default_providers);
  shared->providers = providers.providers();
  shared->provider_calls = std::make_shared<actors::call_pool>(values.provider_threads, provider_queue_max);
  actors::anchor_clock(*shared, system);
  return shared;
}

void stop_actors(caf::actor_system& system, const supervision::supervisor_actor& root) {
  caf::scoped_actor self{system};
  self->monitor(root);
  self->request(root, supervisor_shutdown_timeout_ms, supervision::shutdown_atom::value)
      .receive([](caf::ok_atom) {},
               [](caf::error& failure) {
                 log::warn("root supervisor did not stop in time", {{"error.message", caf::to_string(failure)}});
               });
  // The answer comes just before the supervisor terminates; its down message means it has.
  self->receive([](caf::down_msg&) {}, caf::after(supervisor_shutdown_timeout_ms) >> [] {
    log::warn("root supervisor did not terminate in time");
  });
}

int run(const config::settings& values, const sigset_t& signals) {
  auto started_at = std::chrono::system_clock::now();
  auto node_id = values.node_id.empty() ? default_node_id(values) : values.node_id;
  if (!values.database_password.empty()) setenv("PGPASSWORD", values.database_password.c_str(), 1);

  auto connect_timeout = whole_seconds_at_least_one(values.database_connect_timeout_ms);
  if (auto failure = storage::check_connection(values.database_url, connect_timeout))
    return fail_start(config::exit_database_unavailable, failure->message);
  auto migrated = storage::migrate(values.database_url, {connect_timeout, {}});
  if (!migrated) return fail_start(config::exit_database_unavailable, migrated.error().message);
  log::info("schema migrated", {{"migrations.applied", migrated.value().applied_count},
                                {"schema.version", migrated.value().schema_version}});
  for (int version : migrated.value().adopted_versions)
    log::warn("migration recorded without a checksum; this binary's text is taken as what ran",
              {{"migration.version", version}});

  // Provider accounts are checked before anything starts: a bad one stops the start, naming its key.
  std::optional<io::providers::provider_registry> configured;
  try {
    configured.emplace(values);
  } catch (const std::invalid_argument& failure) {
    return fail_start(config::exit_config_error, failure.what());
  }
  const auto& providers = *configured;

  // Ticket signing seeds are wrapped at rest when a wrapping key is configured. Seeds wrapped
  // under another key (or any, with none configured) could sign no ticket: the start stops.
  std::shared_ptr<const actors::payments::key_wrapper> wrapping;
  if (!values.ticket_key_wrapping_key.empty()) {
    auto parsed = actors::payments::key_wrapper::from_hex(values.ticket_key_wrapping_key);
    if (!parsed)
      return fail_start(config::exit_config_error, "payments.ticket_key_wrapping_key must be 64 hex digits (32 bytes)");
    wrapping = std::make_shared<const actors::payments::key_wrapper>(*parsed);
  } else {
    log::warn("ticket signing keys are stored unwrapped: set payments.ticket_key_wrapping_key");
  }
  auto seeds = storage::prepare_ticket_key_wrapping(
      values.database_url, connect_timeout, wrapping ? wrapping->id() : std::string{},
      [&wrapping](const std::string& event_id, const std::string& key_id, const std::string& raw) {
        if (raw.size() != actors::payments::ed25519_key_size_bytes)
          throw std::runtime_error("the stored ticket key of event " + event_id + " is not an Ed25519 seed");
        auto seed = std::span<const std::uint8_t, actors::payments::ed25519_key_size_bytes>{
            reinterpret_cast<const std::uint8_t*>(raw.data()), actors::payments::ed25519_key_size_bytes};
        return wrapping->wrap(seed, event_id, key_id);
      });
  if (!seeds) return fail_start(config::exit_database_unavailable, seeds.error().message);
  if (seeds.value().refused)
    return fail_start(config::exit_config_error,
                      "this deployment's ticket keys are wrapped under " +
                          (seeds.value().recorded.empty() ? std::string{"another key"} : seeds.value().recorded) +
                          ", not under " + (wrapping ? wrapping->id() : std::string{"none (no key configured)"}) +
                          ": set payments.ticket_key_wrapping_key to the deployment's key");
  if (seeds.value().wrapped_now > 0)
    log::warn("ticket keys stored raw were wrapped; copies made before (backups, replicas) still hold them raw",
              {{"keys.wrapped", seeds.value().wrapped_now}});

  storage::connection_pool pool{{values.database_url, values.database_pool_size, values.database_queue_size_max,
                                 connect_timeout}};
  storage::connection_pool payments_pool{{values.database_url, values.database_payments_pool_size,
                                          values.database_queue_size_max, connect_timeout}};
  io::authenticator credentials{pool};
  auto status = std::make_shared<actors::node_status>();

  auto epochs = storage::claim_shards_at_start(values.database_url, node_id,
                                               static_cast<std::uint32_t>(values.shard_count), connect_timeout);
  if (!epochs) return fail_start(config::exit_database_unavailable, epochs.error().message);

  caf::actor_system_config actor_config;
  actor_config.set("scheduler.policy", caf::atom("sharing"));
  actor_config.set("scheduler.max-threads", values.actor_threads);
  supervision::add_supervision_error_category(actor_config);
  actors::add_inventory_error_category(actor_config);
  actors::add_pricing_error_categories(actor_config);
  // Declared before the actor system so it outlives any actor (abandoned request actors too).
  cluster::router directory{static_cast<std::uint32_t>(values.shard_count)};
  // Ready only once every shard's region takes entity traffic (the gateway and the actors that
  // could call this are gone before `directory` is).
  status->set_serving_check([&directory] { return directory.all_shards_served(); });
  caf::actor_system system{actor_config};

  auto shared = make_services(values, node_id, pool, payments_pool, directory, system, providers);
  shared->ticket_key_wrapping = wrapping;
  // After the actor system, so it is destroyed before it.
  auto reconciliation = std::make_shared<actors::reconciliation_board>();
  auto probe_timeout = values.database_connect_timeout_ms + milliseconds{1000};
  auto root = supervision::spawn_supervisor(
      system, {},
      {{"readiness_probe",
        [&pool, status, &values, probe_timeout](caf::actor_system& actors) {
          return actors::spawn_readiness_probe(actors, pool, status, values.readiness_probe_interval_ms, probe_timeout);
        }},
       supervision::supervisor_child_spec("regions", {}, cluster::region_children(directory, shared, epochs.value())),
       {"reconciliation_job",
        [&pool, reconciliation, &values](caf::actor_system& actors) {
          actors::reconciliation_job_settings settings;
          settings.interval_ms = values.reconciliation_interval_ms;
          return actors::spawn_reconciliation_job(actors, pool, reconciliation, settings);
        }}});

  io::metrics stats;
  stats.add_collect_hook([&pool, &payments_pool, &system](io::metrics& m) {
    report_pool_metrics(m, pool);
    auto payments = payments_pool.stats();
    m.set_gauge("eventstripe_database_payments_pool_connections_busy", "Payments' PostgreSQL connections running a job",
                static_cast<double>(payments.connections_busy));
    m.set_gauge("eventstripe_database_payments_pool_queue_depth", "Payments' database jobs waiting for a connection",
                static_cast<double>(payments.queue_depth));
    m.set_gauge("eventstripe_actors_running", "CAF actors running on this node",
                static_cast<double>(system.registry().running()));
  });
  stats.add_collect_hook([reconciliation](io::metrics& m) {
    m.set_counter("eventstripe_reconciliation_runs_total", "Reconciliation runs this node completed",
                  static_cast<double>(reconciliation->runs_total()));
    if (auto report = reconciliation->last())
      for (const auto& count : report->counts)
        m.set_gauge("eventstripe_reconciliation_mismatches", "Mismatches of each kind the last reconciliation run found",
                    {{"kind", count.kind}}, static_cast<double>(count.count));
  });
  io::router routes;
  io::add_system_routes(routes, {status, &stats, &system, node_id, version, started_at, values.http_debug_endpoints});
  io::add_organizer_routes(routes, {&pool, &credentials});
  io::inventory_routes_context inventory{&system, &directory, &credentials, &pool, shared->limits, shared->board,
                                         values.fault_injection};
  io::add_checkout_routes(routes, inventory);
  io::add_event_routes(routes, inventory);
  io::add_payment_routes(routes, {&system, &directory, &credentials, &pool, shared->limits, shared->payments.answer_wait_ms,
                                  shared->providers, values.fault_injection, shared->fulfilment_paused,
                                  std::make_shared<std::atomic<bool>>(false), shared->attempt_failure});
  io::add_reconciliation_routes(routes, {&system, &credentials, &pool, reconciliation});
  io::gateway gateway{values.http_host, values.http_port, values.http_threads, limits_from(values), routes, stats};
  if (auto failure = gateway.start(); !failure.empty()) {
    stop_actors(system, root);
    pool.close();
    payments_pool.close();
    return fail_start(config::exit_failure, failure);
  }
  auto base = "http://" + values.http_host + ":" + std::to_string(gateway.port());
  log::info("node serving", {{"node.id", node_id}, {"url.full", base}, {"service.version", version}});
  std::cout << "eventstripe " << version << " serving on " << base << "  (health " << base << "/healthz, metrics "
            << base << "/metrics)" << std::endl;

  int received = wait_for_signal(signals);
  log::info("shutting down", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"},
                              {"http.requests_in_flight", static_cast<std::uint64_t>(gateway.requests_in_flight())}});
  status->begin_shutdown();
  gateway.stop_accepting();
  if (!gateway.wait_for_drain(values.shutdown_deadline_ms))
    log::warn("shutdown deadline passed with requests in flight",
              {{"http.requests_in_flight", static_cast<std::uint64_t>(gateway.requests_in_flight())}});
  gateway.close_all();
  gateway.stop();
  stop_actors(system, root);
  // Every supervised actor is down now, in order. What is left are short-lived request actors
  // whose requests outlived shutdown.deadline_ms: they must not hold the process (a pending
  // timer cannot be cancelled), so the actor system does not wait for them.
  if (auto leftover = system.registry().running(); leftover > 0)
    log::warn("abandoning request actors still running", {{"actors.running", static_cast<std::uint64_t>(leftover)}});
  system.await_actors_before_shutdown(false);
  pool.close();
  payments_pool.close();
  log::info("stopped", {{"node.id", node_id}});
  return config::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals before any thread starts, so they are delivered only to sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto loaded = config::load(std::vector<std::string>(argv + 1, argv + argc), config::process_environment());
  if (loaded.help_requested) {
    std::cout << config::help_text();
    return config::exit_ok;
  }
  if (loaded.error) {
    std::cerr << "eventstripe: configuration error: " << *loaded.error << "\n";
    return config::exit_config_error;
  }
  if (loaded.print_config_requested) {
    std::cout << config::describe(loaded);
    return config::exit_ok;
  }
  log::configure(loaded.values.log_level);
  log::info("starting", {{"service.version", version}, {"configuration", config::describe(loaded)}});
  try {
    return run(loaded.values, signals);
  } catch (const std::exception& failure) {
    return fail_start(config::exit_failure, std::string{"unexpected failure: "} + failure.what());
  }
}
