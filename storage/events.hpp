#pragma once

// Events and their ticket types as organizers define them, with their pricing (tax settings,
// fees, tiers, promo codes). Written only by the event's actor (fenced by the event's shard); read
// by it on activation. Times are unix milliseconds. Promo codes' SQL is in storage/pricing.hpp.
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
  // Pricing (0004_pricing.sql). Rates are basis points, amounts minor units of `currency`.
  std::string tax_mode = "inclusive";       // inclusive, exclusive
  std::optional<std::int32_t> tax_rate_bp;  // nullopt: the shipped table's rate for tax_country
  std::int64_t fee_fixed_minor = 0;         // service fee per ticket: fixed part
  std::int32_t fee_percent_bp = 0;          // ... plus this share of the ticket's price
  std::optional<std::int64_t> fee_cap_minor;  // ... at most this much; nullopt: no cap
  std::string fee_mode = "added";             // added (the buyer pays), absorbed (the organizer pays)
};

// A promo code of an event as stored (0004_pricing.sql). Times are unix milliseconds.
struct promo_code_row {
  std::string id;  // pc_...
  std::string event_id;
  std::string code;  // normalised: trimmed, upper-case
  std::string kind;  // percent_off, amount_off, fixed_price, access
  std::optional<std::int32_t> percent_off_bp;  // percent_off only
  std::optional<std::int64_t> amount_minor;    // amount_off (off per ticket), fixed_price (price per ticket)
  std::string currency;                        // the event's: of amount_minor, budget_minor and the discount spent
  std::vector<std::string> ticket_type_ids;    // scope; empty: every ticket type of the event
  std::optional<std::int64_t> valid_from_ms;   // inclusive
  std::optional<std::int64_t> valid_until_ms;  // exclusive
  std::optional<std::int32_t> max_uses;        // tickets in total
  std::optional<std::int32_t> max_uses_per_buyer;
  std::optional<std::int64_t> budget_minor;  // total discount the code may give
  bool active = true;
  // Counters kept at hold time by the owner of the code's uses; read-only for organizers.
  std::int32_t uses = 0;
  std::int64_t discount_spent_minor = 0;
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
};

struct event_snapshot {
  event_row event;
  std::vector<ticket_type_row> ticket_types;  // by position, each with its tiers
  std::vector<promo_code_row> promo_codes;    // by creation
  // Checkouts with a live hold: who holds them (for the per-buyer limit).
  struct active_checkout {
    std::string checkout_id;
    std::string buyer_email;
    std::string client_address;
  };
  std::vector<active_checkout> active_checkouts;
  // Held and sold lines that use a promo code (live_promo_lines, storage/inventory.hpp).
  std::vector<promo_line_row> promo_lines;
};

std::optional<event_snapshot> load_event(pqxx::connection& connection, const std::string& event_id);

// Outcome of a fenced write by the event actor.
// tier_below_taken: a tier's new quantity is below the tickets it already has (taken);
// duplicate_code: the event has a promo code with that text; below_usage: a promo code's new
// max_uses or budget is below what it has already been used for.
enum class write_outcome {
  written,
  fenced,
  slug_taken,
  version_conflict,
  not_found,
  tier_below_taken,
  duplicate_code,
  below_usage,
};

// Inserts a new event (version 1). `shard`/`epoch`/`node_id` fence the write.
write_outcome insert_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event);

// Replaces the event's mutable fields and status if its version is still `event.version - 1`.
write_outcome update_event(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                           const std::string& node_id, const event_row& event);

// Inserts a ticket type of the event (held and sold start at zero) with its tiers. The write is
// fenced by the event's shard; `type_shard` is the ticket type's own shard (where its quota lives).
write_outcome insert_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type, std::int32_t type_shard);

// Updates a ticket type's definition (not its capacity, which only its quota changes). With
// `replace_tiers`, the stored tiers become `type.tiers` in the same transaction: a tier that keeps
// its name keeps its `taken` counter, tiers no longer listed are deleted, and a tier whose new
// quantity is below its taken counter refuses the whole write (tier_below_taken, its name in
// `refused_tier`). `taken` in `type.tiers` is ignored: the quota alone writes it.
write_outcome update_ticket_type(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                 const std::string& node_id, const ticket_type_row& type, bool replace_tiers,
                                 std::string* refused_tier = nullptr);

// The name of the first of `tiers` whose quantity is below the taken counter of the stored tier of
// the same name; a read-only pre-check (update_ticket_type checks again under the row lock).
std::optional<std::string> tier_below_taken(pqxx::connection& connection, const std::string& ticket_type_id,
                                            const std::vector<price_tier_row>& tiers);

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
