#pragma once

// The keep-alive connections of one load generator (drop.cpp, purchase.cpp) and the epoll loop
// that drives them. Opening thousands of loopback connections a bounded number at a time,
// checking each with an unmeasured GET /healthz, writing without blocking and reading what
// arrives is the same for every generator, and stays in one place so that their figures are
// taken the same way; what a generator sends and how it reads the answers is its own, behind
// connection_pool::handler. One thread, plain sockets: the generator shares the node's two cores.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "bench/ticket-drop/generator_clock.hpp"

namespace eventstripe::bench {

struct http_reply;

enum class link_state {
  connecting,
  idle,       // open and checked, nothing awaited
  busy,       // a request written (or being written), its answer awaited
  waiting,    // between two requests of one purchase (until its next tickets poll)
  websocket,  // upgraded: the node pushes frames
  closed
};

enum class receive_status { open, peer_closed, failed };

class connection_pool {
 public:
  // How long to wait for events when nothing else is due: while setting up, and whenever a
  // generator has nothing to send.
  static constexpr int idle_wait_ms = 50;

  // What a generator does with its connections once they are checked.
  class handler {
   public:
    // Bytes, or the node's close, arrived on connection `index`: read them with receive().
    virtual void on_readable(std::size_t index) = 0;
    // A whole answer to the request on `index`, read by read_replies(); the link is still busy.
    virtual void on_reply(std::size_t index, const http_reply& reply) = 0;
    // Connection `index`, open and checked, failed for `why`; it is shut once this returns.
    virtual void on_lost(std::size_t index, const std::string& why) = 0;

   protected:
    ~handler() = default;
  };

  // `generator` must outlive the pool; nothing is opened before open_and_check().
  connection_pool(std::uint16_t port, std::size_t connections, handler& generator);
  ~connection_pool();
  connection_pool(const connection_pool&) = delete;
  connection_pool& operator=(const connection_pool&) = delete;

  // Opens the connections and checks each with GET /healthz (the checked ones are idle), then
  // asks `start_at` when to fire (none: at once) and handles events until then; returns that
  // instant. A spread drop's child reports ready in `start_at`. Throws when a connection cannot
  // be opened or checked, or when not every connection stayed open.
  std::int64_t open_and_wait_for_start(const std::function<std::int64_t()>& start_at);
  // Waits at most `timeout_ms` for events and handles those that came.
  void wait_for_events(int timeout_ms);

  link_state state(std::size_t index) const { return links_[index].state; }
  void set_state(std::size_t index, link_state state) { links_[index].state = state; }
  std::size_t open() const { return open_; }

  // The idle connections free for a generator's next request, the most recently freed on top.
  // One may have closed (or been put to other use) since it was freed: check its state.
  bool has_idle() const { return !idle_.empty(); }
  std::size_t take_idle();
  // Makes `index` idle and puts it on top of the free ones.
  void release(std::size_t index);

  // Writes a request on `index`, which is busy from now until its answer.
  void send(std::size_t index, std::string request);
  // Writes `bytes` (a WebSocket frame) after whatever `index` is still writing; its state stays.
  void write(std::size_t index, const std::string& bytes);
  // Reads everything that has arrived on `index` into its input. failed: it was closed with the
  // error.
  receive_status receive(std::size_t index);
  // Hands every whole answer at the head of the input to on_reply() while `index` is busy; a
  // malformed answer closes it.
  void read_replies(std::size_t index);
  // What arrived on `index` and has not been read as an answer: an upgraded connection's frames.
  std::string& input(std::size_t index) { return links_[index].in; }

  // A failure while opening or checking fails the set-up; one of a checked connection goes to
  // on_lost(). Either way the connection is shut.
  void close_with_error(std::size_t index, const std::string& why);
  // Closes `index` (again: nothing happens).
  void shut(std::size_t index);

 private:
  static constexpr std::size_t read_chunk_bytes = 16 * 1024;

  struct link {
    int fd = -1;
    link_state state = link_state::connecting;
    std::string out;
    std::size_t written = 0;
    bool watching_writes = false;
    std::string in;
    bool checking = false;  // its GET /healthz is awaited
  };

  void open_connections();
  void begin_connect(std::size_t index);
  void check_connections();
  void check_setup(std::int64_t deadline_ns, const char* step) const;
  void on_event(std::size_t index, std::uint32_t events);
  void on_connected(std::size_t index);
  void on_check_reply(std::size_t index, const http_reply& reply);
  void flush(std::size_t index);
  void watch_writes(std::size_t index, bool on);

  std::uint16_t port_;
  handler& generator_;
  int epoll_fd_ = -1;
  std::vector<link> links_;
  std::vector<std::size_t> idle_;
  std::size_t connecting_ = 0;
  std::size_t open_ = 0;
  std::size_t checking_ = 0;
  std::string setup_failure_;
  char chunk_[read_chunk_bytes];
};

}  // namespace eventstripe::bench
