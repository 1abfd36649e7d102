#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "caf/actor.hpp"
#include "caf/fwd.hpp"
#include "caf/meta/type_name.hpp"

namespace eventstripe::supervision {

// When a child that has stopped is started again (Erlang/OTP's meaning).
enum class restart_type : std::uint8_t {
  permanent,  // always restarted, whatever its exit reason
  transient,  // restarted only after an abnormal exit (not normal, not user_shutdown)
  temporary,  // never restarted; forgotten once it has stopped
};

// How long a child gets to finish after `exit_reason::user_shutdown` before it is killed. Long
// enough for an entity actor to finish a commit in flight.
inline constexpr std::chrono::milliseconds child_shutdown_timeout_default_ms{5000};

// How to start one child and how to treat it when it stops. The start function spawns the
// actor (not linked: the supervisor monitors it) and returns an invalid handle or throws when
// it cannot; a nested supervisor is a child like any other (see `supervisor_child_spec`).
struct child_spec {
  std::string id;  // unique among the children of one supervisor
  std::function<caf::actor(caf::actor_system&)> start;
  restart_type restart = restart_type::permanent;
  // Zero kills the child at once, without asking it to stop first (OTP's brutal_kill).
  std::chrono::milliseconds shutdown_timeout_ms = child_shutdown_timeout_default_ms;
};

// One row of a supervisor's answer to `children_atom`, for the cluster inspector. `actor` is
// invalid while the child is not running (a transient child that finished normally).
struct child_info {
  std::string id;
  caf::actor actor;
  std::uint64_t restart_count = 0;
};

// Lets a child listing cross nodes once the cluster registers the type with add_message_type.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_info& x) {
  return f(caf::meta::type_name("child_info"), x.id, x.actor, x.restart_count);
}

}  // namespace eventstripe::supervision
