// tcp_proxy.hpp — a TCP relay on 127.0.0.1 between clients and one server,
// for the drivers' tests and benchmarks: it counts the round trips the
// clients make (their send bursts), can delay what they send (a slow
// network), and can hold back the server's answers (to show that a client
// does not wait for them). Not installed.
//
// A "burst" is what a client sends after it last received something (or
// since it connected): a client that sends, waits for the answer and sends
// again makes two; one that sends several statements before reading any
// answer makes one. So bursts count round trips exactly as long as no single
// send exceeds the proxy's read size (64 KiB) while the server answers its
// first part.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace evdb::test_support {

class TcpProxy {
 public:
  // Listens on 127.0.0.1 (an ephemeral port, port()) and relays each
  // accepted connection to target_host:target_port (IPv4 address). Every
  // chunk a client sends is passed on `delay` after it arrived (0: at once),
  // in order. Throws std::runtime_error when it cannot listen. Starts one
  // thread.
  TcpProxy(const std::string& target_host, int target_port,
           std::chrono::microseconds delay = std::chrono::microseconds(0));
  // Stops the thread and closes every connection.
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // The port clients connect to.
  int port() const { return port_; }
  // Client bursts so far, over every connection (thread-safe). What a
  // client sent without waiting for an answer may not be counted yet:
  // sync() first.
  uint64_t bursts() const { return bursts_.load(); }
  // Returns once the relay has read everything that reached its sockets
  // before the call (on loopback: everything the clients' completed sends
  // wrote), so that bursts() counts it (thread-safe).
  void sync();
  // While held, what the server sends is kept instead of passed on; release
  // passes it on (thread-safe).
  void hold_replies(bool hold);
  // Closes every relayed connection now (both ends), as a network failure
  // would; new connections are relayed as before (thread-safe).
  void cut();
  // Connections accepted so far (thread-safe).
  uint64_t accepted() const { return accepted_.load(); }

 private:
  void loop();
  void wake();

  std::string host_;
  int target_port_;
  std::chrono::microseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  int pipe_[2] = {-1, -1};
  std::atomic<uint64_t> bursts_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<bool> held_{false};
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable passed_;
  uint64_t requested_ = 0;  // sync() calls so far (under mu_)
  uint64_t done_ = 0;       // the requests answered by a completed pass (under mu_)
  std::thread thread_;
};

}  // namespace evdb::test_support
