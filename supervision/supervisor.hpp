#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "caf/atom.hpp"
#include "caf/fwd.hpp"
#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"

#include "supervision/child_spec.hpp"
#include "supervision/supervision_error.hpp"

namespace eventstripe::supervision {

// Which children are restarted when one of them has to be restarted.
enum class restart_strategy : std::uint8_t {
  one_for_one,   // only the child that stopped
  one_for_all,   // every child: they depend on each other
  rest_for_one,  // the child that stopped and every child started after it
};

// OTP's defaults are 1 restart in 5 s; entity actors crash on bad rows and are cheap to
// restart, so a few more are tolerated before the failure is escalated.
inline constexpr std::size_t restarts_max_default = 3;
inline constexpr std::chrono::milliseconds restart_period_default_ms{5000};

// A supervisor allows at most `restarts_max` restarts within any window of `period_ms` of the
// actor clock; one more stops all its children and exits with intensity_exceeded.
struct restart_intensity {
  std::size_t restarts_max = restarts_max_default;
  std::chrono::milliseconds period_ms = restart_period_default_ms;
};

struct supervisor_flags {
  restart_strategy strategy = restart_strategy::one_for_one;
  restart_intensity intensity;
  // OTP's auto_shutdown = all_significant: once no child is running and none is to be restarted
  // (transient children that finished, temporary ones), the supervisor exits normally. For a
  // supervisor that exists for one piece of work, such as a payment attempt.
  bool exit_when_children_done = false;
};

// A nested supervisor stops its own children one by one before it goes down, so its parent
// waits longer for it than for a worker.
inline constexpr std::chrono::milliseconds supervisor_shutdown_timeout_default_ms{60000};

// Asks a supervisor to stop all its children in reverse start order and then exit normally;
// answered with ok_atom once the last child is down.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

// Asks for the children in start order (temporary children that stopped are left out).
using children_atom = caf::atom_constant<caf::atom("children")>;

// The messages anyone may send a supervisor. Exit messages (any reason but normal) are handled
// like shutdown_atom: children are stopped in reverse order, then it exits with that reason.
using supervisor_actor = caf::typed_actor<
  caf::replies_to<shutdown_atom>::with<caf::ok_atom>,
  caf::replies_to<children_atom>::with<std::vector<child_info>>>;

// Spawns a supervisor that starts `children` in order. It monitors them (never links: a kill
// would travel along links and could not be handled) and exits with a supervision_errc when it
// gives up, so whoever monitors it sees the failure.
supervisor_actor spawn_supervisor(caf::actor_system& system, supervisor_flags flags,
                                  std::vector<child_spec> children);

// A child spec that starts a nested supervisor, so a failure it cannot handle reaches its parent.
child_spec supervisor_child_spec(
    std::string id, supervisor_flags flags, std::vector<child_spec> children,
    restart_type restart = restart_type::permanent,
    std::chrono::milliseconds shutdown_timeout_ms = supervisor_shutdown_timeout_default_ms);

}  // namespace eventstripe::supervision
