#pragma once

// What a drop needs on a fresh node: an organizer, a published event and one ticket type of
// the given capacity, created through the public API like any organizer would.
#include <cstdint>
#include <string>

namespace eventstripe::bench {

struct drop_target {
  std::string event_id;
  std::string ticket_type_id;
  std::string promo_code;  // priced only
};

// Issue 4's priced variant: two tiers (the first half of the seats at an early-bird price, the
// rest at the regular one) and a 10 %-off promo code, returned in drop_target::promo_code.
// Throws std::runtime_error naming the call that failed and the node's answer.
drop_target prepare_drop_target(std::uint16_t port, std::int64_t capacity, bool priced = false);

}  // namespace eventstripe::bench
