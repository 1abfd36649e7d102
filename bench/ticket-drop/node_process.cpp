#include "bench/ticket-drop/node_process.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace eventstripe::bench {
namespace {

constexpr std::chrono::milliseconds poll_interval_ms{20};
constexpr std::size_t log_tail_lines = 15;

std::string read_file(const std::string& path) {
  std::ifstream file{path};
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The port in "... serving on http://127.0.0.1:PORT  (health ...", or 0 while it is not there.
std::uint16_t served_port(const std::string& log, const std::string& marker) {
  auto at = log.find(marker);
  if (at == std::string::npos) return 0;
  auto line_end = log.find('\n', at);
  if (line_end == std::string::npos) return 0;  // the line is still being written
  auto colon = log.find(':', at + marker.size());
  if (colon == std::string::npos || colon > line_end) return 0;
  std::uint16_t port = 0;
  std::from_chars(log.data() + colon + 1, log.data() + line_end, port);
  return port;
}

// Waits up to `timeout` for the child to exit; its wait status, or nullopt.
std::optional<int> wait_for_exit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    auto done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return 0;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(poll_interval_ms);
  }
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

node_process::node_process(std::string binary, std::vector<std::string> flags, std::string log_path,
                           std::string port_marker)
    : binary_(std::move(binary)),
      flags_(std::move(flags)),
      log_path_(std::move(log_path)),
      port_marker_(std::move(port_marker)) {}

node_process::~node_process() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

std::uint16_t node_process::start(std::chrono::seconds timeout) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> arguments;
  arguments.push_back(binary_.data());
  for (auto& flag : flags_) arguments.push_back(flag.data());
  arguments.push_back(nullptr);
  // posix_spawnp: the sandbox's interpreter is found on PATH ("node"); the node binary is a path.
  auto failed = ::posix_spawnp(&pid_, binary_.c_str(), &actions, nullptr, arguments.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    pid_ = -1;
    throw std::runtime_error("cannot start " + binary_ + ": " + std::strerror(failed));
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (auto port = served_port(read_file(log_path_), port_marker_)) return port;
    if (auto status = wait_for_exit(pid_, poll_interval_ms)) {
      pid_ = -1;
      throw std::runtime_error(binary_ + " exited with code " + std::to_string(exit_code(*status)) +
                               " before serving; last lines of " + log_path_ + ":\n" + log_tail());
    }
    if (std::chrono::steady_clock::now() >= deadline)
      throw std::runtime_error(binary_ + " did not print its port within " + std::to_string(timeout.count()) +
                               " s; last lines of " + log_path_ + ":\n" + log_tail());
  }
}

int node_process::stop(std::chrono::seconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto status = wait_for_exit(pid_, timeout);
  if (!status) {
    ::kill(pid_, SIGKILL);
    int killed = 0;
    ::waitpid(pid_, &killed, 0);
    status = killed;
  }
  pid_ = -1;
  return exit_code(*status);
}

std::string node_process::log_tail() const {
  auto log = read_file(log_path_);
  std::size_t begin = log.size();
  for (std::size_t lines = 0; begin > 0 && lines <= log_tail_lines;)
    if (log[--begin] == '\n') ++lines;
  return log.substr(begin);
}

std::uint16_t pick_free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string{"socket: "} + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
    auto reason = std::string{std::strerror(errno)};
    ::close(fd);
    throw std::runtime_error("cannot find a free port: " + reason);
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

}  // namespace eventstripe::bench
