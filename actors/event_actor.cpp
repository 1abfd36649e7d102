#include "actors/event_actor.hpp"

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
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
#include "actors/hold_pricing.hpp"
#include "actors/pricing/tax_table.hpp"
#include "actors/pricing/vat_id.hpp"
#include "actors/pricing_config.hpp"
#include "actors/promo_ledger.hpp"
#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/pricing.hpp"

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
  // Definitions as last written; the counters as of the load or the code's last write (the quota
  // keeps them in PostgreSQL; organizers read them from there).
  std::vector<storage::promo_code_row> promo_codes;
  // How much each code is used, reservations of live checkouts included (promo_ledger.hpp).
  promo_ledger ledger;
  // Live checkouts per buyer, for the limits against denial of inventory.
  std::unordered_map<std::string, std::pair<std::string, std::string>> active;  // checkout -> (email, address)
  std::unordered_map<std::string, std::int32_t> by_email;
  std::unordered_map<std::string, std::int32_t> by_address;
  // Checkouts prepared here: the ticket types whose holds still live. A checkout stops counting
  // against its buyer when the last of them ends (after a reload: when the first ends).
  std::unordered_map<std::string, std::set<std::string>> live_lines;
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
  state.live_lines.erase(checkout_id);
  auto found = state.active.find(checkout_id);
  if (found == state.active.end()) return;
  auto& [email, address] = found->second;
  if (--state.by_email[email] <= 0) state.by_email.erase(email);
  if (--state.by_address[address] <= 0) state.by_address.erase(address);
  state.active.erase(found);
}

// One line of the checkout ended: the checkout stops counting when none is left.
void line_ended(event_state& state, const std::string& checkout_id, const std::string& ticket_type_id) {
  if (auto lines = state.live_lines.find(checkout_id); lines != state.live_lines.end()) {
    lines->second.erase(ticket_type_id);
    if (!lines->second.empty()) return;
  }
  remove_active(state, checkout_id);
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
    case storage::write_outcome::tier_below_taken:
      return pricing_config_failure(pricing_config_errc::tier_below_taken,
                                    "a tier's quantity is below the tickets it already has");
    case storage::write_outcome::duplicate_code:
      return pricing_config_failure(pricing_config_errc::duplicate_promo_code,
                                    "the event already has a promo code with this text");
    case storage::write_outcome::below_usage:
      return pricing_config_failure(pricing_config_errc::promo_below_usage,
                                    "max_uses or the budget is below what the code has already been used for");
  }
  return caf::make_error(inventory_errc::database_unavailable);
}

bool owned_by(const event_state& state, const std::string& workspace_id) {
  return state.exists && state.event.workspace_id == workspace_id;
}

caf::error pricing_refusal(pricing::pricing_errc code, std::string detail) {
  return pricing_failure(pricing::make_pricing_error(code, std::move(detail)));
}

// An event's tax settings and fee, by the pricing rules.
caf::error check_event_pricing(const storage::event_row& event) {
  if (!tax_mode_of(event.tax_mode))
    return pricing_refusal(pricing::pricing_errc::invalid_request, "tax_mode must be inclusive or exclusive");
  if (event.tax_rate_bp && !pricing::is_rate(pricing::basis_points{*event.tax_rate_bp}))
    return pricing_refusal(pricing::pricing_errc::rate_out_of_range, "the tax rate must be 0..100 %");
  if (!fee_mode_of(event.fee_mode))
    return pricing_refusal(pricing::pricing_errc::invalid_fee, "the fee mode must be added or absorbed");
  if (auto failure = pricing::validate_fee_rule(fee_rule_of(event))) return pricing_failure(*failure);
  return {};
}

// A ticket type's tax override and tiers, by the pricing rules (overlapping tiers are refused here,
// naming the tier).
caf::error check_type_pricing(const storage::ticket_type_row& type) {
  if (type.tax_rate_bp && !pricing::is_rate(pricing::basis_points{*type.tax_rate_bp}))
    return pricing_refusal(pricing::pricing_errc::rate_out_of_range, "the tax rate must be 0..100 %");
  if (auto failure = pricing::validate_tiers(tiers_of(type))) return pricing_failure(*failure);
  return {};
}

bool same_tier_definitions(const std::vector<storage::price_tier_row>& a,
                           const std::vector<storage::price_tier_row>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.name == y.name && x.price_minor == y.price_minor && x.from_ms == y.from_ms && x.until_ms == y.until_ms &&
           x.quantity == y.quantity;
  });
}

// The tiers as the write leaves them: a tier keeps the counter of the current tier of its name.
void carry_taken(const std::vector<storage::price_tier_row>& current, std::vector<storage::price_tier_row>& next) {
  for (auto& tier : next) {
    auto same = std::find_if(current.begin(), current.end(), [&](auto& old) { return old.name == tier.name; });
    tier.taken = same == current.end() ? 0 : same->taken;
  }
}

caf::error tier_below_taken_failure(const std::string& tier_name) {
  return pricing_config_failure(pricing_config_errc::tier_below_taken,
                                "tier '" + tier_name + "' already has more tickets held or sold than its new quantity");
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
  if (auto failure = check_type_pricing(type)) return failure;
  type.event_id = state.id;
  type.currency = state.event.currency;
  type.held = type.sold = 0;
  for (auto& tier : type.tiers) tier.taken = 0;
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

// Writes the ticket type's definition (and, when they changed, its tiers) and has its quota pick
// it up.
void write_type_definition(event_actor* self, storage::ticket_type_row type, bool replace_tiers,
                           caf::response_promise promise) {
  auto where = self->state.where;
  auto node = self->state.shared->node_id;
  auto refused_tier = std::make_shared<std::string>();
  run_write(
      self,
      [type, where, node, replace_tiers, refused_tier](pqxx::connection& connection) {
        return storage::update_ticket_type(connection, where.shard, where.epoch, node, type, replace_tiers,
                                           refused_tier.get());
      },
      [self, promise, type, refused_tier](storage::write_outcome outcome) mutable {
        if (outcome == storage::write_outcome::tier_below_taken)
          return promise.deliver(tier_below_taken_failure(*refused_tier));
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
  if (auto failure = check_type_pricing(type)) return failure;
  type.event_id = state.id;
  type.currency = current->currency;
  type.position = current->position;
  type.held = current->held;
  type.sold = current->sold;
  bool replace_tiers = !same_tier_definitions(current->tiers, type.tiers);
  carry_taken(current->tiers, type.tiers);
  auto promise = self->make_response_promise();
  if (type.capacity == current->capacity) {
    write_type_definition(self, std::move(type), replace_tiers, promise);
    return promise;
  }
  // Capacity belongs to the quota (it alone knows what is held right now): ask it first.
  auto change_capacity = [self, promise, type, replace_tiers]() mutable {
    auto region = region_of(*self->state.shared, type.id);
    self->request(region, self->state.shared->limits.request_timeout_ms, deliver_atom::value, entity_kind::quota,
                  type.id, caf::make_message(capacity_atom::value, type.capacity))
        .then(
            [self, promise, type, replace_tiers](availability& counters) mutable {
              type.held = counters.held;
              type.sold = counters.sold;
              write_type_definition(self, std::move(type), replace_tiers, promise);
            },
            [promise](caf::error& failure) mutable { promise.deliver(std::move(failure)); });
  };
  if (!replace_tiers) {
    change_capacity();
    return promise;
  }
  // New tiers and a new capacity together: check the tiers against their counters before the
  // capacity changes, so that a refused tier leaves the capacity as it was. (The definition's write
  // checks again under the ticket type's lock.)
  auto refused_tier = std::make_shared<std::string>();
  run_write(
      self,
      [id = type.id, tiers = type.tiers, refused_tier](pqxx::connection& connection) {
        auto refused = storage::tier_below_taken(connection, id, tiers);
        if (!refused) return storage::write_outcome::written;
        *refused_tier = *refused;
        return storage::write_outcome::tier_below_taken;
      },
      [promise, refused_tier, change_capacity](storage::write_outcome outcome) mutable {
        if (outcome == storage::write_outcome::tier_below_taken)
          return promise.deliver(tier_below_taken_failure(*refused_tier));
        if (auto failure = write_error(outcome)) return promise.deliver(failure);
        change_capacity();
      });
  return promise;
}

// The fields a code of its kind must have and must not have (the values are the rules' business).
caf::error check_promo_shape(const storage::promo_code_row& row) {
  auto kind = promo_kind_of(row.kind);
  if (!kind)
    return pricing_refusal(pricing::pricing_errc::invalid_promo_code,
                           "kind must be percent_off, amount_off, fixed_price or access");
  bool wants_percent = *kind == pricing::promo_kind::percent_off;
  bool wants_amount = *kind == pricing::promo_kind::amount_off || *kind == pricing::promo_kind::fixed_price;
  if (wants_percent != row.percent_off_bp.has_value())
    return pricing_refusal(pricing::pricing_errc::invalid_promo_code,
                           "promo code '" + row.code + "': percent_off is " +
                               (wants_percent ? "required for" : "only for") + " percent_off codes");
  if (wants_amount != row.amount_minor.has_value())
    return pricing_refusal(pricing::pricing_errc::invalid_promo_code,
                           "promo code '" + row.code + "': amount is " + (wants_amount ? "required for" : "only for") +
                               " amount_off and fixed_price codes");
  return {};
}

// Checks a code for this event and completes it: amounts in the event's currency, a scope of this
// event's ticket types (each once), the pricing rules, and a text no other code of the event has.
caf::error check_promo_code(const event_state& state, storage::promo_code_row& row) {
  if (auto failure = check_promo_shape(row)) return failure;
  bool has_amounts = row.amount_minor || row.budget_minor;
  if (has_amounts && row.currency != state.event.currency) return caf::make_error(inventory_errc::currency_mismatch);
  row.currency = state.event.currency;
  std::vector<std::string> scope;
  for (const auto& id : row.ticket_type_ids) {
    if (std::none_of(state.types.begin(), state.types.end(), [&](auto& type) { return type.id == id; }))
      return caf::make_error(inventory_errc::unknown_ticket_type);
    if (std::find(scope.begin(), scope.end(), id) == scope.end()) scope.push_back(id);
  }
  row.ticket_type_ids = std::move(scope);
  if (auto failure = pricing::validate_promo_code(promo_code_of(row))) return pricing_failure(*failure);
  for (const auto& other : state.promo_codes)
    if (other.code == row.code && other.id != row.id)
      return pricing_config_failure(pricing_config_errc::duplicate_promo_code,
                                    "the event already has the promo code '" + row.code + "'");
  return {};
}

// Writes a code (insert or update) and answers the row as stored.
caf::result<storage::promo_code_row> write_promo_code(event_actor* self, storage::promo_code_row row, bool insert) {
  auto promise = self->make_response_promise();
  auto where = self->state.where;
  auto node = self->state.shared->node_id;
  auto written = std::make_shared<storage::promo_code_row>();
  run_write(
      self,
      [row, where, node, insert, written](pqxx::connection& connection) {
        return insert ? storage::insert_promo_code(connection, where.shard, where.epoch, node, row, *written)
                      : storage::update_promo_code(connection, where.shard, where.epoch, node, row, *written);
      },
      [self, promise, written](storage::write_outcome outcome) mutable {
        if (outcome == storage::write_outcome::duplicate_code)
          return promise.deliver(pricing_config_failure(pricing_config_errc::duplicate_promo_code,
                                                        "the event already has this promo code"));
        if (auto failure = write_error(outcome)) return promise.deliver(failure);
        auto& codes = self->state.promo_codes;
        auto same = std::find_if(codes.begin(), codes.end(), [&](auto& code) { return code.id == written->id; });
        if (same == codes.end())
          codes.push_back(*written);
        else
          *same = *written;
        promise.deliver(*written);
      });
  return promise;
}

caf::result<storage::promo_code_row> add_promo_code(event_actor* self, const std::string& workspace_id,
                                                    storage::promo_code_row row) {
  auto& state = self->state;
  if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
  if (state.event.status == "closed") return caf::make_error(inventory_errc::invalid_transition);
  if (state.promo_codes.size() >= promo_codes_per_event_max)
    return pricing_config_failure(pricing_config_errc::too_many_promo_codes,
                                  "an event has at most " + std::to_string(promo_codes_per_event_max) + " promo codes");
  row.event_id = state.id;
  row.uses = 0;
  row.discount_spent_minor = 0;
  if (auto failure = check_promo_code(state, row)) return failure;
  return write_promo_code(self, std::move(row), true);
}

caf::result<storage::promo_code_row> update_promo_code(event_actor* self, const std::string& workspace_id,
                                                       storage::promo_code_row row) {
  auto& state = self->state;
  if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
  auto current = std::find_if(state.promo_codes.begin(), state.promo_codes.end(),
                              [&](auto& code) { return code.id == row.id; });
  if (current == state.promo_codes.end()) return caf::make_error(inventory_errc::not_found);
  row.event_id = state.id;
  row.kind = current->kind;  // a code's kind never changes: a different discount is a new code
  if (auto failure = check_promo_code(state, row)) return failure;
  return write_promo_code(self, std::move(row), false);
}

// An activation for an id with no event (a mistyped or made-up id) answers not_found and
// stops at once, so unknown ids cannot pile up actors (and their memory) until the idle timeout.
caf::error forget(event_actor* self) {
  if (!self->state.writing) self->quit();
  return caf::make_error(inventory_errc::not_found);
}

// The buyer's promo code among the event's active codes; nullptr when none was given.
const storage::promo_code_row* find_code(const event_state& state, const checkout_request& request,
                                         caf::error& failure) {
  if (request.promo_code.empty()) return nullptr;
  auto normalized = pricing::normalize_promo_code(request.promo_code);
  for (const auto& row : state.promo_codes)
    if (normalized && row.active && row.code == *normalized) return &row;
  failure = caf::make_error(inventory_errc::unknown_promo_code);
  return nullptr;
}

bool in_scope(const storage::promo_code_row& code, const std::string& ticket_type_id) {
  return code.ticket_type_ids.empty() ||
         std::find(code.ticket_type_ids.begin(), code.ticket_type_ids.end(), ticket_type_id) != code.ticket_type_ids.end();
}

// The highest price a hold of the type can get (its fixed price or a tier's): the promo code's
// allowance is reserved for it, the quota then takes off what the actual price gives.
std::int64_t highest_price(const storage::ticket_type_row& type) {
  auto highest = type.price_minor;
  for (const auto& tier : type.tiers) highest = std::max(highest, tier.price_minor);
  return highest;
}

// Decides how each line is priced apart from its tier (the quota's): the promo code against its
// uses, per-buyer uses and budget (reservations of live checkouts included), the fee rule, the
// tax rate and the buyer's tax treatment. Reserves nothing; answers the pricing per item.
caf::error price_checkout(const event_state& state, checkout_request& request, std::int64_t now) {
  caf::error failure;
  const auto* code_row = find_code(state, request, failure);
  if (failure) return failure;
  std::optional<pricing::promo_code> code;
  if (code_row) code = promo_code_of(*code_row);

  checkout_taxation taxation;
  taxation.tax_exclusive = state.event.tax_mode == "exclusive";
  if (!request.buyer_vat_id.empty()) {
    static const pricing::format_vat_id_checker checker;
    auto treatment = pricing::buyer_tax_treatment(state.event.tax_country, request.buyer_vat_id, checker);
    if (!treatment) return caf::make_error(inventory_code_of(treatment.error().code));
    taxation.reverse_charge = treatment->reverse_charge;
    if (treatment->buyer_vat_id) taxation.buyer_vat_id = treatment->buyer_vat_id->number;
  }

  auto fee = fee_rule_of(state.event);
  auto usage = code_row ? state.ledger.usage(code_row->id, request.buyer_email) : pricing::promo_usage{};
  bool any_in_scope = false;
  request.pricing.clear();
  for (const auto& item : request.items) {
    const auto& type = *std::find_if(state.types.begin(), state.types.end(),
                                     [&](auto& t) { return t.id == item.ticket_type_id; });
    line_pricing line;
    line.fee_fixed_minor = fee.fixed_minor;
    line.fee_percent_bp = fee.percent.value;
    line.fee_capped = fee.cap_minor.has_value();
    line.fee_cap_minor = fee.cap_minor.value_or(0);
    line.fee_absorbed = fee.mode == pricing::fee_mode::absorbed;
    auto rate = pricing::line_tax_rate(state.event.tax_country, pricing::tax_category::admission,
                                       tax_override_of(state.event, type));
    if (!rate) return caf::make_error(inventory_code_of(rate.error().code));
    line.tax_rate_bp = rate->value;
    if (code && in_scope(*code_row, type.id)) {
      any_in_scope = true;
      auto grant = pricing::apply_promo(*code, usage, {type.id, item.quantity, highest_price(type), now});
      if (!grant) return caf::make_error(inventory_code_of(grant.error().code));
      line.promo_code_id = code_row->id;
      line.promo_code = code_row->code;
      line.promo_kind = static_cast<std::uint8_t>(code->kind);
      line.promo_percent_bp = code->percent_off.value;
      line.promo_amount_minor = code->amount_minor;
      line.discount_allowance_minor = grant->discount_minor;
      line.access_granted = type.hidden && pricing::unlocks_ticket_type(*code, type.id, now);
      // The next line of this checkout sees this one's uses and allowance.
      usage.uses += item.quantity;
      usage.buyer_uses += item.quantity;
      usage.discount_spent_minor += grant->discount_minor;
    }
    if (type.hidden && !line.access_granted) return caf::make_error(inventory_errc::hidden_ticket_type);
    request.pricing.push_back(std::move(line));
  }
  if (code && !any_in_scope) return caf::make_error(inventory_errc::promo_code_not_for_ticket_type);
  request.taxation = std::move(taxation);
  return {};
}

// Takes the code uses price_checkout decided for each line of the checkout.
void reserve_codes(event_state& state, const checkout_request& request) {
  for (std::size_t i = 0; i < request.items.size(); ++i) {
    const auto& line = request.pricing[i];
    if (line.promo_code_id.empty()) continue;
    state.ledger.reserve(request.checkout_id, request.items[i].ticket_type_id, line.promo_code_id,
                         request.buyer_email, request.items[i].quantity, line.discount_allowance_minor);
  }
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
    // Hidden types need an access code: price_checkout decides.
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
  if (auto failure = price_checkout(state, request, now)) return failure;
  add_active(state, request.checkout_id, request.buyer_email, request.client_address);
  auto& lines = state.live_lines[request.checkout_id];
  for (const auto& item : request.items) lines.insert(item.ticket_type_id);
  // The code's uses are taken now, before any quota holds a seat with it: a code with 100 uses
  // is used exactly 100 times however many buyers ask at once.
  reserve_codes(state, request);
  return request;
}

// Prices a live checkout again for another promo code (or none): its lines' earlier code uses
// are given back first and put back if the new code cannot be used.
caf::result<checkout_request> requote(event_actor* self, checkout_request& request) {
  auto& state = self->state;
  if (!state.exists) return forget(self);
  auto now = state.shared->now_ms(self->clock());
  auto previous = state.ledger.lines_of(request.checkout_id);
  state.ledger.release(request.checkout_id);
  auto restore = [&] {
    for (const auto& line : previous)
      state.ledger.reserve(request.checkout_id, line.ticket_type_id, line.code_id, line.buyer, line.uses,
                           line.discount_minor);
  };
  for (const auto& item : request.items)
    if (std::none_of(state.types.begin(), state.types.end(), [&](auto& t) { return t.id == item.ticket_type_id; })) {
      restore();
      return caf::make_error(inventory_errc::unknown_ticket_type);
    }
  auto failure = price_checkout(state, request, now);
  // The lines keep counting against their current codes until the quotas have changed the
  // holds; the checkout then reports what each line carries (the settled message with a code).
  restore();
  if (failure) return failure;
  return request;
}

void on_loaded(event_actor* self, const event_snapshot_pointer& snapshot) {
  auto& state = self->state;
  if (snapshot) {
    state.exists = true;
    state.event = snapshot->event;
    state.types = snapshot->ticket_types;
    state.promo_codes = snapshot->promo_codes;
    for (const auto& checkout : snapshot->active_checkouts)
      add_active(state, checkout.checkout_id, checkout.buyer_email, checkout.client_address);
    // The codes' use as the live and sold holds that carry them say, in one reading.
    std::map<std::string, std::pair<std::int32_t, std::int64_t>> totals;
    std::map<std::pair<std::string, std::string>, std::int32_t> per_buyer;
    for (const auto& line : snapshot->promo_lines) {
      state.ledger.adopt_line(line.checkout_id, line.ticket_type_id, line.promo_code_id, line.buyer_email,
                              line.quantity, line.discount_minor);
      totals[line.promo_code_id].first += line.quantity;
      totals[line.promo_code_id].second += line.discount_minor;
      per_buyer[{line.promo_code_id, line.buyer_email}] += line.quantity;
    }
    for (const auto& [code_id, total] : totals) state.ledger.set_committed(code_id, total.first, total.second);
    for (const auto& [key, uses] : per_buyer) state.ledger.set_committed_buyer(key.first, key.second, uses);
  }
}

caf::behavior running(event_actor* self) {
  return {
      [self](create_atom, storage::event_row& event) -> caf::result<event_view> {
        touch(self);
        if (self->state.exists) return caf::make_error(inventory_errc::invalid_request);
        if (auto failure = check_event_pricing(event)) return failure;
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
        if (next.currency != state.event.currency && (!state.types.empty() || !state.promo_codes.empty()))
          return caf::make_error(inventory_errc::invalid_request);  // prices and codes are in the event's currency
        if (auto failure = check_event_pricing(next)) return failure;
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
      [self](promo_add_atom, const std::string& workspace_id, storage::promo_code_row& row) {
        touch(self);
        return add_promo_code(self, workspace_id, std::move(row));
      },
      [self](promo_update_atom, const std::string& workspace_id, storage::promo_code_row& row) {
        touch(self);
        return update_promo_code(self, workspace_id, std::move(row));
      },
      [self](promo_get_atom, const std::string& workspace_id,
             const std::string& promo_code_id) -> caf::result<storage::promo_code_row> {
        touch(self);
        auto& state = self->state;
        if (!state.exists) return forget(self);
        if (!owned_by(state, workspace_id)) return caf::make_error(inventory_errc::not_found);
        for (const auto& code : state.promo_codes)
          if (code.id == promo_code_id) return code;
        return caf::make_error(inventory_errc::not_found);
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
      [self](requote_atom, checkout_request& request) {
        touch(self);
        return requote(self, request);
      },
      // A checkout whose creation failed: whatever it reserved is given back.
      [self](holds_ended_atom, const std::string& checkout_id) {
        self->state.ledger.release(checkout_id);
        remove_active(self->state, checkout_id);
      },
      // One line's hold ended (expired or released): its code uses come back.
      [self](holds_ended_atom, const std::string& checkout_id, const std::string& ticket_type_id) {
        self->state.ledger.release(checkout_id, ticket_type_id);
        line_ended(self->state, checkout_id, ticket_type_id);
      },
      // A re-quoted line as its quota committed it: the code it now carries (none: empty), its
      // uses and its discount replace what the line counted before.
      [self](settled_atom, const std::string& checkout_id, const std::string& ticket_type_id,
             const std::string& code_id, std::int32_t uses, std::int64_t discount_minor) {
        auto& state = self->state;
        auto buyer = state.active.find(checkout_id);
        if (code_id.empty() || buyer == state.active.end()) return state.ledger.release(checkout_id, ticket_type_id);
        state.ledger.reserve(checkout_id, ticket_type_id, code_id, buyer->second.first, uses, discount_minor);
      },
      // The quota priced a line: its actual discount replaces the allowance reserved for it.
      [self](settled_atom, const std::string& checkout_id, const std::string& ticket_type_id,
             std::int64_t discount_minor) { self->state.ledger.settle(checkout_id, ticket_type_id, discount_minor); },
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
                                      [id](pqxx::connection& connection) {
                                        // Promo lines first: a line committed in between is then
                                        // missing from the ledger, never counted twice.
                                        auto promo_lines = storage::live_promo_lines(connection, id);
                                        auto snapshot = storage::load_event(connection, id);
                                        if (snapshot) snapshot->promo_lines = std::move(promo_lines);
                                        return snapshot;
                                      });
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
