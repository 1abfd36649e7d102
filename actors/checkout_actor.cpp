#include "actors/checkout_actor.hpp"

#include <algorithm>
#include <functional>
#include <optional>
#include <unordered_map>
#include <stdexcept>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/entity_messaging.hpp"
#include "actors/hold_pricing.hpp"
#include "actors/idle_watch.hpp"
#include "actors/json_text.hpp"
#include "actors/money.hpp"
#include "actors/time_format.hpp"
#include "storage/connection_pool.hpp"
#include "storage/inventory.hpp"

using checkout_row_pointer = std::shared_ptr<const eventstripe::storage::checkout_row>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(checkout_row_pointer)

namespace eventstripe::actors {
namespace {

using warning_atom = caf::atom_constant<caf::atom("warning")>;
using recorded_atom = caf::atom_constant<caf::atom("recorded")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;

// A failed creation gives back what it may have held: each release is retried this often, this
// far apart, before the hold is left to expire on its own.
constexpr int release_attempts_max = 20;
constexpr std::chrono::milliseconds release_retry_delay_ms{250};
// How long a checkout that holds nothing (its creation failed) waits for more requests.
constexpr std::chrono::milliseconds absent_checkout_idle_timeout_ms{1'000};

struct checkout_state {
  std::shared_ptr<const services> shared;
  placement where;
  bool load_started = false;
  checkout_view view;  // status empty: no such checkout (yet)
  std::string request_hash;
  // Creating this checkout failed after holds were taken and released: a retry of the same
  // request gets the same error (the released holds cannot be taken again under this id).
  std::optional<std::int32_t> failure_code;
  std::vector<push_sink_pointer> subscribers;
  std::uint64_t warning_generation = 0;
  idle_watch idle;
  std::uint64_t retry_token = 0;
  std::unordered_map<std::uint64_t, std::function<void()>> retries;  // run by retry_atom
  static inline const char* name = "checkout";
};

using checkout_actor = caf::stateful_actor<checkout_state>;

caf::behavior running(checkout_actor* self);
void forget_soon(checkout_actor* self);

void push(checkout_actor* self, const char* what) {
  auto& state = self->state;
  if (state.subscribers.empty()) return;
  auto body = nlohmann::json::parse(checkout_json(state.view));
  auto json = nlohmann::json{{"type", what}, {"checkout", body}}.dump();
  std::erase_if(state.subscribers, [&json](const push_sink_pointer& sink) { return !sink->push(json); });
}

// The "expiring soon" push needs a timer only while someone listens: armed by the first
// subscriber of a held checkout, re-armed by an extension.
void arm_warning(checkout_actor* self) {
  auto& state = self->state;
  if (state.subscribers.empty()) return;
  auto warn_at = state.view.expires_at_ms - state.shared->limits.expiry_warning_ms.count();
  self->delayed_send(self, state.shared->until(self->clock(), warn_at), warning_atom::value,
                     ++state.warning_generation);
}

void adopt_row(checkout_state& state, const storage::checkout_row& row) {
  auto& view = state.view;
  view.event_id = row.event_id;
  view.buyer_email = row.buyer_email;
  view.expires_at_ms = row.expires_at_ms;
  view.extended = row.extended;
  state.request_hash = row.request_hash_hex;
  state.failure_code = row.failure_code;
  view.taxation = taxation_of(row.taxation);
  view.order_status = row.order_status;
  view.lines.clear();
  if (row.failure_code) return;  // never held as a whole: invisible, replayed as its error
  bool all_held = !row.lines.empty() && static_cast<std::int32_t>(row.lines.size()) == row.item_count;
  bool any_expired = false;
  bool any_sold = false;
  for (const auto& line : row.lines) {
    view.lines.push_back({{line.ticket_type_id, line.name, line.quantity, line.unit_price_minor, line.currency,
                           line.expires_at_ms, line_pricing_of(line.pricing)},
                          line.status});
    all_held = all_held && line.status == "held";
    any_expired = any_expired || line.status == "expired";
    any_sold = any_sold || line.status == "sold" || line.status == "refunded";
  }
  view.status = all_held ? "held" : any_sold ? "sold" : any_expired ? "expired" : "released";
}

void start_load(checkout_actor* self) {
  auto& state = self->state;
  if (state.load_started) return;
  state.load_started = true;
  auto id = state.view.id;
  load_state<storage::checkout_row>(*state.shared, caf::actor_cast<caf::actor>(self),
                                    [id](pqxx::connection& connection) { return storage::load_checkout(connection, id); });
}

void on_loaded(checkout_actor* self, const checkout_row_pointer& row, bool ok) {
  if (!ok) return self->quit(caf::make_error(inventory_errc::database_unavailable));
  if (row) {
    adopt_row(self->state, *row);
    if (self->state.view.status == "held") arm_warning(self);
  }
  self->set_default_handler(caf::print_and_drop);
  self->become(running(self));
  watch_idle(self, self->state.shared->limits.entity_idle_timeout_ms);
}

// An activation for an id with no checkout answers not_found and stops at once, so made-up ids
// cannot pile up actors until the idle timeout.
caf::error forget(checkout_actor* self) {
  self->quit();
  return caf::make_error(inventory_errc::not_found);
}

void run_delayed(checkout_actor* self, std::uint64_t token) {
  auto found = self->state.retries.find(token);
  if (found == self->state.retries.end()) return;
  auto action = std::move(found->second);
  self->state.retries.erase(found);
  action();
}

// Other requests for this checkout wait in the mailbox while it talks to the event and quotas,
// so an Idempotency-Key sent 50 times at once creates one hold and answers 49 replays.
void block(checkout_actor* self) {
  self->set_default_handler(caf::skip);
  self->become(caf::keep_behavior, caf::behavior{[self](retry_atom, std::uint64_t token) { run_delayed(self, token); }});
}

// Runs `action` after `delay`, also while the actor is blocked.
void after_delay(checkout_actor* self, std::chrono::milliseconds delay, std::function<void()> action) {
  auto token = ++self->state.retry_token;
  self->state.retries.emplace(token, std::move(action));
  self->delayed_send(self, delay, retry_atom::value, token);
}

void unblock(checkout_actor* self) {
  self->unbecome();
  self->set_default_handler(caf::print_and_drop);
}

// Sends (kind, key, message) through the directory and calls `done` with the answer or error.
// `timeout` defaults to the request timeout; a creation passes caf::infinite and keeps one
// deadline for all of its requests instead (see create).
template <class Reply>
void ask(checkout_actor* self, entity_kind kind, const std::string& key, caf::message message,
         std::function<void(Reply&)> on_reply, std::function<void(caf::error&)> on_error,
         std::optional<caf::duration> timeout = std::nullopt) {
  auto region = region_of(*self->state.shared, key);
  if (!region) {
    auto failure = caf::make_error(inventory_errc::fenced);
    return on_error(failure);
  }
  self->request(region, timeout.value_or(caf::duration{self->state.shared->limits.request_timeout_ms}),
                deliver_atom::value, kind, key, std::move(message))
      .then([on_reply](Reply& reply) { on_reply(reply); }, [on_error](caf::error& failure) { on_error(failure); });
}

// Releases the checkout's hold of one ticket type, retrying while the outcome is unknown (the
// quota restarting, the database away) so a failed creation leaves no seat held behind.
void release_hold(checkout_actor* self, const std::string& ticket_type_id, const std::string& checkout_id,
                  int attempt, std::function<void()> done) {
  ask<caf::ok_atom>(
      self, entity_kind::quota, ticket_type_id, caf::make_message(release_atom::value, checkout_id),
      [done](caf::ok_atom&) { done(); },
      [self, ticket_type_id, checkout_id, attempt, done](caf::error& failure) {
        bool settled = is_inventory_error(failure) && inventory_code(failure) == inventory_errc::not_held;
        if (settled || attempt + 1 >= release_attempts_max) return done();
        after_delay(self, release_retry_delay_ms, [self, ticket_type_id, checkout_id, attempt, done] {
          release_hold(self, ticket_type_id, checkout_id, attempt + 1, done);
        });
      });
}

struct creation {
  checkout_request request;
  caf::response_promise promise;
  std::int64_t expires_at_ms = 0;
  std::vector<std::optional<held_line>> lines;
  std::vector<bool> may_hold;  // the quota may have committed a hold (success or unknown outcome)
  std::vector<bool> answered;  // per item: the quota's answer (or its failure) arrived
  std::size_t pending = 0;
  caf::error failure;
  bool prepared = false;  // the event's answer arrived
  bool finished = false;  // answered or given up at the deadline: later answers are ignored
};

// One deadline for the whole creation (the event's check and every quota's hold) instead of a
// timeout per request: each timeout is an entry on CAF's clock thread, and a ticket drop makes
// one creation per buyer.
std::chrono::milliseconds creation_deadline(const services& shared) { return shared.limits.request_timeout_ms * 2; }

// Stores why creating the checkout failed, then answers: a retry with the same Idempotency-Key
// gets this error again (as Stripe replays a stored failure), not a fresh attempt on holds that
// exist, released, under this id; the buyer retries with a new key.
void record_failure(checkout_actor* self, const std::shared_ptr<creation>& job) {
  auto& state = self->state;
  auto code = static_cast<std::int32_t>(is_inventory_error(job->failure) ? inventory_code(job->failure)
                                                                         : inventory_errc::outcome_unknown);
  state.failure_code = code;
  state.request_hash = job->request.request_hash;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto where = state.where;
  auto node = state.shared->node_id;
  auto id = state.view.id;
  auto answer = [self, job] {
    unblock(self);
    job->promise.deliver(job->failure);
  };
  auto accepted = state.shared->database->submit(
      [me, where, node, id, code](pqxx::connection& connection) {
        storage::record_checkout_failure(connection, where.shard, where.epoch, node, id, code);
        caf::anon_send(me, recorded_atom::value);
      },
      [me](const storage::error&) { caf::anon_send(me, recorded_atom::value); });
  if (accepted != storage::submit_status::accepted) return answer();
  self->become(caf::keep_behavior, [self, answer](recorded_atom) {
    self->unbecome();
    answer();
  });
}

void finish_creation(checkout_actor* self, const std::shared_ptr<creation>& job) {
  auto& state = self->state;
  job->finished = true;
  if (!job->failure) {
    auto& view = state.view;
    view.event_id = job->request.event_id;
    view.buyer_email = job->request.buyer_email;
    view.status = "held";
    view.expires_at_ms = job->expires_at_ms;
    view.extended = false;
    view.lines.clear();
    view.taxation = job->request.taxation;
    for (auto& line : job->lines) {
      // The event reserved the code's most possible discount; the quota priced the actual one.
      if (!line->pricing.promo_code_id.empty())
        tell_entity(*state.shared, entity_kind::event, view.event_id,
                    caf::make_message(settled_atom::value, view.id, line->ticket_type_id,
                                      line->pricing.discount_per_ticket_minor * line->quantity));
      view.lines.push_back({*line, "held"});
    }
    state.request_hash = job->request.request_hash;
    arm_warning(self);
    unblock(self);
    job->promise.deliver(view);
    return push(self, "held");
  }
  // All or nothing: give back whatever a quota may have held, then answer the failure.
  auto releases = std::make_shared<std::size_t>(0);
  bool any_hold = std::any_of(job->may_hold.begin(), job->may_hold.end(), [](bool may) { return may; });
  auto settle = [self, job, releases, any_hold] {
    if (--*releases > 0) return;
    tell_entity(*self->state.shared, entity_kind::event, job->request.event_id,
                caf::make_message(holds_ended_atom::value, job->request.checkout_id));
    if (any_hold) return record_failure(self, job);
    unblock(self);
    job->promise.deliver(job->failure);
    forget_soon(self);
  };
  *releases = 1;
  for (std::size_t i = 0; i < job->request.items.size(); ++i) {
    if (!job->may_hold[i]) continue;
    ++*releases;
    release_hold(self, job->request.items[i].ticket_type_id, job->request.checkout_id, 0, settle);
  }
  settle();
}

void reserve_all(checkout_actor* self, const std::shared_ptr<creation>& job) {
  const auto& request = job->request;
  job->pending = request.items.size();
  job->lines.resize(request.items.size());
  job->may_hold.assign(request.items.size(), false);
  job->answered.assign(request.items.size(), false);
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& item = request.items[i];
    reserve_request reserve{request.checkout_id, request.event_id, request.buyer_email, request.client_address,
                            static_cast<std::int32_t>(request.items.size()), item.quantity, job->expires_at_ms,
                            request.request_hash, request.idempotency_key,
                            i < request.pricing.size() ? request.pricing[i] : line_pricing{}, request.taxation};
    ask<held_line>(
        self, entity_kind::quota, item.ticket_type_id, caf::make_message(reserve_atom::value, std::move(reserve)),
        [self, job, i](held_line& line) {
          if (job->finished) return;
          job->answered[i] = true;
          job->lines[i] = std::move(line);
          job->may_hold[i] = true;
          if (--job->pending == 0) finish_creation(self, job);
        },
        [self, job, i](caf::error& failure) {
          if (job->finished) return;
          job->answered[i] = true;
          // A definite refusal held nothing; a lost answer may have.
          job->may_hold[i] = !is_inventory_error(failure) || inventory_code(failure) == inventory_errc::outcome_unknown;
          if (!job->failure || !is_inventory_error(job->failure)) job->failure = failure;
          if (--job->pending == 0) finish_creation(self, job);
        },
        caf::infinite);
  }
}

void fail_preparation(checkout_actor* self, const std::shared_ptr<creation>& job, caf::error failure) {
  job->finished = true;
  // The event may have counted this checkout against the buyer before its answer was lost:
  // tell it the checkout holds nothing.
  tell_entity(*self->state.shared, entity_kind::event, job->request.event_id,
              caf::make_message(holds_ended_atom::value, job->request.checkout_id));
  unblock(self);
  job->promise.deliver(std::move(failure));
  forget_soon(self);
}

// The creation's deadline passed: whatever has not answered is treated as a timeout. A quota
// that did not answer may still commit its hold, so the all-or-nothing path releases it.
void on_creation_deadline(checkout_actor* self, const std::shared_ptr<creation>& job) {
  if (job->finished) return;
  auto timeout = caf::make_error(caf::sec::request_timeout);
  if (!job->prepared) return fail_preparation(self, job, std::move(timeout));
  for (std::size_t i = 0; i < job->answered.size(); ++i) {
    if (job->answered[i]) continue;
    job->answered[i] = true;
    job->may_hold[i] = true;
    if (!job->failure || !is_inventory_error(job->failure)) job->failure = timeout;
  }
  job->pending = 0;
  finish_creation(self, job);
}

caf::result<checkout_view> create(checkout_actor* self, checkout_request& request) {
  auto& state = self->state;
  if (state.failure_code) {
    if (request.request_hash != state.request_hash) return caf::make_error(inventory_errc::idempotency_mismatch);
    return caf::make_error(static_cast<inventory_errc>(*state.failure_code));
  }
  if (!state.view.status.empty()) {
    if (request.request_hash != state.request_hash) return caf::make_error(inventory_errc::idempotency_mismatch);
    auto replay = state.view;
    replay.replayed = true;
    return replay;
  }
  auto job = std::make_shared<creation>();
  job->request = std::move(request);
  job->request.checkout_id = state.view.id;
  job->promise = self->make_response_promise();
  job->expires_at_ms = state.shared->now_ms(self->clock()) + state.shared->limits.hold_ttl_ms.count();
  block(self);
  after_delay(self, creation_deadline(*state.shared), [self, job] { on_creation_deadline(self, job); });
  ask<checkout_request>(
      self, entity_kind::event, job->request.event_id, caf::make_message(prepare_atom::value, job->request),
      [self, job](checkout_request& checked) {
        if (job->finished) return;
        job->prepared = true;
        job->request = std::move(checked);
        reserve_all(self, job);
      },
      [self, job](caf::error& failure) {
        if (!job->finished) fail_preparation(self, job, std::move(failure));
      },
      caf::infinite);
  return job->promise;
}

// Asks every quota of the checkout to `message` its hold; `done(failure)` once all answered
// (failure: the first error any of them gave, or none).
template <class Reply>
void for_each_quota(checkout_actor* self, const caf::message& message, std::function<void(caf::error)> done) {
  auto& lines = self->state.view.lines;
  auto remaining = std::make_shared<std::size_t>(lines.size() + 1);
  auto first_failure = std::make_shared<caf::error>();
  auto settle = [remaining, first_failure, done] {
    if (--*remaining == 0) done(*first_failure);
  };
  for (const auto& line : lines) {
    ask<Reply>(
        self, entity_kind::quota, line.line.ticket_type_id, message, [settle](Reply&) { settle(); },
        [settle, first_failure](caf::error& failure) {
          if (!*first_failure) *first_failure = failure;
          settle();
        });
  }
  settle();
}

caf::result<checkout_view> release(checkout_actor* self) {
  auto& state = self->state;
  if (state.view.status.empty()) return forget(self);
  if (!state.view.order_status.empty()) return caf::make_error(inventory_errc::order_in_progress);
  if (state.view.status != "held") return caf::make_error(inventory_errc::not_held);
  auto promise = self->make_response_promise();
  block(self);
  // Only a line whose quota confirmed (or that was not held any more) counts as released; any
  // other answer (timeout, database) leaves it held and is returned, so the buyer can retry.
  auto lines = state.view.lines;
  auto remaining = std::make_shared<std::size_t>(lines.size());
  auto failure = std::make_shared<caf::error>();
  auto settle = [self, promise, remaining, failure]() mutable {
    if (--*remaining > 0) return;
    auto& view = self->state.view;
    bool any_held = std::any_of(view.lines.begin(), view.lines.end(), [](auto& line) { return line.status == "held"; });
    if (!any_held) view.status = "released";
    unblock(self);
    if (*failure && any_held) return promise.deliver(*failure);
    promise.deliver(view);
    push(self, "released");
  };
  for (const auto& line : lines) {
    auto type = line.line.ticket_type_id;
    auto mark = [self, type] {
      for (auto& entry : self->state.view.lines)
        if (entry.line.ticket_type_id == type && entry.status == "held") entry.status = "released";
    };
    ask<caf::ok_atom>(
        self, entity_kind::quota, type, caf::make_message(release_atom::value, state.view.id),
        [mark, settle](caf::ok_atom&) mutable {
          mark();
          settle();
        },
        [mark, settle, failure](caf::error& error) mutable {
          if (is_inventory_error(error) && inventory_code(error) == inventory_errc::not_held) mark();
          else if (!*failure) *failure = error;
          settle();
        });
  }
  return promise;
}

caf::result<checkout_view> extend(checkout_actor* self) {
  auto& state = self->state;
  if (state.view.status.empty()) return forget(self);
  if (!state.view.order_status.empty()) return caf::make_error(inventory_errc::order_in_progress);
  if (state.view.status != "held") return caf::make_error(inventory_errc::not_held);
  if (state.view.extended) return caf::make_error(inventory_errc::extension_used);
  auto new_deadline = state.view.expires_at_ms + state.shared->limits.hold_extension_ms.count();
  auto promise = self->make_response_promise();
  block(self);
  for_each_quota<held_line>(self, caf::make_message(extend_atom::value, state.view.id, new_deadline),
                 [self, promise, new_deadline](caf::error failure) mutable {
                   unblock(self);
                   if (failure) return promise.deliver(failure);
                   auto& view = self->state.view;
                   view.expires_at_ms = new_deadline;
                   view.extended = true;
                   for (auto& line : view.lines) line.line.expires_at_ms = new_deadline;
                   arm_warning(self);
                   promise.deliver(view);
                   push(self, "extended");
                 });
  return promise;
}

// After a re-quote: the event counts each held line's code as its quota committed it.
void settle_codes(checkout_actor* self) {
  const auto& view = self->state.view;
  for (const auto& entry : view.lines)
    if (entry.status == "held")
      tell_entity(*self->state.shared, entity_kind::event, view.event_id,
                  caf::make_message(settled_atom::value, view.id, entry.line.ticket_type_id,
                                    entry.line.pricing.promo_code_id, entry.line.quantity,
                                    entry.line.pricing.discount_per_ticket_minor * entry.line.quantity));
}

// Every quota answered: the event counts what the holds now carry (whatever failed), and the
// buyer gets the new quote or the first failure.
void finish_requote(checkout_actor* self, const caf::error& failure, caf::response_promise& promise) {
  settle_codes(self);
  unblock(self);
  if (failure) return promise.deliver(failure);
  promise.deliver(self->state.view);
  push(self, "requoted");
}

// Applies `promo_code` (empty: removes the code) to a held checkout: the event prices its lines
// again and takes the code's uses, each quota re-discounts its hold at the price it was taken
// at, and the checkout answers with its new quote.
caf::result<checkout_view> requote(checkout_actor* self, const std::string& promo_code) {
  auto& state = self->state;
  if (state.view.status.empty()) return forget(self);
  if (!state.view.order_status.empty()) return caf::make_error(inventory_errc::order_in_progress);
  if (state.view.status != "held") return caf::make_error(inventory_errc::not_held);
  checkout_request request;
  request.checkout_id = state.view.id;
  request.event_id = state.view.event_id;
  request.buyer_email = state.view.buyer_email;
  request.promo_code = promo_code;
  request.buyer_vat_id = state.view.taxation.buyer_vat_id;
  for (const auto& entry : state.view.lines)
    if (entry.status == "held") request.items.push_back({entry.line.ticket_type_id, entry.line.quantity});
  auto promise = self->make_response_promise();
  block(self);
  ask<checkout_request>(
      self, entity_kind::event, request.event_id, caf::make_message(requote_atom::value, request),
      [self, promise](checkout_request& priced) mutable {
        auto remaining = std::make_shared<std::size_t>(priced.items.size());
        auto first_failure = std::make_shared<caf::error>();
        for (std::size_t i = 0; i < priced.items.size(); ++i) {
          ask<held_line>(
              self, entity_kind::quota, priced.items[i].ticket_type_id,
              caf::make_message(requote_atom::value, self->state.view.id, priced.pricing[i]),
              [self, remaining, first_failure, promise](held_line& line) mutable {
                for (auto& entry : self->state.view.lines)
                  if (entry.line.ticket_type_id == line.ticket_type_id) entry.line.pricing = line.pricing;
                if (--*remaining == 0) finish_requote(self, *first_failure, promise);
              },
              [self, remaining, first_failure, promise](caf::error& failure) mutable {
                if (!*first_failure) *first_failure = failure;
                if (--*remaining == 0) finish_requote(self, *first_failure, promise);
              });
        }
      },
      [self, promise](caf::error& failure) mutable {
        unblock(self);
        promise.deliver(failure);
      });
  return promise;
}

void on_hold_ended(checkout_actor* self, const std::string& ticket_type_id, hold_end how) {
  auto& view = self->state.view;
  if (view.status != "held") return;
  if (!view.order_status.empty()) {
    // A hold that expires while its payment is under way: the payment decides what follows
    // (a late payment is sold again if seats are left, refunded otherwise).
    for (auto& line : view.lines)
      if (line.line.ticket_type_id == ticket_type_id && line.status == "held")
        line.status = how == hold_end::expired ? "expired" : "released";
    return;
  }
  bool any_held = false;
  for (auto& line : view.lines) {
    if (line.line.ticket_type_id == ticket_type_id && line.status == "held")
      line.status = how == hold_end::expired ? "expired" : "released";
    any_held = any_held || line.status == "held";
  }
  if (any_held) return;
  view.status = how == hold_end::expired ? "expired" : "released";
  push(self, view.status.c_str());
}

caf::behavior running(checkout_actor* self) {
  return {
      [self](create_atom, checkout_request& request) {
        touch(self);
        return create(self, request);
      },
      [self](view_atom) -> caf::result<checkout_view> {
        touch(self);
        if (self->state.view.status.empty()) return forget(self);
        return self->state.view;
      },
      [self](crash_atom) {
        if (self->state.shared->fault_injection) throw std::runtime_error("injected checkout fault");
      },
      [self](release_atom) {
        touch(self);
        return release(self);
      },
      [self](extend_atom) {
        touch(self);
        return extend(self);
      },
      [self](requote_atom, const std::string& promo_code) {
        touch(self);
        return requote(self, promo_code);
      },
      [self](holds_ended_atom, const std::string& ticket_type_id, hold_end how) {
        on_hold_ended(self, ticket_type_id, how);
      },
      // From the checkout's payment: a payment may start only on a held checkout with no order
      // yet, and from then on the buyer cannot release, extend or re-quote it. The payment
      // commits `payment_pending` next and tells the order's state from then on (order_atom).
      [self](pay_atom) -> caf::result<checkout_view> {
        touch(self);
        auto& view = self->state.view;
        if (view.status.empty()) return forget(self);
        if (!view.order_status.empty()) return caf::make_error(inventory_errc::payment_in_progress);
        if (view.status != "held") return caf::make_error(inventory_errc::not_held);
        view.order_status = "payment_pending";
        return view;
      },
      // The order's state as its payment committed it; `announce` names the push (none: quiet).
      [self](order_atom, const std::string& order_status, const std::string& announce) {
        auto& view = self->state.view;
        view.order_status = order_status;
        if (order_status == "tickets_issued" || order_status == "paid")
          for (auto& line : view.lines)
            if (line.status == "held" || line.status == "expired") line.status = "sold";
        // A payment that ended unpaid hands the checkout back: its holds may have ended meanwhile.
        if (order_status.empty() && view.status == "held") {
          bool all_held = std::all_of(view.lines.begin(), view.lines.end(), [](auto& line) { return line.status == "held"; });
          bool any_expired = std::any_of(view.lines.begin(), view.lines.end(), [](auto& line) { return line.status == "expired"; });
          if (!all_held) view.status = any_expired ? "expired" : "released";
        }
        if (!announce.empty()) push(self, announce.c_str());
      },
      // A delayed action that comes due after the actor stopped blocking (a creation's deadline).
      [self](retry_atom, std::uint64_t token) { run_delayed(self, token); },
      [self](subscribe_atom, push_sink_pointer& sink) -> caf::result<caf::ok_atom> {
        touch(self);
        auto& state = self->state;
        if (state.view.status.empty()) return forget(self);
        auto json = nlohmann::json{{"type", "state"}, {"checkout", nlohmann::json::parse(checkout_json(state.view))}};
        if (sink->push(json.dump())) state.subscribers.push_back(std::move(sink));
        if (state.subscribers.size() == 1 && state.view.status == "held") arm_warning(self);
        return caf::ok_atom::value;
      },
      [self](warning_atom, std::uint64_t generation) {
        if (generation == self->state.warning_generation && self->state.view.status == "held")
          push(self, "expiring_soon");
      },
      [self](idle_atom, std::uint64_t generation) {
        if (!idle_expired(self, generation)) return;
        // Passivate when idle: everything is in PostgreSQL; the next message reactivates.
        if (self->state.subscribers.empty()) return self->quit();
        watch_idle(self, self->state.idle.timeout);
      },
  };
}

// A checkout whose creation failed without holding anything is nothing: it lingers only long
// enough to answer requests that were already waiting for it (duplicates), then stops, so a
// sold-out rush does not leave thousands of idle actors and timers behind.
void forget_soon(checkout_actor* self) {
  if (!self->state.view.status.empty() || self->state.failure_code) return;
  watch_idle(self, absent_checkout_idle_timeout_ms);
}

// Before its first answer the actor loads its row — except for a create with a random id
// (no Idempotency-Key), which cannot exist yet.
caf::behavior checkout(checkout_actor* self, std::string checkout_id, placement where,
                       std::shared_ptr<const services> shared) {
  self->state.view.id = std::move(checkout_id);
  self->state.where = where;
  self->state.shared = std::move(shared);
  self->set_default_handler([self](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
    start_load(self);
    return caf::skip;
  });
  return {
      [self](create_atom, checkout_request& request) -> caf::result<checkout_view> {
        if (!request.idempotency_key.empty() || self->state.load_started) {
          start_load(self);
          return caf::skip;
        }
        self->state.load_started = true;
        self->set_default_handler(caf::print_and_drop);
        self->become(running(self));
        watch_idle(self, self->state.shared->limits.entity_idle_timeout_ms);
        return create(self, request);
      },
      [self](loaded_atom, const checkout_row_pointer& row, bool ok) { on_loaded(self, row, ok); },
  };
}

}  // namespace

// Written by hand (json_text.hpp): every hold answers with it. The shape is the OpenAPI
// document's Checkout; the tests read it back with a JSON parser.
std::string checkout_json(const checkout_view& view) {
  std::int64_t total_minor = 0;
  std::string currency;
  std::string out;
  out.reserve(1024);
  out += '{';
  append_json_field(out, "id", true);
  append_json_string(out, view.id);
  append_json_field(out, "event_id");
  append_json_string(out, view.event_id);
  // The order's state once a payment started (payment_pending, paid, tickets_issued, ...),
  // the holds' state (held, expired, released) before.
  append_json_field(out, "status");
  append_json_string(out, view.order_status.empty() ? view.status : view.order_status);
  append_json_field(out, "buyer_email");
  append_json_string(out, view.buyer_email);
  append_json_field(out, "items");
  out += '[';
  for (std::size_t i = 0; i < view.lines.size(); ++i) {
    const auto& entry = view.lines[i];
    const auto& line = entry.line;
    auto amount = line.unit_price_minor * line.quantity;
    total_minor += amount;
    currency = line.currency;
    if (i > 0) out += ',';
    out += '{';
    append_json_field(out, "ticket_type_id", true);
    append_json_string(out, line.ticket_type_id);
    append_json_field(out, "name");
    append_json_string(out, line.name);
    append_json_field(out, "quantity");
    out += std::to_string(line.quantity);
    append_json_field(out, "status");
    append_json_string(out, entry.status);
    append_json_field(out, "unit_price");
    append_money_json(out, line.unit_price_minor, line.currency);
    append_json_field(out, "amount");
    append_money_json(out, amount, line.currency);
    out += '}';
  }
  out += ']';
  append_json_field(out, "total");
  append_money_json(out, total_minor, currency);
  append_json_field(out, "expires_at");
  append_json_string(out, iso8601_ms(view.expires_at_ms));
  append_json_field(out, "extended");
  out += view.extended ? "true" : "false";
  // Every line as it was priced when its hold was taken; null only if that can no longer be
  // computed (a bug: the inputs were checked when the hold was taken).
  append_json_field(out, "quote");
  auto priced = view.lines.empty() ? pricing::expected<pricing::quote>{pricing::pricing_error{}} : quote_of(view);
  if (priced) append_quote_json(out, *priced);
  else out += "null";
  out += '}';
  return out;
}

caf::actor spawn_checkout(caf::actor_system& system, std::string checkout_id, placement where,
                          std::shared_ptr<const services> shared) {
  return system.spawn(checkout, std::move(checkout_id), where, std::move(shared));
}

}  // namespace eventstripe::actors
