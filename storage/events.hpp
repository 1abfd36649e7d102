#pragma once

// Events and their ticket types as organizers define them. Written only by the event's actor
// (fenced by the event's shard); read by it on activation. Times are unix milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/inventory.hpp"
#include "storage/pqxx_fwd.hpp"

namespace eventstripe::storage {

struct event_row {
  std::string id;
  std::string workspace_id;
  std::string slug;
  std::string title;
  std::string description;
  std::string venue_name;
  std::string venue_address;
  std::optional<double> venue_latitude;
  std::optional<double> venue_longitude;
  std::string time_zone;
  std::int64_t starts_at_ms = 0;
  std::int64_t ends_at_ms = 0;
  std::string currency;
  std::string tax_country;
  std::vector<std::string> image_urls;
  std::string status = "draft";  // draft, published, closed
  std::int64_t version = 0;
};

struct event_snapshot {
  event_row event;
  std::vector<ticket_type_row> ticket_types;  // by position
  // Checkouts with a live hold: who holds them (for the per-buyer limit).
  struct active_checkout {
    std::string checkout_id;
    std::string buyer_email;
    std::string client_address;
  };
  std::vector<active_checkout> active_checkouts;
};

std::optional<event_snapshot> load_event(pqxx::connection& connection, const std::string& event_id);

// Outcome of a fenced write by the event actor.
enum class write_outcome { written, fenced, slug_taken, version_conflict, not_found };

// Inserts a new event (version 1). `shard`/`epoch`/`node_id` fence the write.
write_outcome insert_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event);

// Replaces the event's mutable fields and status if its version is still `event.version - 1`.
write_outcome update_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event);

// Inserts a ticket type of the event (held and sold start at zero). The write is fenced by the
// event's shard; `type_shard` is the ticket type's own shard (where its quota lives).
write_outcome insert_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type, std::int32_t type_shard);

// Updates a ticket type's definition (not its capacity, which only its quota changes).
write_outcome update_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type);

// The workspace's events, newest start first, at most `limit` (organizer listing).
struct event_summary {
  std::string id;
  std::string slug;
  std::string title;
  std::string status;
  std::int64_t starts_at_ms = 0;
};
std::vector<event_summary> list_events(pqxx::connection& connection, const std::string& workspace_id,
                                       std::size_t limit);

}  // namespace eventstripe::storage
