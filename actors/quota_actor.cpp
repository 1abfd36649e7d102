#include "actors/quota_actor.hpp"

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/response_promise.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/entity_messaging.hpp"
#include "actors/hold_pricing.hpp"
#include "actors/pricing/promo_code.hpp"
#include "actors/pricing/tiers.hpp"
#include "actors/protocol.hpp"
#include "config/log.hpp"
#include "storage/connection_pool.hpp"
#include "storage/inventory.hpp"

// The snapshot a load job hands back to its quota: local only, never crosses nodes.
using snapshot_pointer = std::shared_ptr<const eventstripe::storage::quota_snapshot>;
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(snapshot_pointer)

namespace eventstripe::actors {
namespace {

using committed_atom = caf::atom_constant<caf::atom("committed")>;
using expiry_atom = caf::atom_constant<caf::atom("expiry")>;


// How long a quota waits before loading again after the database refused or failed a load.
constexpr std::chrono::milliseconds reload_retry_delay_ms{200};

// A hold as the quota keeps it: what it answers for the hold (its locked price) and the tier
// whose seat it takes.
struct live_hold {
  std::int32_t quantity = 0;
  std::int64_t expires_at_ms = 0;
  std::int64_t unit_price_minor = 0;
  line_pricing pricing;
  std::optional<std::size_t> tier;  // index into the ticket type's tiers; nullopt: the fixed price
};

// One request waiting for the next batch.
struct pending_op {
  enum class kind { reserve, release, extend, capacity, discount, sell, give_back };
  explicit pending_op(kind what) : type(what) {}
  kind type;
  reserve_request reserve;
  std::string checkout_id;
  std::int64_t expires_at_ms = 0;
  std::int32_t capacity = 0;
  line_pricing pricing;  // discount: the event's new promo code (or none) for the hold
  // sell / give_back: the line as the checkout knows it (an expired or sold hold is no longer
  // in `holds`), with the tier its seat counts against.
  std::int32_t quantity = 0;
  std::string tier_name;
  caf::response_promise promise;
};

struct quota_state {
  std::shared_ptr<const services> shared;
  std::string ticket_type_id;
  placement where;
  bool loaded = false;
  bool loading = false;
  bool stale = false;
  storage::ticket_type_row type;
  std::int64_t writer_generation = 0;
  std::unordered_map<std::string, live_hold> holds;
  std::set<std::pair<std::int64_t, std::string>> deadlines;  // (expires_at_ms, checkout_id)
  std::deque<pending_op> queue;
  std::int32_t muted_answers = 0;  // fault injection (mute_atom)
  // The ticket type's tiers in the pricing rules' form, and the seats each has given (live holds
  // and sold, as committed): choose_tier decides on them, so no more than a tier's quantity of
  // holds ever get it.
  std::vector<pricing::price_tier> tiers;
  std::vector<std::int32_t> tier_taken;
  // The batch in flight: its requests, and what it will change once it commits.
  bool in_flight = false;
  std::uint64_t batch_generation = 0;
  std::vector<pending_op> batch_ops;
  storage::quota_batch batch;
  std::uint64_t timer_generation = 0;
  std::int64_t armed_deadline_ms = 0;
  static inline const char* name = "quota";
};

using quota_actor = caf::stateful_actor<quota_state>;

void maybe_start_batch(quota_actor* self);

availability current_availability(const quota_state& state) {
  return {state.ticket_type_id, state.type.capacity, state.type.held, state.type.sold};
}

void publish_availability(const quota_state& state) {
  const auto& type = state.type;
  state.shared->board->publish(state.ticket_type_id, std::max(0, type.capacity - type.held - type.sold));
}

held_line line_for(const quota_state& state, const live_hold& hold) {
  return {state.ticket_type_id, state.type.name, hold.quantity, hold.unit_price_minor, state.type.currency,
          hold.expires_at_ms, hold.pricing};
}

std::optional<std::size_t> tier_index(const quota_state& state, const std::string& name) {
  if (name.empty()) return std::nullopt;
  for (std::size_t i = 0; i < state.tiers.size(); ++i)
    if (state.tiers[i].name == name) return i;
  return std::nullopt;  // a tier renamed or removed since: its holds no longer count against a tier
}

void adopt_tiers(quota_state& state) {
  state.tiers.clear();
  state.tier_taken.clear();
  for (const auto& tier : state.type.tiers) {
    state.tiers.push_back({tier.name, tier.price_minor, tier.from_ms, tier.until_ms, tier.quantity});
    state.tier_taken.push_back(tier.taken);
  }
}

void fail_queue(quota_actor* self, inventory_errc code) {
  for (auto& op : self->state.queue) op.promise.deliver(caf::make_error(code));
  self->state.queue.clear();
}

void start_load(quota_actor* self) {
  auto& state = self->state;
  state.loading = true;
  auto id = state.ticket_type_id;
  load_state<storage::quota_snapshot>(*state.shared, caf::actor_cast<caf::actor>(self),
                                      [id](pqxx::connection& connection) { return storage::load_quota(connection, id); });
}

void arm_expiry_timer(quota_actor* self) {
  auto& state = self->state;
  if (state.deadlines.empty()) return;
  auto earliest = state.deadlines.begin()->first;
  if (earliest == state.armed_deadline_ms) return;
  state.armed_deadline_ms = earliest;
  // delayed_send cannot be cancelled: a generation tells the live timer from stale ones.
  self->delayed_send(self, state.shared->until(self->clock(), earliest), expiry_atom::value,
                     ++state.timer_generation);
}

void on_loaded(quota_actor* self, const snapshot_pointer& snapshot) {
  auto& state = self->state;
  state.loading = false;
  if (!snapshot) {
    // No such ticket type: answer everyone and stop; the region forgets us.
    fail_queue(self, inventory_errc::not_found);
    self->quit();
    return;
  }
  state.type = snapshot->ticket_type;
  state.writer_generation = snapshot->writer_generation;
  adopt_tiers(state);
  state.holds.clear();
  state.deadlines.clear();
  for (const auto& hold : snapshot->holds) {
    state.holds[hold.checkout_id] = {hold.quantity, hold.expires_at_ms, hold.unit_price_minor,
                                     line_pricing_of(hold.pricing), tier_index(state, hold.pricing.tier_name)};
    state.deadlines.emplace(hold.expires_at_ms, hold.checkout_id);
  }
  state.loaded = true;
  state.stale = false;
  publish_availability(state);
  state.armed_deadline_ms = 0;
  arm_expiry_timer(self);
  maybe_start_batch(self);
}

// What deciding one request did to the batch being assembled.
enum class decision { batched, answered, deferred };

struct batch_plan {
  std::int32_t held_delta = 0;
  std::vector<std::int32_t> tier_delta;  // seats this batch gives (or returns to) each tier
  std::set<std::string> touched;         // checkouts already in this batch: later requests wait
};

// The tier, unit price and discount of a hold, decided on the committed tier counters plus what
// this batch already gave. The discount is the event's code applied to the tier's price, within
// the allowance the event reserved from the code's budget.
struct priced_hold {
  std::optional<std::size_t> tier;
  std::int64_t unit_price_minor = 0;
  line_pricing pricing;
};

// The discount per ticket the event's code gives at `unit_price_minor`, within the allowance the
// event reserved for the line (the event checked the code's window, scope and uses).
pricing::expected<std::int64_t> discount_of(const line_pricing& line, const std::string& ticket_type_id,
                                            std::int32_t quantity, std::int64_t unit_price_minor,
                                            std::int64_t now_ms) {
  if (line.promo_code_id.empty()) return std::int64_t{0};
  pricing::promo_code code;
  code.code = line.promo_code;
  code.kind = static_cast<pricing::promo_kind>(line.promo_kind);
  code.percent_off = pricing::basis_points{line.promo_percent_bp};
  code.amount_minor = line.promo_amount_minor;
  code.budget_minor = line.discount_allowance_minor;
  auto grant = pricing::apply_promo(code, {}, {ticket_type_id, quantity, unit_price_minor, now_ms});
  if (!grant) return grant.error();
  return grant->discount_per_ticket_minor;
}

pricing::expected<priced_hold> price_hold(const quota_state& state, const batch_plan& plan,
                                          const reserve_request& request, std::int64_t now_ms) {
  priced_hold priced;
  priced.pricing = request.pricing;
  std::vector<std::int32_t> taken = state.tier_taken;
  for (std::size_t i = 0; i < taken.size(); ++i) taken[i] += plan.tier_delta[i];
  auto tier = pricing::choose_tier(state.tiers, taken, request.quantity, now_ms, state.type.price_minor);
  if (!tier) return tier.error();
  priced.tier = tier->index;
  priced.unit_price_minor = tier->unit_price_minor;
  priced.pricing.tier = tier->name;
  auto discount = discount_of(request.pricing, state.ticket_type_id, request.quantity, priced.unit_price_minor, now_ms);
  if (!discount) return discount.error();
  priced.pricing.discount_per_ticket_minor = *discount;
  return priced;
}

decision decide_reserve(quota_actor* self, pending_op& op, batch_plan& plan) {
  auto& state = self->state;
  const auto& request = op.reserve;
  if (plan.touched.count(request.checkout_id)) return decision::deferred;
  if (auto existing = state.holds.find(request.checkout_id); existing != state.holds.end()) {
    // A repeat of a request that already committed (a retry after a lost answer).
    op.promise.deliver(line_for(state, existing->second));
    return decision::answered;
  }
  const auto& type = state.type;
  auto now = state.shared->now_ms(self->clock());
  auto fail = [&op](inventory_errc code) {
    op.promise.deliver(caf::make_error(code));
    return decision::answered;
  };
  if (type.hidden && !request.pricing.access_granted) return fail(inventory_errc::hidden_ticket_type);
  if ((type.sale_starts_at_ms && now < *type.sale_starts_at_ms) || (type.sale_ends_at_ms && now >= *type.sale_ends_at_ms))
    return fail(inventory_errc::not_on_sale);
  if (request.quantity < type.min_per_order || request.quantity > type.max_per_order)
    return fail(inventory_errc::quantity_out_of_range);
  auto capacity = state.batch.new_capacity.value_or(type.capacity);
  if (type.sold + type.held + plan.held_delta + request.quantity > capacity) return fail(inventory_errc::sold_out);
  auto priced = price_hold(state, plan, request, now);
  if (!priced) return fail(inventory_code_of(priced.error().code));
  plan.held_delta += request.quantity;
  if (priced->tier) plan.tier_delta[*priced->tier] += request.quantity;
  plan.touched.insert(request.checkout_id);
  state.batch.holds.push_back({request.checkout_id, request.event_id, request.buyer_email, request.client_address,
                               request.item_count, request.request_hash, request.idempotency_key, request.quantity,
                               priced->unit_price_minor, request.expires_at_ms, hold_pricing_row_of(priced->pricing),
                               taxation_row_of(request.taxation)});
  return decision::batched;
}

decision decide_change(quota_actor* self, pending_op& op, batch_plan& plan) {
  auto& state = self->state;
  if (op.type == pending_op::kind::capacity) {
    if (op.capacity < state.type.sold + state.type.held + plan.held_delta) {
      op.promise.deliver(caf::make_error(inventory_errc::capacity_below_taken));
      return decision::answered;
    }
    state.batch.new_capacity = op.capacity;
    return decision::batched;
  }
  if (plan.touched.count(op.checkout_id)) return decision::deferred;
  auto hold = state.holds.find(op.checkout_id);
  if (hold == state.holds.end()) {
    op.promise.deliver(caf::make_error(inventory_errc::not_held));
    return decision::answered;
  }
  plan.touched.insert(op.checkout_id);
  if (op.type == pending_op::kind::discount) {
    // The tier and unit price stay as locked; only the code and its discount change.
    auto discount = discount_of(op.pricing, state.ticket_type_id, hold->second.quantity,
                                hold->second.unit_price_minor, state.shared->now_ms(self->clock()));
    if (!discount) {
      op.promise.deliver(caf::make_error(inventory_code_of(discount.error().code)));
      plan.touched.erase(op.checkout_id);
      return decision::answered;
    }
    state.batch.discounts.push_back({op.checkout_id, op.pricing.promo_code_id, op.pricing.promo_code, *discount});
    op.pricing.discount_per_ticket_minor = *discount;
    return decision::batched;
  }
  if (op.type == pending_op::kind::release) {
    plan.held_delta -= hold->second.quantity;
    if (hold->second.tier) plan.tier_delta[*hold->second.tier] -= hold->second.quantity;
    state.batch.releases.push_back(op.checkout_id);
  } else {
    state.batch.extensions.push_back({op.checkout_id, op.expires_at_ms});
  }
  return decision::batched;
}

void collect_expiries(quota_actor* self, batch_plan& plan) {
  auto& state = self->state;
  auto now = state.shared->now_ms(self->clock());
  state.batch.expiry_now_ms = now;
  for (const auto& [deadline, checkout_id] : state.deadlines) {
    if (deadline > now || state.batch.expiries.size() >= state.shared->limits.batch_size_max) break;
    state.batch.expiries.push_back(checkout_id);
    const auto& hold = state.holds[checkout_id];
    plan.held_delta -= hold.quantity;
    if (hold.tier) plan.tier_delta[*hold.tier] -= hold.quantity;
    plan.touched.insert(checkout_id);
  }
}

bool batch_empty(const storage::quota_batch& batch) {
  return batch.holds.empty() && batch.releases.empty() && batch.expiries.empty() && batch.extensions.empty() &&
         batch.discounts.empty() && !batch.new_capacity && batch.sales.empty() && batch.resales.empty() &&
         batch.returns.empty();
}

// A paid checkout's line: a live hold becomes sold; a hold that expired meanwhile is sold again
// only if its seat (and its tier's place) is still free — otherwise the payment is refunded.
decision decide_sale(quota_actor* self, pending_op& op, batch_plan& plan) {
  auto& state = self->state;
  if (plan.touched.count(op.checkout_id)) return decision::deferred;
  plan.touched.insert(op.checkout_id);
  if (auto hold = state.holds.find(op.checkout_id); hold != state.holds.end()) {
    state.batch.sales.push_back(op.checkout_id);
    return decision::batched;
  }
  auto capacity = state.batch.new_capacity.value_or(state.type.capacity);
  auto tier = tier_index(state, op.tier_name);
  bool tier_full = tier && state.tiers[*tier].quantity &&
                   state.tier_taken[*tier] + plan.tier_delta[*tier] + op.quantity > *state.tiers[*tier].quantity;
  if (state.type.sold + state.type.held + plan.held_delta + op.quantity > capacity || tier_full) {
    op.promise.deliver(caf::make_error(inventory_errc::sold_out));
    return decision::answered;
  }
  plan.held_delta += op.quantity;  // counts like a hold for the rest of this batch's decisions
  if (tier) plan.tier_delta[*tier] += op.quantity;
  state.batch.resales.push_back(op.checkout_id);
  return decision::batched;
}

decision decide_give_back(quota_actor* self, pending_op& op, batch_plan& plan) {
  auto& state = self->state;
  if (plan.touched.count(op.checkout_id)) return decision::deferred;
  plan.touched.insert(op.checkout_id);
  state.batch.returns.push_back(op.checkout_id);
  return decision::batched;
}

decision decide(quota_actor* self, pending_op& op, batch_plan& plan) {
  switch (op.type) {
    case pending_op::kind::reserve: return decide_reserve(self, op, plan);
    case pending_op::kind::sell: return decide_sale(self, op, plan);
    case pending_op::kind::give_back: return decide_give_back(self, op, plan);
    default: return decide_change(self, op, plan);
  }
}

void submit_batch(quota_actor* self) {
  auto& state = self->state;
  state.in_flight = true;
  auto generation = ++state.batch_generation;
  caf::actor me = caf::actor_cast<caf::actor>(self);
  auto batch = std::make_shared<const storage::quota_batch>(state.batch);
  auto accepted = state.shared->database->submit(
      [me, generation, batch](pqxx::connection& connection) {
        auto result = storage::commit_quota_batch(connection, *batch);
        auto refused = std::move(result.refused_holds);
        for (auto& id : result.refused_changes) refused.push_back(std::move(id));
        caf::anon_send(me, committed_atom::value, generation, static_cast<std::int32_t>(result.outcome), std::string{},
                       std::move(refused));
      },
      [me, generation](const storage::error& failure) {
        caf::anon_send(me, committed_atom::value, generation, std::int32_t{-1}, failure.message,
                       std::vector<std::string>{});
      });
  if (accepted != storage::submit_status::accepted) {
    // The database queue is full: nothing was written, the requests can be retried.
    caf::anon_send(me, committed_atom::value, generation, std::int32_t{-1}, std::string{"database queue full"},
                   std::vector<std::string>{});
  }
}

void maybe_start_batch(quota_actor* self) {
  auto& state = self->state;
  if (state.in_flight || state.loading) return;
  if (!state.loaded || state.stale) return start_load(self);
  state.batch = storage::quota_batch{};
  state.batch.ticket_type_id = state.ticket_type_id;
  state.batch.currency = state.type.currency;
  state.batch.shard = state.where.shard;
  state.batch.epoch = state.where.epoch;
  state.batch.node_id = state.shared->node_id;
  state.batch.writer_generation = state.writer_generation;
  state.batch_ops.clear();
  batch_plan plan;
  plan.tier_delta.assign(state.tiers.size(), 0);
  collect_expiries(self, plan);
  while (!state.queue.empty() && state.batch_ops.size() < state.shared->limits.batch_size_max) {
    auto& op = state.queue.front();
    auto outcome = decide(self, op, plan);
    if (outcome == decision::deferred) break;
    if (outcome == decision::batched) state.batch_ops.push_back(std::move(op));
    state.queue.pop_front();
  }
  if (batch_empty(state.batch)) return;
  submit_batch(self);
}

// What a committed batch's sales, resales and returns did to the counters (`refused`: the
// resales and returns that did not apply).
void apply_sales(quota_actor* self, const std::set<std::string>& refused) {
  auto& state = self->state;
  auto line_of = [&state](const std::string& checkout_id) -> const pending_op* {
    for (const auto& op : state.batch_ops)
      if ((op.type == pending_op::kind::sell || op.type == pending_op::kind::give_back) && op.checkout_id == checkout_id)
        return &op;
    return nullptr;
  };
  for (const auto& checkout_id : state.batch.sales) {
    auto hold = state.holds.find(checkout_id);
    if (hold == state.holds.end()) continue;
    state.type.held -= hold->second.quantity;
    state.type.sold += hold->second.quantity;
    state.deadlines.erase({hold->second.expires_at_ms, checkout_id});
    state.holds.erase(hold);
  }
  for (const auto& checkout_id : state.batch.resales) {
    const auto* op = line_of(checkout_id);
    if (refused.count(checkout_id) || !op) continue;
    state.type.sold += op->quantity;
    if (auto tier = tier_index(state, op->tier_name)) state.tier_taken[*tier] += op->quantity;
  }
  for (const auto& checkout_id : state.batch.returns) {
    const auto* op = line_of(checkout_id);
    if (refused.count(checkout_id) || !op) continue;
    state.type.sold -= op->quantity;
    if (auto tier = tier_index(state, op->tier_name)) state.tier_taken[*tier] -= op->quantity;
  }
}

void apply_committed_batch(quota_actor* self, const std::set<std::string>& refused) {
  auto& state = self->state;
  auto& batch = state.batch;
  auto end_hold = [&](const std::string& checkout_id, hold_end how) {
    auto hold = state.holds.find(checkout_id);
    if (hold == state.holds.end()) return;
    state.type.held -= hold->second.quantity;
    if (hold->second.tier) state.tier_taken[*hold->second.tier] -= hold->second.quantity;
    state.deadlines.erase({hold->second.expires_at_ms, checkout_id});
    state.holds.erase(hold);
    tell_entity(*state.shared, entity_kind::checkout, checkout_id,
                caf::make_message(holds_ended_atom::value, state.ticket_type_id, how));
    tell_entity(*state.shared, entity_kind::event, state.type.event_id,
                caf::make_message(holds_ended_atom::value, checkout_id, state.ticket_type_id));
  };
  for (const auto& hold : batch.holds) {
    if (refused.count(hold.checkout_id)) continue;
    auto tier = tier_index(state, hold.pricing.tier_name);
    state.holds[hold.checkout_id] = {hold.quantity, hold.expires_at_ms, hold.unit_price_minor,
                                     line_pricing_of(hold.pricing), tier};
    state.deadlines.emplace(hold.expires_at_ms, hold.checkout_id);
    state.type.held += hold.quantity;
    if (tier) state.tier_taken[*tier] += hold.quantity;
  }
  for (const auto& checkout_id : batch.releases) end_hold(checkout_id, hold_end::released);
  for (const auto& checkout_id : batch.expiries) end_hold(checkout_id, hold_end::expired);
  for (const auto& extension : batch.extensions) {
    auto& hold = state.holds[extension.checkout_id];
    state.deadlines.erase({hold.expires_at_ms, extension.checkout_id});
    hold.expires_at_ms = extension.expires_at_ms;
    state.deadlines.emplace(hold.expires_at_ms, extension.checkout_id);
  }
  for (const auto& change : batch.discounts) {
    auto& pricing = state.holds[change.checkout_id].pricing;
    for (const auto& op : state.batch_ops)
      if (op.type == pending_op::kind::discount && op.checkout_id == change.checkout_id) {
        auto tier = pricing.tier;
        auto kept = pricing;
        pricing = op.pricing;
        // What the hold was priced with stays: its tier, fee and tax rate.
        pricing.tier = tier;
        pricing.fee_fixed_minor = kept.fee_fixed_minor;
        pricing.fee_percent_bp = kept.fee_percent_bp;
        pricing.fee_capped = kept.fee_capped;
        pricing.fee_cap_minor = kept.fee_cap_minor;
        pricing.fee_absorbed = kept.fee_absorbed;
        pricing.tax_rate_bp = kept.tax_rate_bp;
      }
  }
  if (batch.new_capacity) state.type.capacity = *batch.new_capacity;
}

void answer_committed_batch(quota_actor* self, const std::set<std::string>& refused) {
  auto& state = self->state;
  for (auto& op : state.batch_ops) {
    switch (op.type) {
      case pending_op::kind::reserve:
        if (state.muted_answers > 0) {  // fault injection: the hold committed, its answer is lost
          --state.muted_answers;
          break;
        }
        // A checkout that already had a hold of this type (an earlier attempt, released) is
        // not held again: the buyer must start a new checkout.
        if (refused.count(op.reserve.checkout_id)) op.promise.deliver(caf::make_error(inventory_errc::not_held));
        else op.promise.deliver(line_for(state, state.holds[op.reserve.checkout_id]));
        break;
      case pending_op::kind::release:
        op.promise.deliver(caf::ok_atom::value);
        break;
      case pending_op::kind::extend:
        op.promise.deliver(line_for(state, state.holds[op.checkout_id]));
        break;
      case pending_op::kind::capacity:
        op.promise.deliver(current_availability(state));
        break;
      case pending_op::kind::discount:
        op.promise.deliver(line_for(state, state.holds[op.checkout_id]));
        break;
      case pending_op::kind::sell:
      case pending_op::kind::give_back:
        // A resale the database refused found no seat (or the hold was not expired any more:
        // the caller re-reads the order); a return that did not apply was not sold.
        if (!refused.count(op.checkout_id)) op.promise.deliver(caf::ok_atom::value);
        else if (op.type == pending_op::kind::sell) op.promise.deliver(caf::make_error(inventory_errc::sold_out));
        else op.promise.deliver(caf::make_error(inventory_errc::not_held));
        break;
    }
  }
  state.batch_ops.clear();
}

void on_committed(quota_actor* self, std::uint64_t generation, std::int32_t outcome, const std::string& failure,
                  const std::vector<std::string>& refused_holds) {
  auto& state = self->state;
  if (generation != state.batch_generation || !state.in_flight) return;
  state.in_flight = false;
  if (outcome == static_cast<std::int32_t>(storage::batch_outcome::committed)) {
    std::set<std::string> refused(refused_holds.begin(), refused_holds.end());
    apply_committed_batch(self, refused);
    apply_sales(self, refused);
    // Published before anyone is answered: a buyer told "released" who asks again at once must
    // meet neither the sold-out shortcut's old figure nor the event actor's. The event's region
    // gets the figure before the answer leaves, so any later read through it sees the figure.
    publish_availability(state);
    tell_entity(*state.shared, entity_kind::event, state.type.event_id,
                caf::make_message(availability_atom::value, current_availability(state)));
    answer_committed_batch(self, refused);
    arm_expiry_timer(self);
    return maybe_start_batch(self);
  }
  // Fenced and conflicting batches rolled back; a failed job may or may not have committed.
  auto code = outcome == static_cast<std::int32_t>(storage::batch_outcome::fenced)     ? inventory_errc::fenced
              : outcome == static_cast<std::int32_t>(storage::batch_outcome::conflict) ? inventory_errc::database_unavailable
                                                                                        : inventory_errc::outcome_unknown;
  for (auto& op : state.batch_ops) op.promise.deliver(caf::make_error(code));
  state.batch_ops.clear();
  if (code == inventory_errc::fenced) {
    // Another node owns the shard now: this activation must not write again.
    fail_queue(self, inventory_errc::fenced);
    return self->quit();
  }
  log::warn("quota batch did not commit", {{"ticket_type.id", state.ticket_type_id}, {"error.message", failure}});
  // The commit may or may not have happened (or the picture was stale): reload before deciding again.
  state.stale = true;
  maybe_start_batch(self);
}

caf::behavior quota(quota_actor* self, std::string ticket_type_id, placement where,
                    std::shared_ptr<const services> shared) {
  self->state.ticket_type_id = std::move(ticket_type_id);
  self->state.where = where;
  self->state.shared = std::move(shared);
  // A fault (a bug, or an injected crash) must not leave callers waiting for their timeout:
  // answer everything pending, then let the region restart the quota from PostgreSQL.
  self->set_exception_handler([self](std::exception_ptr&) -> caf::error {
    // The batch in flight may still commit: its callers must treat their request as unknown.
    for (auto& op : self->state.batch_ops) op.promise.deliver(caf::make_error(inventory_errc::outcome_unknown));
    self->state.batch_ops.clear();
    fail_queue(self, inventory_errc::database_unavailable);
    return caf::sec::runtime_error;
  });
  start_load(self);
  auto enqueue = [self](pending_op op) {
    auto promise = self->make_response_promise();
    if (self->state.queue.size() >= self->state.shared->limits.quota_queue_max) {
      promise.deliver(caf::make_error(inventory_errc::overloaded));
      return promise;
    }
    op.promise = promise;
    self->state.queue.push_back(std::move(op));
    maybe_start_batch(self);
    return promise;
  };
  return {
      [enqueue](reserve_atom, reserve_request& request) {
        pending_op op{pending_op::kind::reserve};
        op.reserve = std::move(request);
        return enqueue(std::move(op));
      },
      [enqueue](release_atom, std::string& checkout_id) {
        pending_op op{pending_op::kind::release};
        op.checkout_id = std::move(checkout_id);
        return enqueue(std::move(op));
      },
      [enqueue](extend_atom, std::string& checkout_id, std::int64_t expires_at_ms) {
        pending_op op{pending_op::kind::extend};
        op.checkout_id = std::move(checkout_id);
        op.expires_at_ms = expires_at_ms;
        return enqueue(std::move(op));
      },
      [enqueue](requote_atom, std::string& checkout_id, line_pricing& pricing) {
        pending_op op{pending_op::kind::discount};
        op.checkout_id = std::move(checkout_id);
        op.pricing = std::move(pricing);
        return enqueue(std::move(op));
      },
      [enqueue](sell_atom, std::string& checkout_id, std::int32_t quantity, std::string& tier_name) {
        pending_op op{pending_op::kind::sell};
        op.checkout_id = std::move(checkout_id);
        op.quantity = quantity;
        op.tier_name = std::move(tier_name);
        return enqueue(std::move(op));
      },
      [enqueue](give_back_atom, std::string& checkout_id, std::int32_t quantity, std::string& tier_name) {
        pending_op op{pending_op::kind::give_back};
        op.checkout_id = std::move(checkout_id);
        op.quantity = quantity;
        op.tier_name = std::move(tier_name);
        return enqueue(std::move(op));
      },
      [enqueue](capacity_atom, std::int32_t capacity) {
        pending_op op{pending_op::kind::capacity};
        op.capacity = capacity;
        return enqueue(std::move(op));
      },
      [self](snapshot_atom) -> caf::result<availability> {
        if (!self->state.loaded) return caf::make_error(inventory_errc::database_unavailable);
        return current_availability(self->state);
      },
      [self](reload_atom) {
        self->state.stale = true;
        maybe_start_batch(self);
      },
      [self](loaded_atom, const snapshot_pointer& snapshot, bool ok) {
        if (ok) return on_loaded(self, snapshot);
        // The database refused or failed the load: answer what waits (it can be retried) and
        // try again shortly; nothing is decided on a picture that was not read.
        log::warn("quota could not load", {{"ticket_type.id", self->state.ticket_type_id}});
        self->state.loading = false;
        fail_queue(self, inventory_errc::database_unavailable);
        self->delayed_send(self, reload_retry_delay_ms, reload_atom::value);
      },
      [self](committed_atom, std::uint64_t generation, std::int32_t outcome, const std::string& failure,
             const std::vector<std::string>& refused_holds) {
        on_committed(self, generation, outcome, failure, refused_holds);
      },
      [self](expiry_atom, std::uint64_t generation) {
        if (generation != self->state.timer_generation) return;
        auto& state = self->state;
        state.armed_deadline_ms = 0;
        if (!state.loaded || state.loading) return;  // on_loaded arms the timer again
        maybe_start_batch(self);
        if (!state.in_flight && !state.loading) arm_expiry_timer(self);
      },
      [self](crash_atom) {
        if (self->state.shared->fault_injection) throw std::runtime_error("injected quota fault");
      },
      [self](mute_atom, std::int32_t answers) {
        if (self->state.shared->fault_injection) self->state.muted_answers = answers;
      },
  };
}

}  // namespace

caf::actor spawn_quota(caf::actor_system& system, std::string ticket_type_id, placement where,
                       std::shared_ptr<const services> shared) {
  return system.spawn(quota, std::move(ticket_type_id), where, std::move(shared));
}

}  // namespace eventstripe::actors
