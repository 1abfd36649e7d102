#include "bench/ticket-drop/node_metrics.hpp"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

#include "bench/ticket-drop/setup_client.hpp"

namespace eventstripe::bench {
namespace {

constexpr std::chrono::milliseconds scrape_timeout_ms{10'000};
constexpr std::chrono::milliseconds sample_timeout_ms{5'000};
constexpr std::string_view duration_family = "eventstripe_http_request_duration_seconds";
constexpr double percentile_99 = 0.99;
constexpr double slow_bound_s = 0.1;

// The value of label `name` in a Prometheus series line, or empty.
std::string label(std::string_view line, std::string_view name) {
  auto key = std::string{name} + "=\"";
  auto at = line.find(key);
  if (at == std::string_view::npos) return {};
  auto begin = at + key.size();
  auto end = line.find('"', begin);
  return std::string{line.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin)};
}

double sample_value(std::string_view line) {
  auto space = line.rfind(' ');
  if (space == std::string_view::npos) return 0;
  try {
    return std::stod(std::string{line.substr(space + 1)});
  } catch (const std::exception&) {
    return 0;
  }
}

struct histogram {
  double count = 0;
  double sum_s = 0;
  std::map<double, double> cumulative;  // bucket bound (s) → answers at most that long
};

// The value of the JSON string field `name` in one log line (the node's lines are flat JSON).
std::string json_field(const std::string& line, const std::string& name) {
  auto key = "\"" + name + "\":\"";
  auto at = line.find(key);
  if (at == std::string::npos) return {};
  auto begin = at + key.size();
  auto end = line.find('"', begin);
  return line.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// The value of an unlabelled gauge in a scrape, or -1.
double gauge(const std::string& scrape, const std::string& name) {
  auto at = scrape.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  auto end = scrape.find('\n', at + 1);
  return sample_value(std::string_view{scrape}.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1));
}

// Established TCP connections to 127.0.0.1:`port` (IPv4): every socket whose remote end is that
// port, which on loopback is the client side only. Asked of the kernel's socket diagnostics
// (netlink sock_diag, as ss does) with the port as a filter the kernel runs itself, so the answer
// holds just those few sockets. Reading /proc/net/tcp instead has the kernel format, and the
// bench parse, a line for every socket of the machine: during a drop the buyers' ~10,000
// connections on both ends, about 55 ms of CPU per sample against 5 ms here (the kernel still
// walks its table of connections), a third of a core taken from the node the bench measures, and
// the sampler fell behind its interval. -1 when the kernel does not answer.
double connections_by_sock_diag(std::uint16_t port) {
  int diag = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (diag < 0) return -1;
  timeval answer_timeout{.tv_sec = 1, .tv_usec = 0};
  ::setsockopt(diag, SOL_SOCKET, SO_RCVTIMEO, &answer_timeout, sizeof answer_timeout);
  // dport >= port, then dport <= port; a failed test jumps 4 bytes past the end: not this socket.
  struct request {
    nlmsghdr header;
    inet_diag_req_v2 diag;
    nlattr filter;
    inet_diag_bc_op bytecode[4];
  } message{};
  static_assert(sizeof(request) == NLMSG_LENGTH(sizeof(inet_diag_req_v2)) + NLA_HDRLEN + sizeof message.bytecode,
                "the filter must follow the request without padding");
  constexpr auto bytecode_bytes = static_cast<unsigned short>(sizeof message.bytecode);
  constexpr unsigned short op_bytes = 2 * sizeof(inet_diag_bc_op);  // a port test and its port
  message.bytecode[0] = {INET_DIAG_BC_D_GE, op_bytes, bytecode_bytes + 4};
  message.bytecode[1] = {0, 0, port};
  message.bytecode[2] = {INET_DIAG_BC_D_LE, op_bytes, op_bytes + 4};
  message.bytecode[3] = {0, 0, port};
  message.filter.nla_type = INET_DIAG_REQ_BYTECODE;
  message.filter.nla_len = static_cast<unsigned short>(sizeof message.filter + bytecode_bytes);
  message.diag.sdiag_family = AF_INET;
  message.diag.sdiag_protocol = IPPROTO_TCP;
  message.diag.idiag_states = 1u << TCP_ESTABLISHED;
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  double established = -1;
  if (::sendto(diag, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof message)) {
    alignas(nlmsghdr) char answer[16 * 1024];
    double counted = 0;
    for (bool done = false; !done;) {
      auto received = ::recv(diag, answer, sizeof answer, 0);
      if (received <= 0) break;
      auto left = static_cast<int>(received);
      for (auto* part = reinterpret_cast<nlmsghdr*>(answer); NLMSG_OK(part, left); part = NLMSG_NEXT(part, left)) {
        if (part->nlmsg_type == NLMSG_ERROR) done = true;
        if (part->nlmsg_type == NLMSG_DONE) {
          established = counted;
          done = true;
        }
        if (done) break;
        if (part->nlmsg_type == SOCK_DIAG_BY_FAMILY) counted += 1;
      }
    }
  }
  ::close(diag);
  return established;
}

// The same from /proc/net/tcp, where the kernel offers no sock_diag (its cost: see above).
double connections_by_proc_net_tcp(std::uint16_t port) {
  std::ifstream table{"/proc/net/tcp"};
  std::string line;
  std::getline(table, line);  // the header
  double established = 0;
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, ":%04X", port);
  while (std::getline(table, line)) {
    // "  sl  local_address rem_address   st ..." : "0: 0100007F:A1B2 0100007F:1F90 01 ..."
    std::istringstream fields{line};
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    if (state == "01" && remote.size() > 5 && remote.ends_with(wanted)) established += 1;
  }
  return established;
}

double connections_to(std::uint16_t port) {
  auto established = connections_by_sock_diag(port);
  return established >= 0 ? established : connections_by_proc_net_tcp(port);
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

load_sampler::load_sampler(std::uint16_t node_port, std::uint16_t sandbox_port, std::chrono::milliseconds interval)
    : node_port_(node_port), sandbox_port_(sandbox_port), interval_(interval) {}

load_sampler::~load_sampler() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void load_sampler::start() {
  stopping_ = false;
  thread_ = std::thread{[this] { sample_until_stopped(); }};
}

load_samples load_sampler::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  return std::move(samples_);
}

void load_sampler::sample_until_stopped() {
  setup_client node{node_port_, sample_timeout_ms};
  setup_client sandbox{sandbox_port_, sample_timeout_ms};
  while (!stopping_) {
    std::this_thread::sleep_for(interval_);
    try {
      auto sent = steady_ns();
      auto scrape = node.call("GET", "/metrics", "");
      samples_.metrics_answer_ns.push_back(steady_ns() - sent);
      samples_.pool_queue_depth.push_back(gauge(scrape.body, "eventstripe_database_pool_queue_depth"));
      samples_.pool_connections_busy.push_back(gauge(scrape.body, "eventstripe_database_pool_connections_busy"));
      sent = steady_ns();
      sandbox.call("GET", "/_sandbox/health", "");
      samples_.sandbox_answer_ns.push_back(steady_ns() - sent);
      // Less this sampler's own keep-alive connection to the sandbox.
      samples_.provider_calls_in_flight.push_back(std::max(0.0, connections_to(sandbox_port_) - 1));
    } catch (const std::exception&) {
      ++samples_.failures;
    }
  }
}

std::vector<route_timing> scrape_route_timings(std::uint16_t port) {
  setup_client client{port, scrape_timeout_ms};
  auto reply = client.call("GET", "/metrics", "");
  if (reply.status != 200) throw std::runtime_error("GET /metrics answered " + std::to_string(reply.status));
  std::map<std::string, histogram> routes;
  std::string_view text = reply.body;
  for (std::size_t begin = 0; begin < text.size();) {
    auto end = text.find('\n', begin);
    auto line = text.substr(begin, end == std::string_view::npos ? std::string_view::npos : end - begin);
    begin = end == std::string_view::npos ? text.size() : end + 1;
    if (!line.starts_with(duration_family)) continue;
    auto key = label(line, "method") + " " + label(line, "route");
    auto& series = routes[key];
    auto suffix = line.substr(duration_family.size());
    if (suffix.starts_with("_bucket")) {
      auto bound = label(line, "le");
      double bound_s = bound == "+Inf" ? 1e300 : std::stod(bound);
      series.cumulative[bound_s] += sample_value(line);
    } else if (suffix.starts_with("_sum")) {
      series.sum_s += sample_value(line);
    } else if (suffix.starts_with("_count")) {
      series.count += sample_value(line);
    }
  }
  std::vector<route_timing> timings;
  for (const auto& [route, series] : routes) {
    if (series.count <= 0) continue;
    route_timing timing;
    timing.route = route;
    timing.count = static_cast<std::int64_t>(series.count);
    timing.mean_ms = series.sum_s * 1e3 / series.count;
    for (const auto& [bound_s, answered] : series.cumulative)
      if (answered >= percentile_99 * series.count) {
        timing.p99_at_most_ms = bound_s * 1e3;
        break;
      }
    if (auto fast = series.cumulative.find(slow_bound_s); fast != series.cumulative.end())
      timing.over_100ms_share = 1.0 - fast->second / series.count;
    timings.push_back(timing);
  }
  std::sort(timings.begin(), timings.end(), [](const auto& a, const auto& b) { return a.count > b.count; });
  return timings;
}

std::map<std::string, std::int64_t> log_warnings_and_errors(const std::string& log_path) {
  std::map<std::string, std::int64_t> counts;
  std::ifstream log{log_path};
  for (std::string line; std::getline(log, line);) {
    auto level = json_field(line, "log.level");
    if (level != "warning" && level != "error" && level != "critical") continue;
    counts[level + ": " + json_field(line, "message")] += 1;
  }
  return counts;
}

}  // namespace eventstripe::bench
