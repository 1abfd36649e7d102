// Ticket signing seeds wrapped at rest: only the configured wrapping key opens a stored seed, only
// in the row (event, key id) it was wrapped for, and only unaltered; bad keys are refused clearly.
#include <catch2/catch.hpp>

#include <string>

#include "actors/payments/key_wrapping.hpp"

using namespace eventstripe::actors::payments;

namespace {

const std::string key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string other_key_hex = "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

key_wrapper wrapper_of(const std::string& hex) {
  auto wrapper = key_wrapper::from_hex(hex);
  REQUIRE(wrapper);
  return *wrapper;
}

seed_bytes sample_seed() {
  seed_bytes seed{};
  for (std::size_t i = 0; i < seed.size(); ++i) seed[i] = static_cast<std::uint8_t>(0xA0 + i);
  return seed;
}

}  // namespace

TEST_CASE("a wrapping key is named by 16 hex digits of a domain-separated SHA-256", "[payments][key_wrapping]") {
  // sha256("eventstripe/ticket-key-wrapping/v1" || 00 01 .. 1f) = a0dce15236ff6179..., computed
  // independently (Python's hashlib); a plain hash of the key would not be its name.
  CHECK(wrapper_of(key_hex).id() == "kek_a0dce15236ff6179");
  CHECK(wrapper_of("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F").id() == "kek_a0dce15236ff6179");
  CHECK(wrapper_of(other_key_hex).id() != wrapper_of(key_hex).id());
}

TEST_CASE("a wrapped seed opens with its key, event and key id, to the same bytes", "[payments][key_wrapping]") {
  auto wrapper = wrapper_of(key_hex);
  auto seed = sample_seed();
  auto stored = wrapper.wrap(seed, "ev_1", "tk_1");
  CHECK(stored.size() == wrapped_seed_size_bytes);
  CHECK(stored.find(std::string(seed.begin(), seed.end())) == std::string::npos);  // the seed is not in it
  auto opened = wrapper.unwrap(stored, "ev_1", "tk_1");
  REQUIRE(opened);
  auto bytes = opened->bytes();
  CHECK(std::equal(bytes.begin(), bytes.end(), seed.begin(), seed.end()));
  CHECK(wrapper.wrap(seed, "ev_1", "tk_1") != stored);  // a fresh nonce each time
}

TEST_CASE("a wrapped seed does not open with another key, in another row, or altered", "[payments][key_wrapping]") {
  auto wrapper = wrapper_of(key_hex);
  auto stored = wrapper.wrap(sample_seed(), "ev_1", "tk_1");
  auto refused = [](const eventstripe::actors::expected<ticket_private_key, wrap_errc>& result, wrap_errc code) {
    REQUIRE_FALSE(result);
    CHECK(result.error() == code);
  };
  refused(wrapper_of(other_key_hex).unwrap(stored, "ev_1", "tk_1"), wrap_errc::cannot_open);
  refused(wrapper.unwrap(stored, "ev_2", "tk_1"), wrap_errc::cannot_open);  // copied to another event's row
  refused(wrapper.unwrap(stored, "ev_1", "tk_2"), wrap_errc::cannot_open);
  refused(wrapper.unwrap(stored, "ev_1|", "tk_1"), wrap_errc::cannot_open);
  for (std::size_t at : {std::size_t{0}, std::size_t{24}, wrapped_seed_size_bytes - 1}) {
    auto altered = stored;
    altered[at] = static_cast<char>(altered[at] ^ 0x01);
    refused(wrapper.unwrap(altered, "ev_1", "tk_1"), wrap_errc::cannot_open);
  }
  refused(wrapper.unwrap(stored.substr(1), "ev_1", "tk_1"), wrap_errc::malformed);
  refused(wrapper.unwrap(std::string(32, 'x'), "ev_1", "tk_1"), wrap_errc::malformed);  // a raw seed is no wrapped one
}

TEST_CASE("a wrapping key must be 64 hex digits, not one byte repeated", "[payments][key_wrapping]") {
  for (const std::string& bad : {std::string{}, key_hex.substr(2), key_hex + "00", "zz" + key_hex.substr(2),
                                key_hex.substr(0, 62) + " f", std::string(64, 'g'), std::string(64, '0'),
                                std::string(64, '7'), std::string(64, 'f')}) {
    auto wrapper = key_wrapper::from_hex(bad);
    REQUIRE_FALSE(wrapper);
    CHECK(wrapper.error() == wrap_errc::invalid_key);
  }
  CHECK(std::string{to_string(wrap_errc::cannot_open)} == "cannot_open");
}
