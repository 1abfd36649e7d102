// Hex and base64 as the signatures use them: RFC 4648 vectors, and strict decoding (one text per
// byte string), which the signature checks rely on.
#include <catch2/catch.hpp>

#include "actors/payments/encoding.hpp"

using namespace eventstripe::actors::payments;

namespace {
bytes bytes_of(std::string_view text) { return {text.begin(), text.end()}; }
}  // namespace

TEST_CASE("base64 and base64url encode the RFC 4648 test vectors") {
  CHECK(base64_encode(as_bytes("")) == "");
  CHECK(base64_encode(as_bytes("f")) == "Zg==");
  CHECK(base64_encode(as_bytes("fo")) == "Zm8=");
  CHECK(base64_encode(as_bytes("foo")) == "Zm9v");
  CHECK(base64_encode(as_bytes("foobar")) == "Zm9vYmFy");
  CHECK(base64url_encode(as_bytes("f")) == "Zg");
  CHECK(base64url_encode(bytes{0xfb, 0xff}) == "-_8");
  CHECK(base64_encode(bytes{0xfb, 0xff}) == "+/8=");
  CHECK(decode_base64("Zm9vYmFy") == bytes_of("foobar"));
  CHECK(decode_base64("Zm8=") == bytes_of("fo"));
  CHECK(decode_base64url("-_8") == bytes{0xfb, 0xff});
}

TEST_CASE("decoding refuses every text that is not the canonical encoding") {
  CHECK_FALSE(decode_base64("Zm8"));     // padding missing
  CHECK_FALSE(decode_base64("Zm9=="));   // wrong padding
  CHECK_FALSE(decode_base64("Zm9v\n"));  // whitespace
  CHECK_FALSE(decode_base64("Zm-v"));    // url alphabet in standard base64
  CHECK_FALSE(decode_base64("Zm9="));    // leftover bits not zero ("Zm8=" is canonical)
  CHECK_FALSE(decode_base64url("Zm8="));  // padding in unpadded base64url
  CHECK_FALSE(decode_base64url("Zm+v"));
  CHECK_FALSE(decode_base64url("Zh"));    // leftover bits not zero ("Zg" is canonical)
  CHECK_FALSE(decode_base64url("Z"));     // one character cannot encode a byte
}

TEST_CASE("hex is written lower-case and read in either case, whole bytes only") {
  CHECK(hex_lower(bytes{0x00, 0xab, 0xff}) == "00abff");
  CHECK(decode_hex("00ABff") == bytes{0x00, 0xab, 0xff});
  CHECK(decode_hex("") == bytes{});
  CHECK_FALSE(decode_hex("abc"));
  CHECK_FALSE(decode_hex("zz"));
  CHECK_FALSE(decode_hex("ab "));
  CHECK_FALSE(decode_hex(" ab"));
}
