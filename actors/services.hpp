#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/fwd.hpp>

#include "actors/availability_board.hpp"

namespace eventstripe::storage {
class job_runner;
}
namespace eventstripe::actors::payments {
class key_wrapper;
}

namespace eventstripe::actors {

class availability_board;
class call_pool;
class payment_provider;
class ticket_key_cache;
// An empty cache of the events' ticket-signing keys (defined with the payment entity).
std::shared_ptr<ticket_key_cache> make_ticket_key_cache();

// How payments retry and wait.
struct payment_limits {
  std::size_t attempts_max = 4;  // provider calls per step (retries included) before giving up
  std::chrono::milliseconds retry_initial_ms{200};
  std::chrono::milliseconds retry_max_ms{5'000};
  // How long a POST .../payments waits for a first settled state before answering 202.
  std::chrono::milliseconds answer_wait_ms{8'000};
  // A payment waiting for the buyer's 3-D Secure step is read again this often without a webhook.
  std::chrono::milliseconds action_recheck_ms{30'000};
  std::vector<std::string> default_providers{"stripe", "adyen", "offline"};
};

// Finds where an entity lives. Implemented by cluster/ (a region actor per owned shard, and
// later remote regions on other nodes); entity actors only ever address each other through it,
// so the same code runs on one node and on many.
class entity_directory {
 public:
  virtual ~entity_directory() = default;
  // The actor that accepts `(deliver_atom, entity_kind, key, caf::message)` for `key`; invalid
  // when no node serves the key's shard right now.
  virtual caf::actor region_for(std::string_view key) const = 0;
  // The shard `key` maps to (stored with rows so a region can find its own entities).
  virtual std::uint32_t shard_of(std::string_view key) const = 0;
};

// Where an entity's writes are fenced: its shard and the epoch this node owns it under.
struct placement {
  std::int32_t shard = 0;
  std::int64_t epoch = 0;
};

// The inventory's limits, each named with its unit.
struct inventory_limits {
  std::chrono::milliseconds hold_ttl_ms{600'000};
  std::chrono::milliseconds hold_extension_ms{300'000};
  std::size_t batch_size_max = 512;
  // Requests one quota keeps waiting for its next batch; beyond it answers `overloaded`.
  std::size_t quota_queue_max = 20'000;
  // Organizer writes one event keeps waiting behind the one in flight.
  std::size_t event_writes_waiting_max = 64;
  std::chrono::milliseconds request_timeout_ms{10'000};
  std::int32_t buyer_checkouts_max = 3;      // live checkouts per buyer email and event
  std::int32_t address_checkouts_max = 50;   // per client address and event (NATs share one)
  std::int32_t checkout_items_max = 10;
  std::chrono::milliseconds availability_push_interval_ms{250};
  std::chrono::milliseconds expiry_warning_ms{60'000};
  std::chrono::milliseconds entity_idle_timeout_ms{900'000};
};

// What every entity actor gets: the database, the directory, the limits, and wall time.
struct services {
  storage::job_runner* database = nullptr;
  // Where payment entities run their database jobs; the same as `database` when not set.
  storage::job_runner* payments_database = nullptr;
  storage::job_runner& payments_jobs() const { return payments_database ? *payments_database : *database; }
  // Where quotas publish their available seats for the gateway's sold-out shortcut.
  std::shared_ptr<availability_board> board = std::make_shared<availability_board>();
  const entity_directory* directory = nullptr;
  inventory_limits limits;
  // The configured payment provider accounts and the threads their blocking calls run on.
  std::vector<std::shared_ptr<payment_provider>> providers;
  std::shared_ptr<call_pool> provider_calls;
  payment_limits payments;
  std::string node_id;
  // Lets (crash_atom) make an entity fail, for crash-recovery tests; off in production.
  bool fault_injection = false;
  // The events' ticket-signing keys once read, shared by the node's payment entities: a stored
  // key never changes, so issuing tickets need not read it again every time.
  std::shared_ptr<ticket_key_cache> ticket_keys = make_ticket_key_cache();
  // Wraps the events' signing seeds at rest (payments.ticket_key_wrapping_key); null: stored raw.
  std::shared_ptr<const payments::key_wrapper> ticket_key_wrapping;
  // Fault injection: while set, captured payments wait before their seats are sold and tickets
  // issued (so a test can kill the node between capture and ticket issue).
  std::shared_ptr<std::atomic<bool>> fulfilment_paused = std::make_shared<std::atomic<bool>>(false);
  // Fault injection: while set, a payment attempt fails right after its provider answered a
  // confirm or a question, before acting on the answer (so a test sees its supervisor restart it,
  // and give up).
  std::shared_ptr<std::atomic<bool>> attempt_failure = std::make_shared<std::atomic<bool>>(false);
  // Wall time is read through the actor clock (anchored once), so the simulated clock of the
  // deterministic tests moves deadlines exactly as real time does in production.
  std::int64_t wall_anchor_ms = 0;
  caf::actor_clock::time_point clock_anchor{};

  std::int64_t now_ms(const caf::actor_clock& clock) const {
    return wall_anchor_ms +
           std::chrono::duration_cast<std::chrono::milliseconds>(clock.now() - clock_anchor).count();
  }
  // The delay from now until `deadline_ms`, never negative.
  std::chrono::milliseconds until(const caf::actor_clock& clock, std::int64_t deadline_ms) const {
    auto remaining = deadline_ms - now_ms(clock);
    return std::chrono::milliseconds{remaining > 0 ? remaining : 0};
  }
};

// Anchors `services` to the system's actor clock and the current wall time.
void anchor_clock(services& shared, caf::actor_system& system);

}  // namespace eventstripe::actors
