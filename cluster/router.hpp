#pragma once

#include <cstdint>
#include <shared_mutex>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>

#include "actors/services.hpp"

namespace eventstripe::cluster {

// The node's routing table: shard → the region actor that hosts its entities. Read by gateway
// threads and actors alike (a shared lock), written when a region starts or restarts. On one
// node every shard is local; the cluster issue adds remote regions.
class router final : public actors::entity_directory {
 public:
  explicit router(std::uint32_t shard_count);

  caf::actor region_for(std::string_view key) const override;
  std::uint32_t shard_of(std::string_view key) const override;
  caf::actor region_of_shard(std::uint32_t shard) const;
  void set_region(std::uint32_t shard, caf::actor region);
  std::uint32_t shard_count() const { return shard_count_; }
  // True when every shard has a region (none is starting or restarting).
  bool all_shards_served() const;

 private:
  const std::uint32_t shard_count_;
  mutable std::shared_mutex mutex_;
  std::vector<caf::actor> regions_;
};

}  // namespace eventstripe::cluster
