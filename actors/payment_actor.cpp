#include "actors/payment_actor.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/typed_response_promise.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "actors/call_pool.hpp"
#include "actors/entity_messaging.hpp"
#include "actors/hold_pricing.hpp"
#include "actors/idle_watch.hpp"
#include "actors/money.hpp"
#include "actors/payment_attempt.hpp"
#include "actors/payment_calls.hpp"
#include "actors/payment_provider.hpp"
#include "actors/payments/encoding.hpp"
#include "actors/payments/key_wrapping.hpp"
#include "actors/payments/method_catalogue.hpp"
#include "actors/payments/retry_backoff.hpp"
#include "actors/payments/ticket_signing.hpp"
#include "actors/time_format.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/payments.hpp"

namespace eventstripe::actors {
namespace {

using namespace payment_calls;  // backoff, call_provider, done_atom, later, on_done
using answer_atom = caf::atom_constant<caf::atom("answer")>;

// Tickets admit from this long before the event starts until this long after it ends.
constexpr std::int64_t admission_before_start_ms = 12LL * 3600 * 1000;
constexpr std::int64_t admission_after_end_ms = 6LL * 3600 * 1000;
// Why a payment that succeeded after its hold expired, with no seat left, is refunded.
const std::string late_payment_refund_reason = "sold_out_after_expiry";

struct payment_state {
  std::shared_ptr<const services> shared;
  placement where;
  std::string checkout_id;
  bool loaded = false;
  storage::order_row order;
  // The providers the live payment goes through, in order, and the one in use.
  std::vector<std::shared_ptr<payment_provider>> route;
  std::size_t route_index = 0;
  std::int32_t rounds = 0;          // passes over the route that all failed before acceptance
  bool busy = false;                // a step (provider call, fulfilment, refund) is under way
  // The live attempt (payment_attempt.hpp): its supervisor, the attempt actor once it said it
  // runs, and the number of this run (messages of an earlier run are ignored). The holder lets
  // the actor's exit take a live attempt down with it.
  std::shared_ptr<caf::actor> attempt_supervisor = std::make_shared<caf::actor>();
  caf::actor attempt_actor;
  std::uint64_t attempt_generation = 0;
  std::int32_t attempt_failures = 0;  // attempt supervisors in a row that gave up
  bool hinted = false;              // a webhook arrived while busy: read the state again after
  // Pay requests answered at the next settled state; `replays` marks those that repeated an
  // Idempotency-Key (answered as replays).
  std::vector<caf::typed_response_promise<payment_answer>> waiting;
  std::set<std::size_t> replays;
  bool preparing = false;
  std::vector<caf::typed_response_promise<payment_answer>> refund_waiting;  // organizers' refund requests
  std::int32_t refund_polls = 0;  // times a pending refund was asked about
  // Adyen notifications (the only statement of an Adyen outcome) that arrived while a step ran:
  // kept until the actor looks at the attempt or refund they name, never dropped.
  struct notification {
    std::string provider, reference, merchant_reference, type;
    bool success = false;
  };
  std::vector<notification> notifications;
  std::uint64_t recheck_generation = 0;  // the live 3-D Secure recheck timer
  std::uint64_t answer_generation = 0;
  caf::actor_clock::time_point pay_arrived_at{};  // a payment is being started: new pay requests wait in `deferred`
  std::vector<std::pair<pay_request, caf::typed_response_promise<payment_answer>>> deferred;
  std::uint64_t token = 0;
  std::unordered_map<std::uint64_t, std::function<void(bool)>> continuations;
  std::mt19937_64 jitter{std::random_device{}()};
  idle_watch idle;
  static inline const char* name = "payment";
};

using payment_actor = caf::stateful_actor<payment_state>;

caf::behavior running(payment_actor* self);
void resume(payment_actor* self);
void fulfil(payment_actor* self);
void stop_attempt(payment_actor* self);

storage::fence fence_of(const payment_state& state) {
  return {state.where.shard, state.where.epoch, state.shared->node_id};
}

storage::payment_row* live_payment(payment_state& state) {
  if (state.order.payments.empty()) return nullptr;
  return &state.order.payments.back();
}

bool is_final(const std::string& status) {
  return status == "succeeded" || status == "declined" || status == "failed" || status == "cancelled";
}

// --- running blocking work off the scheduler ---------------------------------------------------

// Runs `job` on the database pool; `then(true)` after it returned (its result is in what the job
// captured), `then(false)` when it could not run or threw.
void run_job(payment_actor* self, std::function<void(pqxx::connection&)> job, std::function<void(bool)> then) {
  auto token = payment_calls::expect_done(self, std::move(then));
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto accepted = self->state.shared->payments_jobs().submit(
      [me, token, job](pqxx::connection& connection) {
        job(connection);
        caf::anon_send(me, done_atom::value, token, true);
      },
      [me, token](const storage::error&) { caf::anon_send(me, done_atom::value, token, false); });
  if (accepted != storage::submit_status::accepted) caf::anon_send(me, done_atom::value, token, false);
}

// --- answers -----------------------------------------------------------------------------------

nlohmann::json money_json(std::int64_t minor, const std::string& currency) {
  std::string text;
  append_money_json(text, minor, currency);
  return nlohmann::json::parse(text);
}

std::string payment_json(const payment_state& state, const storage::payment_row& payment) {
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& attempt : payment.attempts)
    attempts.push_back({{"attempt", attempt.attempt}, {"provider", attempt.provider}, {"status", attempt.status}});
  nlohmann::json json{
      {"id", payment.id},
      {"checkout_id", payment.checkout_id},
      {"status", payment.status},
      {"order_status", state.order.order_status.empty() ? nullptr : nlohmann::json(state.order.order_status)},
      {"amount", money_json(payment.amount_minor, payment.currency)},
      {"captured", money_json(payment.captured_minor, payment.currency)},
      {"refunded", money_json(payment.refunded_minor, payment.currency)},
      {"method", payment.method},
      {"provider", payment.provider.empty() ? nullptr : nlohmann::json(payment.provider)},
      {"provider_reference", payment.provider_reference.empty() ? nullptr : nlohmann::json(payment.provider_reference)},
      {"next_action", payment.status == "requires_action" && !payment.action_url.empty()
                          ? nlohmann::json{{"type", "redirect_to_url"}, {"url", payment.action_url}}
                          : nlohmann::json(nullptr)},
      {"decline_code", payment.decline_code.empty() ? nullptr : nlohmann::json(payment.decline_code)},
      {"failure_message", payment.failure_message.empty() ? nullptr : nlohmann::json(payment.failure_message)},
      {"attempts", attempts},
      {"created_at", iso8601_ms(payment.created_at_ms)},
  };
  nlohmann::json refunds = nlohmann::json::array();
  for (const auto& refund : state.order.refunds)
    if (refund.payment_id == payment.id)
      refunds.push_back({{"id", refund.id},
                         {"amount", money_json(refund.amount_minor, refund.currency)},
                         {"status", refund.status},
                         {"reason", refund.reason},
                         {"ticket_type_ids", refund.ticket_type_ids},
                         {"release_seats", refund.release_seats}});
  json["refunds"] = refunds;
  if (payment.method == "bank_transfer" && !payment.provider_reference.empty())
    json["bank_transfer"] = {{"reference", payment.provider_reference},
                             {"amount", money_json(payment.amount_minor, payment.currency)}};
  return json.dump();
}

bool settled_for_answer(const storage::payment_row& payment) {
  return is_final(payment.status) || payment.status == "requires_action";
}

payment_answer answer_of(payment_state& state, bool replayed) {
  auto* payment = live_payment(state);
  return {payment_json(state, *payment), replayed, settled_for_answer(*payment)};
}

void answer_waiting(payment_actor* self) {
  auto& state = self->state;
  if (state.waiting.empty() || !live_payment(state)) return;
  auto answer = answer_of(state, false);
  auto replay = answer_of(state, true);
  for (std::size_t i = 0; i < state.waiting.size(); ++i)
    state.waiting[i].deliver(state.replays.count(i) ? replay : answer);
  state.waiting.clear();
  state.replays.clear();
}

void tell_checkout(payment_actor* self, const std::string& order_status, const std::string& announce) {
  self->state.order.order_status = order_status;
  tell_entity(*self->state.shared, entity_kind::checkout, self->state.checkout_id,
              caf::make_message(order_atom::value, order_status, announce));
}

// --- committing steps ----------------------------------------------------------------------------

// Writes `step` (fenced), applies it to the loaded picture, then calls `next`. A write that did
// not commit leaves the picture as it was and retries after a pause: every provider result is
// recorded before anything depends on it.
void commit_step(payment_actor* self, storage::payment_step step, std::function<void()> next, std::int32_t retry = 0) {
  auto outcome = std::make_shared<storage::write_result>(storage::write_result::conflict);
  auto where = fence_of(self->state);
  run_job(
      self, [outcome, where, step](pqxx::connection& connection) { *outcome = storage::write_payment_step(connection, where, step); },
      [self, outcome, step, next, retry](bool ran) {
        auto& state = self->state;
        if (ran && *outcome == storage::write_result::fenced) {
          answer_waiting(self);
          return self->quit(caf::make_error(inventory_errc::fenced));
        }
        if (!ran) {
          log::warn("payment step did not commit; retrying", {{"checkout.id", state.checkout_id}});
          return later(self, backoff(self, retry), [self, step, next, retry] { commit_step(self, step, next, retry + 1); });
        }
        if (*outcome == storage::write_result::conflict) {
          // The order moved on without us (another activation, an organizer): start again from
          // what is stored.
          log::warn("payment step found the order changed; reloading", {{"checkout.id", state.checkout_id}});
          stop_attempt(self);
          state.busy = false;
          state.loaded = false;
          return resume(self);
        }
        auto* payment = live_payment(state);
        if (payment && payment->id == step.payment_id) {
          if (step.attempt) {
            auto& attempts = payment->attempts;
            auto found = std::find_if(attempts.begin(), attempts.end(),
                                      [&](auto& a) { return a.attempt == step.attempt->attempt; });
            if (found == attempts.end()) attempts.push_back(*step.attempt);
            else {
              auto reference = found->reference;
              *found = *step.attempt;
              if (found->reference.empty()) found->reference = reference;
            }
          }
          if (step.payment_status) {
            payment->status = *step.payment_status;
            if (!step.provider.empty()) payment->provider = step.provider;
            if (!step.provider_reference.empty()) payment->provider_reference = step.provider_reference;
            if (step.captured_minor) payment->captured_minor = *step.captured_minor;
            payment->decline_code = step.decline_code;
            payment->failure_message = step.failure_message;
            payment->action_url = step.action_url;
          }
        }
        if (step.order_status_from != "-") state.order.order_status = step.order_status_to;
        next();
      });
}

// --- the provider steps --------------------------------------------------------------------------

payment_request request_for(const payment_state& state, const storage::payment_row& payment,
                            const storage::payment_attempt_row& attempt) {
  payment_request request;
  request.payment_id = payment.id;
  request.checkout_id = payment.checkout_id;
  request.attempt = attempt.attempt;
  request.amount_minor = payment.amount_minor;
  request.currency = payment.currency;
  request.method = payment.method;
  request.method_token = payment.method_token;
  request.buyer_email = state.order.buyer_email;
  request.buyer_country = payment.buyer_country;
  request.description = "EventStripe order " + payment.checkout_id;
  request.return_url = payment.return_url;
  request.idempotency_key = attempt.idempotency_key;
  return request;
}

std::shared_ptr<payment_provider> provider_named(const payment_state& state, const std::string& name) {
  for (const auto& provider : state.shared->providers)
    if (provider->name() == name) return provider;
  return nullptr;
}

std::int32_t next_attempt_number(const payment_state& state) {
  std::int32_t highest = 0;
  for (const auto& payment : state.order.payments)
    for (const auto& attempt : payment.attempts) highest = std::max(highest, attempt.attempt);
  return highest + 1;
}

void start_attempt(payment_actor* self);
void captured(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result);
void end_unpaid(payment_actor* self, const storage::payment_attempt_row& attempt, const char* status,
                const provider_result& result);
void run_attempt(payment_actor* self, const storage::payment_attempt_row& attempt, attempt_mode mode,
                 const provider_result& waiting = {});
void queue_stored_verdicts(payment_state& state, const std::vector<storage::webhook_event_row>& verdicts);
void read_stored_verdicts(payment_actor* self, std::function<void()> then);
bool settle_from_notification(payment_actor* self, const storage::payment_attempt_row& attempt);
void attempt_ended(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result);

// The payment ends without money taken: the checkout is free for another payment (or to be
// released) while its holds last.
void end_unpaid(payment_actor* self, const storage::payment_attempt_row& attempt, const char* status,
                const provider_result& result) {
  auto* payment = live_payment(self->state);
  storage::payment_step step;
  step.attempt = attempt;
  step.payment_id = payment->id;
  step.payment_status = status;
  step.provider = attempt.provider;
  step.provider_reference = attempt.reference;
  step.decline_code = result.decline_code;
  step.failure_message = clipped(result.message);
  step.order_status_from = "payment_pending";
  step.order_status_to = "";
  std::string announce = std::string{"payment_"} + status;
  commit_step(self, step, [self, announce] {
    self->state.busy = false;
    tell_checkout(self, "", announce);
    answer_waiting(self);
  });
}

void next_provider(payment_actor* self, const storage::payment_attempt_row& failed, const provider_result& result) {
  auto& state = self->state;
  commit_step(self, attempt_step(attempt_with(failed, "failed_before_acceptance", result), live_payment(state)->id), [self, result] {
    auto& state = self->state;
    ++state.route_index;
    if (state.route_index < state.route.size()) return start_attempt(self);
    // Every provider failed before accepting: try the route again after a pause, a bounded
    // number of times, then give up (nothing was charged anywhere).
    if (++state.rounds < static_cast<std::int32_t>(state.shared->payments.attempts_max)) {
      state.route_index = 0;
      return later(self, backoff(self, state.rounds), [self] { start_attempt(self); });
    }
    auto* payment = live_payment(state);
    storage::payment_attempt_row last = payment->attempts.back();
    provider_result failure = result;
    failure.message = "every provider failed before accepting the payment: " + result.message;
    end_unpaid(self, last, "failed", failure);
  });
}

void start_attempt(payment_actor* self) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  if (state.route_index >= state.route.size()) {
    provider_result none;
    none.message = "no configured provider offers this method";
    auto number = next_attempt_number(state);
    storage::payment_attempt_row placeholder{payment->id, number, "none", provider_idempotency_key(state.checkout_id, number),
                                             "", "rejected", 0, ""};
    return end_unpaid(self, placeholder, "failed", none);
  }
  auto provider = state.route[state.route_index];
  storage::payment_attempt_row attempt;
  attempt.payment_id = payment->id;
  attempt.attempt = next_attempt_number(state);
  attempt.provider = provider->name();
  attempt.idempotency_key = provider_idempotency_key(state.checkout_id, attempt.attempt);
  attempt.status = "creating";
  run_attempt(self, attempt, attempt_mode::create);
}

// Starts one attempt actor for `attempt` under a supervisor of its own (payment_attempt.hpp),
// after the previous run, if any, was retired. The actor stays busy until the attempt ends.
void run_attempt(payment_actor* self, const storage::payment_attempt_row& attempt, attempt_mode mode,
                 const provider_result& waiting) {
  auto& state = self->state;
  auto provider = provider_named(state, attempt.provider);
  if (!provider) {
    log::error("payment attempt names a provider that is not configured",
               {{"checkout.id", state.checkout_id}, {"provider", attempt.provider}});
    state.busy = false;
    return answer_waiting(self);
  }
  state.busy = true;
  attempt_job job;
  job.shared = state.shared;
  job.entity = caf::actor_cast<caf::actor>(self);
  job.generation = ++state.attempt_generation;
  job.mode = mode;
  job.provider = provider;
  job.request = request_for(state, *live_payment(state), attempt);
  job.attempt = attempt;
  job.waiting = waiting;
  state.attempt_actor = nullptr;
  *state.attempt_supervisor = spawn_supervised_attempt(self->system(), std::move(job));
  self->monitor(*state.attempt_supervisor);
}

// The live attempt is over (it ended, or the entity settled it from a notification): whatever
// its run still sends is ignored.
void retire_attempt(payment_actor* self) {
  auto& state = self->state;
  ++state.attempt_generation;
  *state.attempt_supervisor = nullptr;
  state.attempt_actor = nullptr;
  state.attempt_failures = 0;
}

// The live attempt must stop now (the order changed under it): its supervisor is killed, which
// takes the attempt along.
void stop_attempt(payment_actor* self) {
  auto& state = self->state;
  if (*state.attempt_supervisor) self->send_exit(*state.attempt_supervisor, caf::exit_reason::kill);
  ++state.attempt_generation;
  *state.attempt_supervisor = nullptr;
  state.attempt_actor = nullptr;
}

// The payment waits for the buyer's step (3-D Secure, a redirect). A webhook is only a hint and
// may never come: the provider is asked again now and then.
void wait_for_buyer(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result) {
  auto step = status_step(attempt_with(attempt, "requires_action", result), live_payment(self->state)->id,
                          "requires_action", result);
  step.failure_message.clear();
  commit_step(self, step, [self] {
    self->state.busy = false;
    tell_checkout(self, "payment_pending", "requires_action");
    answer_waiting(self);
    if (std::exchange(self->state.hinted, false)) return resume(self);
    // One recheck timer at a time: an earlier one that comes due does nothing.
    auto generation = ++self->state.recheck_generation;
    later(self, self->state.shared->payments.action_recheck_ms, [self, generation] {
      auto* payment = live_payment(self->state);
      if (generation == self->state.recheck_generation && payment && payment->status == "requires_action" &&
          !self->state.busy)
        resume(self);
    });
  });
}

// Cancels an abandoned payment at its provider (an attempt in cancel mode), which ends it unpaid
// and frees the checkout. If the buyer finished the step meanwhile, the provider says so and the
// payment is captured; if the cancel gets no definite answer, the payment goes on waiting and is
// tried again later.
void cancel_ended(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result,
                  const provider_result& waiting) {
  switch (result.outcome) {
    case provider_outcome::cancelled:
      return end_unpaid(self, attempt_with(attempt, "cancelled", result), "cancelled", result);
    case provider_outcome::succeeded: return captured(self, attempt, result);
    default: return wait_for_buyer(self, attempt, waiting);
  }
}

void captured(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result) {
  auto* payment = live_payment(self->state);
  if (result.amount_minor != 0 && result.amount_minor != payment->amount_minor)
    log::error("provider captured another amount than the payment's",
               {{"checkout.id", payment->checkout_id}, {"payment.id", payment->id},
                {"amount.expected", payment->amount_minor}, {"amount.captured", result.amount_minor}});
  storage::payment_step step;
  step.attempt = attempt_with(attempt, "succeeded", result);
  step.payment_id = payment->id;
  step.payment_status = "succeeded";
  step.provider = attempt.provider;
  step.provider_reference = step.attempt->reference;
  step.captured_minor = result.amount_minor != 0 ? result.amount_minor : payment->amount_minor;
  step.order_status_from = "payment_pending";
  step.order_status_to = "paid";
  commit_step(self, step, [self] {
    tell_checkout(self, "paid", "paid");
    answer_waiting(self);
    fulfil(self);
  });
}

// Adyen has no endpoint to read a payment: its HMAC-signed notifications are where the outcome of
// a payment that went to the buyer (3-D Secure, a redirect) or stayed pending is stated, so an
// AUTHORISATION notification for the live attempt settles it, and a REFUND one the refund its
// merchant reference names. (Stripe's webhooks stay hints: its payment is read again.) A
// notification that arrives while a step runs is queued and applied when the actor next looks.

// The queued AUTHORISATION verdict for `attempt`, if any (removed from the queue). It must name
// the attempt's pspReference, or, for an attempt the provider gave none, the checkout and no
// pspReference of an earlier attempt (a late verdict on an older payment).
std::optional<payment_state::notification> authorisation_for(payment_state& state,
                                                             const storage::payment_attempt_row& attempt) {
  for (auto it = state.notifications.begin(); it != state.notifications.end(); ++it) {
    if (it->type != "AUTHORISATION" || it->provider != attempt.provider) continue;
    bool named = attempt.reference.empty() ? it->merchant_reference == state.checkout_id
                                           : it->reference == attempt.reference;
    for (const auto& payment : state.order.payments)
      for (const auto& earlier : payment.attempts)
        if (earlier.attempt != attempt.attempt && earlier.reference == it->reference) named = false;
    if (!named) continue;
    auto found = *it;
    state.notifications.erase(it);
    return found;
  }
  return std::nullopt;
}

std::optional<payment_state::notification> refund_verdict_for(payment_state& state, const storage::refund_row& refund) {
  for (auto it = state.notifications.begin(); it != state.notifications.end(); ++it)
    if (it->type == "REFUND" && it->merchant_reference == refund.id) {
      auto found = *it;
      state.notifications.erase(it);
      return found;
    }
  return std::nullopt;
}

bool states_verdict(const payment_state& state, const std::string& provider, const std::string& type) {
  auto named = provider_named(state, provider);
  return named && named->kind() == "adyen" && (type == "AUTHORISATION" || type == "REFUND");
}

// Queues the Adyen verdicts recorded for this checkout, unless queued already: a node that
// answered [accepted] and died before applying one, or whose hint was lost, finds it here.
void queue_stored_verdicts(payment_state& state, const std::vector<storage::webhook_event_row>& verdicts) {
  for (const auto& event : verdicts) {
    if (!states_verdict(state, event.provider, event.type)) continue;
    payment_state::notification stored{event.provider, event.reference, event.merchant_reference, event.type,
                                       event.success};
    auto same = [&](const payment_state::notification& queued) {
      return queued.provider == stored.provider && queued.reference == stored.reference &&
             queued.merchant_reference == stored.merchant_reference && queued.type == stored.type &&
             queued.success == stored.success;
    };
    if (std::none_of(state.notifications.begin(), state.notifications.end(), same)) state.notifications.push_back(stored);
  }
}

// Queues the verdicts recorded for this checkout (a read that failed queues none), then `then`.
void read_stored_verdicts(payment_actor* self, std::function<void()> then) {
  auto verdicts = std::make_shared<std::vector<storage::webhook_event_row>>();
  auto id = self->state.checkout_id;
  run_job(
      self, [verdicts, id](pqxx::connection& connection) { *verdicts = storage::verdicts_of(connection, id); },
      [self, verdicts, then = std::move(then)](bool ran) {
        if (ran) queue_stored_verdicts(self->state, *verdicts);
        then();
      });
}

// Settles the live attempt from a queued AUTHORISATION verdict; true when one applied.
bool settle_from_notification(payment_actor* self, const storage::payment_attempt_row& attempt) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  bool open = payment->status == "requires_action" || payment->status == "processing" ||
              payment->status == "unknown" || payment->status == "pending";
  if (!open) return false;
  auto verdict = authorisation_for(state, attempt);
  if (!verdict) return false;
  state.busy = true;
  provider_result result;
  result.reference = verdict->reference;
  if (verdict->success) {
    result.outcome = provider_outcome::succeeded;
    result.amount_minor = payment->amount_minor;
    result.message = "AUTHORISATION notification";
    captured(self, attempt, result);
  } else {
    result.outcome = provider_outcome::declined;
    result.message = "AUTHORISATION notification: refused";
    end_unpaid(self, attempt_with(attempt, "declined", result), "declined", result);
  }
  return true;
}

// What follows an attempt that ended (payment_attempt.hpp decides which outcomes end one).
void attempt_ended(payment_actor* self, const storage::payment_attempt_row& attempt, const provider_result& result) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  switch (result.outcome) {
    case provider_outcome::succeeded: return captured(self, attempt, result);
    case provider_outcome::declined: return end_unpaid(self, attempt_with(attempt, "declined", result), "declined", result);
    case provider_outcome::rejected: return end_unpaid(self, attempt_with(attempt, "rejected", result), "failed", result);
    case provider_outcome::cancelled:
      return end_unpaid(self, attempt_with(attempt, "cancelled", result), "cancelled", result);
    case provider_outcome::failed_before_acceptance: return next_provider(self, attempt, result);
    case provider_outcome::created: return run_attempt(self, attempt, attempt_mode::query);
    case provider_outcome::requires_action: {
      // A buyer who left the 3-D Secure step for twice as long as a hold lasts has abandoned it
      // (the first hold time is theirs; the second lets a late payment still find a seat).
      // Only where a cancel's answer is final (Stripe): Adyen answers a cancel "received" and
      // states the outcome later, so its abandoned payments wait for their notification.
      auto age = state.shared->now_ms(self->clock()) - payment->created_at_ms;
      auto provider = provider_named(state, attempt.provider);
      if (age > 2 * state.shared->limits.hold_ttl_ms.count() && provider && provider->kind() == "stripe")
        return run_attempt(self, attempt, attempt_mode::cancel, result);
      return wait_for_buyer(self, attempt, result);
    }
    case provider_outcome::processing:
    case provider_outcome::unknown: {
      // Attempts end so only for a bank transfer, which arrives outside: nothing to ask until the
      // organizer marks it paid. Any other provider may have taken the money: it is asked again.
      const char* status = result.outcome == provider_outcome::processing ? "processing" : "unknown";
      auto step = status_step(attempt_with(attempt, status, result), payment->id, status, result);
      auto provider = provider_named(state, attempt.provider);
      bool offline = provider && provider->kind() == "offline";
      return commit_step(self, step, [self, offline, asked = *step.attempt] {
        if (!offline)
          return later(self, backoff(self, 1), [self, asked] { run_attempt(self, asked, attempt_mode::query); });
        self->state.busy = false;
        answer_waiting(self);
      });
    }
  }
}

// --- fulfilment: seats sold, tickets signed ----------------------------------------------------

// An unguessable id: 22 characters from the system's random device (about 113 bits).
std::string random_id(const char* prefix) {
  static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  std::string id = prefix;
  std::random_device device;
  for (int i = 0; i < 22; ++i) id += alphabet[device() % 36];
  return id;
}

void refund_all(payment_actor* self, std::string reason);

}  // namespace

// Keys are looked up from the database pool's threads, hence the mutex. Bounded: past the bound
// it starts afresh (a key read again is the same key).
class ticket_key_cache {
 public:
  std::optional<storage::ticket_key_row> find(const std::string& event_id) {
    std::lock_guard lock{mutex_};
    auto found = keys_.find(event_id);
    if (found == keys_.end()) return std::nullopt;
    return found->second;
  }
  void keep(const std::string& event_id, const storage::ticket_key_row& key) {
    std::lock_guard lock{mutex_};
    if (keys_.size() >= events_max) keys_.clear();
    keys_.insert_or_assign(event_id, key);
  }

 private:
  static constexpr std::size_t events_max = 10'000;
  std::mutex mutex_;
  std::unordered_map<std::string, storage::ticket_key_row> keys_;
};

std::shared_ptr<ticket_key_cache> make_ticket_key_cache() { return std::make_shared<ticket_key_cache>(); }

namespace {

// A stored signing key that cannot be used (wrapped under another key, altered): an operator's
// problem, not a passing one.
struct ticket_key_unavailable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The event's signing key as stored (wrapped when a wrapping key is configured): the cached one,
// else the stored one (a freshly generated key is stored when the event has none yet), which is
// then cached. Only wrapped bytes are kept in memory when wrapping is on.
storage::ticket_key_row ticket_key_of(ticket_key_cache& cache, const payments::key_wrapper* wrapping,
                                      pqxx::connection& connection, const std::string& event_id) {
  if (auto cached = cache.find(event_id)) return *cached;
  auto generated = payments::generate_ticket_key_pair();
  if (!generated) throw std::runtime_error("cannot generate a ticket key");
  storage::ticket_key_row fresh;
  fresh.key_id = random_id("tk_");
  auto seed = generated->private_key.bytes();
  auto public_bytes = generated->public_key.bytes();
  if (wrapping) {
    fresh.private_key = wrapping->wrap(seed, event_id, fresh.key_id);
    fresh.wrapped_by = wrapping->id();
  } else {
    fresh.private_key.assign(seed.begin(), seed.end());
  }
  fresh.public_key.assign(public_bytes.begin(), public_bytes.end());
  auto key = storage::ticket_key(connection, event_id, fresh);
  cache.keep(event_id, key);
  return key;
}

// The key that signs: the stored seed, opened with the wrapping key when it is wrapped.
payments::ticket_private_key signing_key_of(const payments::key_wrapper* wrapping, const std::string& event_id,
                                            const storage::ticket_key_row& key) {
  if (key.wrapped_by.empty()) {
    auto raw = payments::ticket_private_key::from_bytes(
        std::span{reinterpret_cast<const std::uint8_t*>(key.private_key.data()), key.private_key.size()});
    if (!raw) throw ticket_key_unavailable("the stored ticket key of event " + event_id + " is not an Ed25519 seed");
    return *raw;
  }
  if (!wrapping || wrapping->id() != key.wrapped_by)
    throw ticket_key_unavailable("the ticket key of event " + event_id + " is wrapped under " + key.wrapped_by +
                                 ", not under the configured payments.ticket_key_wrapping_key");
  auto opened = wrapping->unwrap(key.private_key, event_id, key.key_id);
  if (!opened)
    throw ticket_key_unavailable("cannot open the ticket key of event " + event_id + ": " +
                                 payments::to_string(opened.error()));
  return *opened;
}

void issue(payment_actor* self, std::int32_t retry) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  // Tickets for every sold line: ids are drawn now; a (checkout, type, seq) stored before keeps
  // its ticket, so issuing again after a crash adds nothing.
  auto drafts = std::make_shared<std::vector<storage::new_ticket>>();
  auto valid_from = state.order.event_starts_at_ms - admission_before_start_ms;
  auto valid_until = state.order.event_ends_at_ms + admission_after_end_ms;
  for (const auto& line : state.order.lines)
    for (std::int32_t seq = 1; seq <= line.quantity; ++seq)
      drafts->push_back({random_id("tkt_"), line.ticket_type_id, seq, payment->holder_name,
                         line.unit_price_minor - line.discount_per_ticket_minor, payment->currency, valid_from,
                         valid_until, ""});
  auto keys = state.shared->ticket_keys;
  auto wrapping = state.shared->ticket_key_wrapping;
  auto result = std::make_shared<storage::issue_result>();
  auto unavailable = std::make_shared<std::string>();
  auto where = fence_of(state);
  auto checkout_id = state.checkout_id;
  auto payment_id = payment->id;
  auto event_id = state.order.event_id;
  run_job(
      self,
      [=](pqxx::connection& connection) {
        auto key = ticket_key_of(*keys, wrapping.get(), connection, event_id);
        std::optional<payments::ticket_private_key> private_key;
        try {
          private_key.emplace(signing_key_of(wrapping.get(), event_id, key));
        } catch (const ticket_key_unavailable& failure) {
          *unavailable = failure.what();
          return;
        }
        for (auto& ticket : *drafts) {
          payments::ticket_claims claims{ticket.id, event_id, ticket.ticket_type_id, ticket.valid_from_ms / 1000,
                                         ticket.valid_until_ms / 1000, key.key_id};
          auto payload = payments::make_ticket_payload(claims, *private_key);
          if (!payload) throw std::runtime_error(std::string{"cannot sign a ticket: "} + payments::to_string(payload.error()));
          ticket.payload = *payload;
        }
        *result = storage::issue_tickets(connection, where, checkout_id, payment_id, event_id, *drafts);
      },
      [self, result, unavailable, retry](bool ran) {
        auto& state = self->state;
        if (ran && !unavailable->empty()) {
          // Paid, seats sold, no tickets until an operator fixes the key. Meanwhile the order is
          // not held busy (the organizer may refund it); issuing is tried again now and then.
          log::error("cannot issue tickets: the event's signing key cannot be used",
                     {{"checkout.id", state.checkout_id}, {"error.message", *unavailable}});
          state.busy = false;
          return later(self, state.shared->payments.retry_max_ms, [self] {
            if (!self->state.busy) fulfil(self);
          });
        }
        if (!ran || result->outcome == storage::write_result::conflict) {
          log::warn("issuing tickets did not commit; retrying", {{"checkout.id", state.checkout_id}});
          state.loaded = ran ? false : state.loaded;
          return later(self, backoff(self, retry), [self, retry] {
            if (!self->state.loaded) {
              self->state.busy = false;  // resume() starts over from what is stored
              return resume(self);
            }
            issue(self, retry + 1);
          });
        }
        if (result->outcome == storage::write_result::fenced) return self->quit(caf::make_error(inventory_errc::fenced));
        state.order.tickets = result->tickets;
        state.busy = false;
        tell_checkout(self, "tickets_issued", "tickets_issued");
        log::info("tickets issued", {{"checkout.id", state.checkout_id}, {"tickets", result->tickets.size()}});
      });
}

void give_back_lines(payment_actor* self, std::vector<storage::order_line_row> lines, std::function<void()> done,
                     std::int32_t retry = 0);

// A quota said a line has no seat. That answer is trusted only after the lines are read again
// (a retried sale of a line an earlier pass sold is refused the same way): if they are all sold
// after all, tickets follow; otherwise every sold line goes back and the payment is refunded.
void no_seat_left(payment_actor* self) {
  auto order = std::make_shared<std::optional<storage::order_row>>();
  auto id = self->state.checkout_id;
  run_job(
      self, [order, id](pqxx::connection& connection) { *order = storage::load_order(connection, id); },
      [self, order](bool ran) {
        if (!ran || !*order) return later(self, backoff(self, 1), [self] { no_seat_left(self); });
        auto& state = self->state;
        state.order = std::move(**order);
        std::vector<storage::order_line_row> sold;
        for (const auto& line : state.order.lines)
          if (line.status == "sold") sold.push_back(line);
        if (sold.size() == state.order.lines.size()) return issue(self, 0);
        give_back_lines(self, sold, [self] { refund_all(self, late_payment_refund_reason); });
      });
}

// Sells every line that is not sold yet through its quota. All sold -> tickets. A line with no
// seat left (the hold expired and the seat went to someone else) -> the lines sold here go back
// and the payment is refunded. Anything else (a quota restarting) -> try again shortly.
void sell_lines(payment_actor* self, std::int32_t retry) {
  auto& state = self->state;
  std::vector<storage::order_line_row> unsold;
  for (const auto& line : state.order.lines)
    if (line.status != "sold") unsold.push_back(line);
  if (unsold.empty()) return issue(self, 0);
  struct tally {
    std::size_t pending = 0;
    std::vector<storage::order_line_row> sold;
    bool no_seat = false;
    bool failed = false;
  };
  auto count = std::make_shared<tally>();
  count->pending = unsold.size();
  auto settle = [self, count, retry] {
    if (--count->pending > 0) return;
    auto& state = self->state;
    for (const auto& line : count->sold)
      for (auto& mine : state.order.lines)
        if (mine.ticket_type_id == line.ticket_type_id) mine.status = "sold";
    if (count->no_seat) return no_seat_left(self);
    // A quota that did not answer may have sold the line anyway: read what is stored, then go on.
    if (count->failed) return later(self, backoff(self, retry), [self] { fulfil(self); });
    issue(self, 0);
  };
  for (const auto& line : unsold) {
    auto region = region_of(*state.shared, line.ticket_type_id);
    if (!region) {
      count->failed = true;
      settle();
      continue;
    }
    self->request(region, state.shared->limits.request_timeout_ms, deliver_atom::value, entity_kind::quota,
                  line.ticket_type_id, caf::make_message(sell_atom::value, state.checkout_id, line.quantity, line.tier_name))
        .then(
            [count, line, settle](caf::ok_atom) {
              count->sold.push_back(line);
              settle();
            },
            [count, settle](caf::error& failure) {
              if (is_inventory_error(failure) && inventory_code(failure) == inventory_errc::sold_out) count->no_seat = true;
              else count->failed = true;
              settle();
            });
  }
}

void fulfil(payment_actor* self) {
  auto& state = self->state;
  state.busy = true;
  if (state.shared->fault_injection && state.shared->fulfilment_paused->load()) {
    log::info("fulfilment paused (fault injection)", {{"checkout.id", state.checkout_id}});
    return later(self, std::chrono::milliseconds{200}, [self] { fulfil(self); });
  }
  // The order is read again first, even straight after this actor's own capture: a quota's "no
  // seat" must never be mistaken for a line that an earlier pass sold already, and the tickets
  // take the lines' prices (a re-quote between two payments changes them) and the event's
  // current times from what is stored.
  auto order = std::make_shared<std::optional<storage::order_row>>();
  auto id = state.checkout_id;
  run_job(
      self, [order, id](pqxx::connection& connection) { *order = storage::load_order(connection, id); },
      [self, order](bool ran) {
        if (!ran || !*order) return later(self, backoff(self, 1), [self] { fulfil(self); });
        self->state.order = std::move(**order);
        if (self->state.order.order_status != "paid") {
          self->state.busy = false;
          return;
        }
        sell_lines(self, 0);
      });
}

// --- refunds ------------------------------------------------------------------------------------

// A refund's id from its checkout and what names it (an organizer's Idempotency-Key, or "all"
// for a late payment's refund): the same inputs give the same id, other orders never collide.
std::string refund_id_of(const std::string& checkout_id, const std::string& name) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  auto text = checkout_id + "\n" + name;
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest.data());
  return "rf_" + payments::hex_lower(std::span<const std::uint8_t>{digest.data(), 12});
}

// The provider's idempotency key of a refund: derived from the checkout and the refund's id, so
// asking again (after a crash, or while the provider reports it pending) cannot refund twice.
std::string refund_provider_key(const std::string& checkout_id, const std::string& refund_id) {
  return "es_" + checkout_id + "_" + refund_id;
}

void answer_refund_waiting(payment_actor* self, const caf::error& failure = {}) {
  auto& state = self->state;
  auto waiting = std::move(state.refund_waiting);
  state.refund_waiting.clear();
  for (auto& promise : waiting) {
    if (failure) promise.deliver(failure);
    else promise.deliver(answer_of(state, false));
  }
}

// Gives the seats of the refunded lines back to their quotas (sold -> refunded), retrying a quota
// that does not answer; `done` once every line answered (a line not sold any more counts).
void give_back_lines(payment_actor* self, std::vector<storage::order_line_row> lines, std::function<void()> done,
                     std::int32_t retry) {
  auto& state = self->state;
  auto remaining = std::make_shared<std::size_t>(lines.size() + 1);
  auto failed = std::make_shared<std::vector<storage::order_line_row>>();
  auto settle = [self, remaining, failed, done, retry] {
    if (--*remaining > 0) return;
    if (failed->empty()) return done();
    later(self, backoff(self, retry + 1),
          [self, failed, done, retry] { give_back_lines(self, *failed, done, retry + 1); });
  };
  for (const auto& line : lines) {
    auto region = region_of(*state.shared, line.ticket_type_id);
    if (!region) {
      failed->push_back(line);
      settle();
      continue;
    }
    self->request(region, state.shared->limits.request_timeout_ms, deliver_atom::value, entity_kind::quota,
                  line.ticket_type_id,
                  caf::make_message(give_back_atom::value, state.checkout_id, line.quantity, line.tier_name))
        .then([settle](caf::ok_atom) { settle(); },
              [settle, failed, line](caf::error& failure) {
                bool settled = is_inventory_error(failure) && inventory_code(failure) == inventory_errc::not_held;
                if (!settled) failed->push_back(line);
                settle();
              });
  }
  settle();
}

// Gives the seats of a succeeded refund's released lines back to their quotas, then records that
// they are back (so a crash in between is finished after the restart) and calls `done`.
void release_refunded_seats(payment_actor* self, storage::refund_row refund, std::function<void()> done) {
  auto& state = self->state;
  std::vector<storage::order_line_row> lines;
  for (const auto& line : state.order.lines)
    if (line.status == "sold" &&
        std::find(refund.ticket_type_ids.begin(), refund.ticket_type_ids.end(), line.ticket_type_id) !=
            refund.ticket_type_ids.end())
      lines.push_back(line);
  give_back_lines(self, lines, [self, refund, lines, done] {
    for (auto& line : self->state.order.lines)
      if (std::any_of(lines.begin(), lines.end(), [&](auto& given) { return given.ticket_type_id == line.ticket_type_id; }))
        line.status = "refunded";
    run_job(
        self, [id = refund.id](pqxx::connection& connection) { storage::mark_seats_released(connection, id); },
        [self, refund, done](bool ran) {
          if (!ran) return later(self, backoff(self, 1), [self, refund, done] { release_refunded_seats(self, refund, done); });
          for (auto& stored : self->state.order.refunds)
            if (stored.id == refund.id) stored.seats_released = true;
          done();
        });
  });
}

void send_refund(payment_actor* self, storage::refund_row refund);
void check_refund(payment_actor* self, storage::refund_row refund, bool verdicts_read = false);
void finish_refund(payment_actor* self, storage::refund_row refund, refund_result result);

// The provider answered a refund definitively (or it is still pending): record it, release the
// lines' seats if the organizer chose so, tell the buyer.
// Asks about a pending refund again later (the same key: the provider answers with the same
// refund), a bounded number of times; after that only a webhook about it or a restart asks.
void ask_refund_later(payment_actor* self, storage::refund_row refund) {
  auto& state = self->state;
  if (++state.refund_polls > static_cast<std::int32_t>(state.shared->payments.attempts_max) * 4) {
    log::warn("refund still pending at the provider; asking again on its webhook or a restart",
              {{"checkout.id", state.checkout_id}, {"refund.id", refund.id}});
    return;
  }
  later(self, state.shared->payments.retry_max_ms, [self, refund] {
    if (self->state.busy) return ask_refund_later(self, refund);  // after what runs now
    check_refund(self, refund);
  });
}

// Reads a pending refund by the provider's id when it gave one (asking for it again with the same
// key is safe only while the provider keeps the key, a day at Stripe); otherwise asks again.
void check_refund(payment_actor* self, storage::refund_row refund, bool verdicts_read) {
  auto& state = self->state;
  auto provider = provider_named(state, live_payment(state)->provider);
  if (refund.provider_reference.empty() || !provider) return send_refund(self, refund);
  state.busy = true;
  // As for payments: Adyen's REFUND notification recorded while its hint was lost is read back.
  if (provider->kind() == "adyen" && !verdicts_read)
    return read_stored_verdicts(self, [self, refund] { check_refund(self, refund, true); });
  refund_request request{refund.id, live_payment(state)->provider_reference, refund.amount_minor, refund.currency,
                         refund.idempotency_key};
  call_provider<refund_result>(
      self, [provider, request, reference = refund.provider_reference] { return provider->retrieve_refund(request, reference); },
      [self, refund](const refund_result& result) { finish_refund(self, refund, result); });
}

void finish_refund(payment_actor* self, storage::refund_row refund, refund_result result) {
  auto& state = self->state;
  bool automatic = refund.reason == late_payment_refund_reason;
  // A bank transfer is paid back by the organizer, outside the platform, when they ask for the
  // refund: there is nothing further to wait for. (An automatic one stays pending: nobody has
  // paid it back yet.)
  auto provider = provider_named(state, live_payment(state)->provider);
  if (provider && provider->kind() == "offline" && result.outcome == refund_outcome::pending && !automatic) {
    result.outcome = refund_outcome::succeeded;
    result.message = "paid back by the organizer";
  }
  // A refund call that never reached the provider decided nothing: ask again.
  if (result.outcome == refund_outcome::failed && result.http_status == 0) result.outcome = refund_outcome::unknown;
  // Adyen states a refund's outcome only in its signed REFUND notification (naming our refund).
  if (result.outcome == refund_outcome::pending || result.outcome == refund_outcome::unknown)
    if (auto verdict = refund_verdict_for(state, refund)) {
      result.outcome = verdict->success ? refund_outcome::succeeded : refund_outcome::failed;
      result.http_status = 200;
      result.message = "REFUND notification";
    }
  if (result.outcome == refund_outcome::pending || result.outcome == refund_outcome::unknown) {
    state.busy = false;
    answer_refund_waiting(self);
    if (refund.provider_reference.empty() && !result.reference.empty()) {
      refund.provider_reference = result.reference;
      for (auto& stored : state.order.refunds)
        if (stored.id == refund.id) stored.provider_reference = result.reference;
      run_job(
          self, [id = refund.id, reference = result.reference](pqxx::connection& connection) {
            storage::note_refund_reference(connection, id, reference);
          },
          [](bool) {});
    }
    return ask_refund_later(self, refund);
  }
  state.refund_polls = 0;
  bool succeeded = result.outcome == refund_outcome::succeeded;
  if (!succeeded)
    log::error("provider refused a refund", {{"checkout.id", state.checkout_id}, {"refund.id", refund.id},
                                             {"error.message", result.message}});
  auto where = fence_of(state);
  run_job(
      self,
      [where, refund, result, succeeded](pqxx::connection& connection) {
        storage::finish_refund(connection, where, refund, result.reference, succeeded);
      },
      [self, refund, result](bool ran) {
        if (!ran) return later(self, backoff(self, 1), [self, refund, result] { finish_refund(self, refund, result); });
        // Read what the refund left (order state, revoked tickets), then free the seats.
        auto order = std::make_shared<std::optional<storage::order_row>>();
        auto id = self->state.checkout_id;
        run_job(
            self, [order, id](pqxx::connection& connection) { *order = storage::load_order(connection, id); },
            [self, order, refund, result](bool ran) {
              auto& state = self->state;
              if (ran && *order) state.order = std::move(**order);
              auto after = [self, refund, result] {
                auto& state = self->state;
                if (result.outcome != refund_outcome::succeeded && refund.reason == late_payment_refund_reason) {
                  // The money must still go back: a new automatic refund after a pause.
                  state.busy = false;
                  answer_refund_waiting(self);
                  return later(self, state.shared->payments.retry_max_ms, [self] {
                    if (!self->state.busy) refund_all(self, late_payment_refund_reason);
                  });
                }
                state.busy = false;
                tell_checkout(self, state.order.order_status, state.order.order_status);
                log::info("refund finished", {{"checkout.id", state.checkout_id}, {"refund.id", refund.id},
                                              {"order.status", state.order.order_status}});
                answer_refund_waiting(self);
              };
              if (refund.release_seats && result.outcome == refund_outcome::succeeded)
                return release_refunded_seats(self, refund, after);
              after();
            });
      });
}

void send_refund(payment_actor* self, storage::refund_row refund) {
  auto& state = self->state;
  state.busy = true;
  auto* payment = live_payment(state);
  auto provider = provider_named(state, payment->provider);
  if (!provider) {
    // Recorded as failed (the order goes back to what it was): nobody could be asked to pay it.
    log::error("cannot refund: the payment's provider is not configured", {{"checkout.id", state.checkout_id}});
    refund_result failed;
    failed.outcome = refund_outcome::failed;
    failed.message = "the payment's provider is not configured";
    return finish_refund(self, refund, failed);
  }
  refund_request request{refund.id, payment->provider_reference, refund.amount_minor, refund.currency,
                         refund.idempotency_key};
  call_provider<refund_result>(
      self, [provider, request] { return provider->refund(request); },
      [self, refund](const refund_result& result) { finish_refund(self, refund, result); });
}

// Records the refund (pending) before the provider is asked, then asks it.
void start_refund(payment_actor* self, storage::refund_row refund) {
  auto& state = self->state;
  state.busy = true;
  auto outcome = std::make_shared<storage::refund_start>(storage::refund_start::not_refundable);
  auto where = fence_of(state);
  run_job(
      self, [outcome, where, refund](pqxx::connection& connection) { *outcome = storage::begin_refund(connection, where, refund); },
      [self, outcome, refund](bool ran) {
        auto& state = self->state;
        if (!ran) {
          state.busy = false;
          return answer_refund_waiting(self, caf::make_error(inventory_errc::database_unavailable));
        }
        switch (*outcome) {
          case storage::refund_start::created:
            state.order.refunds.push_back(refund);
            state.order.refunds.back().status = "pending";
            tell_checkout(self, "refund_pending", "refund_pending");
            return send_refund(self, refund);
          case storage::refund_start::replayed:
            state.busy = false;
            return answer_refund_waiting(self);
          case storage::refund_start::exceeds_payment:
            state.busy = false;
            return answer_refund_waiting(self, caf::make_error(inventory_errc::refund_exceeds_payment));
          case storage::refund_start::fenced:
            state.busy = false;
            answer_refund_waiting(self, caf::make_error(inventory_errc::fenced));
            return self->quit();
          case storage::refund_start::not_refundable:
            state.busy = false;
            return answer_refund_waiting(self, caf::make_error(inventory_errc::not_refundable));
        }
      });
}

// A late payment found no seat: the whole payment goes back to the buyer (its seats were given
// back already, it has no tickets).
void refund_all(payment_actor* self, std::string reason) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  storage::refund_row refund;
  // One id per try: a refund the provider refused is followed by a new one, never reused.
  auto failed = std::count_if(state.order.refunds.begin(), state.order.refunds.end(), [](const auto& earlier) {
    return earlier.reason == late_payment_refund_reason && earlier.status == "failed";
  });
  if (failed >= static_cast<std::int64_t>(state.shared->payments.attempts_max)) {
    // The provider keeps refusing: a person must act. Reconciliation reports the capture without
    // tickets or refund until then (capture_without_tickets_or_refund).
    log::error("automatic refund refused repeatedly; left for an operator",
               {{"checkout.id", state.checkout_id}, {"refunds.failed", static_cast<std::int64_t>(failed)}});
    state.busy = false;
    return;
  }
  refund.id = refund_id_of(state.checkout_id, "all:" + std::to_string(failed));
  refund.payment_id = payment->id;
  refund.amount_minor = payment->captured_minor - payment->refunded_minor;
  refund.currency = payment->currency;
  refund.reason = std::move(reason);
  refund.idempotency_key = refund_provider_key(state.checkout_id, refund.id);
  start_refund(self, refund);
}

// An organizer's refund: a part of the amount, or all of it; the tickets of the named lines (of
// every line, for a full refund) are revoked, and their seats go back on sale if asked.
// Whether `request` repeats `earlier` (the same Idempotency-Key): the same amount (or none given),
// lines (or none given, for a refund of everything) and seat release.
bool same_refund(const storage::refund_row& earlier, const refund_order_request& request,
                 const std::vector<storage::order_line_row>& lines) {
  if (request.amount_minor != 0 && request.amount_minor != earlier.amount_minor) return false;
  if (request.release_seats != earlier.release_seats) return false;
  if (!request.ticket_type_ids.empty()) return request.ticket_type_ids == earlier.ticket_type_ids;
  return earlier.ticket_type_ids.empty() || earlier.ticket_type_ids.size() == lines.size();
}

// An organizer's refund: a part of the amount, or all of it; the tickets of the named lines (of
// every line, for a full refund) are revoked, and their seats go back on sale if asked.
void refund_order(payment_actor* self, refund_order_request request, caf::typed_response_promise<payment_answer> promise) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  auto refuse = [&promise](inventory_errc code) { promise.deliver(caf::make_error(code)); };
  if (state.order.workspace_id != request.workspace_id || !payment) return refuse(inventory_errc::not_found);
  if (!request.currency.empty() && request.currency != payment->currency) return refuse(inventory_errc::currency_mismatch);
  for (const auto& id : request.ticket_type_ids)
    if (std::none_of(state.order.lines.begin(), state.order.lines.end(), [&](auto& line) { return line.ticket_type_id == id; }))
      return refuse(inventory_errc::unknown_ticket_type);
  auto id = request.idempotency_key.empty() ? random_id("rf_")
                                            : refund_id_of(state.checkout_id, "key:" + request.idempotency_key);
  // A repeated key is answered from the refund it made, whatever happened since.
  for (const auto& earlier : state.order.refunds)
    if (earlier.id == id) {
      if (!same_refund(earlier, request, state.order.lines)) return refuse(inventory_errc::idempotency_mismatch);
      return promise.deliver(answer_of(state, true)), void();
    }
  if (payment->status != "succeeded") return refuse(inventory_errc::not_refundable);
  if (state.busy) return refuse(inventory_errc::order_in_progress);
  auto remaining = payment->captured_minor - payment->refunded_minor;
  for (const auto& earlier : state.order.refunds)
    if (earlier.status == "pending") remaining -= earlier.amount_minor;
  if (remaining <= 0) return refuse(inventory_errc::not_refundable);
  storage::refund_row refund;
  refund.id = id;
  refund.payment_id = payment->id;
  refund.amount_minor = request.amount_minor == 0 ? remaining : request.amount_minor;
  if (refund.amount_minor > remaining) return refuse(inventory_errc::refund_exceeds_payment);
  refund.currency = payment->currency;
  refund.reason = request.reason.empty() ? "requested by the organizer" : request.reason;
  refund.ticket_type_ids = request.ticket_type_ids;
  if (refund.amount_minor == remaining && refund.ticket_type_ids.empty())
    for (const auto& line : state.order.lines) refund.ticket_type_ids.push_back(line.ticket_type_id);
  refund.release_seats = request.release_seats;
  refund.idempotency_key = refund_provider_key(state.checkout_id, refund.id);
  state.refund_waiting.push_back(promise);
  start_refund(self, refund);
}

// An offline (bank transfer) payment arrived: the organizer says so, and the order is paid.
void mark_paid(payment_actor* self, const std::string& workspace_id, caf::typed_response_promise<payment_answer> promise) {
  auto& state = self->state;
  auto* payment = live_payment(state);
  auto refuse = [&promise](inventory_errc code) { promise.deliver(caf::make_error(code)); };
  if (state.order.workspace_id != workspace_id || !payment) return refuse(inventory_errc::not_found);
  auto provider = provider_named(state, payment->provider);
  if (!provider || provider->kind() != "offline" || payment->attempts.empty())
    return refuse(inventory_errc::invalid_transition);
  if (payment->status == "succeeded") return promise.deliver(answer_of(state, true)), void();
  if (state.busy) return refuse(inventory_errc::order_in_progress);
  if (payment->status != "processing") return refuse(inventory_errc::invalid_transition);
  state.busy = true;
  state.waiting.push_back(promise);
  provider_result result;
  result.outcome = provider_outcome::succeeded;
  result.reference = payment->attempts.back().reference;
  result.amount_minor = payment->amount_minor;
  result.message = "marked paid by the organizer";
  captured(self, payment->attempts.back(), result);
}

// --- activation -----------------------------------------------------------------------------------

// The route of the live payment: the workspace's rule for its method, currency and country,
// else the node's default order; only configured providers.
std::vector<std::shared_ptr<payment_provider>> route_of(const payment_state& state, const std::string& method_id,
                                                        const std::vector<std::string>& configured_order) {
  std::vector<std::shared_ptr<payment_provider>> route;
  const auto* method = payments::find_method(method_id);
  const auto& names = configured_order.empty() ? state.shared->payments.default_providers : configured_order;
  for (const auto& name : names)
    if (auto provider = provider_named(state, name); provider && method && method->offered_by(provider->kind()))
      route.push_back(provider);
  return route;
}

// Continues whatever the stored state says is unfinished.
void resume(payment_actor* self) {
  auto& state = self->state;
  if (state.busy) {
    state.hinted = true;
    return;
  }
  if (!state.loaded) {
    auto order = std::make_shared<std::optional<storage::order_row>>();
    auto route = std::make_shared<std::vector<std::string>>();
    auto id = state.checkout_id;
    state.busy = true;
    return run_job(
        self,
        [order, route, id](pqxx::connection& connection) {
          *order = storage::load_order(connection, id);
          if (*order && !(*order)->payments.empty()) {
            const auto& payment = (*order)->payments.back();
            *route = storage::payment_route(connection, (*order)->workspace_id, payment.method, payment.currency,
                                            payment.buyer_country);
          }
        },
        [self, order, route](bool ran) {
          auto& state = self->state;
          state.busy = false;
          if (!ran) return later(self, backoff(self, 1), [self] { resume(self); });
          if (!*order) {
            // No such checkout: answer not_found to what waits, then stop.
            state.loaded = true;
            return;
          }
          state.order = std::move(**order);
          queue_stored_verdicts(state, state.order.verdicts);
          if (auto* payment = live_payment(state)) state.route = route_of(state, payment->method, *route);
          state.loaded = true;
          resume(self);
        });
  }
  auto* payment = live_payment(state);
  if (!payment) return;
  if (payment->status == "succeeded") {
    for (const auto& refund : state.order.refunds)
      if (refund.status == "pending") return check_refund(self, refund);
    for (const auto& refund : state.order.refunds)
      if (refund.status == "succeeded" && refund.release_seats && !refund.seats_released) {
        state.busy = true;
        return release_refunded_seats(self, refund, [self] {
          self->state.busy = false;
          resume(self);  // other refunds, a paid order, a hint that came meanwhile
        });
      }
    if (state.order.order_status == "paid") fulfil(self);
    return;
  }
  if (is_final(payment->status)) return;
  state.busy = true;
  if (payment->attempts.empty()) {
    state.route_index = 0;
    return start_attempt(self);
  }
  auto attempt = payment->attempts.back();
  if (attempt.status == "failed_before_acceptance" || attempt.status == "rejected") {
    auto found = std::find_if(state.route.begin(), state.route.end(),
                              [&](auto& provider) { return provider->name() == attempt.provider; });
    state.route_index = found == state.route.end() ? state.route.size() : std::size_t(found - state.route.begin());
    return next_provider(self, attempt, provider_result{});
  }
  auto found = std::find_if(state.route.begin(), state.route.end(),
                            [&](auto& provider) { return provider->name() == attempt.provider; });
  state.route_index = found == state.route.end() ? 0 : std::size_t(found - state.route.begin());
  run_attempt(self, attempt, attempt_mode::query);
}

// --- requests -------------------------------------------------------------------------------------

void pay(payment_actor* self, pay_request request, caf::typed_response_promise<payment_answer> promise);

// Requests that arrived while a payment was being started are decided once it has been (or has
// failed): the same Idempotency-Key then finds the new payment and waits for it.
void decide_deferred(payment_actor* self) {
  auto& state = self->state;
  state.preparing = false;
  auto deferred = std::move(state.deferred);
  state.deferred.clear();
  for (auto& [request, promise] : deferred) pay(self, std::move(request), promise);
}

void pay(payment_actor* self, pay_request request, caf::typed_response_promise<payment_answer> promise) {
  auto& state = self->state;
  if (state.order.checkout_id.empty()) {
    self->quit();
    promise.deliver(caf::make_error(inventory_errc::not_found));
    return;
  }
  if (state.preparing) {
    state.deferred.emplace_back(std::move(request), promise);
    return;
  }
  for (const auto& payment : state.order.payments)
    if (!request.idempotency_key.empty() && payment.idempotency_key == request.idempotency_key) {
      if (payment.request_hash_hex != request.request_hash) {
        promise.deliver(caf::make_error(inventory_errc::idempotency_mismatch));
        return;
      }
      if (&payment != live_payment(state) || settled_for_answer(payment) || !state.busy) {
        promise.deliver(payment_answer{payment_json(state, payment), true, settled_for_answer(payment)});
        return;
      }
      state.waiting.push_back(promise);
      state.replays.insert(state.waiting.size() - 1);
      return;
    }
  if (auto* live = live_payment(state); live && !(live->status == "declined" || live->status == "failed" ||
                                                 live->status == "cancelled")) {
    promise.deliver(caf::make_error(inventory_errc::payment_in_progress));
    return;
  }
  if (state.busy) {
    promise.deliver(caf::make_error(inventory_errc::payment_in_progress));
    return;
  }
  state.busy = true;
  state.preparing = true;
  state.pay_arrived_at = self->clock().now();
  auto region = region_of(*state.shared, state.checkout_id);
  auto fail = [self, promise](caf::error failure) mutable {
    self->state.busy = false;
    promise.deliver(std::move(failure));
    decide_deferred(self);
  };
  if (!region) {
    fail(caf::make_error(inventory_errc::fenced));
    return;
  }
  // The checkout stops releases and re-quotes first (it answers its quote), then the payment
  // and the order's payment_pending are committed together.
  self->request(region, state.shared->limits.request_timeout_ms, deliver_atom::value, entity_kind::checkout,
                state.checkout_id, caf::make_message(pay_atom::value))
      .then(
          [self, request, promise, fail](checkout_view& view) mutable {
            auto& state = self->state;
            auto quote = quote_of(view);
            if (!quote) {
              tell_checkout(self, "", "");
              return fail(caf::make_error(inventory_errc::pricing_failed));
            }
            // Only the methods the catalogue offers for the event's currency and the buyer's country.
            auto offered = payments::methods_for(quote->currency, request.country);
            if (std::none_of(offered.begin(), offered.end(), [&](const payments::method* m) { return m->id == request.method; })) {
              tell_checkout(self, "", "");
              return fail(caf::make_error(inventory_errc::payment_method_unavailable));
            }
            storage::payment_row payment;
            payment.id = random_id("pay_");
            payment.checkout_id = state.checkout_id;
            payment.event_id = state.order.event_id;
            payment.workspace_id = state.order.workspace_id;
            payment.method = request.method;
            payment.method_token = request.method_token;
            payment.buyer_country = request.country;
            payment.holder_name = request.holder_name;
            payment.amount_minor = quote->totals.gross_minor;
            payment.currency = quote->currency;
            payment.status = "pending";
            payment.idempotency_key = request.idempotency_key;
            payment.request_hash_hex = request.request_hash;
            payment.return_url = request.return_url;
            auto outcome = std::make_shared<storage::payment_start>(storage::payment_start::not_payable);
            auto route = std::make_shared<std::vector<std::string>>();
            auto where = fence_of(state);
            std::vector<std::string> configured;  // configured providers that offer the method
            const auto* method = payments::find_method(request.method);
            for (const auto& provider : state.shared->providers)
              if (method && method->offered_by(provider->kind())) configured.push_back(provider->name());
            auto defaults = state.shared->payments.default_providers;
            auto routable = std::make_shared<bool>(false);
            run_job(
                self,
                [outcome, route, where, payment, configured, defaults, routable](pqxx::connection& connection) {
                  *route = storage::payment_route(connection, payment.workspace_id, payment.method, payment.currency,
                                                  payment.buyer_country);
                  const auto& names = route->empty() ? defaults : *route;
                  *routable = std::any_of(names.begin(), names.end(), [&](const std::string& name) {
                    return std::find(configured.begin(), configured.end(), name) != configured.end();
                  });
                  if (*routable) *outcome = storage::start_payment(connection, where, payment);
                },
                [self, outcome, route, payment, promise, fail, routable](bool ran) mutable {
                  auto& state = self->state;
                  if (!ran || *outcome != storage::payment_start::created) {
                    tell_checkout(self, "", "");
                    auto code = !ran ? inventory_errc::database_unavailable
                                : !*routable ? inventory_errc::no_payment_provider
                                : *outcome == storage::payment_start::fenced ? inventory_errc::fenced
                                                                              : inventory_errc::payment_in_progress;
                    state.loaded = false;  // read what is stored before the next request
                    state.busy = false;
                    promise.deliver(caf::make_error(code));
                    resume(self);
                    return decide_deferred(self);
                  }
                  state.order.payments.push_back(payment);
                  state.order.payments.back().created_at_ms = state.shared->now_ms(self->clock());
                  state.order.order_status = "payment_pending";
                  state.route = route_of(state, payment.method, *route);
                  state.route_index = 0;
                  state.rounds = 0;
                  tell_checkout(self, "payment_pending", "payment_pending");
                  state.waiting.push_back(promise);
                  decide_deferred(self);
                  // Whatever happens at the providers, the buyer hears within the wait bound, counted
                  // from the request's arrival.
                  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(self->clock().now() -
                                                                                     state.pay_arrived_at);
                  auto left = std::max(std::chrono::milliseconds{0}, state.shared->payments.answer_wait_ms - waited);
                  self->delayed_send(self, left, answer_atom::value, ++state.answer_generation);
                  start_attempt(self);
                });
          },
          [self, fail](caf::error& failure) mutable {
            // A lost answer (not a refusal): the checkout may have stopped releases before it was
            // lost. No payment was written, so it is handed back (delivered after the request,
            // through the same region).
            if (!is_inventory_error(failure)) tell_checkout(self, "", "");
            fail(failure);
          });
}

// The live attempt's supervisor stopped before the attempt reported an end: it gave up after the
// attempt failed more often than it allows. The payment's state is what was committed; the
// buyers hear it, and the provider is asked again after a pause, longer each time up to the
// longest retry interval, for as long as it takes: the money may have been taken. (The pending
// timer keeps the entity from passivating meanwhile.)
void attempt_supervisor_down(payment_actor* self, const caf::down_msg& down) {
  auto& state = self->state;
  if (!*state.attempt_supervisor || down.source != state.attempt_supervisor->address()) return;
  ++state.attempt_generation;
  *state.attempt_supervisor = nullptr;
  state.attempt_actor = nullptr;
  auto failures = ++state.attempt_failures;
  log::error("payment attempt's supervisor gave up",
             {{"checkout.id", state.checkout_id}, {"error.message", to_string(down.reason)}, {"failures", failures}});
  state.busy = false;
  answer_waiting(self);
  later(self, backoff(self, failures), [self] {
    if (!self->state.busy) resume(self);
  });
}

caf::behavior running(payment_actor* self) {
  return {
      [self](pay_atom, pay_request& request) {
        touch(self);
        auto promise = self->make_response_promise<payment_answer>();
        pay(self, std::move(request), promise);
        return promise;
      },
      [self](view_atom) -> caf::result<payment_answer> {
        touch(self);
        if (!live_payment(self->state)) {
          if (self->state.order.checkout_id.empty()) self->quit();
          return caf::make_error(inventory_errc::not_found);
        }
        return answer_of(self->state, false);
      },
      [self](hint_atom, const std::string& provider, const std::string& reference, const std::string& type,
             bool success, const std::string& merchant_reference) {
        touch(self);
        auto& state = self->state;
        log::info("payment hint", {{"checkout.id", state.checkout_id}, {"provider", provider}, {"reference", reference},
                                   {"event.type", type}});
        if (states_verdict(state, provider, type))
          state.notifications.push_back({provider, reference, merchant_reference, type, success});
        if (!live_payment(state)) return;
        if (state.busy) {
          state.hinted = true;
          // An attempt waiting out its backoff asks its provider at once.
          if (state.attempt_actor) self->send(state.attempt_actor, hint_atom::value);
          return;
        }
        resume(self);
      },
      [self](attempt_atom, std::uint64_t generation) {
        auto& state = self->state;
        if (generation != state.attempt_generation) return;
        state.attempt_actor = caf::actor_cast<caf::actor>(self->current_sender());
        // A webhook that came while the attempt was starting may be newer than its first call.
        if (state.hinted) self->send(state.attempt_actor, hint_atom::value);
      },
      [self](attempt_step_atom, std::uint64_t generation, const attempt_step_pointer& request) {
        auto promise = self->make_response_promise<caf::ok_atom>();
        if (generation != self->state.attempt_generation) {
          promise.deliver(caf::make_error(inventory_errc::outcome_unknown));
          return promise;
        }
        commit_step(self, request->step, [self, request, promise]() mutable {
          if (request->answer_waiting) answer_waiting(self);
          promise.deliver(caf::ok_atom::value);
        });
        return promise;
      },
      [self](attempt_verdict_atom, std::uint64_t generation, const attempt_row_pointer& attempt, bool read_stored) {
        auto promise = self->make_response_promise<bool>();
        auto settle = [self, generation, attempt, promise]() mutable {
          if (generation != self->state.attempt_generation) {
            // A run that is over must not go on to another provider call: the error stops it.
            promise.deliver(caf::make_error(inventory_errc::outcome_unknown));
            return;
          }
          // Settled: the attempt ends on this answer, and the entity commits the verdict.
          bool settled = settle_from_notification(self, *attempt);
          if (settled) retire_attempt(self);
          promise.deliver(settled);
        };
        if (read_stored) read_stored_verdicts(self, settle);
        else settle();
        return promise;
      },
      [self](attempt_done_atom, std::uint64_t generation, const attempt_outcome_pointer& outcome) {
        if (generation != self->state.attempt_generation) return;
        retire_attempt(self);
        if (outcome->mode == attempt_mode::cancel)
          return cancel_ended(self, outcome->attempt, outcome->result, outcome->waiting);
        attempt_ended(self, outcome->attempt, outcome->result);
      },
      [self](resume_atom) { resume(self); },
      [self](refund_atom, refund_order_request& request) {
        touch(self);
        auto promise = self->make_response_promise<payment_answer>();
        refund_order(self, std::move(request), promise);
        return promise;
      },
      [self](mark_paid_atom, const std::string& workspace_id) {
        touch(self);
        auto promise = self->make_response_promise<payment_answer>();
        mark_paid(self, workspace_id, promise);
        return promise;
      },
      [self](done_atom, std::uint64_t token, bool ran) { on_done(self, token, ran); },
      [self](answer_atom, std::uint64_t generation) {
        // Only the latest payment's wait bound: an earlier payment's timer answers nobody early.
        if (generation == self->state.answer_generation) answer_waiting(self);
      },
      [self](idle_atom, std::uint64_t generation) {
        if (!idle_expired(self, generation)) return;
        // Passivate only when nothing is under way: everything is in PostgreSQL.
        if (self->state.busy || !self->state.waiting.empty() || !self->state.continuations.empty())
          return watch_idle(self, self->state.idle.timeout);
        self->quit();
      },
  };
}

caf::behavior payment(payment_actor* self, std::string checkout_id, placement where,
                      std::shared_ptr<const services> shared) {
  self->state.checkout_id = std::move(checkout_id);
  self->state.where = where;
  self->state.shared = std::move(shared);
  self->set_exception_handler([self](std::exception_ptr& failure) -> caf::error {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      log::error("payment actor failed", {{"checkout.id", self->state.checkout_id}, {"error.message", error.what()}});
    } catch (...) {
    }
    // CAF does not answer a promise on its own: everyone waiting hears that the outcome is open.
    auto unknown = caf::make_error(inventory_errc::outcome_unknown);
    for (auto& promise : self->state.waiting) promise.deliver(unknown);
    for (auto& promise : self->state.refund_waiting) promise.deliver(unknown);
    for (auto& [request, promise] : self->state.deferred) promise.deliver(unknown);
    self->state.waiting.clear();
    self->state.refund_waiting.clear();
    self->state.deferred.clear();
    return caf::sec::runtime_error;
  });
  // A live attempt does not outlive its entity (fenced, passivated, failed): its supervisor is
  // killed, which takes the attempt along. The state is gone when this runs, hence the holder.
  self->attach_functor([holder = self->state.attempt_supervisor](const caf::error&) {
    if (*holder) caf::anon_send_exit(*holder, caf::exit_reason::kill);
  });
  self->set_down_handler([self](caf::down_msg& down) { attempt_supervisor_down(self, down); });
  watch_idle(self, self->state.shared->limits.entity_idle_timeout_ms);
  // Everything waits until the order is loaded; done messages drive the load itself.
  self->set_default_handler(caf::skip);
  auto loading = caf::behavior{
      [self](done_atom, std::uint64_t token, bool ran) {
        on_done(self, token, ran);
        if (self->state.loaded) {
          self->set_default_handler(caf::print_and_drop);
          self->become(running(self));
        }
      },
  };
  resume(self);
  return loading;
}

}  // namespace

caf::actor spawn_payment(caf::actor_system& system, std::string checkout_id, placement where,
                         std::shared_ptr<const services> shared) {
  return system.spawn(payment, std::move(checkout_id), where, std::move(shared));
}

}  // namespace eventstripe::actors
