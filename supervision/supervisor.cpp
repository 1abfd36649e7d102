#include "supervision/supervisor.hpp"

#include <algorithm>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "caf/actor_cast.hpp"
#include "caf/actor_clock.hpp"
#include "caf/actor_system.hpp"
#include "caf/behavior.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/response_promise.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/system_messages.hpp"

namespace eventstripe::supervision {

namespace {

// The shutdown timeout of the child being stopped has elapsed. It carries the stop generation
// because a delayed_send cannot be cancelled: the timer of a child that stopped in time must
// not kill the child stopped after it.
using stop_timeout_atom = caf::atom_constant<caf::atom("stop_tmo")>;

struct child_record {
  child_spec spec;
  caf::actor actor;  // invalid while the child is not running
  std::uint64_t restart_count = 0;
};

using child_table = std::vector<child_record>;

enum class after_stop : std::uint8_t { restart, quit };

// Children are stopped one at a time, latest started first, so that no child runs without the
// children started before it (which it may depend on).
struct stop_sequence {
  bool active = false;
  std::deque<std::size_t> pending;      // indexes still to stop, in stopping order
  std::optional<std::size_t> current;   // the child whose down_msg is awaited
  std::uint64_t generation = 0;         // tags the current child's stop timeout
  after_stop then = after_stop::restart;
  std::size_t restart_first = 0;        // children [restart_first, restart_last) start again
  std::size_t restart_last = 0;
  caf::error quit_reason;               // the supervisor's exit reason for after_stop::quit
};

// A child that stopped while other children were being stopped for a restart; it is judged
// once that restart is done. At most one entry per child: it is down until then.
struct deferred_failure {
  std::size_t index = 0;
  caf::error reason;
};

struct supervisor_state {
  supervisor_flags flags;
  // Shared with the orphan guard, which runs after CAF has destroyed this state.
  std::shared_ptr<child_table> children = std::make_shared<child_table>();
  // Restarts within the intensity period; never more than restarts_max + 1 entries.
  std::deque<caf::actor_clock::time_point> restart_times;
  stop_sequence stopping;
  bool shutting_down = false;  // once set, nothing is restarted again
  std::deque<deferred_failure> deferred_failures;
  std::vector<caf::response_promise> shutdown_promises;
  static inline const char* name = "supervisor";
};

using supervisor_pointer = caf::stateful_actor<supervisor_state>*;

void stop_next(supervisor_pointer self);

// A temporary child is never started again, so once it has stopped it is gone for good.
bool is_retired(const child_record& record) {
  return record.spec.restart == restart_type::temporary && !record.actor;
}

bool should_restart(restart_type restart, const caf::error& reason) {
  switch (restart) {
    case restart_type::permanent:
      return true;
    case restart_type::transient:
      // user_shutdown counts as a clean exit too, as OTP's `shutdown` does: someone asked.
      return reason != caf::exit_reason::normal && reason != caf::exit_reason::user_shutdown;
    case restart_type::temporary:
      return false;
  }
  return false;
}

std::optional<std::size_t> find_child(const child_table& children, const caf::actor_addr& who) {
  for (std::size_t index = 0; index < children.size(); ++index)
    if (children[index].actor && children[index].actor.address() == who)
      return index;
  return std::nullopt;
}

std::deque<std::size_t> running_in_reverse(const child_table& children, std::size_t first,
                                           std::size_t last) {
  std::deque<std::size_t> result;
  for (auto index = last; index > first; --index)
    if (children[index - 1].actor)
      result.push_back(index - 1);
  return result;
}

// The children [first, last) that a failure of child `index` restarts.
std::pair<std::size_t, std::size_t> restart_range(restart_strategy strategy, std::size_t index,
                                                  std::size_t count) {
  switch (strategy) {
    case restart_strategy::one_for_one:
      return {index, index + 1};
    case restart_strategy::one_for_all:
      return {0, count};
    case restart_strategy::rest_for_one:
      return {index, count};
  }
  return {index, index + 1};
}

std::vector<child_info> describe_children(const child_table& children) {
  std::vector<child_info> result;
  result.reserve(children.size());
  for (const auto& record : children)
    if (!is_retired(record))
      result.push_back(child_info{record.spec.id, record.actor, record.restart_count});
  return result;
}

caf::error validate(const supervisor_flags& flags, const std::vector<child_spec>& specs) {
  if (flags.intensity.period_ms <= std::chrono::milliseconds::zero())
    return caf::make_error(supervision_errc::invalid_child_spec, "restart period must be > 0");
  std::set<std::string> ids;
  for (const auto& spec : specs) {
    if (spec.id.empty() || !spec.start || spec.shutdown_timeout_ms.count() < 0)
      return caf::make_error(supervision_errc::invalid_child_spec, "bad spec '" + spec.id + "'");
    if (!ids.insert(spec.id).second)
      return caf::make_error(supervision_errc::invalid_child_spec, "duplicate id " + spec.id);
  }
  return caf::none;
}

// Start functions are project code that may throw; an exception must not take the supervisor
// down with it, so it becomes a start_failed error naming the child.
caf::error start_child(supervisor_pointer self, std::size_t index) {
  auto& record = (*self->state.children)[index];
  caf::actor started;
  std::string problem = "invalid actor handle";
  try {
    started = record.spec.start(self->system());
  } catch (const std::exception& exception) {
    problem = exception.what();
  } catch (...) {
    problem = "unknown exception";
  }
  if (!started)
    return caf::make_error(supervision_errc::start_failed, record.spec.id + ": " + problem);
  self->monitor(started);
  record.actor = std::move(started);
  return caf::none;
}

// Returns false when this restart is one more than the intensity allows.
bool record_restart(supervisor_pointer self) {
  auto& state = self->state;
  auto now = self->clock().now();
  state.restart_times.push_back(now);
  while (now - state.restart_times.front() >= state.flags.intensity.period_ms)
    state.restart_times.pop_front();
  return state.restart_times.size() <= state.flags.intensity.restarts_max;
}

void begin_shutdown(supervisor_pointer self, caf::error reason) {
  auto& state = self->state;
  if (state.shutting_down)
    return;  // the first reason is the one the supervisor reports
  state.shutting_down = true;
  state.deferred_failures.clear();
  auto& stopping = state.stopping;
  stopping.then = after_stop::quit;
  stopping.quit_reason = std::move(reason);
  stopping.pending = running_in_reverse(*state.children, 0, state.children->size());
  if (stopping.current)
    std::erase(stopping.pending, *stopping.current);
  if (stopping.active)
    return;  // the child being stopped for a restart finishes first, then `pending` goes on
  stopping.active = true;
  stop_next(self);
}

void begin_restart(supervisor_pointer self, std::size_t first, std::size_t last) {
  auto& stopping = self->state.stopping;
  stopping.active = true;
  stopping.then = after_stop::restart;
  stopping.restart_first = first;
  stopping.restart_last = last;
  stopping.pending = running_in_reverse(*self->state.children, first, last);
  stop_next(self);
}

void handle_child_exit(supervisor_pointer self, std::size_t index, const caf::error& reason) {
  auto& state = self->state;
  const auto& record = (*state.children)[index];
  if (state.shutting_down)
    return;
  if (!should_restart(record.spec.restart, reason)) {
    auto running = [](const child_record& child) { return static_cast<bool>(child.actor); };
    if (state.flags.exit_when_children_done && !state.stopping.active &&
        std::none_of(state.children->begin(), state.children->end(), running))
      begin_shutdown(self, caf::exit_reason::normal);
    return;
  }
  if (!record_restart(self)) {
    begin_shutdown(self, caf::make_error(supervision_errc::intensity_exceeded, record.spec.id));
    return;
  }
  auto [first, last] = restart_range(state.flags.strategy, index, state.children->size());
  begin_restart(self, first, last);
}

void restart_range_children(supervisor_pointer self) {
  auto& state = self->state;
  auto& children = *state.children;
  for (auto index = state.stopping.restart_first; index < state.stopping.restart_last; ++index) {
    auto& record = children[index];
    if (record.actor || is_retired(record))
      continue;
    if (auto error = start_child(self, index))
      state.deferred_failures.push_back(deferred_failure{index, std::move(error)});
    else
      ++record.restart_count;
  }
}

void process_deferred_failures(supervisor_pointer self) {
  auto& state = self->state;
  while (!state.stopping.active && !state.shutting_down && !state.deferred_failures.empty()) {
    auto failure = std::move(state.deferred_failures.front());
    state.deferred_failures.pop_front();
    if ((*state.children)[failure.index].actor)
      continue;  // a group restart has already started it again
    handle_child_exit(self, failure.index, failure.reason);
  }
}

void finish_stop(supervisor_pointer self) {
  auto& state = self->state;
  if (state.stopping.then == after_stop::quit) {
    for (auto& promise : state.shutdown_promises)
      promise.deliver(caf::ok_atom::value);
    state.shutdown_promises.clear();
    self->quit(state.stopping.quit_reason);
    return;
  }
  restart_range_children(self);
  process_deferred_failures(self);
}

// Asks the next child to stop and arms its timeout; once none is left, finishes the sequence.
void stop_next(supervisor_pointer self) {
  auto& stopping = self->state.stopping;
  while (!stopping.pending.empty()) {
    auto index = stopping.pending.front();
    stopping.pending.pop_front();
    auto& record = (*self->state.children)[index];
    if (!record.actor)
      continue;  // it stopped on its own meanwhile
    stopping.current = index;
    ++stopping.generation;
    if (record.spec.shutdown_timeout_ms.count() == 0) {
      self->send_exit(record.actor, caf::exit_reason::kill);
      return;
    }
    self->send_exit(record.actor, caf::exit_reason::user_shutdown);
    self->delayed_send(self, record.spec.shutdown_timeout_ms, stop_timeout_atom::value,
                       stopping.generation);
    return;
  }
  stopping.active = false;
  finish_stop(self);
}

void on_stop_timeout(supervisor_pointer self, std::uint64_t generation) {
  auto& stopping = self->state.stopping;
  if (!stopping.current || generation != stopping.generation)
    return;  // the timer of a child that has already stopped
  // kill cannot be trapped: a child that ignored user_shutdown goes down now.
  self->send_exit((*self->state.children)[*stopping.current].actor, caf::exit_reason::kill);
}

void on_down_while_stopping(supervisor_pointer self, std::size_t index, caf::error reason) {
  auto& state = self->state;
  auto& stopping = state.stopping;
  if (stopping.current == index) {
    stopping.current.reset();
    stop_next(self);
    return;
  }
  if (std::erase(stopping.pending, index) > 0 || state.shutting_down)
    return;  // it was about to be stopped anyway
  state.deferred_failures.push_back(deferred_failure{index, std::move(reason)});
}

void on_child_down(supervisor_pointer self, caf::down_msg& message) {
  auto& state = self->state;
  auto index = find_child(*state.children, message.source);
  if (!index)
    return;  // not one of ours
  (*state.children)[*index].actor = nullptr;
  if (state.stopping.active)
    on_down_while_stopping(self, *index, std::move(message.reason));
  else
    handle_child_exit(self, *index, message.reason);
}

// CAF destroys a stateful actor's state before its attached functors run, hence the shared
// table. Running children are only found here when the supervisor died without stopping them
// (killed, or an exception): kill them rather than leave them running unsupervised.
void guard_against_orphans(supervisor_pointer self) {
  self->attach_functor([children = self->state.children](const caf::error&) {
    for (auto& record : *children)
      if (record.actor)
        caf::anon_send_exit(record.actor, caf::exit_reason::kill);
  });
}

void start_initial_children(supervisor_pointer self) {
  for (std::size_t index = 0; index < self->state.children->size(); ++index) {
    if (auto error = start_child(self, index)) {
      begin_shutdown(self, std::move(error));
      return;
    }
  }
}

caf::behavior supervisor_behavior(supervisor_pointer self, supervisor_flags flags,
                                  std::vector<child_spec> specs) {
  self->state.flags = flags;
  guard_against_orphans(self);
  self->set_down_handler([self](caf::down_msg& message) { on_child_down(self, message); });
  self->set_exit_handler([self](caf::exit_msg& message) {
    // CAF's default handler ignores a normal exit message too: it is no request to stop.
    if (message.reason == caf::exit_reason::normal)
      return;
    begin_shutdown(self, std::move(message.reason));
  });
  if (auto error = validate(flags, specs)) {
    self->quit(std::move(error));
    return {};
  }
  for (auto& spec : specs)
    self->state.children->push_back(child_record{std::move(spec), caf::actor{}, 0});
  start_initial_children(self);
  return {
    [self](shutdown_atom) {
      auto promise = self->make_response_promise();
      self->state.shutdown_promises.push_back(promise);
      begin_shutdown(self, caf::exit_reason::normal);
      return promise;
    },
    [self](children_atom) { return describe_children(*self->state.children); },
    [self](stop_timeout_atom, std::uint64_t generation) { on_stop_timeout(self, generation); },
  };
}

}  // namespace

supervisor_actor spawn_supervisor(caf::actor_system& system, supervisor_flags flags,
                                  std::vector<child_spec> children) {
  // Spawned untyped because the internal stop timeout message is no business of callers; the
  // typed handle lists only what they may send.
  auto supervisor = system.spawn(supervisor_behavior, flags, std::move(children));
  return caf::actor_cast<supervisor_actor>(std::move(supervisor));
}

child_spec supervisor_child_spec(std::string id, supervisor_flags flags,
                                 std::vector<child_spec> children, restart_type restart,
                                 std::chrono::milliseconds shutdown_timeout_ms) {
  auto start = [flags, children = std::move(children)](caf::actor_system& system) {
    return caf::actor_cast<caf::actor>(spawn_supervisor(system, flags, children));
  };
  return child_spec{std::move(id), std::move(start), restart, shutdown_timeout_ms};
}

}  // namespace eventstripe::supervision
