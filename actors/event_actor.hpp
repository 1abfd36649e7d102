#pragma once

#include <memory>
#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

#include "actors/services.hpp"
#include "storage/events.hpp"

namespace eventstripe::actors {

// Organizer writes of an event's promo codes (issue 4).
using promo_add_atom = caf::atom_constant<caf::atom("promoadd")>;
using promo_update_atom = caf::atom_constant<caf::atom("promoupd")>;
using promo_get_atom = caf::atom_constant<caf::atom("promoget")>;

// An event as its actor serves it: the definition and each ticket type with live counters.
struct event_view {
  storage::event_row event;
  std::vector<storage::ticket_type_row> ticket_types;
};

// The single writer of one event's definition, and the event's view of its inventory:
//
//   (create_atom, event_row)                           -> event_view | slug_taken
//   (event_update_atom, event_row)                     -> event_view | not_found, version_conflict, slug_taken
//   (event_status_atom, workspace_id, status)          -> event_view | not_found, invalid_transition
//   (type_add_atom, workspace_id, ticket_type_row)     -> event_view | not_found
//   (type_update_atom, workspace_id, ticket_type_row)  -> event_view | not_found, capacity_below_taken,
//                                                         tier_below_taken
//        event and ticket type writes carry their pricing (tax mode and rates, fees, tiers), checked
//        by the pricing rules (pricing_errc: invalid_fee, rate_out_of_range, invalid_tier,
//        overlapping_tiers, too_many_tiers ...); a ticket type's tiers are replaced as a whole
//   (promo_add_atom, workspace_id, promo_code_row)     -> promo_code_row | not_found, invalid_promo_code,
//                                                         duplicate_promo_code, unknown_ticket_type,
//                                                         currency_mismatch, too_many_promo_codes
//   (promo_update_atom, workspace_id, promo_code_row)  -> promo_code_row | the same, promo_below_usage
//        the row as stored (with its counters); kind and counters never change
//   (promo_get_atom, workspace_id, promo_code_id)      -> promo_code_row | not_found
//   (view_atom, workspace_id)                          -> event_view | not_found
//        workspace_id empty: the public view (published or closed events, visible ticket types)
//   (prepare_atom, checkout_request)                   -> checkout_request | not_found, not_on_sale, buyer_limit ...
//        checks a buyer's request against the event and counts it against the buyer's limits
//   (holds_ended_atom, checkout_id)                    -> the checkout no longer counts for its buyer
//   (availability_atom, availability)                  -> a quota's counters after a commit
//   (subscribe_atom, push_sink_pointer)                -> availability pushed, coalesced to one push
//                                                         per limits.availability_push_interval_ms
//
// Organizer calls carry the caller's workspace; an event of another workspace answers not_found.
caf::actor spawn_event(caf::actor_system& system, std::string event_id, placement where,
                       std::shared_ptr<const services> shared);

// The availability push's JSON, shared with the public HTTP view.
std::string availability_json(const event_view& view);

}  // namespace eventstripe::actors

// Local to the node for now; the cluster issue gives these an inspect function (CAF 0.17.6 has
// no std::optional support, so the optional fields need a hand-written one).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::storage::event_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::storage::ticket_type_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::storage::promo_code_row)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(eventstripe::actors::event_view)
