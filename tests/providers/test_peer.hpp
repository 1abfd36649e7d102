#pragma once

// A scripted HTTP peer on 127.0.0.1 for the provider tests, plain or TLS: it accepts one
// connection at a time, reads one request (head + Content-Length body), records it, and does
// what the script says (answer with raw bytes, answer after reading nothing, never answer).
// Plus the certificates the TLS peer serves, made at test time with OpenSSL's APIs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace eventstripe::test {

// ---- certificates -------------------------------------------------------------------------------

struct key_deleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct certificate_deleter {
  void operator()(X509* certificate) const { X509_free(certificate); }
};
using key_pointer = std::unique_ptr<EVP_PKEY, key_deleter>;
using certificate_pointer = std::unique_ptr<X509, certificate_deleter>;

inline void require(bool condition, const char* what) {
  if (!condition) throw std::runtime_error(std::string{"test certificate setup failed: "} + what);
}

inline void add_extension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  require(extension != nullptr, "extension");
  X509_add_ext(certificate, extension, -1);
  X509_EXTENSION_free(extension);
}

// A certificate for `key` named `common_name`, signed by `issuer` (self-signed when null).
inline certificate_pointer make_certificate(EVP_PKEY* key, const char* common_name, X509* issuer,
                                            EVP_PKEY* issuer_key, const char* subject_alt_name, long serial) {
  certificate_pointer certificate{X509_new()};
  X509_set_version(certificate.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24 * 3600);
  X509_set_pubkey(certificate.get(), key);
  X509_NAME* name = X509_get_subject_name(certificate.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509* signer = issuer != nullptr ? issuer : certificate.get();
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(signer));
  if (subject_alt_name == nullptr) {
    add_extension(certificate.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(certificate.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(certificate.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(certificate.get(), signer, NID_subject_alt_name, subject_alt_name);
    add_extension(certificate.get(), signer, NID_ext_key_usage, "serverAuth");
  }
  add_extension(certificate.get(), signer, NID_subject_key_identifier, "hash");
  require(X509_sign(certificate.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0, "sign");
  return certificate;
}

inline std::string write_pem(const std::filesystem::path& path, X509* certificate) {
  FILE* file = std::fopen(path.c_str(), "w");
  require(file != nullptr, "open PEM file");
  PEM_write_X509(file, certificate);
  std::fclose(file);
  return path.string();
}

// A test CA and a server certificate it issued for `subject_alt_name` (e.g. "DNS:localhost").
struct test_pki {
  key_pointer ca_key{EVP_EC_gen("P-256")};
  certificate_pointer ca;
  key_pointer server_key{EVP_EC_gen("P-256")};
  certificate_pointer server;
  std::string ca_file;

  test_pki(const char* ca_name, const char* subject_alt_name, const std::filesystem::path& directory) {
    require(ca_key && server_key, "key generation");
    ca = make_certificate(ca_key.get(), ca_name, nullptr, nullptr, nullptr, 1);
    server = make_certificate(server_key.get(), "test server", ca.get(), ca_key.get(), subject_alt_name, 2);
    ca_file = write_pem(directory / (std::string{ca_name} + ".pem"), ca.get());
  }

  // A server-side TLS context serving this PKI's server certificate.
  SSL_CTX* server_context() const {
    SSL_CTX* context = SSL_CTX_new(TLS_server_method());
    require(context != nullptr, "server context");
    require(SSL_CTX_use_certificate(context, server.get()) == 1, "use certificate");
    require(SSL_CTX_use_PrivateKey(context, server_key.get()) == 1, "use key");
    return context;
  }
};

// ---- the peer ---------------------------------------------------------------------------------

struct recorded_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string raw;  // everything received, to look for leaked secrets
};

struct scripted_reply {
  std::string raw;            // bytes written back verbatim (a whole HTTP response)
  bool never_answer = false;  // read the request, then hold the connection open and say nothing
};

inline std::string http_answer(int status, std::string body, std::string extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

// Chunked the way a real server streams a JSON body: several chunks, an extension and a trailer.
inline std::string chunked_answer(int status, const std::string& body) {
  std::string raw = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
                    "Transfer-Encoding: chunked\r\n\r\n";
  for (std::size_t offset = 0; offset < body.size(); offset += 7) {
    auto piece = body.substr(offset, 7);
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    raw += std::string{size} + (offset == 0 ? ";note=first" : "") + "\r\n" + piece + "\r\n";
  }
  return raw + "0\r\nX-Trailer: yes\r\n\r\n";
}

class test_peer {
 public:
  using script = std::function<scripted_reply(const recorded_request&)>;

  // `tls_context` (owned by the peer when given) turns it into an HTTPS peer.
  explicit test_peer(script answer, SSL_CTX* tls_context = nullptr)
      : answer_(std::move(answer)), tls_context_(tls_context) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listener_, 16) != 0 || getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("test peer: cannot listen");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~test_peer() {
    stopping_ = true;
    thread_.join();
    ::close(listener_);
    SSL_CTX_free(tls_context_);
  }

  std::uint16_t port() const { return port_; }
  std::string url(const char* host = "127.0.0.1") const {
    return std::string{tls_context_ != nullptr ? "https://" : "http://"} + host + ":" + std::to_string(port_);
  }

  std::vector<recorded_request> requests() const {
    std::lock_guard lock{mutex_};
    return requests_;
  }

 private:
  bool wait_readable(int fd) const {
    while (!stopping_) {
      pollfd watched{fd, POLLIN, 0};
      if (::poll(&watched, 1, 20) > 0) return true;
    }
    return false;
  }

  void serve() {
    while (wait_readable(listener_)) {
      int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      timeval limit{5, 0};
      setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
      setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
      SSL* ssl = nullptr;
      if (tls_context_ != nullptr) {
        ssl = SSL_new(tls_context_);
        SSL_set_fd(ssl, client);
        if (SSL_accept(ssl) != 1) {  // the client refused our certificate
          ERR_clear_error();
          SSL_free(ssl);
          ::close(client);
          continue;
        }
      }
      handle(client, ssl);
      if (ssl != nullptr) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      ::close(client);
    }
  }

  long receive(int client, SSL* ssl, char* buffer, int size) {
    bool buffered = ssl != nullptr && SSL_pending(ssl) > 0;
    if (!buffered && !wait_readable(client)) return -1;
    return ssl != nullptr ? SSL_read(ssl, buffer, size) : ::recv(client, buffer, size, 0);
  }

  void handle(int client, SSL* ssl) {
    recorded_request request;
    char buffer[4096];
    std::size_t head_end = std::string::npos;
    std::size_t body_size = 0;
    while (head_end == std::string::npos || request.raw.size() < head_end + 4 + body_size) {
      long got = receive(client, ssl, buffer, sizeof buffer);
      if (got <= 0) return;
      request.raw.append(buffer, static_cast<std::size_t>(got));
      if (head_end == std::string::npos && (head_end = request.raw.find("\r\n\r\n")) != std::string::npos) {
        parse_head(request, request.raw.substr(0, head_end));
        auto length = request.headers.find("content-length");
        body_size = length == request.headers.end() ? 0 : std::stoul(length->second);
      }
    }
    request.body = request.raw.substr(head_end + 4);
    auto reply = answer_(request);
    {
      std::lock_guard lock{mutex_};
      requests_.push_back(request);
    }
    if (reply.never_answer) {
      while (receive(client, ssl, buffer, sizeof buffer) > 0) {
      }
      return;
    }
    if (ssl != nullptr) {
      SSL_write(ssl, reply.raw.data(), static_cast<int>(reply.raw.size()));
    } else {
      ::send(client, reply.raw.data(), reply.raw.size(), MSG_NOSIGNAL);
    }
  }

  static void parse_head(recorded_request& request, const std::string& head) {
    auto line_end = head.find("\r\n");
    auto request_line = head.substr(0, line_end);
    auto first_space = request_line.find(' ');
    request.method = request_line.substr(0, first_space);
    request.target = request_line.substr(first_space + 1, request_line.rfind(' ') - first_space - 1);
    while (line_end != std::string::npos) {
      auto start = line_end + 2;
      line_end = head.find("\r\n", start);
      auto line = head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      request.headers[name] = value;
    }
  }

  script answer_;
  SSL_CTX* tls_context_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<recorded_request> requests_;
};

// A port on 127.0.0.1 where nothing listens: connecting to it is refused.
inline std::uint16_t refused_port() {
  int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(probe, reinterpret_cast<sockaddr*>(&address), sizeof address);
  getsockname(probe, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(probe);
  return ntohs(address.sin_port);
}

// A listening socket that never accepts: TCP connects (the kernel completes the handshake), but
// no TLS handshake or HTTP answer ever comes.
class silent_listener {
 public:
  silent_listener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(fd_, 16);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
  }
  ~silent_listener() { ::close(fd_); }
  std::uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A fresh directory under the system's temporary directory, removed at the end of the test.
class temporary_directory {
 public:
  temporary_directory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "providers_test_XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~temporary_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace eventstripe::test
