#pragma once

#include <cstdint>
#include <string_view>

namespace eventstripe::cluster {

// Shards are fixed for a deployment (DESIGN.md): an entity key always maps to the same shard,
// on every node and across restarts, so the mapping uses FNV-1a and never std::hash (whose
// value may differ between builds and standard libraries).
inline constexpr std::uint32_t shard_count_default = 256;

// 64-bit FNV-1a of the key's bytes.
constexpr std::uint64_t fnv1a_64(std::string_view key) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (char c : key) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// The shard that owns `key`; `shard_count` must be positive.
constexpr std::uint32_t shard_of(std::string_view key, std::uint32_t shard_count = shard_count_default) {
  return static_cast<std::uint32_t>(fnv1a_64(key) % shard_count);
}

}  // namespace eventstripe::cluster
