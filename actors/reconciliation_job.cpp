#include "actors/reconciliation_job.hpp"

#include <array>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"

// The report crosses from a pool thread to the job and from the job to its requesters, always on
// this node: a pointer, never serialised.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::reconciliation_report_pointer)

namespace eventstripe::actors {

void reconciliation_board::attach(const caf::actor& job) {
  std::lock_guard lock{mutex_};
  job_ = caf::actor_cast<caf::weak_actor_ptr>(job);
}

caf::actor reconciliation_board::job() const {
  std::lock_guard lock{mutex_};
  return caf::actor_cast<caf::actor>(job_.lock());
}

namespace {

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using run_atom = caf::atom_constant<caf::atom("reconcile")>;
using finished_atom = caf::atom_constant<caf::atom("recdone")>;
using failed_atom = caf::atom_constant<caf::atom("recfailed")>;
using deadline_atom = caf::atom_constant<caf::atom("recdead")>;

// A run that reported nothing this long after it was submitted is given up for its requesters
// (the pool job itself is bounded by the statement timeout and still reports later).
constexpr std::chrono::milliseconds run_deadline_ms =
    storage::reconciliation_statement_timeout_ms + std::chrono::milliseconds{30'000};
constexpr std::size_t run_id_random_characters = 20;

static_assert(storage::reconciliation_kinds.size() == 8, "log_report names one field per kind");

struct job_state {
  storage::job_runner* pool = nullptr;
  std::shared_ptr<reconciliation_board> board;
  reconciliation_job_settings settings;
  // Generation of the run in flight; results and deadlines of older runs are ignored, since a
  // delayed_send cannot be cancelled.
  std::uint64_t generation = 0;
  bool in_flight = false;
  std::string run_id;
  std::chrono::steady_clock::time_point started;
  std::vector<caf::typed_response_promise<reconciliation_report_pointer>> served_by_this_run;
  std::vector<caf::typed_response_promise<reconciliation_report_pointer>> served_by_next_run;
  static inline const char* name = "reconciliation_job";
};

using job_actor = caf::stateful_actor<job_state>;

std::string new_run_id() {
  static constexpr char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
  std::random_device device;
  std::string id = "rec_";
  for (std::size_t i = 0; i < run_id_random_characters; ++i) id += alphabet[device() % 32];
  return id;
}

// One line per run with every kind's count, then one error line per kind found, naming its
// first finding (the API lists them all).
void log_report(const storage::reconciliation_report& report, std::chrono::nanoseconds took) {
  static const auto keys = [] {
    std::array<std::string, storage::reconciliation_kinds.size()> names;
    for (std::size_t i = 0; i < names.size(); ++i)
      names[i] = "reconciliation.mismatches." + std::string{storage::reconciliation_kinds[i]};
    return names;
  }();
  std::int64_t total = 0;
  for (const auto& count : report.counts) total += count.count;
  const auto& counts = report.counts;
  log::info("reconciliation finished",
            {{"reconciliation.run_id", report.run_id}, {"reconciliation.mismatches", total},
             {"event.duration", static_cast<std::int64_t>(took.count())}, {keys[0], counts[0].count},
             {keys[1], counts[1].count}, {keys[2], counts[2].count}, {keys[3], counts[3].count},
             {keys[4], counts[4].count}, {keys[5], counts[5].count}, {keys[6], counts[6].count},
             {keys[7], counts[7].count}});
  for (const auto& count : report.counts) {
    if (count.count == 0) continue;
    const storage::reconciliation_finding* first = nullptr;
    for (const auto& finding : report.findings)
      if (finding.kind == count.kind) {
        first = &finding;
        break;
      }
    log::error("reconciliation mismatch",
               {{"reconciliation.run_id", report.run_id}, {"reconciliation.kind", count.kind},
                {"reconciliation.count", count.count}, {"checkout.id", first ? first->checkout_id : ""},
                {"payment.id", first ? first->payment_id : ""}, {"error.message", first ? first->detail : ""}});
  }
}

void start_run(job_actor* self);

// Answers the run's requesters (with the report, or the failure when there is none), then starts
// the run that those who came meanwhile wait for.
void settle_run(job_actor* self, const reconciliation_report_pointer& report, const caf::error& failure) {
  auto& state = self->state;
  state.in_flight = false;
  for (auto& promise : state.served_by_this_run) {
    if (report) promise.deliver(report);
    else promise.deliver(failure);
  }
  state.served_by_this_run = std::move(state.served_by_next_run);
  state.served_by_next_run.clear();
  if (!state.served_by_this_run.empty()) start_run(self);
}

void fail_run(job_actor* self, const std::string& reason) {
  auto& state = self->state;
  state.board->count_failure();
  log::error("reconciliation failed", {{"reconciliation.run_id", state.run_id}, {"error.message", reason}});
  settle_run(self, nullptr, caf::make_error(inventory_errc::database_unavailable));
}

void start_run(job_actor* self) {
  auto& state = self->state;
  auto generation = ++state.generation;
  state.run_id = new_run_id();
  state.started = std::chrono::steady_clock::now();
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto submitted = state.pool->submit(
      [me, generation, run_id = state.run_id, checks = state.settings.checks](pqxx::connection& connection) {
        reconciliation_report_pointer report =
            std::make_shared<const storage::reconciliation_report>(storage::run_reconciliation(connection, run_id, checks));
        caf::anon_send(me, finished_atom::value, generation, std::move(report));
      },
      [me, generation](const storage::error& failure) {
        caf::anon_send(me, failed_atom::value, generation, failure.message);
      });
  if (submitted != storage::submit_status::accepted) return fail_run(self, "database job queue full or closed");
  state.in_flight = true;
  self->delayed_send(self, run_deadline_ms, deadline_atom::value, generation);
}

caf::behavior running(job_actor* self) {
  return {
      [self](tick_atom) {
        if (!self->state.in_flight) start_run(self);
        self->delayed_send(self, self->state.settings.interval_ms, tick_atom::value);
      },
      [self](run_atom) {
        auto& state = self->state;
        auto promise = self->make_response_promise<reconciliation_report_pointer>();
        if (state.served_by_this_run.size() + state.served_by_next_run.size() >= state.settings.waiting_requests_max) {
          promise.deliver(caf::make_error(inventory_errc::overloaded));
          return promise;
        }
        // A run already under way may have read the tables before the request: the next one answers.
        if (state.in_flight) {
          state.served_by_next_run.push_back(promise);
        } else {
          state.served_by_this_run.push_back(promise);
          start_run(self);
        }
        return promise;
      },
      [self](finished_atom, std::uint64_t generation, reconciliation_report_pointer& report) {
        auto& state = self->state;
        if (generation != state.generation) return;
        log_report(*report, std::chrono::steady_clock::now() - state.started);
        state.board->publish(report);
        settle_run(self, report, caf::error{});
      },
      [self](failed_atom, std::uint64_t generation, const std::string& reason) {
        if (generation != self->state.generation) return;
        fail_run(self, reason);
      },
      [self](deadline_atom, std::uint64_t generation) {
        auto& state = self->state;
        if (generation != state.generation || !state.in_flight) return;
        // Requesters are answered; in_flight stays set, since a second run would only wait behind
        // this one's advisory lock. Its late report is still published.
        log::error("reconciliation is taking too long", {{"reconciliation.run_id", state.run_id}});
        for (auto& promise : state.served_by_this_run) promise.deliver(caf::make_error(inventory_errc::database_unavailable));
        state.served_by_this_run.clear();
      },
  };
}

// A free function with arguments rather than a capturing lambda (see readiness_probe.cpp).
caf::behavior reconciliation_job(job_actor* self, storage::job_runner* pool, std::shared_ptr<reconciliation_board> board,
                                 reconciliation_job_settings settings) {
  self->state.pool = pool;
  self->state.board = std::move(board);
  self->state.settings = settings;
  // The first periodic run comes one interval after the start, not while the node is starting.
  if (settings.interval_ms.count() > 0) self->delayed_send(self, settings.interval_ms, tick_atom::value);
  return running(self);
}

caf::behavior run_caller(caf::event_based_actor* self, caf::actor job, std::chrono::milliseconds timeout,
                         reconciliation_callback done) {
  self->request(job, timeout, run_atom::value)
      .then(
          [self, done](reconciliation_report_pointer& report) {
            done(std::move(report), reconciliation_failure::none);
            self->quit();
          },
          [self, done](caf::error& failure) {
            auto why = reconciliation_failure::database_unavailable;
            if (failure == caf::sec::request_timeout) why = reconciliation_failure::timed_out;
            else if (is_inventory_error(failure) && inventory_code(failure) == inventory_errc::overloaded)
              why = reconciliation_failure::overloaded;
            else if (!is_inventory_error(failure)) why = reconciliation_failure::not_running;
            done(nullptr, why);
            self->quit();
          });
  return {};
}

}  // namespace

caf::actor spawn_reconciliation_job(caf::actor_system& system, storage::job_runner& pool,
                                    std::shared_ptr<reconciliation_board> board, reconciliation_job_settings settings) {
  auto job = system.spawn(reconciliation_job, &pool, board, settings);
  board->attach(job);
  return job;
}

void request_reconciliation_run(caf::actor_system& system, const reconciliation_board& board,
                                std::chrono::milliseconds timeout, reconciliation_callback done) {
  auto job = board.job();
  if (!job) return done(nullptr, reconciliation_failure::not_running);
  system.spawn(run_caller, std::move(job), timeout, std::move(done));
}

}  // namespace eventstripe::actors
