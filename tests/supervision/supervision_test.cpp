// Promises of supervision/: who is restarted, when a supervisor gives up, and in which order
// and how fast children are stopped. Runs on CAF's deterministic test coordinator: run()
// delivers messages, only advance_time() fires timers, so time is simulated and exact.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "caf/all.hpp"
#include "caf/scheduler/test_coordinator.hpp"

#include "supervision/supervisor.hpp"

namespace {

using namespace std::chrono_literals;
using namespace eventstripe::supervision;

using crash_atom = caf::atom_constant<caf::atom("crash")>;
using finish_atom = caf::atom_constant<caf::atom("finish")>;

using events = std::vector<std::string>;

// What the test children did, in order, and when each last stopped on the simulated clock.
struct journal {
  events entries;
  std::map<std::string, caf::actor_clock::time_point> stopped_at;
};

using journal_pointer = std::shared_ptr<journal>;

// A child that crashes on crash_atom and exits normally on finish_atom. A stubborn one traps
// exit messages and ignores them, so only a kill stops it.
caf::behavior worker(caf::event_based_actor* self, journal_pointer log, std::string id,
                     bool stubborn) {
  if (stubborn)
    self->set_exit_handler([](caf::exit_msg&) {});
  auto* system = &self->system();
  self->attach_functor([log, id, system] {
    log->entries.push_back("stop " + id);
    log->stopped_at[id] = system->clock().now();
  });
  return {
    [self](crash_atom) { self->quit(caf::sec::runtime_error); },
    [self](finish_atom) { self->quit(); },
  };
}

child_spec worker_spec(journal_pointer log, std::string id,
                       restart_type restart = restart_type::permanent,
                       std::chrono::milliseconds shutdown_timeout_ms = 100ms,
                       bool stubborn = false) {
  auto start = [log, id, stubborn](caf::actor_system& system) {
    log->entries.push_back("start " + id);
    return system.spawn(worker, log, id, stubborn);
  };
  return child_spec{id, start, restart, shutdown_timeout_ms};
}

child_spec stubborn_spec(journal_pointer log, std::string id,
                         std::chrono::milliseconds shutdown_timeout_ms) {
  return worker_spec(log, std::move(id), restart_type::permanent, shutdown_timeout_ms, true);
}

supervisor_flags flags_of(restart_strategy strategy, std::size_t restarts_max = 3,
                          std::chrono::milliseconds period_ms = 10000ms) {
  return supervisor_flags{strategy, restart_intensity{restarts_max, period_ms}};
}

struct exit_record {
  bool exited = false;
  caf::error reason;
};

// Probes are spawned with arguments rather than captures: CAF 0.17.6 dereferences a null
// argument tuple when a function actor is spawned without any, which UBSan reports.
void children_probe(caf::event_based_actor* self, supervisor_actor supervisor,
                    std::shared_ptr<std::optional<std::vector<child_info>>> reply) {
  self->request(supervisor, caf::infinite, children_atom::value)
      .then([reply](std::vector<child_info>& children) { *reply = std::move(children); },
            [](caf::error&) {});
}

void shutdown_probe(caf::event_based_actor* self, supervisor_actor supervisor,
                    std::shared_ptr<bool> answered) {
  self->request(supervisor, caf::infinite, shutdown_atom::value)
      .then([answered](caf::ok_atom) { *answered = true; }, [](caf::error&) {});
}

caf::actor_system_config& testing_config(caf::actor_system_config& config) {
  config.set("scheduler.policy", caf::atom("testing"));
  config.set("logger.file-verbosity", caf::atom("quiet"));
  config.set("logger.console-verbosity", caf::atom("quiet"));
  add_supervision_error_category(config);
  return config;
}

class fixture {
public:
  fixture()
      : system(testing_config(config)),
        scheduler(dynamic_cast<caf::scheduler::test_coordinator&>(system.scheduler())) {
  }

  // Kills whatever a test left running (the orphan guard takes the children along), so the
  // actor system's destructor does not wait forever.
  ~fixture() {
    for (auto& supervisor : started_)
      caf::anon_send_exit(supervisor, caf::exit_reason::kill);
    drain();
  }

  supervisor_actor start(supervisor_flags flags, std::vector<child_spec> children) {
    auto supervisor = spawn_supervisor(system, flags, std::move(children));
    started_.push_back(caf::actor_cast<caf::actor>(supervisor));
    scheduler.run();
    return supervisor;
  }

  std::vector<child_info> children_of(const supervisor_actor& supervisor) {
    auto reply = std::make_shared<std::optional<std::vector<child_info>>>();
    system.spawn(children_probe, supervisor, reply);
    scheduler.run();
    REQUIRE(reply->has_value());
    return std::move(**reply);
  }

  caf::actor child(const supervisor_actor& supervisor, const std::string& id) {
    for (auto& info : children_of(supervisor))
      if (info.id == id)
        return info.actor;
    FAIL("no child " << id);
    return {};
  }

  // The returned flag turns true when the supervisor answers the shutdown request.
  std::shared_ptr<bool> request_shutdown(const supervisor_actor& supervisor) {
    auto answered = std::make_shared<bool>(false);
    system.spawn(shutdown_probe, supervisor, answered);
    scheduler.run();
    return answered;
  }

  template <class Handle>
  std::shared_ptr<exit_record> watch(const Handle& handle) {
    auto record = std::make_shared<exit_record>();
    caf::actor_cast<caf::abstract_actor*>(handle)->attach_functor(
        [record](const caf::error& reason) {
          record->exited = true;
          record->reason = reason;
        });
    return record;
  }

  void send_to(const caf::actor& child, caf::atom_value what) {
    REQUIRE(child);
    if (what == crash_atom::value)
      caf::anon_send(child, crash_atom::value);
    else
      caf::anon_send(child, finish_atom::value);
    scheduler.run();
  }

  void advance_time(caf::timespan interval) {
    scheduler.advance_time(interval);
    scheduler.run();
  }

  std::string render(const caf::error& error) {
    return system.render(error);
  }

  caf::actor_system_config config;
  caf::actor_system system;
  caf::scheduler::test_coordinator& scheduler;
  journal_pointer log = std::make_shared<journal>();

private:
  void drain() {
    // Bounded: a test that leaves an endless loop of messages must fail, not hang.
    constexpr int rounds_max = 1000;
    for (int round = 0; round < rounds_max; ++round) {
      if (!scheduler.has_job() && !scheduler.has_pending_timeout())
        return;
      scheduler.run();
      scheduler.trigger_timeouts();
    }
  }

  std::vector<caf::actor> started_;
};

const caf::error intensity_exceeded{supervision_errc::intensity_exceeded};

}  // namespace

// --- strategies ----------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "one_for_one restarts only the crashed child", "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto before = children_of(root);
  log->entries.clear();
  send_to(before[1].actor, crash_atom::value);
  auto after = children_of(root);
  CHECK(log->entries == events{"stop b", "start b"});
  CHECK(after[0].actor == before[0].actor);
  CHECK(after[1].actor);
  CHECK(after[1].actor != before[1].actor);
  CHECK(after[2].actor == before[2].actor);
  CHECK(after[0].restart_count == 0);
  CHECK(after[1].restart_count == 1);
  CHECK(after[2].restart_count == 0);
}

TEST_CASE_METHOD(fixture, "one_for_all restarts every child, stopping the others in reverse order",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_all),
                    {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  CHECK(log->entries == events{"start a", "start b", "start c"});
  auto before = children_of(root);
  log->entries.clear();
  send_to(before[1].actor, crash_atom::value);
  auto after = children_of(root);
  CHECK(log->entries == events{"stop b", "stop c", "stop a", "start a", "start b", "start c"});
  for (std::size_t index = 0; index < after.size(); ++index) {
    CHECK(after[index].actor);
    CHECK(after[index].actor != before[index].actor);
    CHECK(after[index].restart_count == 1);
  }
}

TEST_CASE_METHOD(fixture, "rest_for_one restarts the crashed child and those started after it",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::rest_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto before = children_of(root);
  log->entries.clear();
  send_to(before[1].actor, crash_atom::value);
  auto after = children_of(root);
  CHECK(log->entries == events{"stop b", "stop c", "start b", "start c"});
  CHECK(after[0].actor == before[0].actor);
  CHECK(after[1].actor != before[1].actor);
  CHECK(after[2].actor != before[2].actor);
  CHECK(after[0].restart_count == 0);
  CHECK(after[1].restart_count == 1);
  CHECK(after[2].restart_count == 1);
}

// --- restart types -------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "a transient child is restarted after a crash but not a normal exit",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "done", restart_type::transient),
                     worker_spec(log, "crashes", restart_type::transient)});
  auto crashing = child(root, "crashes");
  log->entries.clear();
  send_to(child(root, "done"), finish_atom::value);
  send_to(crashing, crash_atom::value);
  CHECK(log->entries == events{"stop done", "stop crashes", "start crashes"});
  auto after = children_of(root);
  REQUIRE(after.size() == 2);
  CHECK_FALSE(after[0].actor);  // listed, but not running
  CHECK(after[0].restart_count == 0);
  CHECK(after[1].actor);
  CHECK(after[1].actor != crashing);
  CHECK(after[1].restart_count == 1);
}

TEST_CASE_METHOD(fixture, "a supervisor told to exit when its children are done does so, and only then",
                 "[supervision]") {
  auto flags = flags_of(restart_strategy::one_for_one);
  flags.exit_when_children_done = true;
  auto root = start(flags, {worker_spec(log, "work", restart_type::transient),
                            worker_spec(log, "more", restart_type::transient)});
  auto exit = watch(root);
  send_to(child(root, "work"), crash_atom::value);  // restarted: a crash is not "done"
  CHECK_FALSE(exit->exited);
  send_to(child(root, "work"), finish_atom::value);
  CHECK_FALSE(exit->exited);  // "more" still runs
  send_to(child(root, "more"), finish_atom::value);
  REQUIRE(exit->exited);
  CHECK_FALSE(exit->reason);  // normal: whoever monitors it sees the work finished
}

TEST_CASE_METHOD(fixture, "without the flag a supervisor outlives its finished children", "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one), {worker_spec(log, "work", restart_type::transient)});
  auto exit = watch(root);
  send_to(child(root, "work"), finish_atom::value);
  CHECK_FALSE(exit->exited);
}

TEST_CASE_METHOD(fixture, "a temporary child is never restarted and leaves the listing",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "keeper"),
                     worker_spec(log, "once", restart_type::temporary)});
  log->entries.clear();
  send_to(child(root, "once"), crash_atom::value);
  CHECK(log->entries == events{"stop once"});
  auto after = children_of(root);
  REQUIRE(after.size() == 1);
  CHECK(after[0].id == "keeper");
}

TEST_CASE_METHOD(fixture, "a permanent child is restarted even after a normal exit",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one), {worker_spec(log, "a")});
  auto before = child(root, "a");
  send_to(before, finish_atom::value);
  auto after = child(root, "a");
  CHECK(after);
  CHECK(after != before);
}

// --- failures that overlap ----------------------------------------------------------------

TEST_CASE_METHOD(fixture, "a child failing while others are stopped for a restart is handled after",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::rest_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"),
                     stubborn_spec(log, "c", 1000ms)});
  log->entries.clear();
  send_to(child(root, "b"), crash_atom::value);  // c is asked to stop and ignores it
  send_to(child(root, "a"), crash_atom::value);  // outside the range being restarted
  CHECK(log->entries == events{"stop b", "stop a"});
  advance_time(1000ms);  // c is killed; b and c start, then a's failure restarts all three
  advance_time(1000ms);  // the new c ignores user_shutdown as well
  CHECK(log->entries == events{"stop b", "stop a", "stop c", "start b", "start c", "stop c",
                               "stop b", "start a", "start b", "start c"});
  auto after = children_of(root);
  CHECK(after[0].restart_count == 1);
  CHECK(after[1].restart_count == 2);
  CHECK(after[2].restart_count == 2);
}

TEST_CASE_METHOD(fixture, "a shutdown during a restart stops everything and restarts nothing",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::rest_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"),
                     stubborn_spec(log, "c", 1000ms)});
  auto exit = watch(root);
  log->entries.clear();
  send_to(child(root, "b"), crash_atom::value);
  auto answered = request_shutdown(root);
  advance_time(1000ms);
  CHECK(log->entries == events{"stop b", "stop c", "stop a"});
  CHECK(*answered);
  REQUIRE(exit->exited);
  CHECK_FALSE(exit->reason);
}

// --- intensity and escalation --------------------------------------------------------------

TEST_CASE_METHOD(fixture,
                 "restarts beyond the intensity stop the rest in reverse order and exit with "
                 "intensity_exceeded",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one, 1),
                    {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto exit = watch(root);
  log->entries.clear();
  send_to(child(root, "b"), crash_atom::value);
  CHECK_FALSE(exit->exited);
  send_to(child(root, "b"), crash_atom::value);
  CHECK(log->entries == events{"stop b", "start b", "stop b", "stop c", "stop a"});
  REQUIRE(exit->exited);
  CHECK(exit->reason == intensity_exceeded);
  CHECK(render(exit->reason).find("intensity_exceeded") != std::string::npos);
}

TEST_CASE_METHOD(fixture, "restarts further apart than the period do not add up",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one, 1, 10000ms), {worker_spec(log, "a")});
  auto exit = watch(root);
  send_to(child(root, "a"), crash_atom::value);
  advance_time(10000ms);
  send_to(child(root, "a"), crash_atom::value);
  CHECK_FALSE(exit->exited);
  CHECK(children_of(root)[0].restart_count == 2);
  // Two crashes inside one period are one too many.
  advance_time(9999ms);
  send_to(child(root, "a"), crash_atom::value);
  CHECK(exit->exited);
}

TEST_CASE_METHOD(fixture, "a supervisor that gives up is restarted by its parent as a failed child",
                 "[supervision]") {
  auto inner_flags = flags_of(restart_strategy::one_for_one, 0);
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "x"),
                     supervisor_child_spec("inner", inner_flags, {worker_spec(log, "w")})});
  auto x_before = child(root, "x");
  auto inner_before = caf::actor_cast<supervisor_actor>(child(root, "inner"));
  auto inner_exit = watch(inner_before);
  log->entries.clear();
  send_to(child(inner_before, "w"), crash_atom::value);
  REQUIRE(inner_exit->exited);
  CHECK(inner_exit->reason == intensity_exceeded);
  auto after = children_of(root);
  CHECK(after[0].actor == x_before);
  CHECK(after[1].actor);
  CHECK(after[1].actor != caf::actor_cast<caf::actor>(inner_before));
  CHECK(after[1].restart_count == 1);
  // The new inner supervisor started a new worker of its own.
  CHECK(log->entries == events{"stop w", "start w"});
  CHECK(child(caf::actor_cast<supervisor_actor>(after[1].actor), "w"));
}

TEST_CASE_METHOD(fixture, "an escalation a parent cannot absorb climbs further up",
                 "[supervision]") {
  auto strict = flags_of(restart_strategy::one_for_one, 0);
  auto root = start(strict, {worker_spec(log, "x"),
                             supervisor_child_spec("inner", strict, {worker_spec(log, "w")})});
  auto root_exit = watch(root);
  auto inner = caf::actor_cast<supervisor_actor>(child(root, "inner"));
  log->entries.clear();
  send_to(child(inner, "w"), crash_atom::value);
  REQUIRE(root_exit->exited);
  CHECK(root_exit->reason == intensity_exceeded);
  CHECK(log->entries == events{"stop w", "stop x"});
}

// --- ordered shutdown ----------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "shutdown stops children in reverse start order, then answers",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"), worker_spec(log, "c")});
  auto exit = watch(root);
  log->entries.clear();
  auto answered = request_shutdown(root);
  CHECK(log->entries == events{"stop c", "stop b", "stop a"});
  CHECK(*answered);
  REQUIRE(exit->exited);
  CHECK_FALSE(exit->reason);  // a normal exit, so a parent does not restart a transient one
}

TEST_CASE_METHOD(fixture, "an exit message stops the children in reverse order as well",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b")});
  auto exit = watch(root);
  log->entries.clear();
  caf::anon_send_exit(root, caf::exit_reason::user_shutdown);
  scheduler.run();
  CHECK(log->entries == events{"stop b", "stop a"});
  REQUIRE(exit->exited);
  CHECK(exit->reason == caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "a child that ignores user_shutdown is killed at its timeout, not before",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), stubborn_spec(log, "b", 1000ms),
                     worker_spec(log, "c")});
  auto started_at = system.clock().now();
  log->entries.clear();
  auto answered = request_shutdown(root);
  CHECK(log->entries == events{"stop c"});
  advance_time(999ms);
  CHECK(log->entries == events{"stop c"});
  CHECK_FALSE(*answered);
  advance_time(1ms);
  CHECK(log->entries == events{"stop c", "stop b", "stop a"});
  CHECK(log->stopped_at.at("b") - started_at == 1000ms);
  CHECK(*answered);
}

TEST_CASE_METHOD(fixture, "the timer of a child that stopped in time does not kill the next one",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {stubborn_spec(log, "slow", 5000ms), worker_spec(log, "quick", {}, 1000ms)});
  auto started_at = system.clock().now();
  log->entries.clear();
  auto answered = request_shutdown(root);
  CHECK(log->entries == events{"stop quick"});
  advance_time(1000ms);  // quick's stale timer fires here
  CHECK(log->entries == events{"stop quick"});
  advance_time(3999ms);
  CHECK(log->entries == events{"stop quick"});
  advance_time(1ms);
  CHECK(log->entries == events{"stop quick", "stop slow"});
  CHECK(log->stopped_at.at("slow") - started_at == 5000ms);
  CHECK(*answered);
}

TEST_CASE_METHOD(fixture, "a nested supervisor stops its own children before its parent goes on",
                 "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "x"),
                     supervisor_child_spec("inner", flags_of(restart_strategy::one_for_one),
                                           {worker_spec(log, "y"), worker_spec(log, "z")})});
  log->entries.clear();
  auto answered = request_shutdown(root);
  CHECK(log->entries == events{"stop z", "stop y", "stop x"});
  CHECK(*answered);
}

TEST_CASE_METHOD(fixture, "a killed supervisor takes its children down with it", "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), stubborn_spec(log, "b", 1000ms)});
  // Held elsewhere, as a router would hold them: CAF alone would otherwise end children whose
  // last handle died with the supervisor's state, and this test would prove nothing.
  auto a = child(root, "a");
  auto b = child(root, "b");
  log->entries.clear();
  caf::anon_send_exit(root, caf::exit_reason::kill);
  scheduler.run();
  auto stopped = std::set<std::string>(log->entries.begin(), log->entries.end());
  CHECK(stopped == std::set<std::string>{"stop a", "stop b"});
}

// --- bad specs -----------------------------------------------------------------------------

TEST_CASE_METHOD(fixture, "unusable child specs are reported as an error value", "[supervision]") {
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "a")});
  auto exit = watch(root);
  CHECK(exit->exited);
  CHECK(exit->reason == caf::error{supervision_errc::invalid_child_spec});
  CHECK(log->entries.empty());
}

TEST_CASE_METHOD(fixture, "a child that cannot start stops the ones already started",
                 "[supervision]") {
  auto broken = child_spec{"broken", [](caf::actor_system&) -> caf::actor {
                             throw std::runtime_error("no database");
                           }};
  auto root = start(flags_of(restart_strategy::one_for_one),
                    {worker_spec(log, "a"), worker_spec(log, "b"), broken});
  auto exit = watch(root);
  CHECK(log->entries == events{"start a", "start b", "stop b", "stop a"});
  REQUIRE(exit->exited);
  CHECK(exit->reason == caf::error{supervision_errc::start_failed});
  CHECK(render(exit->reason).find("no database") != std::string::npos);
}
