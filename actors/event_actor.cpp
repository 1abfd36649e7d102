#include "actors/event_actor.hpp"

#include <deque>
#include <functional>
#include <stdexcept>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/skip.hpp>
#include <caf/stateful_actor.hpp>
#include <nlohmann/json.hpp>

#include "actors/entity_messaging.hpp"
#include "actors/idle_watch.hpp"
#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"

using event_snapshot_pointer = std::shared_ptr<const eventstripe::storage::event_snapshot>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(event_snapshot_pointer)

namespace eventstripe::actors {
namespace {

using written_atom = caf::atom_constant<caf::atom("written")>;
using push_atom = caf::atom_constant<caf::atom("push")>;

struct event_state {
  std::shared_ptr<const services> shared;
  std::string id;
  placement where;
  bool exists = false;
  storage::event_row event;
  std::vector<storage::ticket_type_row> types;
  // Live checkouts per buyer, for the limits against denial of inventory.
  std::unordered_map<std::string, std::pair<std::string, std::string>> active;  // checkout -> (email, address)
  std::unordered_map<std::string, std::int32_t> by_email;
  std::unordered_map<std::string, std::int32_t> by_address;
  std::vector<push_sink_pointer> subscribers;
  bool push_armed = false;
  bool dirty = false;
  bool writing = false;
  idle_watch idle;
  std::function<void(storage::write_outcome)> on_written;
  std::deque<std::pair<std::function<storage::write_outcome(pqxx::connection&)>,
                       std::function<void(storage::write_outcome)>>>
      deferred_writes;
  static inline const char* name = "event";
};

using event_actor = caf::stateful_actor<event_state>;

event_view view_of(const event_state& state, bool public_view) {
  event_view view{state.event, {}};
  for (const auto& type : state.types)
    if (!public_view || !type.hidden) view.ticket_types.push_back(type);
  return view;
}

void add_active(event_state& state, const std::string& checkout_id, const std::string& email, const std::string& address) {
  if (!state.active.emplace(checkout_id, std::make_pair(email, address)).second) return;
  ++state.by_email[email];
  ++state.by_address[address];
}

void remove_active(event_state& state, const std::string& checkout_id) {
  auto found = state.active.find(checkout_id);
  if (found == state.active.end()) return;
  auto& [email, address] = found->second;
  if (--state.by_email[email] <= 0) state.by_email.erase(email);
  if (--state.by_address[address] <= 0) state.by_address.erase(address);
  state.active.erase(found);
}

void push_availability(event_actor* self) {
  auto& state = self->state;
  state.push_armed = false;
  if (!state.dirty) return;
  state.dirty = false;
  auto json = availability_json(view_of(state, true));
  std::erase_if(state.subscribers, [&json](const push_sink_pointer& sink) { return !sink->push(json); });
}

void mark_dirty(event_actor* self) {
  auto& state = self->state;
  state.dirty = true;
  if (state.push_armed || state.subscribers.empty()) return;
  state.push_armed = true;
  self->delayed_send(self, state.shared->limits.availability_push_interval_ms, push_atom::value);
}

// Runs one fenced write as a pool job; other requests wait in the mailbox (skipped) until it
// is done, so the event has one writer and one write at a time. A write started from a
// response handler while another is in flight waits its turn.
void run_write(event_actor* self, std::function<storage::write_outcome(pqxx::connection&)> write,
               std::function<void(storage::write_outcome)> on_written) {
  auto& state = self->state;
  if (state.writing) {
    if (state.deferred_writes.size() >= state.shared->limits.event_writes_waiting_max)
      return on_written(static_cast<storage::write_outcome>(-2));
    state.deferred_writes.emplace_back(std::move(write), std::move(on_written));
    return;
  }
  state.writing = true;
  state.on_written = std::move(on_written);
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto accepted = state.shared->database->submit(
      [me, write](pqxx::connection& connection) {
        caf::anon_send(me, written_atom::value, static_cast<std::int32_t>(write(connection)));
      },
      [me](const storage::error&) { caf::anon_send(me, written_atom::value, std::int32_t{-1}); });
  if (accepted != storage::submit_status::accepted) caf::anon_send(me, written_atom::value, std::int32_t{-1});
  self->set_default_handler(caf::skip);
  self->become(caf::keep_behavior, [self](written_atom, std::int32_t outcome) {
    self->unbecome();
    self->set_default_handler(caf::print_and_drop);
    auto& state = self->state;
    state.writing = false;
    auto done = std::move(state.on_written);
    done(static_cast<storage::write_outcome>(outcome));
    if (outcome < 0) {
      // The write may or may not have committed: this activation's picture cannot be trusted.
      // Stop; the next message activates the event again from PostgreSQL.
      for (auto& [write, waiting] : state.deferred_writes) waiting(static_cast<storage::write_outcome>(-1));
      state.deferred_writes.clear();
      return self->quit(caf::make_error(inventory_errc::database_unavailable));
    }
    if (!state.writing && !state.deferred_writes.empty()) {
      auto [next_write, next_done] = std::move(state.deferred_writes.front());
      state.deferred_writes.pop_front();
      run_write(self, std::move(next_write), std::move(next_done));
    }
  });
}

caf::error write_error(storage::write_outcome outcome) {
  if (static_cast<int>(outcome) == -2) return caf::make_error(inventory_errc::overloaded);
  switch (outcome) {
    case storage::write_outcome::written: return {};
    case storage::write_outcome::fenced: return caf::make_error(inventory_errc::fenced);
    case storage::write_outcome::slug_taken: return caf::make_error(inventory_errc::slug_taken);
    case storage::write_outcome::version_conflict: return caf::make_error(inventory_errc::version_conflict);
    case storage::write_outcome::not_found: return caf::make_error(inventory_errc::not_found);
  }
  return caf::make_error(inventory_errc::database_unavailable);
}

bool owned_by(const event_state& state, const std::string& workspace_id) {
  return state.exists && state.event.workspace_id == workspace_id;
}

caf::result<event_view> write_event(event_actor* self, storage::event_row next, bool insert) {
  auto promise = self->make_response_promise();
  auto where = self->state.where;
  auto node = self->state.shared->node_id;
  run_write(
      self,
      [next, where, node, insert](pqxx::connection& connection) {
        return insert ? storage::insert_event(connection, where.shard, where.epoch, node, next)
                      : storage::update_event(connection, where.shard, where.epoch, node, next);
      },
      [self, promise, next](storage::write_outcome outcome) mutable {
        if (auto failure = write_error(outcome)) return promise.deliver(failure);
        self->state.exists = true;
        self->state.event = next;
        promise.deliver(view_of(self->state, false));
      });
  return promise;
}

caf::result<event_view> change_status(event_actor* self, const std::string& workspace_id, const std::string& status) {
  auto& state = self->state;
  if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
  const auto& from = state.event.status;
  bool allowed = (from == "draft" && (status == "published" || status == "closed")) ||
                 (from == "published" && status == "closed");
  if (!allowed) return caf::make_error(inventory_errc::invalid_transition);
  auto next = state.event;
  next.status = status;
  ++next.version;
  return write_event(self, std::move(next), false);
}

caf::result<event_view> add_type(event_actor* self, const std::string& workspace_id, storage::ticket_type_row type) {
  auto& state = self->state;
  if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
  if (state.event.status == "closed") return caf::make_error(inventory_errc::invalid_transition);
  if (!type.currency.empty() && type.currency != state.event.currency)
    return caf::make_error(inventory_errc::currency_mismatch);
  type.event_id = state.id;
  type.currency = state.event.currency;
  type.held = type.sold = 0;
  type.position = static_cast<std::int32_t>(state.types.size());
  auto promise = self->make_response_promise();
  auto where = state.where;
  auto node = state.shared->node_id;
  run_write(
      self,
      [type, where, node, type_shard = static_cast<std::int32_t>(state.shared->directory->shard_of(type.id))](
          pqxx::connection& connection) {
        return storage::insert_ticket_type(connection, where.shard, where.epoch, node, type, type_shard);
      },
      [self, promise, type](storage::write_outcome outcome) mutable {
        if (auto failure = write_error(outcome)) return promise.deliver(failure);
        self->state.types.push_back(type);
        mark_dirty(self);
        promise.deliver(view_of(self->state, false));
      });
  return promise;
}

// Writes the ticket type's definition and has its quota pick it up.
void write_type_definition(event_actor* self, storage::ticket_type_row type, caf::response_promise promise) {
  auto where = self->state.where;
  auto node = self->state.shared->node_id;
  run_write(
      self,
      [type, where, node](pqxx::connection& connection) {
        return storage::update_ticket_type(connection, where.shard, where.epoch, node, type);
      },
      [self, promise, type](storage::write_outcome outcome) mutable {
        if (auto failure = write_error(outcome)) return promise.deliver(failure);
        for (auto& existing : self->state.types)
          if (existing.id == type.id) existing = type;
        tell_entity(*self->state.shared, entity_kind::quota, type.id, caf::make_message(reload_atom::value));
        promise.deliver(view_of(self->state, false));
      });
}

caf::result<event_view> update_type(event_actor* self, const std::string& workspace_id, storage::ticket_type_row type) {
  auto& state = self->state;
  if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
  auto current = std::find_if(state.types.begin(), state.types.end(), [&](auto& t) { return t.id == type.id; });
  if (current == state.types.end()) return caf::make_error(inventory_errc::not_found);
  if (!type.currency.empty() && type.currency != current->currency)
    return caf::make_error(inventory_errc::currency_mismatch);
  type.event_id = state.id;
  type.currency = current->currency;
  type.position = current->position;
  type.held = current->held;
  type.sold = current->sold;
  auto promise = self->make_response_promise();
  if (type.capacity == current->capacity) {
    write_type_definition(self, std::move(type), promise);
    return promise;
  }
  // Capacity belongs to the quota (it alone knows what is held right now): ask it first.
  auto region = region_of(*state.shared, type.id);
  self->request(region, state.shared->limits.request_timeout_ms, deliver_atom::value, entity_kind::quota, type.id,
                caf::make_message(capacity_atom::value, type.capacity))
      .then(
          [self, promise, type](availability& counters) mutable {
            type.held = counters.held;
            type.sold = counters.sold;
            write_type_definition(self, std::move(type), promise);
          },
          [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
  return promise;
}

// An activation for an id with no event (a mistyped or made-up id) answers not_found and
// stops at once, so unknown ids cannot pile up actors (and their memory) until the idle timeout.
caf::error forget(event_actor* self) {
  if (!self->state.writing) self->quit();
  return caf::make_error(inventory_errc::not_found);
}

caf::result<checkout_request> prepare(event_actor* self, checkout_request& request) {
  auto& state = self->state;
  if (!state.exists) return forget(self);
  const auto& limits = state.shared->limits;
  if (!state.exists || state.event.status == "draft") return caf::make_error(inventory_errc::not_found);
  if (state.event.status != "published" || state.shared->now_ms(self->clock()) >= state.event.ends_at_ms)
    return caf::make_error(inventory_errc::not_on_sale);
  // Everything that can be checked without the quotas is checked here, before any seat is
  // held, so a request that is bad in one item writes nothing for the others.
  auto now = state.shared->now_ms(self->clock());
  for (const auto& item : request.items) {
    auto type = std::find_if(state.types.begin(), state.types.end(),
                             [&](auto& t) { return t.id == item.ticket_type_id; });
    if (type == state.types.end()) return caf::make_error(inventory_errc::unknown_ticket_type);
    if (type->hidden) return caf::make_error(inventory_errc::hidden_ticket_type);
    if (item.quantity < type->min_per_order || item.quantity > type->max_per_order)
      return caf::make_error(inventory_errc::quantity_out_of_range);
    if ((type->sale_starts_at_ms && now < *type->sale_starts_at_ms) || (type->sale_ends_at_ms && now >= *type->sale_ends_at_ms))
      return caf::make_error(inventory_errc::not_on_sale);
  }
  auto email_count = state.by_email.count(request.buyer_email) ? state.by_email[request.buyer_email] : 0;
  auto address_count = state.by_address.count(request.client_address) ? state.by_address[request.client_address] : 0;
  if (!state.active.count(request.checkout_id) &&
      (email_count >= limits.buyer_checkouts_max || address_count >= limits.address_checkouts_max))
    return caf::make_error(inventory_errc::buyer_limit);
  add_active(state, request.checkout_id, request.buyer_email, request.client_address);
  return request;
}

void on_loaded(event_actor* self, const event_snapshot_pointer& snapshot) {
  auto& state = self->state;
  if (snapshot) {
    state.exists = true;
    state.event = snapshot->event;
    state.types = snapshot->ticket_types;
    for (const auto& checkout : snapshot->active_checkouts)
      add_active(state, checkout.checkout_id, checkout.buyer_email, checkout.client_address);
  }
}

caf::behavior running(event_actor* self) {
  return {
      [self](create_atom, storage::event_row& event) -> caf::result<event_view> {
        touch(self);
        if (self->state.exists) return caf::make_error(inventory_errc::invalid_request);
        event.id = self->state.id;
        event.status = "draft";
        event.version = 1;
        return write_event(self, std::move(event), true);
      },
      [self](event_update_atom, storage::event_row& next) -> caf::result<event_view> {
        touch(self);
        auto& state = self->state;
        if (!owned_by(state, next.workspace_id)) return caf::make_error(inventory_errc::not_found);
        if (next.version != state.event.version) return caf::make_error(inventory_errc::version_conflict);
        if (state.event.status == "closed") return caf::make_error(inventory_errc::invalid_transition);
        if (next.currency != state.event.currency && !state.types.empty())
          return caf::make_error(inventory_errc::invalid_request);  // prices are in the event's currency
        next.id = state.id;
        next.status = state.event.status;
        next.version = state.event.version + 1;
        return write_event(self, std::move(next), false);
      },
      [self](event_status_atom, const std::string& workspace_id, const std::string& status) {
        return change_status(self, workspace_id, status);
      },
      [self](type_add_atom, const std::string& workspace_id, storage::ticket_type_row& type) {
        return add_type(self, workspace_id, std::move(type));
      },
      [self](type_update_atom, const std::string& workspace_id, storage::ticket_type_row& type) {
        return update_type(self, workspace_id, std::move(type));
      },
      [self](view_atom, const std::string& workspace_id) -> caf::result<event_view> {
        touch(self);
        auto& state = self->state;
        if (!state.exists) return forget(self);
        bool public_view = workspace_id.empty();
        if (public_view ? (!state.exists || state.event.status == "draft") : !owned_by(state, workspace_id))
          return caf::make_error(inventory_errc::not_found);
        return view_of(state, public_view);
      },
      [self](prepare_atom, checkout_request& request) {
        touch(self);
        return prepare(self, request);
      },
      [self](holds_ended_atom, const std::string& checkout_id) { remove_active(self->state, checkout_id); },
      [self](availability_atom, const availability& counters) {
        for (auto& type : self->state.types)
          if (type.id == counters.ticket_type_id) {
            type.capacity = counters.capacity;
            type.held = counters.held;
            type.sold = counters.sold;
          }
        mark_dirty(self);
      },
      [self](subscribe_atom, push_sink_pointer& sink) -> caf::result<caf::ok_atom> {
        touch(self);
        auto& state = self->state;
        if (!state.exists || state.event.status == "draft") return caf::make_error(inventory_errc::not_found);
        if (sink->push(availability_json(view_of(state, true)))) state.subscribers.push_back(std::move(sink));
        return caf::ok_atom::value;
      },
      [self](push_atom) { push_availability(self); },
      [self](crash_atom) {
        if (self->state.shared->fault_injection) throw std::runtime_error("injected event fault");
      },
      [self](idle_atom, std::uint64_t generation) {
        if (!idle_expired(self, generation)) return;
        // Passivate when idle: everything is in PostgreSQL; the next message reactivates. Not
        // while buyers hold checkouts (their counts live here) or sockets listen.
        if (self->state.subscribers.empty() && self->state.active.empty()) return self->quit();
        watch_idle(self, self->state.idle.timeout);
      },
  };
}

// Loads the event before serving anything; messages wait (skipped) until then.
caf::behavior event(event_actor* self, std::string event_id, placement where, std::shared_ptr<const services> shared) {
  self->state.id = std::move(event_id);
  self->state.where = where;
  self->state.shared = std::move(shared);
  auto id = self->state.id;
  load_state<storage::event_snapshot>(*self->state.shared, caf::actor_cast<caf::actor>(self),
                                      [id](pqxx::connection& connection) { return storage::load_event(connection, id); });
  self->set_default_handler(caf::skip);
  return {
      [self](loaded_atom, const event_snapshot_pointer& snapshot, bool ok) {
        self->set_default_handler(caf::print_and_drop);
        if (!ok) {
          // The database is unavailable: fail so the next message retries the activation.
          self->quit(caf::make_error(inventory_errc::database_unavailable));
          return;
        }
        on_loaded(self, snapshot);
        self->become(running(self));
        watch_idle(self, self->state.shared->limits.entity_idle_timeout_ms);
      },
  };
}

}  // namespace

std::string availability_json(const event_view& view) {
  nlohmann::json types = nlohmann::json::array();
  for (const auto& type : view.ticket_types)
    types.push_back({{"ticket_type_id", type.id},
                     {"capacity", type.capacity},
                     {"held", type.held},
                     {"sold", type.sold},
                     {"available", std::max(0, type.capacity - type.held - type.sold)}});
  return nlohmann::json{{"type", "availability"}, {"event_id", view.event.id}, {"ticket_types", types}}.dump();
}

caf::actor spawn_event(caf::actor_system& system, std::string event_id, placement where,
                       std::shared_ptr<const services> shared) {
  return system.spawn(event, std::move(event_id), where, std::move(shared));
}

}  // namespace eventstripe::actors
