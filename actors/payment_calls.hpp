#pragma once

// Blocking work for the payment actors (the payment entity and its attempt actors): provider
// calls on the provider threads, database jobs on the payments pool, and timers, each continued
// on the actor through (done_atom, token, ran). Private to actors/: included only by .cpp files.
//
// `Actor` is a stateful actor whose state has `shared` (services), `token`, `continuations`
// (token -> std::function<void(bool)>) and `jitter` (std::mt19937_64).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

#include <caf/actor.hpp>
#include <caf/actor_cast.hpp>
#include <caf/atom.hpp>
#include <caf/send.hpp>

#include "actors/call_pool.hpp"
#include "actors/payment_provider.hpp"
#include "actors/payments/retry_backoff.hpp"
#include "actors/services.hpp"

namespace eventstripe::actors::payment_calls {

using done_atom = caf::atom_constant<caf::atom("done")>;

// What a call that never ran (the provider threads' queue was full) reports: nothing was sent.
inline void never_sent(provider_result& result) {
  result.outcome = provider_outcome::failed_before_acceptance;
  result.message = "provider call queue full";
}
inline void never_sent(refund_result& result) {
  result.outcome = refund_outcome::failed;
  result.message = "provider call queue full";
}
// A call that threw may have been sent: its outcome is unknown.
inline void thrown(provider_result& result) { result.outcome = provider_outcome::unknown; }
inline void thrown(refund_result& result) { result.outcome = refund_outcome::unknown; }

// Runs the continuation `token` names (a timer of an actor that moved on finds none).
template <class Actor>
void on_done(Actor* self, std::uint64_t token, bool ran) {
  auto found = self->state.continuations.find(token);
  if (found == self->state.continuations.end()) return;
  auto then = std::move(found->second);
  self->state.continuations.erase(found);
  then(ran);
}

template <class Actor>
std::uint64_t expect_done(Actor* self, std::function<void(bool)> then) {
  auto token = ++self->state.token;
  self->state.continuations.emplace(token, std::move(then));
  return token;
}

template <class Actor>
void later(Actor* self, std::chrono::milliseconds delay, std::function<void()> action) {
  auto token = expect_done(self, [action = std::move(action)](bool) { action(); });
  self->delayed_send(self, delay, done_atom::value, token, true);
}

// The pause before retry number `retry` (1-based): exponential with jitter. Steps keep going at
// the longest interval once past the bound (an unknown outcome is asked about until it is
// known), so the number is clamped below the rules' limit.
template <class Actor>
std::chrono::milliseconds backoff(Actor* self, std::int32_t retry) {
  const auto& limits = self->state.shared->payments;
  auto attempt = std::clamp(retry, 1, payments::retry_attempts_limit - 1);
  return payments::retry_delay(attempt, limits.retry_initial_ms, limits.retry_max_ms, payments::retry_attempts_limit,
                               self->state.jitter())
      .value_or(limits.retry_max_ms);
}

// Makes one provider call on the provider threads and hands its result to `then`.
template <class Result, class Actor>
void call_provider(Actor* self, std::function<Result()> call, std::function<void(const Result&)> then) {
  auto result = std::make_shared<Result>();
  auto token = expect_done(self, [result, then = std::move(then)](bool ran) {
    if (!ran) never_sent(*result);
    then(*result);
  });
  caf::actor me = caf::actor_cast<caf::actor>(self);
  const auto& pool = self->state.shared->provider_calls;
  bool accepted = pool && pool->submit([me, token, call = std::move(call), result] {
    try {
      *result = call();
    } catch (const std::exception& failure) {
      thrown(*result);
      result->message = failure.what();
    }
    caf::anon_send(me, done_atom::value, token, true);
  });
  if (!accepted) caf::anon_send(me, done_atom::value, token, false);
}

}  // namespace eventstripe::actors::payment_calls
