#pragma once

// The SQL of an event's promo codes: loading them with the event, the event actor's fenced writes,
// and the organizer's reads (which show the usage counters as last committed). Tiers, tax settings
// and fees travel with their ticket type and event rows (storage/events.hpp); the pricing rules
// themselves are in actors/pricing/. Every function blocks: call it from a pool job.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/events.hpp"
#include "storage/pqxx_fwd.hpp"

namespace pqxx {
class transaction_base;
}

namespace eventstripe::storage {

// The event's promo codes, oldest first.
std::vector<promo_code_row> load_promo_codes(pqxx::transaction_base& transaction, const std::string& event_id);

// Inserts a new code (counters at zero); `written` gets the row as stored. duplicate_code when the
// event already has a code with the same (normalised) text.
write_outcome insert_promo_code(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                const std::string& node_id, const promo_code_row& code, promo_code_row& written);

// Replaces a code's definition (never its counters, event or kind); `written` gets the row as
// stored. not_found, duplicate_code, or below_usage when max_uses or the budget would fall below
// what the code has already been used for.
write_outcome update_promo_code(pqxx::connection& connection, std::int32_t shard, std::int64_t epoch,
                                const std::string& node_id, const promo_code_row& code, promo_code_row& written);

// The organizer's reads, scoped to the workspace: nullopt when the workspace has no such event
// (so another workspace's event looks exactly like a missing one).
std::optional<std::vector<promo_code_row>> list_promo_codes(pqxx::connection& connection,
                                                            const std::string& workspace_id,
                                                            const std::string& event_id);
std::optional<promo_code_row> find_promo_code(pqxx::connection& connection, const std::string& workspace_id,
                                              const std::string& event_id, const std::string& promo_code_id);

}  // namespace eventstripe::storage
