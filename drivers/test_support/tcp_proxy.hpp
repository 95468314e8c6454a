// tcp_proxy.hpp — a TCP relay on 127.0.0.1 between clients and one server,
// for the drivers' tests and benchmarks. Not installed. Its modes, each
// switched on by a call (they combine):
//
//  - relay: every accepted connection is relayed, both ways, to the target;
//    what a client sends is passed on `delay` after it arrived (constructor;
//    0: at once), in order — a slow network for the benchmarks;
//  - counting: bursts() counts the clients' round trips (sync() first);
//  - holding: hold_replies(true) keeps what the server sends until
//    hold_replies(false) (to show that a client does not wait for it);
//  - cutting every connection: cut() closes every relayed connection now,
//    as a network failure would;
//  - cutting one request (arm()): the next chunk a client sends (containing
//    a given text, if one is given) is cut, either before it is passed on
//    (Cut::BeforeSending: the server never sees it; unsent() returns it) or
//    once the server answered it (Cut::AfterReply: the server applied it, the
//    answer is lost) — the tests of commits in doubt (docs/contract.md OP-15);
//  - refusing: refuse_new(true) closes every new connection at once (a server
//    that is gone).
//
// A "chunk" is what one read of a client's socket returns (at most 64 KiB):
// on loopback, what a client wrote with one send that the relay had not read
// yet. A "burst" is what a client sends after it last received something (or
// since it connected): a client that sends, waits for the answer and sends
// again makes two; one that sends several statements before reading any
// answer makes one. So bursts count round trips exactly as long as no single
// send exceeds the proxy's read size while the server answers its first part.
//
// Threads: the proxy runs one thread of its own (started by the constructor,
// joined by the destructor), which owns every socket; all the public
// functions may be called from any thread, concurrently. The proxy owns its
// listening socket and every relayed connection; the destructor closes them.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace evdb::test_support {

class TcpProxy {
 public:
  // How arm() cuts a request.
  enum class Cut {
    // The chunk is not passed on: the connection is closed (both ends)
    // instead, and the chunk kept for unsent(). (With a delay, what the
    // client sent before it and is still delayed is dropped too.)
    BeforeSending,
    // The chunk is passed on; the first bytes the server sends after they
    // reached it are dropped and the connection is closed (both ends).
    AfterReply,
  };

  // Listens on 127.0.0.1 (an ephemeral port, port()) and relays each
  // accepted connection to target_host:target_port (an IPv4 address). Every
  // chunk a client sends is passed on `delay` after it arrived (0: at once),
  // in order. Throws std::runtime_error when it cannot listen. Starts the
  // proxy's thread.
  TcpProxy(const std::string& target_host, int target_port,
           std::chrono::microseconds delay = std::chrono::microseconds(0));
  // Stops the thread and closes every connection and the listening socket.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // The port clients connect to.
  int port() const { return port_; }

  // Client bursts so far, over every connection. What a client sent without
  // waiting for an answer may not be counted yet: sync() first.
  uint64_t bursts() const { return bursts_.load(); }
  // Returns once the relay has read everything that reached its sockets
  // before the call (on loopback: everything the clients' completed sends
  // wrote), so that bursts() counts it and an armed cut has seen it.
  void sync();

  // While held, what the server sends is kept instead of passed on; release
  // passes it on.
  void hold_replies(bool hold);
  // Closes every relayed connection now (both ends), as a network failure
  // would; returns once they are closed. New connections are relayed as
  // before.
  void cut();

  // The next chunk a client sends (on any connection) after this call, among
  // those that contain `trigger` (every chunk when it is empty), is cut as
  // `how`; cuts() counts it. Once: later chunks are relayed as before. A
  // second call before the cut replaces the first. The text is matched in
  // one chunk, as the bytes are (e.g. "COMMIT", case-sensitive).
  void arm(Cut how, const std::string& trigger = "");
  // The cuts arm() asked for that were made (a Cut::AfterReply cut counts
  // when the server's answer came), so far. Counted before the connection is
  // closed: a client that saw its connection cut sees it counted.
  uint64_t cuts() const { return cuts_.load(); }
  // The chunk the last Cut::BeforeSending kept (what the server never saw),
  // so a test can send it late; "" before any such cut.
  std::string unsent() const;

  // While on, every new connection is closed as soon as it is accepted (the
  // server looks unreachable); the connections already relayed go on.
  void refuse_new(bool on) { refuse_ = on; }
  // Connections relayed so far (the refused ones not counted).
  uint64_t accepted() const { return accepted_.load(); }

 private:
  struct Arming {
    Cut how;
    std::string trigger;
  };

  void loop();
  void wake();
  // How to cut the chunk bytes[0, n) a client sent, if it is the armed
  // cut's (the arming is then used up; a BeforeSending chunk is kept for
  // unsent()); nullopt: relay it. The loop's thread only.
  std::optional<Cut> take_cut(const char* bytes, size_t n);

  std::string host_;
  int target_port_;
  std::chrono::microseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  int pipe_[2] = {-1, -1};
  std::atomic<uint64_t> bursts_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> cuts_{0};
  std::atomic<bool> held_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> refuse_{false};
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable passed_;
  uint64_t requested_ = 0;       // sync() calls so far (under mu_)
  uint64_t done_ = 0;            // the requests answered by a completed pass (under mu_)
  std::optional<Arming> armed_;  // the cut arm() asked for, not made yet (under mu_)
  std::string unsent_;           // what the last BeforeSending cut kept (under mu_)
  std::thread thread_;
};

}  // namespace evdb::test_support
