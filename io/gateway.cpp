// The only translation unit of the HTTP/WebSocket server that includes Beast and Asio (each one
// costs ~25 s and 0.8 GB to compile). Shape after Beast's chat-multi example: a listener, one
// http_session per connection, a websocket_session after an upgrade, and shared state; unlike
// chat-multi, every queue is bounded.
#include <utility>  // before any Asio header under C++20

#include "io/gateway.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "config/log.hpp"
#include "io/metrics.hpp"
#include "io/problem.hpp"
#include "io/router.hpp"

namespace eventstripe::io {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

// After an error answer the peer may still be sending (a huge body): read and discard for a
// short while after shutting down our side, so the peer sees the answer instead of a reset.
constexpr auto linger_timeout = std::chrono::seconds{2};
constexpr std::size_t linger_buffer_bytes = 16 * 1024;
// How long close_all() waits for WebSocket close handshakes before the I/O threads stop.
constexpr auto close_grace = std::chrono::seconds{2};
constexpr std::size_t request_id_length_max = 128;
// A forwarded client address longer than this is ignored (IPv6 with a zone fits in 64).
constexpr std::size_t client_address_size_max = 64;

}  // namespace

// Something close_all() and stop_accepting() can reach; every call arrives via post().
class session_base {
 public:
  virtual ~session_base() = default;
  virtual void shut_down(bool force) = 0;
};

struct gateway::state {
  state(std::string host, unsigned short port, std::size_t threads, gateway_limits limits, const router& routes,
        metrics& stats)
      : host(std::move(host)), port(port), threads(threads), limits(limits), routes(routes), stats(stats) {}

  void register_session(session_base* key, std::weak_ptr<session_base> session) {
    std::lock_guard lock{sessions_mutex};
    sessions.emplace(key, std::move(session));
  }
  void unregister_session(session_base* key) {
    std::lock_guard lock{sessions_mutex};
    sessions.erase(key);
    drained.notify_all();
  }
  void request_finished() {
    std::lock_guard lock{sessions_mutex};
    --in_flight;
    drained.notify_all();
  }
  void for_each_session(const std::function<void(const std::shared_ptr<session_base>&)>& visit) {
    std::vector<std::shared_ptr<session_base>> alive;
    {
      std::lock_guard lock{sessions_mutex};
      for (auto& [key, weak] : sessions)
        if (auto session = weak.lock()) alive.push_back(std::move(session));
    }
    for (auto& session : alive) visit(session);
  }

  const std::string host;
  const unsigned short port;
  const std::size_t threads;
  const gateway_limits limits;
  const router& routes;
  metrics& stats;

  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> draining{false};
  std::atomic<unsigned short> bound_port{0};
  std::mutex sessions_mutex;
  std::condition_variable drained;
  std::unordered_map<session_base*, std::weak_ptr<session_base>> sessions;
  std::vector<std::thread> workers;
  // Declared last so it is destroyed first: pending handlers may still hold sessions.
  net::io_context io_context;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::optional<tcp::acceptor> acceptor;
};

namespace {

std::string_view to_std(beast::string_view text) { return {text.data(), text.size()}; }

std::string new_request_id() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(generator()),
                static_cast<unsigned long long>(generator()));
  return text;
}

bool acceptable_request_id(std::string_view id) {
  if (id.empty() || id.size() > request_id_length_max) return false;
  for (unsigned char c : id)
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == ':')) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; `plus_is_space` for query strings. nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high < 0 || low < 0) return std::nullopt;
      out += static_cast<char>(high * 16 + low);
      i += 2;
    } else {
      out += (plus_is_space && c == '+') ? ' ' : c;
    }
  }
  return out;
}

// Splits the request target into path and query; false when it is not origin-form or is
// malformed.
bool parse_target(std::string_view target, http_request& request) {
  if (target.empty() || target.front() != '/') return false;
  auto question = target.find('?');
  auto path = percent_decode(target.substr(0, question), false);
  if (!path) return false;
  request.path = std::move(*path);
  if (question == std::string_view::npos) return true;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto equals = pair.find('=');
    auto name = percent_decode(pair.substr(0, equals), true);
    auto value = percent_decode(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1), true);
    if (!name || !value) return false;
    if (!name->empty()) request.query.emplace(std::move(*name), std::move(*value));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return true;
}

void log_request(const http_request& request, const std::string& route, int status, clock_type::duration took) {
  log::info("request", {{"http.request.method", request.method},
                        {"url.path", request.path},
                        {"http.route", route},
                        {"http.response.status_code", status},
                        {"event.duration", static_cast<std::int64_t>(
                                               std::chrono::duration_cast<std::chrono::nanoseconds>(took).count())},
                        {"trace.id", request.request_id},
                        {"client.address", request.client_address}});
}

// ---------------------------------------------------------------------------------------------
class websocket_session : public session_base,
                          public websocket_channel,
                          public std::enable_shared_from_this<websocket_session> {
 public:
  // Made before the upgrade is accepted so the route's factory can be handed this channel (and
  // may refuse); the stream arrives in run() once the factory said yes.
  websocket_session(net::any_io_executor strand, std::shared_ptr<gateway::state> shared)
      : strand_(std::move(strand)), shared_(std::move(shared)) {}

  ~websocket_session() override {
    if (opened_) shared_->stats.websocket_closed();
    if (socket_) {
      --shared_->connections;
      shared_->stats.connection_closed();
    }
  }

  void run(beast::tcp_stream&& stream, http::request<http::string_body> upgrade,
           std::unique_ptr<websocket_handler> handler) {
    socket_.emplace(std::move(stream));
    ++shared_->connections;  // the upgraded connection still counts against http.connections_max
    shared_->stats.connection_opened();
    handler_ = std::move(handler);
    beast::get_lowest_layer(*socket_).expires_never();
    // Without it, a push that follows another within the client's delayed-ACK time (a
    // checkout's `paid`, then `tickets_issued`) waits about 40 ms for that ACK (Nagle). Only
    // here: HTTP answers are one write each, and the drop measured slower with it on every socket.
    beast::error_code ignored;
    beast::get_lowest_layer(*socket_).socket().set_option(tcp::no_delay(true), ignored);
    socket_->set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    socket_->read_message_max(shared_->limits.websocket_message_size_max_bytes);
    upgrade_ = std::move(upgrade);
    socket_->async_accept(upgrade_, beast::bind_front_handler(&websocket_session::on_accept, shared_from_this()));
  }

  bool send(std::string text) override {
    if (queued_.fetch_add(1) >= shared_->limits.websocket_send_queue_max) {
      queued_.fetch_sub(1);
      // A reader this slow would make the node hold unbounded memory for it: drop it.
      close(static_cast<int>(websocket::close_code::policy_error), "send queue full");
      return false;
    }
    net::post(strand_, [self = shared_from_this(), text = std::move(text)]() mutable {
      self->enqueue(std::move(text));
    });
    return true;
  }

  void close(int code, std::string reason) override {
    net::post(strand_, [self = shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->begin_close(code, std::move(reason));
    });
  }

  void shut_down(bool) override {
    close(static_cast<int>(websocket::close_code::going_away), "server shutting down");
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec) return finish();
    opened_ = true;
    shared_->stats.websocket_opened();
    shared_->register_session(this, weak_from_this());
    handler_->on_open();
    if (!outbox_.empty()) do_write();
    do_read();
  }

  void do_read() {
    socket_->async_read(buffer_, beast::bind_front_handler(&websocket_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec) return finish();
    std::string text = beast::buffers_to_string(buffer_.data());
    buffer_.consume(buffer_.size());
    if (handler_) handler_->on_message(std::move(text));
    do_read();
  }

  void enqueue(std::string text) {
    if (closing_) {
      queued_.fetch_sub(1);
      return;
    }
    outbox_.push_back(std::move(text));
    if (outbox_.size() == 1 && opened_) do_write();
  }

  void do_write() {
    socket_->text(true);
    socket_->async_write(net::buffer(outbox_.front()),
                        beast::bind_front_handler(&websocket_session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t) {
    outbox_.pop_front();
    queued_.fetch_sub(1);
    if (ec) return finish();
    if (!outbox_.empty()) return do_write();
    if (pending_close_) start_close_handshake();
  }

  void begin_close(int code, std::string reason) {
    if (closing_ || !opened_) return;
    closing_ = true;
    close_reason_ = websocket::close_reason{static_cast<websocket::close_code>(code), reason};
    // Beast allows one write at a time, and a close frame is a write.
    if (outbox_.empty()) start_close_handshake();
    else pending_close_ = true;
  }

  void start_close_handshake() {
    pending_close_ = false;
    socket_->async_close(close_reason_, [self = shared_from_this()](beast::error_code) {
      // The read loop sees the peer's close frame and calls finish().
    });
  }

  void finish() {
    if (finished_) return;
    finished_ = true;
    if (handler_) handler_->on_close();
    handler_.reset();  // the handler may hold our channel: break the cycle
    shared_->unregister_session(this);
  }

  net::any_io_executor strand_;
  std::optional<websocket::stream<beast::tcp_stream>> socket_;
  std::shared_ptr<gateway::state> shared_;
  http::request<http::string_body> upgrade_;
  std::unique_ptr<websocket_handler> handler_;
  beast::flat_buffer buffer_;
  std::deque<std::string> outbox_;
  std::atomic<std::size_t> queued_{0};
  websocket::close_reason close_reason_;
  bool opened_ = false;
  bool closing_ = false;
  bool pending_close_ = false;
  bool finished_ = false;
};

// ---------------------------------------------------------------------------------------------
class http_session : public session_base, public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, std::shared_ptr<gateway::state> shared, bool over_limit)
      : stream_(std::move(socket)), strand_(stream_.get_executor()), shared_(std::move(shared)), over_limit_(over_limit) {
    ++shared_->connections;
    shared_->stats.connection_opened();
    beast::error_code ec;
    auto endpoint = stream_.socket().remote_endpoint(ec);
    if (!ec) client_address_ = endpoint.address().to_string();
  }

  ~http_session() override {
    --shared_->connections;
    shared_->stats.connection_closed();
    shared_->unregister_session(this);
  }

  void run() {
    net::dispatch(strand_, [self = shared_from_this()] {
      self->shared_->register_session(self.get(), self->weak_from_this());
      if (self->over_limit_) {
        self->request_.method = "-";
        self->request_.request_id = new_request_id();
        self->route_ = "overload";
        return self->write_response(
            problem(503, "too-many-connections", "Too many connections",
                    "The node is at its connection limit (http.connections_max); retry shortly."),
            false);
      }
      self->do_read();
    });
  }

  // On drain an idle connection closes now; a busy one closes after its answer.
  void shut_down(bool force) override {
    net::post(strand_, [self = shared_from_this(), force] {
      self->closing_ = true;
      if (self->upgraded_) return;
      if (!self->busy_ || force) self->close_socket();
    });
  }

 private:
  void do_read() {
    if (closing_ || shared_->draining) return close_socket();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(shared_->limits.header_size_max_bytes));
    parser_->body_limit(shared_->limits.body_size_max_bytes);
    if (buffer_.size() > 0) return read_request();
    // Waiting for the first byte of the next request is governed by the idle timeout; the
    // request itself, once started, by the (shorter) read timeout.
    stream_.expires_after(shared_->limits.idle_timeout_ms);
    stream_.async_read_some(buffer_.prepare(shared_->limits.header_size_max_bytes),
                            [self = shared_from_this()](beast::error_code ec, std::size_t bytes) {
                              if (ec) return self->close_socket();
                              self->buffer_.commit(bytes);
                              self->read_request();
                            });
  }

  void read_request() {
    stream_.expires_after(shared_->limits.read_timeout_ms);
    http::async_read(stream_, buffer_, *parser_, beast::bind_front_handler(&http_session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == beast::error::timeout || ec == net::error::operation_aborted ||
        ec == net::error::eof || ec == net::error::connection_reset)
      return close_socket();
    started_ = clock_type::now();
    request_ = {};
    request_.client_address = client_address_;
    request_.request_id = new_request_id();
    if (ec == http::error::body_limit) return reject(413, "body-too-large", "Request body too large",
                                                     "The body exceeds http.body_size_max_bytes.");
    if (ec == http::error::header_limit)
      return reject(431, "headers-too-large", "Request header fields too large",
                    "The request head exceeds http.header_size_max_bytes.");
    if (ec.category() == http::make_error_code(http::error::body_limit).category() || ec == http::error::partial_message)
      return reject(400, "malformed-request", "Malformed HTTP request", ec.message());
    if (ec) return close_socket();
    handle(parser_->release());
  }

  void reject(int status, std::string_view slug, std::string_view title, std::string_view detail) {
    request_.method = "-";
    if (parser_ && parser_->is_header_done()) {  // e.g. a body too large: the head is known
      request_.method = std::string{to_std(parser_->get().method_string())};
      request_.path = std::string{to_std(parser_->get().target()).substr(0, request_id_length_max)};
    }
    route_ = "invalid";
    busy_ = true;
    ++shared_->in_flight;
    write_response(problem(status, slug, title, detail), false);
  }

  void handle(http::request<http::string_body> message) {
    busy_ = true;
    ++shared_->in_flight;
    keep_alive_ = message.keep_alive();
    version_ = message.version();
    request_.method = std::string{to_std(message.method_string())};
    if (auto id = to_std(message["X-Request-Id"]); acceptable_request_id(id)) request_.request_id = std::string{id};
    for (const auto& field : message) {
      std::string name{to_std(field.name_string())};
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request_.headers.emplace_back(std::move(name), std::string{to_std(field.value())});
    }
    if (const auto& header = shared_->limits.client_address_header; !header.empty()) {
      if (const auto* forwarded = request_.header(header)) {
        auto first = forwarded->substr(0, forwarded->find(','));
        auto begin = first.find_first_not_of(' ');
        auto end = first.find_last_not_of(' ');
        if (begin != std::string::npos && end - begin < client_address_size_max)
          request_.client_address = first.substr(begin, end - begin + 1);
      }
    }
    if (!parse_target(to_std(message.target()), request_)) {
      route_ = "invalid";
      return write_response(problem(400, "malformed-request", "Malformed request target",
                                    "The request target must be an absolute path with valid percent-escapes."),
                            false);
    }
    bool upgrade = websocket::is_upgrade(message);
    auto match = shared_->routes.find(request_, upgrade);
    if (upgrade && !match.websocket) match = shared_->routes.find(request_, false);  // plain HTTP route
    route_ = match.pattern.empty() ? "unmatched" : match.pattern;
    if (match.websocket) return upgrade_to_websocket(std::move(message), *match.websocket);
    if (!match.handler) return answer_unrouted(match);
    request_.body = std::move(message.body());
    try {
      (*match.handler)(request_, make_responder());
    } catch (const std::exception& failure) {
      log::error("handler threw", {{"trace.id", request_.request_id}, {"error.message", failure.what()}});
      write_response(problem(500, "internal-error", "Internal error", "The request could not be handled."), false);
    }
  }

  void answer_unrouted(const router::match& match) {
    if (match.allowed_methods.empty())
      return write_response(problem(404, "not-found", "Not found", "No resource at " + request_.path + "."));
    if (match.allowed_methods.find(request_.method) != std::string::npos)
      return write_response(problem(426, "upgrade-required", "Upgrade required",
                                    "This resource is a WebSocket; connect with an Upgrade request."));
    auto response = problem(405, "method-not-allowed", "Method not allowed",
                            request_.method + " is not allowed on " + request_.path + ".");
    response.headers.emplace_back("Allow", match.allowed_methods);
    write_response(std::move(response));
  }

  responder make_responder() {
    // Called from any thread (an actor's reply); the answer is posted onto this strand. A
    // second answer to one request is a handler bug: it is logged and dropped, since Beast
    // allows one write at a time.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    return [self = shared_from_this(), answered, trace = request_.request_id, route = route_](http_response response) {
      if (answered->exchange(true)) {
        log::error("handler answered twice", {{"trace.id", trace}, {"http.route", route}});
        return;
      }
      net::post(self->strand_, [self, response = std::move(response)]() mutable {
        self->write_response(std::move(response));
      });
    };
  }

  void upgrade_to_websocket(http::request<http::string_body> message, const websocket_factory& factory) {
    auto session = std::make_shared<websocket_session>(stream_.get_executor(), shared_);
    http_response refusal = problem(404, "not-found", "Not found", "No WebSocket at " + request_.path + ".");
    auto handler = factory(request_, session, refusal);
    if (!handler) return write_response(std::move(refusal), false);
    observe(101);
    busy_ = false;
    shared_->request_finished();
    upgraded_ = true;
    session->run(std::move(stream_), std::move(message), std::move(handler));
  }

  void write_response(http_response answer, bool keep_alive = true) {
    int status = answer.status;
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<http::status>(status));
    response_.set(http::field::content_type, answer.content_type);
    response_.set("X-Request-Id", request_.request_id);
    for (auto& [name, value] : answer.headers) response_.set(name, value);
    response_.body() = std::move(answer.body);
    response_.keep_alive(keep_alive && keep_alive_ && !closing_ && !shared_->draining);
    response_.prepare_payload();
    stream_.expires_after(shared_->limits.read_timeout_ms);
    http::async_write(stream_, response_, [self = shared_from_this(), status](beast::error_code ec, std::size_t) {
      self->on_write(ec, status);
    });
  }

  void on_write(beast::error_code ec, int status) {
    observe(status);
    if (busy_) {
      busy_ = false;
      shared_->request_finished();
    }
    if (ec) return close_socket();
    if (!response_.keep_alive()) return linger();
    do_read();
  }

  void observe(int status) {
    auto took = clock_type::now() - started_;
    shared_->stats.observe_request(route_, request_.method, status,
                                   std::chrono::duration_cast<std::chrono::microseconds>(took));
    log_request(request_, route_, status, took);
  }

  void linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_timeout);
    discard_.resize(linger_buffer_bytes);
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close_socket();
      self->linger_more();
    });
  }

  void linger_more() {
    stream_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) return self->close_socket();
      self->linger_more();
    });
  }

  void close_socket() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  net::any_io_executor strand_;  // kept apart from stream_, which moves away on upgrade
  std::shared_ptr<gateway::state> shared_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  http_request request_;
  std::string route_;
  std::string client_address_;
  std::vector<char> discard_;
  clock_type::time_point started_ = clock_type::now();
  unsigned version_ = 11;
  bool keep_alive_ = false;
  bool busy_ = false;
  bool closing_ = false;
  bool upgraded_ = false;  // the stream now belongs to a websocket_session
  const bool over_limit_;
};

// ---------------------------------------------------------------------------------------------
void do_accept(const std::shared_ptr<gateway::state>& shared) {
  shared->acceptor->async_accept(net::make_strand(shared->io_context), [shared](beast::error_code ec,
                                                                                 tcp::socket socket) {
    if (ec == net::error::operation_aborted || !shared->acceptor->is_open()) return;
    if (ec) {
      // Out of descriptors and similar: keep serving the connections we have.
      log::warn("accept failed", {{"error.message", ec.message()}});
    } else {
      bool over_limit = shared->connections.load() >= shared->limits.connections_max;
      std::make_shared<http_session>(std::move(socket), shared, over_limit)->run();
    }
    do_accept(shared);
  });
}

}  // namespace

gateway::gateway(std::string host, unsigned short port, std::size_t threads, gateway_limits limits,
                 const router& routes, metrics& metrics)
    : state_(std::make_shared<state>(std::move(host), port, threads, limits, routes, metrics)) {}

gateway::~gateway() { stop(); }

std::string gateway::start() {
  auto& shared = *state_;
  beast::error_code ec;
  auto address = net::ip::make_address(shared.host, ec);
  if (ec) return "http.host: '" + shared.host + "' is not an IP address";
  tcp::endpoint endpoint{address, shared.port};
  shared.acceptor.emplace(net::make_strand(shared.io_context));
  auto where = shared.host + ":" + std::to_string(shared.port);
  shared.acceptor->open(endpoint.protocol(), ec);
  if (!ec) shared.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) shared.acceptor->bind(endpoint, ec);
  if (ec) return "cannot listen on " + where + ": " + ec.message();
  shared.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) return "cannot listen on " + where + ": " + ec.message();
  shared.bound_port = shared.acceptor->local_endpoint().port();
  shared.work.emplace(shared.io_context.get_executor());
  do_accept(state_);
  for (std::size_t i = 0; i < shared.threads; ++i) shared.workers.emplace_back([&shared] { shared.io_context.run(); });
  return {};
}

unsigned short gateway::port() const { return state_->bound_port; }

std::size_t gateway::requests_in_flight() const { return state_->in_flight; }

void gateway::stop_accepting() {
  auto shared = state_;
  if (shared->draining.exchange(true) || !shared->acceptor) return;
  net::post(shared->acceptor->get_executor(), [shared] {
    beast::error_code ignored;
    shared->acceptor->close(ignored);
  });
  // Idle keep-alive connections close now; busy ones after their answer.
  shared->for_each_session([](const std::shared_ptr<session_base>& session) { session->shut_down(false); });
}

bool gateway::wait_for_drain(std::chrono::milliseconds deadline) {
  std::unique_lock lock{state_->sessions_mutex};
  return state_->drained.wait_for(lock, deadline, [this] { return state_->in_flight.load() == 0; });
}

void gateway::close_all() {
  state_->for_each_session([](const std::shared_ptr<session_base>& session) { session->shut_down(true); });
  std::unique_lock lock{state_->sessions_mutex};
  state_->drained.wait_for(lock, close_grace, [this] { return state_->sessions.empty(); });
}

void gateway::stop() {
  auto& shared = *state_;
  if (shared.workers.empty()) return;
  stop_accepting();
  shared.work.reset();
  shared.io_context.stop();
  for (auto& worker : shared.workers) worker.join();
  shared.workers.clear();
}

}  // namespace eventstripe::io
