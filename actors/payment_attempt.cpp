#include "actors/payment_attempt.hpp"

#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/payment_calls.hpp"
#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "supervision/supervisor.hpp"

namespace eventstripe::actors {

std::string clipped(const std::string& text, std::size_t bytes) {
  if (text.size() <= bytes) return text;
  auto end = bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

storage::payment_attempt_row attempt_with(storage::payment_attempt_row attempt, const char* status,
                                          const provider_result& result) {
  attempt.status = status;
  if (!result.reference.empty()) attempt.reference = result.reference;
  attempt.http_status = result.http_status;
  attempt.detail = clipped(result.message);
  return attempt;
}

storage::payment_step attempt_step(const storage::payment_attempt_row& attempt, const std::string& payment_id) {
  storage::payment_step step;
  step.attempt = attempt;
  step.payment_id = payment_id;
  return step;
}

storage::payment_step status_step(const storage::payment_attempt_row& attempt, const std::string& payment_id,
                                  const char* status, const provider_result& result) {
  auto step = attempt_step(attempt, payment_id);
  step.payment_status = status;
  step.provider = attempt.provider;
  step.provider_reference = result.reference;
  step.failure_message = clipped(result.message);
  step.action_url = result.action_url;
  return step;
}

namespace {

using namespace payment_calls;  // backoff, call_provider, done_atom, later, on_done

// What a restart continues from: the attempt as last committed, and how often it was started.
// Written by the running attempt, read by its supervisor's start function after it stopped.
struct attempt_progress {
  storage::payment_attempt_row attempt;
  std::int32_t starts = 0;
};

// Restarts of one attempt its supervisor allows before it gives up (and the entity asks later).
constexpr std::size_t attempt_restarts_max = 3;
constexpr std::chrono::milliseconds attempt_restart_period_ms{30'000};

struct attempt_state {
  std::shared_ptr<const services> shared;
  attempt_job job;
  std::shared_ptr<attempt_progress> progress;
  storage::payment_attempt_row attempt;  // as last committed, plus the reference once named
  std::int32_t calls = 0;                // provider calls made by this run
  bool hinted = false;                   // a webhook named the attempt while a call ran
  bool sleeping = false;                 // waiting out a backoff before the next question
  std::uint64_t sleep_generation = 0;
  std::uint64_t token = 0;
  std::unordered_map<std::uint64_t, std::function<void(bool)>> continuations;
  std::mt19937_64 jitter{std::random_device{}()};
  static inline const char* name = "payment_attempt";
};

using attempt_actor = caf::stateful_actor<attempt_state>;

void query(attempt_actor* self, bool verdicts_read = false);
void confirm(attempt_actor* self);
void act_on(attempt_actor* self, const provider_result& result);

bool kind_is(attempt_actor* self, std::string_view kind) { return self->state.job.provider->kind() == kind; }

payment_request request_of(attempt_actor* self) {
  auto request = self->state.job.request;
  request.attempt = self->state.attempt.attempt;
  request.idempotency_key = self->state.attempt.idempotency_key;
  return request;
}

const std::string& payment_id(attempt_actor* self) { return self->state.job.request.payment_id; }

// The attempt ends: the entity commits `result` and decides what follows.
void finish(attempt_actor* self, const provider_result& result) {
  auto& state = self->state;
  auto outcome = std::make_shared<attempt_outcome>();
  outcome->mode = state.job.mode;
  outcome->attempt = state.attempt;
  outcome->result = result;
  outcome->waiting = state.job.waiting;
  self->send(state.job.entity, attempt_done_atom::value, state.job.generation, attempt_outcome_pointer{outcome});
  self->quit();
}

// The entity commits `step`; `next` runs once it has. An error means the entity moved on (it
// reloaded, was fenced or stopped): this run is over.
void commit(attempt_actor* self, storage::payment_step step, bool answer_waiting, std::function<void()> next) {
  auto& state = self->state;
  auto request = std::make_shared<attempt_step_request>(attempt_step_request{std::move(step), answer_waiting});
  self->request(state.job.entity, caf::infinite, attempt_step_atom::value, state.job.generation,
                attempt_step_pointer{request})
      .then(
          [self, request, next = std::move(next)](caf::ok_atom) {
            if (request->step.attempt) {
              auto reference = self->state.attempt.reference;
              self->state.attempt = *request->step.attempt;
              if (self->state.attempt.reference.empty()) self->state.attempt.reference = reference;
              self->state.progress->attempt = self->state.attempt;
            }
            next();
          },
          [self](caf::error&) { self->quit(); });
}

// Adyen states an outcome only in its signed notifications, which reach the entity: it is asked
// whether one settled this attempt (and settles it), else `otherwise` runs.
void ask_verdict(attempt_actor* self, bool read_stored, std::function<void()> otherwise) {
  auto& state = self->state;
  self->request(state.job.entity, caf::infinite, attempt_verdict_atom::value, state.job.generation,
                std::make_shared<const storage::payment_attempt_row>(state.attempt), read_stored)
      .then(
          [self, otherwise = std::move(otherwise)](bool settled) {
            if (settled) return self->quit();
            otherwise();
          },
          [self](caf::error&) { self->quit(); });
}

// Asks the provider again after `delay`, or at once when a webhook names the attempt meanwhile.
void sleep_then_query(attempt_actor* self, std::chrono::milliseconds delay) {
  auto& state = self->state;
  state.sleeping = true;
  auto generation = ++state.sleep_generation;
  later(self, delay, [self, generation] {
    if (!self->state.sleeping || generation != self->state.sleep_generation) return;
    self->state.sleeping = false;
    query(self);
  });
}

// Stores `created` (with the provider's reference) before the confirm, the call that charges.
void commit_created(attempt_actor* self, const provider_result& result) {
  auto created = attempt_with(self->state.attempt, "created", result);
  commit(self, attempt_step(created, payment_id(self)), false, [self] { confirm(self); });
}

// Makes one call about this attempt to its provider (counted: the retry bounds use the count)
// and hands the answer to `then`. `call` runs on a provider thread.
using attempt_call = std::function<provider_result(payment_provider&, const payment_request&)>;
void ask_provider(attempt_actor* self, attempt_call call, std::function<void(const provider_result&)> then) {
  auto provider = self->state.job.provider;
  auto request = request_of(self);
  ++self->state.calls;
  call_provider<provider_result>(
      self, [provider, request, call = std::move(call)] { return call(*provider, request); }, std::move(then));
}

// A create moves no money (Stripe: an unconfirmed PaymentIntent; Adyen: no call), so it needs no
// commit before it: a restart uses the same attempt number, hence the same key, and the provider
// answers with what it made the first time.
void create(attempt_actor* self) {
  ask_provider(
      self, [](payment_provider& provider, const payment_request& request) { return provider.create(request); },
      [self](const provider_result& result) {
        auto& state = self->state;
        switch (result.outcome) {
          case provider_outcome::created: return commit_created(self, result);
          case provider_outcome::failed_before_acceptance: return finish(self, result);
          case provider_outcome::unknown: {
            // Nothing is charged by a create; repeating it with the same key is the question.
            if (state.calls < static_cast<std::int32_t>(state.shared->payments.attempts_max))
              return sleep_then_query(self, backoff(self, state.calls));
            auto failed = result;
            failed.outcome = provider_outcome::failed_before_acceptance;
            return finish(self, failed);
          }
          default: return act_on(self, result);
        }
      });
}

// Runs with the attempt stored as `created`: a failure during the confirm leaves it so, and the
// restarted attempt asks the provider what became of it.
void confirm(attempt_actor* self) {
  ask_provider(
      self,
      [reference = self->state.attempt.reference](payment_provider& provider, const payment_request& request) {
        return provider.confirm(request, reference);
      },
      [self](const provider_result& result) { act_on(self, result); });
}

void query(attempt_actor* self, bool verdicts_read) {
  auto& state = self->state;
  // A verdict recorded while its hint was lost (a shard moving) is read back first: Adyen
  // replays its first answer when asked again.
  if (kind_is(self, "adyen") && !verdicts_read)
    return ask_verdict(self, true, [self] { query(self, true); });
  bool never_created = state.attempt.reference.empty() && kind_is(self, "stripe");
  ask_provider(
      self,
      [reference = state.attempt.reference, never_created](payment_provider& provider, const payment_request& request) {
        return never_created ? provider.create(request) : provider.retrieve(request, reference);
      },
      [self, never_created](const provider_result& result) {
        if (never_created && result.outcome == provider_outcome::created) return commit_created(self, result);
        // A question about an attempt that may have taken money never moves to another provider:
        // a read that did not happen (queue full, connection refused) says nothing about it.
        if (result.outcome == provider_outcome::failed_before_acceptance && !never_created) {
          auto unknown = result;
          unknown.outcome = provider_outcome::unknown;
          return act_on(self, unknown);
        }
        act_on(self, result);
      });
}

void cancel(attempt_actor* self) {
  log::info("cancelling an abandoned payment", {{"checkout.id", self->state.job.request.checkout_id},
                                                {"provider", self->state.job.provider->name()}});
  ask_provider(
      self,
      [reference = self->state.attempt.reference](payment_provider& provider, const payment_request& request) {
        return provider.cancel(request, reference);
      },
      [self](const provider_result& result) { finish(self, result); });
}

// An answer that is not final; asked about again with backoff, never sent to another provider.
void keep_asking(attempt_actor* self, const provider_result& result) {
  auto& state = self->state;
  const char* status = result.outcome == provider_outcome::processing ? "processing" : "unknown";
  auto step = status_step(attempt_with(state.attempt, status, result), payment_id(self), status, result);
  // After the bounded number of calls the buyers hear "unknown"; the asking goes on at the
  // longest interval.
  bool answer = state.calls >= static_cast<std::int32_t>(state.shared->payments.attempts_max);
  commit(self, step, answer, [self] {
    auto& state = self->state;
    auto delay = std::exchange(state.hinted, false) ? std::chrono::milliseconds{0} : backoff(self, state.calls);
    sleep_then_query(self, delay);
  });
}

void decide(attempt_actor* self, const provider_result& result) {
  switch (result.outcome) {
    case provider_outcome::created:
      self->state.attempt = attempt_with(self->state.attempt, "created", result);
      return confirm(self);
    case provider_outcome::processing:
    case provider_outcome::unknown:
      // A bank transfer arrives outside: nothing to ask until the organizer marks it paid.
      if (kind_is(self, "offline")) return finish(self, result);
      return keep_asking(self, result);
    default: return finish(self, result);
  }
}

void act_on(attempt_actor* self, const provider_result& result) {
  auto& state = self->state;
  if (state.shared->fault_injection && state.shared->attempt_failure->load())
    throw std::runtime_error("fault injection: the attempt fails after its provider answered");
  bool final = result.outcome == provider_outcome::succeeded || result.outcome == provider_outcome::declined;
  if (!final && !result.reference.empty() && state.attempt.reference.empty()) state.attempt.reference = result.reference;
  // An Adyen answer that is not final (a replay of its first answer) yields to a signed verdict.
  if (!final && kind_is(self, "adyen")) return ask_verdict(self, false, [self, result] { decide(self, result); });
  decide(self, result);
}

caf::behavior attempt(attempt_actor* self, attempt_job job, std::shared_ptr<attempt_progress> progress) {
  auto& state = self->state;
  state.shared = job.shared;
  state.attempt = job.attempt;
  state.job = std::move(job);
  state.progress = std::move(progress);
  self->set_exception_handler([self](std::exception_ptr& failure) -> caf::error {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      log::error("payment attempt failed", {{"checkout.id", self->state.job.request.checkout_id},
                                            {"attempt", self->state.attempt.attempt},
                                            {"error.message", error.what()}});
    } catch (...) {
    }
    return caf::sec::runtime_error;  // its supervisor restarts it from what is committed
  });
  self->send(state.job.entity, attempt_atom::value, state.job.generation);
  if (state.progress->starts > 1)
    log::warn("payment attempt restarted by its supervisor",
              {{"checkout.id", state.job.request.checkout_id}, {"attempt", state.attempt.attempt},
               {"attempt.status", state.attempt.status}, {"starts", state.progress->starts}});
  switch (state.job.mode) {
    case attempt_mode::create: create(self); break;
    case attempt_mode::query: query(self); break;
    case attempt_mode::cancel: cancel(self); break;
  }
  return {
      [self](done_atom, std::uint64_t token, bool ran) { on_done(self, token, ran); },
      [self](hint_atom) {
        auto& state = self->state;
        if (!state.sleeping) {
          state.hinted = true;
          return;
        }
        state.sleeping = false;
        ++state.sleep_generation;
        query(self);
      },
  };
}

}  // namespace

caf::actor spawn_supervised_attempt(caf::actor_system& system, attempt_job job) {
  auto progress = std::make_shared<attempt_progress>();
  progress->attempt = job.attempt;
  supervision::child_spec spec;
  spec.id = "attempt-" + std::to_string(job.attempt.attempt);
  spec.restart = supervision::restart_type::transient;
  spec.start = [job = std::move(job), progress](caf::actor_system& system) {
    auto run = job;
    run.attempt = progress->attempt;
    // A restart continues from what is committed: an attempt stored as `created` or later may
    // have charged, so it is only ever asked about, never confirmed again.
    if (++progress->starts > 1 && (run.mode == attempt_mode::cancel || run.attempt.status != "creating"))
      run.mode = attempt_mode::query;
    return system.spawn(attempt, std::move(run), progress);
  };
  supervision::supervisor_flags flags;
  flags.intensity = {attempt_restarts_max, attempt_restart_period_ms};
  flags.exit_when_children_done = true;
  return caf::actor_cast<caf::actor>(supervision::spawn_supervisor(system, flags, {std::move(spec)}));
}

}  // namespace eventstripe::actors
