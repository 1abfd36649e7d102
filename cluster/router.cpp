#include "cluster/router.hpp"

#include <mutex>

#include "cluster/shard.hpp"

namespace eventstripe::cluster {

router::router(std::uint32_t shard_count) : shard_count_(shard_count), regions_(shard_count) {}

caf::actor router::region_for(std::string_view key) const { return region_of_shard(shard_of(key)); }

std::uint32_t router::shard_of(std::string_view key) const { return cluster::shard_of(key, shard_count_); }

caf::actor router::region_of_shard(std::uint32_t shard) const {
  std::shared_lock lock{mutex_};
  return shard < regions_.size() ? regions_[shard] : caf::actor{};
}

bool router::all_shards_served() const {
  std::shared_lock lock{mutex_};
  for (const auto& region : regions_)
    if (!region) return false;
  return true;
}

void router::set_region(std::uint32_t shard, caf::actor region) {
  std::unique_lock lock{mutex_};
  regions_.at(shard) = std::move(region);
}

}  // namespace eventstripe::cluster
