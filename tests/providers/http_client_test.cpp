#include <catch2/catch.hpp>

#include "io/providers/http_client.hpp"
#include "tests/providers/test_peer.hpp"

using namespace eventstripe::io::providers;
using eventstripe::test::chunked_answer;
using eventstripe::test::http_answer;
using eventstripe::test::recorded_request;
using eventstripe::test::scripted_reply;
using eventstripe::test::test_peer;
using std::chrono::milliseconds;

namespace {

http_client client_for(const std::string& url, milliseconds timeout = milliseconds{2'000}, std::string ca_file = {}) {
  auto endpoint = parse_http_endpoint(url);
  REQUIRE(endpoint.has_value());
  return http_client{*endpoint, http_client_options{std::move(ca_file), timeout}};
}

test_peer::script always(std::string raw) {
  return [raw](const recorded_request&) { return scripted_reply{raw}; };
}

outbound_request post(std::string path, std::string body) {
  return outbound_request{"POST", std::move(path), {{"Content-Type", "application/json"}}, std::move(body)};
}

}  // namespace

TEST_CASE("an API base URL is parsed into scheme, host, port and base path, and junk is refused") {
  auto stripe = parse_http_endpoint("https://api.stripe.com");
  REQUIRE(stripe);
  CHECK(stripe->tls);
  CHECK(stripe->host == "api.stripe.com");
  CHECK(stripe->port == 443);
  CHECK(stripe->base_path.empty());

  auto sandbox = parse_http_endpoint("HTTP://127.0.0.1:12111/sandbox/stripe/");
  REQUIRE(sandbox);
  CHECK_FALSE(sandbox->tls);
  CHECK(sandbox->port == 12111);
  CHECK(sandbox->base_path == "/sandbox/stripe");

  auto v6 = parse_http_endpoint("http://[::1]:8080");
  REQUIRE(v6);
  CHECK(v6->host == "::1");

  for (const char* bad : {"api.stripe.com", "ftp://x", "https://", "https://user:pw@host", "https://h:0",
                          "https://h:70000", "https://h/x?q=1", "https://h x", "https://[::1"}) {
    INFO(bad);
    CHECK_FALSE(parse_http_endpoint(bad).has_value());
  }
}

TEST_CASE("a request goes out as HTTP/1.1 with Host, Content-Length and Connection: close; the answer is parsed") {
  test_peer peer{always(http_answer(201, R"({"ok":true})", "X-Request-Id: req_1\r\nSet-Cookie: a\r\nSet-Cookie: b\r\n"))};
  auto client = client_for(peer.url() + "/base");
  auto answer = client.send(post("/v1/things", R"({"x":1})"));

  REQUIRE(answer.outcome == http_outcome::response);
  CHECK(answer.status == 201);
  CHECK(answer.body == R"({"ok":true})");
  CHECK(answer.headers.at("x-request-id") == "req_1");
  CHECK(answer.headers.at("set-cookie") == "a, b");

  auto seen = peer.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/base/v1/things");
  CHECK(seen[0].headers.at("host") == "127.0.0.1:" + std::to_string(peer.port()));
  CHECK(seen[0].headers.at("connection") == "close");
  CHECK(seen[0].headers.at("content-length") == "7");
  CHECK(seen[0].headers.at("content-type") == "application/json");
  CHECK(seen[0].body == R"({"x":1})");
}

TEST_CASE("a chunked answer is de-chunked, with chunk extensions and trailers ignored") {
  std::string body = R"({"id":"pi_123","object":"payment_intent","status":"succeeded"})";
  test_peer peer{always(chunked_answer(200, body))};
  auto answer = client_for(peer.url()).send({"GET", "/v1/payment_intents/pi_123", {}, {}});
  REQUIRE(answer.outcome == http_outcome::response);
  CHECK(answer.status == 200);
  CHECK(answer.body == body);
}

TEST_CASE("an answer without length ends with the connection; interim 1xx answers are skipped") {
  test_peer until_close{always("HTTP/1.1 200 OK\r\n\r\nall of it")};
  auto closed = client_for(until_close.url()).send({"GET", "/", {}, {}});
  REQUIRE(closed.outcome == http_outcome::response);
  CHECK(closed.body == "all of it");

  test_peer interim{always("HTTP/1.1 100 Continue\r\n\r\n" + http_answer(200, "{}"))};
  auto final_answer = client_for(interim.url()).send(post("/", "{}"));
  REQUIRE(final_answer.outcome == http_outcome::response);
  CHECK(final_answer.status == 200);
}

TEST_CASE("a refused connection is connect_failed: nothing was sent") {
  auto answer = client_for("http://127.0.0.1:" + std::to_string(eventstripe::test::refused_port())).send(post("/", "{}"));
  CHECK(answer.outcome == http_outcome::connect_failed);
  CHECK(answer.nothing_sent());
  CHECK_FALSE(answer.detail.empty());
}

TEST_CASE("a peer that reads the request and never answers is timeout_after_send, within the one deadline") {
  test_peer peer{[](const recorded_request&) { return scripted_reply{{}, true}; }};
  auto started = std::chrono::steady_clock::now();
  auto answer = client_for(peer.url(), milliseconds{300}).send(post("/v1/payment_intents/pi_1/confirm", "a=b"));
  auto elapsed = std::chrono::steady_clock::now() - started;
  CHECK(answer.outcome == http_outcome::timeout_after_send);
  CHECK_FALSE(answer.nothing_sent());
  CHECK(elapsed >= milliseconds{290});
  CHECK(elapsed < milliseconds{1'500});
  CHECK(peer.requests().size() == 1);
}

TEST_CASE("a TLS peer that never completes the handshake is timeout_before_send") {
  eventstripe::test::silent_listener silent;
  auto answer = client_for("https://127.0.0.1:" + std::to_string(silent.port()), milliseconds{300}).send(post("/", "{}"));
  CHECK(answer.outcome == http_outcome::timeout_before_send);
  CHECK(answer.nothing_sent());
}

TEST_CASE("malformed, cut-off and oversized answers are bad_response (the request was sent)") {
  test_peer garbage{always("SMTP ready\r\n\r\n")};
  CHECK(client_for(garbage.url()).send(post("/", "{}")).outcome == http_outcome::bad_response);

  test_peer cut_off{always("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"partial\":")};
  auto cut = client_for(cut_off.url()).send(post("/", "{}"));
  CHECK(cut.outcome == http_outcome::bad_response);
  CHECK(cut.detail.find("closed") != std::string::npos);

  test_peer bad_chunk{always("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")};
  CHECK(client_for(bad_chunk.url()).send(post("/", "{}")).outcome == http_outcome::bad_response);

  test_peer huge{always(http_answer(200, std::string(2'000, 'x')))};
  auto endpoint = parse_http_endpoint(huge.url());
  http_client small{*endpoint, http_client_options{{}, milliseconds{2'000}, 1'000}};
  auto too_big = small.send(post("/", "{}"));
  CHECK(too_big.outcome == http_outcome::bad_response);
  CHECK(too_big.detail.find("too large") != std::string::npos);
}

TEST_CASE("a header that would split the request is refused locally and never sent") {
  test_peer peer{always(http_answer(200, "{}"))};
  outbound_request request = post("/", "{}");
  request.headers.emplace_back("Idempotency-Key", "k\r\nX-Injected: 1");
  auto answer = client_for(peer.url()).send(request);
  CHECK(answer.outcome == http_outcome::invalid_request);
  CHECK(answer.nothing_sent());
  CHECK(peer.requests().empty());
}

TEST_CASE("https works with the test CA in the CA file and verifies the host name and the issuer") {
  eventstripe::test::temporary_directory directory;
  eventstripe::test::test_pki pki{"providers-test-ca", "DNS:localhost", directory.path()};
  eventstripe::test::test_pki other{"some-other-ca", "DNS:localhost", directory.path()};
  test_peer peer{always(http_answer(200, R"({"id":"pi_tls"})")), pki.server_context()};

  SECTION("trusted CA and matching name: the request goes through") {
    auto answer = client_for(peer.url("localhost"), milliseconds{2'000}, pki.ca_file).send(post("/v1/x", "a=1"));
    REQUIRE(answer.outcome == http_outcome::response);
    CHECK(answer.body == R"({"id":"pi_tls"})");
    REQUIRE(peer.requests().size() == 1);
    CHECK(peer.requests()[0].body == "a=1");
    CHECK(peer.requests()[0].headers.at("host") == "localhost:" + std::to_string(peer.port()));
  }
  SECTION("a certificate for another name is refused before anything is sent") {
    auto answer = client_for(peer.url("127.0.0.1"), milliseconds{2'000}, pki.ca_file).send(post("/v1/x", "a=1"));
    CHECK(answer.outcome == http_outcome::connect_failed);
    CHECK(answer.detail.find("certificate") != std::string::npos);
    CHECK(peer.requests().empty());
  }
  SECTION("a certificate from an untrusted issuer is refused before anything is sent") {
    auto answer = client_for(peer.url("localhost"), milliseconds{2'000}, other.ca_file).send(post("/v1/x", "a=1"));
    CHECK(answer.outcome == http_outcome::connect_failed);
    CHECK(answer.detail.find("certificate") != std::string::npos);
    CHECK(peer.requests().empty());
  }
  SECTION("the system trust store does not trust the test CA") {
    auto answer = client_for(peer.url("localhost")).send(post("/v1/x", "a=1"));
    CHECK(answer.outcome == http_outcome::connect_failed);
    CHECK(peer.requests().empty());
  }
}

TEST_CASE("a CA file that cannot be loaded is a configuration error at construction") {
  auto endpoint = parse_http_endpoint("https://localhost:1");
  REQUIRE(endpoint);
  CHECK_THROWS_AS((http_client{*endpoint, http_client_options{"/nonexistent/ca.pem"}}), std::invalid_argument);
}

TEST_CASE("one client serves several provider threads at once, over TCP and TLS") {
  eventstripe::test::temporary_directory directory;
  eventstripe::test::test_pki pki{"concurrency-ca", "DNS:localhost", directory.path()};
  test_peer plain{always(http_answer(200, "{}"))};
  test_peer secure{always(http_answer(200, "{}")), pki.server_context()};
  auto plain_client = client_for(plain.url(), milliseconds{5'000});
  auto secure_client = client_for(secure.url("localhost"), milliseconds{5'000}, pki.ca_file);

  constexpr int threads_count = 4;
  constexpr int requests_per_thread = 5;
  std::atomic<int> answered{0};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < threads_count; ++thread) {
    threads.emplace_back([&, thread] {
      const auto& client = thread % 2 == 0 ? plain_client : secure_client;
      for (int request = 0; request < requests_per_thread; ++request) {
        if (client.send(post("/v1/x", "n=" + std::to_string(request))).status == 200) ++answered;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(answered == threads_count * requests_per_thread);
  CHECK(plain.requests().size() + secure.requests().size() == threads_count * requests_per_thread);
}
