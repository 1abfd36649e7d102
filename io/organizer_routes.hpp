#pragma once

#include <cstddef>
#include <string_view>

namespace eventstripe::storage {
class connection_pool;
}

namespace eventstripe::io {

class router;
class authenticator;

struct organizer_routes_context {
  storage::connection_pool* pool = nullptr;
  authenticator* credentials = nullptr;  // the node's one authenticator, shared with every organizer route
};

// Limits of the organizer API.
inline constexpr std::size_t active_api_keys_per_workspace_max = 100;
inline constexpr std::size_t api_key_list_size_max = 200;  // revoked keys beyond it are left out
inline constexpr std::string_view first_api_key_name = "default";

// Organizers, workspaces and API keys:
//   POST   /api/v1/organizers          sign up: organizer, workspace and a first API key (shown once)
//   POST   /api/v1/api-keys            another key (shown once); API key or HTTP Basic email:password
//   GET    /api/v1/api-keys            the workspace's keys, never their secrets; key or Basic
//   DELETE /api/v1/api-keys/{key_id}   revoke; the key gets 401 at once on this node; key or Basic
//   GET    /api/v1/workspace           the caller's workspace; API key
// Database work and password hashing run as connection_pool jobs, never on gateway threads.
void add_organizer_routes(router& routes, organizer_routes_context context);

}  // namespace eventstripe::io
