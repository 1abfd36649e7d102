#pragma once

#include <cstdint>
#include <string>

#include "caf/error.hpp"
#include "caf/fwd.hpp"
#include "caf/make_message.hpp"

namespace eventstripe::supervision {

// Why a supervisor gave up. A supervisor exits with one of these as its exit reason, so the
// parent that monitors it sees an abnormal down_msg and treats it as a failed child.
enum class supervision_errc : std::uint8_t {
  // More than `restarts_max` restarts happened within `period_ms`: the children keep failing
  // and restarting them again would only hide the fault, so the failure is escalated.
  intensity_exceeded = 1,
  // A start function threw or returned an invalid actor handle while the supervisor started up.
  start_failed,
  // The child specs or flags are unusable (empty or duplicate id, no start function, a
  // restart period of zero); a programmer error reported as a value instead of a crash.
  invalid_child_spec,
};

std::string to_string(supervision_errc code);

// Makes `system.render(error)` print "supervise: intensity_exceeded" instead of a number.
void add_supervision_error_category(caf::actor_system_config& config);

}  // namespace eventstripe::supervision

// CAF 0.17.6's one-argument form would use the enum's qualified name as the category atom,
// which is longer than the 10 characters an atom may hold.
CAF_ERROR_CODE_ENUM(eventstripe::supervision::supervision_errc, "supervise")
