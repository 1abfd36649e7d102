#include "io/providers/http_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <stdexcept>
#include <system_error>
#include <variant>

#include "io/providers/wire_fields.hpp"

namespace eventstripe::io::providers {

struct http_client::tls_context {
  SSL_CTX* context = nullptr;
  ~tls_context() { SSL_CTX_free(context); }
};

namespace {

using steady_clock = std::chrono::steady_clock;
using deadline_type = steady_clock::time_point;

inline constexpr std::size_t receive_buffer_size_bytes = 16 * 1024;

// ---- text helpers -----------------------------------------------------------------------------

bool is_token_character(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view{"!#$%&'*+-.^_`|~"}.find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), is_token_character);
}

// Letters, digits and the punctuation of DNS names and IPv4/IPv6 literals.
bool is_host_character(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == ':';
}

std::string system_error_text(int error_number) {
  return std::error_code{error_number, std::generic_category()}.message();
}

bool is_ip_literal(const std::string& host) {
  in6_addr v6{};
  in_addr v4{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

// ---- failures and deadlines ---------------------------------------------------------------------

struct step_failure {
  http_outcome outcome;
  std::string detail;
};

outbound_response failed_response(step_failure failure) {
  outbound_response response;
  response.outcome = failure.outcome;
  response.detail = std::move(failure.detail);
  return response;
}

int milliseconds_left(deadline_type deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - steady_clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, INT_MAX));
}

enum class readiness { ready, timed_out, failed };

// Waits until `fd` is ready for `events` (or reports an error condition) or the deadline passes.
readiness wait_until_ready(int fd, short events, deadline_type deadline, std::string& detail) {
  while (true) {
    int left_ms = milliseconds_left(deadline);
    if (left_ms <= 0) return readiness::timed_out;
    pollfd watched{fd, events, 0};
    int ready = ::poll(&watched, 1, left_ms);
    if (ready > 0) return readiness::ready;  // POLLERR/POLLHUP too: the next call reports it
    if (ready == 0) continue;                // the loop re-checks the clock
    if (errno == EINTR) continue;
    detail = "poll: " + system_error_text(errno);
    return readiness::failed;
  }
}

// Blocks SIGPIPE in this thread for the duration of a request and swallows one raised meanwhile:
// OpenSSL writes with plain write(), which raises SIGPIPE on a closed peer, and a library must
// not rely on the process ignoring it.
class sigpipe_block {
 public:
  sigpipe_block() {
    sigemptyset(&pipe_only_);
    sigaddset(&pipe_only_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only_, &previous_);
    was_pending_ = is_pending();
  }
  ~sigpipe_block() {
    if (!was_pending_ && is_pending()) {
      timespec no_wait{};
      sigtimedwait(&pipe_only_, nullptr, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  sigpipe_block(const sigpipe_block&) = delete;
  sigpipe_block& operator=(const sigpipe_block&) = delete;

 private:
  bool is_pending() const {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    return sigismember(&pending, SIGPIPE) == 1;
  }

  sigset_t pipe_only_{};
  sigset_t previous_{};
  bool was_pending_ = false;
};

std::string openssl_error_text(int ssl_error) {
  unsigned long code = ERR_get_error();
  if (code != 0) {
    std::array<char, 256> text{};
    ERR_error_string_n(code, text.data(), text.size());
    return text.data();
  }
  if (ssl_error == SSL_ERROR_SYSCALL) return errno != 0 ? system_error_text(errno) : "connection closed by the peer";
  return "TLS error " + std::to_string(ssl_error);
}

// ---- the socket and the connection --------------------------------------------------------------

class socket_handle {
 public:
  socket_handle() = default;
  explicit socket_handle(int fd) : fd_(fd) {}
  socket_handle(socket_handle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  socket_handle& operator=(socket_handle&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  ~socket_handle() { reset(); }
  int get() const { return fd_; }

 private:
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
};

struct ssl_free_deleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using ssl_handle = std::unique_ptr<SSL, ssl_free_deleter>;

struct read_result {
  enum class kind { data, end_of_stream, timed_out, failed } status;
  std::size_t size = 0;
  std::string detail;
};

// One TCP connection, optionally wrapped in TLS. The TLS object is freed before the socket.
class connection {
 public:
  connection(socket_handle socket, ssl_handle ssl) : socket_(std::move(socket)), ssl_(std::move(ssl)) {}
  ~connection() {
    if (ssl_) {
      ERR_clear_error();
      SSL_shutdown(ssl_.get());  // one non-blocking close_notify; the answer is not awaited
      ERR_clear_error();
    }
  }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Sends all of `data`. A failure before any byte was acknowledged by the socket (or, for
  // TLS, before any whole record was written) means the peer cannot have seen the request.
  std::optional<step_failure> write_all(std::string_view data, deadline_type deadline) {
    std::size_t sent = 0;
    while (sent < data.size()) {
      auto step = ssl_ ? write_tls(data.substr(sent), deadline) : write_plain(data.substr(sent), deadline);
      if (auto* failure = std::get_if<step_failure>(&step)) {
        if (sent > 0 && failure->outcome == http_outcome::timeout_before_send) {
          failure->outcome = http_outcome::timeout_after_send;
        } else if (sent > 0 && failure->outcome == http_outcome::connect_failed) {
          failure->outcome = http_outcome::send_failed;
        }
        return *failure;
      }
      sent += std::get<std::size_t>(step);
    }
    return std::nullopt;
  }

  read_result read_some(char* buffer, std::size_t size, deadline_type deadline) {
    return ssl_ ? read_tls(buffer, size, deadline) : read_plain(buffer, size, deadline);
  }

 private:
  std::variant<std::size_t, step_failure> write_plain(std::string_view data, deadline_type deadline) {
    while (true) {
      ssize_t written = ::send(socket_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (written > 0) return static_cast<std::size_t>(written);
      if (written < 0 && errno == EINTR) continue;
      if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        return step_failure{http_outcome::connect_failed, "send: " + system_error_text(errno)};
      }
      std::string detail;
      auto ready = wait_until_ready(socket_.get(), POLLOUT, deadline, detail);
      if (ready == readiness::timed_out) return step_failure{http_outcome::timeout_before_send, "send timed out"};
      if (ready == readiness::failed) return step_failure{http_outcome::connect_failed, detail};
    }
  }

  std::variant<std::size_t, step_failure> write_tls(std::string_view data, deadline_type deadline) {
    int size = static_cast<int>(std::min<std::size_t>(data.size(), INT_MAX));
    while (true) {
      ERR_clear_error();
      int written = SSL_write(ssl_.get(), data.data(), size);
      if (written > 0) return static_cast<std::size_t>(written);
      int error = SSL_get_error(ssl_.get(), written);
      short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) return step_failure{http_outcome::connect_failed, "TLS send: " + openssl_error_text(error)};
      std::string detail;
      auto ready = wait_until_ready(socket_.get(), events, deadline, detail);
      if (ready == readiness::timed_out) return step_failure{http_outcome::timeout_before_send, "send timed out"};
      if (ready == readiness::failed) return step_failure{http_outcome::connect_failed, detail};
    }
  }

  read_result read_plain(char* buffer, std::size_t size, deadline_type deadline) {
    while (true) {
      ssize_t got = ::recv(socket_.get(), buffer, size, 0);
      if (got > 0) return {read_result::kind::data, static_cast<std::size_t>(got), {}};
      if (got == 0) return {read_result::kind::end_of_stream, 0, {}};
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        return {read_result::kind::failed, 0, "receive: " + system_error_text(errno)};
      }
      std::string detail;
      auto ready = wait_until_ready(socket_.get(), POLLIN, deadline, detail);
      if (ready == readiness::timed_out) return {read_result::kind::timed_out, 0, {}};
      if (ready == readiness::failed) return {read_result::kind::failed, 0, detail};
    }
  }

  read_result read_tls(char* buffer, std::size_t size, deadline_type deadline) {
    int capacity = static_cast<int>(std::min<std::size_t>(size, INT_MAX));
    while (true) {
      ERR_clear_error();
      int got = SSL_read(ssl_.get(), buffer, capacity);
      if (got > 0) return {read_result::kind::data, static_cast<std::size_t>(got), {}};
      int error = SSL_get_error(ssl_.get(), got);
      if (error == SSL_ERROR_ZERO_RETURN) return {read_result::kind::end_of_stream, 0, {}};
      short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
      if (events == 0) return {read_result::kind::failed, 0, "TLS receive: " + openssl_error_text(error)};
      std::string detail;
      auto ready = wait_until_ready(socket_.get(), events, deadline, detail);
      if (ready == readiness::timed_out) return {read_result::kind::timed_out, 0, {}};
      if (ready == readiness::failed) return {read_result::kind::failed, 0, detail};
    }
  }

  socket_handle socket_;
  ssl_handle ssl_;
};

// ---- connecting -------------------------------------------------------------------------------

std::string numeric_address(const addrinfo& address) {
  std::array<char, NI_MAXHOST> host{};
  if (getnameinfo(address.ai_addr, address.ai_addrlen, host.data(), host.size(), nullptr, 0, NI_NUMERICHOST) != 0) {
    return "?";
  }
  return host.data();
}

// Connects to the first address of the endpoint's name that accepts, within the deadline.
std::variant<socket_handle, step_failure> connect_tcp(const http_endpoint& endpoint, deadline_type deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  auto port_text = std::to_string(endpoint.port);
  int resolved = getaddrinfo(endpoint.host.c_str(), port_text.c_str(), &hints, &found);
  if (resolved != 0) {
    return step_failure{http_outcome::connect_failed, "cannot resolve " + endpoint.host + ": " + gai_strerror(resolved)};
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses{found, &freeaddrinfo};
  std::string last_problem = "no address for " + endpoint.host;
  for (const addrinfo* address = addresses.get(); address != nullptr; address = address->ai_next) {
    if (milliseconds_left(deadline) <= 0) return step_failure{http_outcome::timeout_before_send, "connect timed out"};
    socket_handle socket{::socket(address->ai_family, address->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                  address->ai_protocol)};
    if (socket.get() < 0) {
      last_problem = "socket: " + system_error_text(errno);
      continue;
    }
    if (::connect(socket.get(), address->ai_addr, address->ai_addrlen) == 0) return socket;
    if (errno != EINPROGRESS) {
      last_problem = "connect to " + numeric_address(*address) + ": " + system_error_text(errno);
      continue;
    }
    std::string detail;
    auto ready = wait_until_ready(socket.get(), POLLOUT, deadline, detail);
    if (ready == readiness::timed_out) return step_failure{http_outcome::timeout_before_send, "connect timed out"};
    int socket_error = 0;
    socklen_t length = sizeof socket_error;
    if (ready == readiness::ready && getsockopt(socket.get(), SOL_SOCKET, SO_ERROR, &socket_error, &length) == 0 &&
        socket_error == 0) {
      return socket;
    }
    last_problem = "connect to " + numeric_address(*address) + ": " +
                   (ready == readiness::failed ? detail : system_error_text(socket_error));
  }
  return step_failure{http_outcome::connect_failed, last_problem};
}

// TLS handshake with SNI and host name (or address) verification against the trust store.
std::variant<ssl_handle, step_failure> start_tls(SSL_CTX* context, int fd, const std::string& host,
                                                  deadline_type deadline) {
  ssl_handle ssl{SSL_new(context)};
  if (!ssl || SSL_set_fd(ssl.get(), fd) != 1) return step_failure{http_outcome::connect_failed, "SSL_new failed"};
  bool address_literal = is_ip_literal(host);
  X509_VERIFY_PARAM* parameters = SSL_get0_param(ssl.get());
  X509_VERIFY_PARAM_set_hostflags(parameters, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  int expected = address_literal ? X509_VERIFY_PARAM_set1_ip_asc(parameters, host.c_str())
                                 : X509_VERIFY_PARAM_set1_host(parameters, host.c_str(), host.size());
  if (expected != 1 || (!address_literal && SSL_set_tlsext_host_name(ssl.get(), host.c_str()) != 1)) {
    return step_failure{http_outcome::connect_failed, "cannot set the expected TLS host name"};
  }
  while (true) {
    ERR_clear_error();
    int done = SSL_connect(ssl.get());
    if (done == 1) return ssl;
    int error = SSL_get_error(ssl.get(), done);
    short events = error == SSL_ERROR_WANT_READ ? POLLIN : error == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      long verified = SSL_get_verify_result(ssl.get());
      if (verified != X509_V_OK) {
        return step_failure{http_outcome::connect_failed,
                            std::string{"TLS certificate rejected: "} + X509_verify_cert_error_string(verified)};
      }
      return step_failure{http_outcome::connect_failed, "TLS handshake failed: " + openssl_error_text(error)};
    }
    std::string detail;
    auto ready = wait_until_ready(fd, events, deadline, detail);
    if (ready == readiness::timed_out) return step_failure{http_outcome::timeout_before_send, "TLS handshake timed out"};
    if (ready == readiness::failed) return step_failure{http_outcome::connect_failed, detail};
  }
}

// ---- the request ------------------------------------------------------------------------------

bool is_reserved_header(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "content-length" || lower_name == "connection" ||
         lower_name == "transfer-encoding";
}

bool is_safe_header_value(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool is_safe_path(std::string_view path) {
  if (path.empty() || path.front() != '/') return false;
  return std::none_of(path.begin(), path.end(), [](char c) {
    auto byte = static_cast<unsigned char>(c);
    return byte <= 0x20 || byte >= 0x7f || c == '#';
  });
}

std::string host_header(const http_endpoint& endpoint) {
  bool bracketed = endpoint.host.find(':') != std::string::npos;
  std::string host = bracketed ? "[" + endpoint.host + "]" : endpoint.host;
  std::uint16_t default_port = endpoint.tls ? 443 : 80;
  if (endpoint.port != default_port) host += ":" + std::to_string(endpoint.port);
  return host;
}

// The request's bytes, or (in `problem`) why it may not be sent.
struct composed_request {
  std::string text;
  std::string problem;
};

composed_request compose_request(const outbound_request& request, const http_endpoint& endpoint) {
  if (!is_token(request.method)) return {{}, "bad method"};
  if (!is_safe_path(request.path)) return {{}, "bad path"};
  std::string text = request.method + " " + endpoint.base_path + request.path + " HTTP/1.1\r\n";
  text += "Host: " + host_header(endpoint) + "\r\n";
  for (const auto& [name, value] : request.headers) {
    if (!is_token(name) || is_reserved_header(ascii_lower(name)) || !is_safe_header_value(value)) {
      return {{}, "bad header " + name};
    }
    text += name + ": " + value + "\r\n";
  }
  bool has_body = !request.body.empty() || request.method == "POST" || request.method == "PUT" ||
                  request.method == "PATCH";
  if (has_body) text += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  text += "Connection: close\r\n\r\n";
  text += request.body;
  return {std::move(text), {}};
}

// ---- the response -----------------------------------------------------------------------------

// Incremental HTTP/1.1 response parser: status line, headers, then a body delimited by
// Content-Length, chunked transfer coding or the end of the connection.
class response_parser {
 public:
  enum class progress { need_more, complete, failed };

  response_parser(std::size_t body_size_max_bytes, bool head_request)
      : body_size_max_bytes_(body_size_max_bytes), head_request_(head_request) {}

  progress consume(std::string_view bytes) {
    buffer_.append(bytes);
    return advance();
  }

  progress end_of_stream() {
    if (phase_ == phase::body_until_close) phase_ = phase::done;
    if (phase_ == phase::done) return progress::complete;
    if (phase_ != phase::failed) fail("connection closed before the response was complete");
    return progress::failed;
  }

  outbound_response take() { return std::move(response_); }
  const std::string& error() const { return error_; }

 private:
  enum class phase { head, fixed_body, chunk_size, chunk_data, chunk_end, trailers, body_until_close, done, failed };
  // What one parsing step achieved: wait for more bytes, go on with the next phase, or stop.
  enum class step { wait, next, stop };

  step fail(std::string why) {
    phase_ = phase::failed;
    error_ = std::move(why);
    return step::stop;
  }

  progress advance() {
    while (true) {
      step result = step::wait;
      switch (phase_) {
        case phase::head: result = advance_head(); break;
        case phase::fixed_body:
        case phase::chunk_data: result = advance_counted_body(); break;
        case phase::chunk_size: result = advance_chunk_size(); break;
        case phase::chunk_end: result = advance_chunk_end(); break;
        case phase::trailers: result = advance_trailers(); break;
        case phase::body_until_close: result = advance_until_close(); break;
        case phase::done: return progress::complete;
        case phase::failed: return progress::failed;
      }
      if (result == step::wait) return progress::need_more;
      if (result == step::stop) return progress::failed;
    }
  }

  step advance_head() {
    auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) {
      return buffer_.size() > response_head_size_max_bytes ? fail("response head too large") : step::wait;
    }
    if (end + 4 > response_head_size_max_bytes) return fail("response head too large");
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    return parse_head(head);
  }

  step parse_head(std::string_view head) {
    auto line_end = head.find("\r\n");
    if (!parse_status_line(head.substr(0, line_end))) return step::stop;
    response_.headers.clear();
    while (line_end != std::string_view::npos) {
      head.remove_prefix(line_end + 2);
      line_end = head.find("\r\n");
      if (!parse_header_line(head.substr(0, line_end))) return step::stop;
    }
    return choose_body();
  }

  // HTTP/1.x SP 3DIGIT [SP reason]
  bool parse_status_line(std::string_view line) {
    int status = 0;
    bool shaped = line.size() >= 12 && line.substr(0, 7) == "HTTP/1." && line[8] == ' ' &&
                  (line.size() == 12 || line[12] == ' ');
    auto digits = shaped ? line.substr(9, 3) : std::string_view{};
    auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), status);
    if (!shaped || parsed.ec != std::errc{} || parsed.ptr != digits.data() + 3 || status < 100 || status > 599) {
      fail("bad status line");
      return false;
    }
    response_.status = status;
    return true;
  }

  bool parse_header_line(std::string_view line) {
    auto colon = line.find(':');
    auto value = colon == std::string_view::npos ? std::string_view{} : trim_spaces(line.substr(colon + 1));
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)) || !is_safe_header_value(value)) {
      fail("bad header line");
      return false;
    }
    auto [slot, inserted] = response_.headers.try_emplace(ascii_lower(line.substr(0, colon)), value);
    if (!inserted) slot->second.append(", ").append(value);
    return true;
  }

  const std::string* header(std::string_view name) const {
    auto found = response_.headers.find(name);
    return found == response_.headers.end() ? nullptr : &found->second;
  }

  step choose_body() {
    int status = response_.status;
    if (status >= 100 && status < 200) {
      if (status == 101 || ++interim_responses_ > interim_responses_max) return fail("unexpected interim response");
      return step::next;  // stay in `head` for the final response
    }
    if (head_request_ || status == 204 || status == 304) return move_to(phase::done);
    if (const auto* coding = header("transfer-encoding")) {
      auto codings = ascii_lower(*coding);
      auto last = trim_spaces(std::string_view{codings}.substr(codings.rfind(',') + 1));
      return move_to(last == "chunked" ? phase::chunk_size : phase::body_until_close);
    }
    if (const auto* length_text = header("content-length")) {
      std::size_t length = 0;
      auto parsed = std::from_chars(length_text->data(), length_text->data() + length_text->size(), length);
      if (parsed.ec != std::errc{} || parsed.ptr != length_text->data() + length_text->size()) {
        return fail("bad Content-Length");
      }
      if (length > body_size_max_bytes_) return fail("response body too large");
      remaining_ = length;
      return move_to(length == 0 ? phase::done : phase::fixed_body);
    }
    return move_to(phase::body_until_close);
  }

  step move_to(phase next) {
    phase_ = next;
    return step::next;
  }

  step advance_counted_body() {
    if (buffer_.empty()) return step::wait;
    auto take = std::min(remaining_, buffer_.size());
    response_.body.append(buffer_, 0, take);
    buffer_.erase(0, take);
    remaining_ -= take;
    if (remaining_ > 0) return step::wait;
    return move_to(phase_ == phase::fixed_body ? phase::done : phase::chunk_end);
  }

  step advance_chunk_size() {
    auto end = buffer_.find("\r\n");
    if (end == std::string::npos) {
      return buffer_.size() > chunk_size_line_size_max_bytes ? fail("chunk size line too long") : step::wait;
    }
    auto line = trim_spaces(std::string_view{buffer_.data(), std::min(end, buffer_.find(';'))});
    std::size_t size = 0;
    auto parsed = std::from_chars(line.data(), line.data() + line.size(), size, 16);
    if (line.empty() || parsed.ec != std::errc{} || parsed.ptr != line.data() + line.size()) {
      return fail("bad chunk size");
    }
    buffer_.erase(0, end + 2);
    if (size > body_size_max_bytes_ - response_.body.size()) return fail("response body too large");
    remaining_ = size;
    return move_to(size == 0 ? phase::trailers : phase::chunk_data);
  }

  step advance_chunk_end() {
    if (buffer_.size() < 2) return step::wait;
    if (buffer_.compare(0, 2, "\r\n") != 0) return fail("chunk not followed by CRLF");
    buffer_.erase(0, 2);
    return move_to(phase::chunk_size);
  }

  // Trailer fields are read (within the head's limit) and ignored.
  step advance_trailers() {
    auto end = buffer_.find("\r\n");
    if (end == std::string::npos) {
      return buffer_.size() > response_head_size_max_bytes ? fail("trailers too large") : step::wait;
    }
    trailer_size_bytes_ += end + 2;
    if (trailer_size_bytes_ > response_head_size_max_bytes) return fail("trailers too large");
    buffer_.erase(0, end + 2);
    return end == 0 ? move_to(phase::done) : step::next;
  }

  step advance_until_close() {
    if (response_.body.size() + buffer_.size() > body_size_max_bytes_) return fail("response body too large");
    response_.body += buffer_;
    buffer_.clear();
    return step::wait;
  }

  std::size_t body_size_max_bytes_;
  bool head_request_;
  phase phase_ = phase::head;
  std::string buffer_;
  std::size_t remaining_ = 0;
  std::size_t interim_responses_ = 0;
  std::size_t trailer_size_bytes_ = 0;
  outbound_response response_;
  std::string error_;
};

outbound_response receive_response(connection& open, response_parser& parser, deadline_type deadline) {
  std::array<char, receive_buffer_size_bytes> buffer{};
  while (true) {
    auto got = open.read_some(buffer.data(), buffer.size(), deadline);
    auto step = response_parser::progress::need_more;
    switch (got.status) {
      case read_result::kind::data: step = parser.consume({buffer.data(), got.size}); break;
      case read_result::kind::end_of_stream: step = parser.end_of_stream(); break;
      case read_result::kind::timed_out:
        return failed_response({http_outcome::timeout_after_send, "no complete response before the deadline"});
      case read_result::kind::failed: return failed_response({http_outcome::bad_response, got.detail});
    }
    if (step == response_parser::progress::failed) return failed_response({http_outcome::bad_response, parser.error()});
    if (step == response_parser::progress::complete) {
      auto response = parser.take();
      response.outcome = http_outcome::response;
      return response;
    }
  }
}

}  // namespace

// ---- public -----------------------------------------------------------------------------------

std::string_view to_string(http_outcome outcome) {
  switch (outcome) {
    case http_outcome::response: return "response";
    case http_outcome::invalid_request: return "invalid_request";
    case http_outcome::connect_failed: return "connect_failed";
    case http_outcome::timeout_before_send: return "timeout_before_send";
    case http_outcome::send_failed: return "send_failed";
    case http_outcome::timeout_after_send: return "timeout_after_send";
    case http_outcome::bad_response: return "bad_response";
  }
  return "unknown";
}

std::optional<http_endpoint> parse_http_endpoint(std::string_view url) {
  http_endpoint endpoint;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::nullopt;
  auto scheme = ascii_lower(url.substr(0, scheme_end));
  if (scheme != "http" && scheme != "https") return std::nullopt;
  endpoint.tls = scheme == "https";
  url.remove_prefix(scheme_end + 3);
  if (url.find_first_of("?#@") != std::string_view::npos) return std::nullopt;
  auto authority = url.substr(0, url.find('/'));
  auto path = url.substr(authority.size());
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    endpoint.host = std::string{authority.substr(1, close - 1)};
    auto rest = authority.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') return std::nullopt;
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    auto colon = authority.find(':');
    endpoint.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (endpoint.host.empty() || !std::all_of(endpoint.host.begin(), endpoint.host.end(), is_host_character)) {
    return std::nullopt;
  }
  endpoint.port = endpoint.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned port = 0;
    auto parsed = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (parsed.ec != std::errc{} || parsed.ptr != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      return std::nullopt;
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (!path.empty() && !is_safe_path(path)) return std::nullopt;
  endpoint.base_path = std::string{path};
  return endpoint;
}

http_client::http_client(http_endpoint endpoint, http_client_options options)
    : endpoint_(std::move(endpoint)), options_(std::move(options)) {
  if (!endpoint_.tls) return;
  tls_ = std::make_unique<tls_context>();
  tls_->context = SSL_CTX_new(TLS_client_method());
  if (tls_->context == nullptr) throw std::invalid_argument("cannot create a TLS context");
  SSL_CTX_set_min_proto_version(tls_->context, TLS1_2_VERSION);
  SSL_CTX_set_verify(tls_->context, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(tls_->context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Servers commonly close without close_notify; bodies are delimited by Content-Length or
  // chunking, so a missing close_notify only matters for close-delimited bodies (documented).
  SSL_CTX_set_options(tls_->context, SSL_OP_IGNORE_UNEXPECTED_EOF);
  ERR_clear_error();
  int loaded = options_.ca_file.empty()
                   ? SSL_CTX_set_default_verify_paths(tls_->context)
                   : SSL_CTX_load_verify_locations(tls_->context, options_.ca_file.c_str(), nullptr);
  if (loaded != 1) {
    std::string why = openssl_error_text(SSL_ERROR_SSL);
    throw std::invalid_argument(options_.ca_file.empty() ? "cannot load the system's trusted CAs: " + why
                                                         : "cannot load CA file " + options_.ca_file + ": " + why);
  }
}

http_client::~http_client() = default;

outbound_response http_client::send(const outbound_request& request) const {
  auto deadline = steady_clock::now() + options_.timeout_ms;
  auto composed = compose_request(request, endpoint_);
  if (!composed.problem.empty()) return failed_response({http_outcome::invalid_request, composed.problem});
  sigpipe_block no_sigpipe;
  auto connected = connect_tcp(endpoint_, deadline);
  if (auto* failure = std::get_if<step_failure>(&connected)) return failed_response(std::move(*failure));
  auto socket = std::get<socket_handle>(std::move(connected));
  ssl_handle ssl;
  if (tls_) {
    auto started = start_tls(tls_->context, socket.get(), endpoint_.host, deadline);
    if (auto* failure = std::get_if<step_failure>(&started)) return failed_response(std::move(*failure));
    ssl = std::get<ssl_handle>(std::move(started));
  }
  connection open{std::move(socket), std::move(ssl)};
  if (auto failure = open.write_all(composed.text, deadline)) return failed_response(std::move(*failure));
  response_parser parser{options_.response_body_size_max_bytes, request.method == "HEAD"};
  return receive_response(open, parser, deadline);
}

}  // namespace eventstripe::io::providers
