#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include "actors/node_status.hpp"
#include "cluster/router.hpp"
#include "cluster/shard.hpp"

using eventstripe::cluster::fnv1a_64;
using eventstripe::cluster::shard_of;

TEST_CASE("FNV-1a matches the published test vectors, so shard mapping is stable across builds") {
  // Vectors from the FNV reference (draft-eastlake-fnv): "", "a", "foobar".
  CHECK(fnv1a_64("") == 0xcbf29ce484222325ULL);
  CHECK(fnv1a_64("a") == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a_64("foobar") == 0x85944171f73967e8ULL);
  static_assert(shard_of("event:42", 256) == fnv1a_64("event:42") % 256);
}

TEST_CASE("keys spread over every shard") {
  std::vector<int> counts(64, 0);
  for (int i = 0; i < 64'000; ++i) ++counts[shard_of("ticket_type:" + std::to_string(i), 64)];
  for (int count : counts) {
    CHECK(count > 800);   // expected 1000 per shard
    CHECK(count < 1200);
  }
}

TEST_CASE("a node is ready only while every shard has a region taking entity traffic") {
  caf::actor_system_config config;
  caf::actor_system system{config};
  eventstripe::cluster::router directory{3};
  eventstripe::actors::node_status status;
  status.set_database(true, "ready");
  status.set_serving_check([&directory] { return directory.all_shards_served(); });
  // Spawned with an argument: CAF 0.17.6 dereferences a null argument tuple otherwise (UBSan).
  auto region = system.spawn([](caf::event_based_actor*, int) -> caf::behavior { return {[](int) {}}; }, 0);
  CHECK_FALSE(status.ready());
  CHECK(status.reason() == "shards not served yet");
  directory.set_region(0, region);
  directory.set_region(1, region);
  CHECK_FALSE(status.ready());
  directory.set_region(2, region);
  CHECK(status.ready());
  directory.set_region(1, caf::actor{});  // a region restarting
  CHECK_FALSE(status.ready());
  status.set_database(false, "database down");
  CHECK(status.reason() == "database down");
  caf::anon_send_exit(region, caf::exit_reason::kill);
}
