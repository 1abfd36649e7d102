#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

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
