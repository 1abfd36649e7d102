#include "cluster/region.hpp"

#include <deque>
#include <memory>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include "config/log.hpp"

namespace eventstripe::cluster {
namespace {

using actors::entity_kind;
using stop_timeout_atom = caf::atom_constant<caf::atom("stoptime")>;

struct child_entry {
  entity_kind kind;
  std::string key;
  caf::actor actor;
};

struct region_state {
  actors::placement where;
  entity_factory factory;
  std::chrono::milliseconds shutdown_timeout_ms{5000};
  // Shared with the functor that kills orphans: CAF destroys the state before attached
  // functors run.
  std::shared_ptr<std::unordered_map<std::string, child_entry>> children =
      std::make_shared<std::unordered_map<std::string, child_entry>>();
  std::unordered_map<caf::actor_addr, std::string> names;  // actor -> children key
  std::unordered_map<std::string, std::deque<caf::actor_clock::time_point>> restarts;
  bool stopping = false;
  caf::error stop_reason;
  static inline const char* name = "region";
};

using region_actor = caf::stateful_actor<region_state>;

std::string child_name(entity_kind kind, const std::string& key) {
  return std::to_string(static_cast<int>(kind)) + ":" + key;
}

caf::actor obtain(region_actor* self, entity_kind kind, const std::string& key) {
  auto name = child_name(kind, key);
  auto& children = *self->state.children;
  if (auto found = children.find(name); found != children.end()) return found->second.actor;
  auto child = self->state.factory(self->system(), kind, key, self->state.where);
  if (!child) return {};
  self->monitor(child);
  self->state.names.emplace(child.address(), name);
  children.emplace(name, child_entry{kind, key, child});
  return child;
}

// Whether a crashed entity may be restarted eagerly again, within its restart budget.
bool within_restart_budget(region_actor* self, const std::string& name) {
  auto now = self->clock().now();
  auto& history = self->state.restarts[name];
  while (!history.empty() && now - history.front() > entity_restart_period_ms) history.pop_front();
  if (history.size() >= entity_restarts_max) return false;
  history.push_back(now);
  return true;
}

void on_child_down(region_actor* self, const caf::down_msg& down) {
  auto named = self->state.names.find(down.source);
  if (named == self->state.names.end()) return;
  auto name = named->second;
  self->state.names.erase(named);
  auto& children = *self->state.children;
  auto entry = children.find(name);
  if (entry == children.end()) return;
  auto kind = entry->second.kind;
  auto key = entry->second.key;
  children.erase(entry);
  if (self->state.stopping) {
    if (children.empty()) self->quit(self->state.stop_reason);
    return;
  }
  bool crashed = down.reason && down.reason != caf::exit_reason::normal &&
                 down.reason != caf::exit_reason::user_shutdown;
  if (!crashed) return;
  log::warn("entity crashed", {{"entity.kind", static_cast<int>(kind)}, {"entity.key", key},
                               {"error.message", caf::to_string(down.reason)}});
  // Quotas own expiry timers and payments may hold captured money not yet turned into tickets:
  // bring them back now (they recover from PostgreSQL) instead of waiting for a request.
  if ((kind == entity_kind::quota || kind == entity_kind::payment) && within_restart_budget(self, name))
    obtain(self, kind, key);
}

void begin_stop(region_actor* self, caf::error reason) {
  if (self->state.stopping) return;
  self->state.stopping = true;
  self->state.stop_reason = std::move(reason);
  auto& children = *self->state.children;
  if (children.empty()) return self->quit(self->state.stop_reason);
  for (auto& [name, entry] : children) self->send_exit(entry.actor, caf::exit_reason::user_shutdown);
  self->delayed_send(self, self->state.shutdown_timeout_ms, stop_timeout_atom::value);
}

}  // namespace

namespace {

caf::behavior region(region_actor* self, actors::placement where, entity_factory factory, recovery_function recover,
                     std::chrono::milliseconds shutdown_timeout_ms) {
  self->state.where = where;
  self->state.factory = std::move(factory);
  self->state.shutdown_timeout_ms = shutdown_timeout_ms;
  self->attach_functor([children = self->state.children] {
    for (auto& [name, entry] : *children) caf::anon_send_exit(entry.actor, caf::exit_reason::kill);
  });
  self->set_down_handler([self](caf::down_msg& down) { on_child_down(self, down); });
  self->set_exit_handler([self](caf::exit_msg& exit) { begin_stop(self, exit.reason); });
  auto me = caf::actor_cast<caf::actor>(self);
  if (recover) recover(me, where);
  return {
      [self, recover](actors::reload_atom) {
        if (recover && !self->state.stopping) recover(caf::actor_cast<caf::actor>(self), self->state.where);
      },
      [self](actors::deliver_atom, entity_kind kind, std::string& key,
             caf::message& payload) -> caf::result<caf::message> {
        if (self->state.stopping) return caf::make_error(actors::inventory_errc::fenced);
        auto child = obtain(self, kind, key);
        if (!child) return caf::make_error(actors::inventory_errc::not_found);
        return self->delegate(child, std::move(payload));
      },
      [self](actors::tell_atom, entity_kind kind, std::string& key, caf::message& payload) {
        auto& children = *self->state.children;
        auto found = children.find(child_name(kind, key));
        // Anonymous: a notification has no sender to answer, so no reply can come back here.
        if (found != children.end()) caf::anon_send(found->second.actor, std::move(payload));
      },
      [self](actors::activate_atom, entity_kind kind, std::string& key) -> caf::result<caf::ok_atom> {
        if (self->state.stopping) return caf::make_error(actors::inventory_errc::fenced);
        if (!obtain(self, kind, key)) return caf::make_error(actors::inventory_errc::not_found);
        return caf::ok_atom::value;
      },
      [self](actors::entities_atom) {
        std::vector<std::string> names;
        for (auto& [name, entry] : *self->state.children) names.push_back(name);
        return names;
      },
      [self](stop_timeout_atom) {
        // Entities that did not stop in time are killed; their down messages finish the stop.
        for (auto& [name, entry] : *self->state.children) self->send_exit(entry.actor, caf::exit_reason::kill);
      },
  };
}

}  // namespace

caf::actor spawn_region(caf::actor_system& system, actors::placement where, entity_factory factory,
                        recovery_function recover, std::chrono::milliseconds entity_shutdown_timeout_ms) {
  return system.spawn(region, where, std::move(factory), std::move(recover), entity_shutdown_timeout_ms);
}

}  // namespace eventstripe::cluster
