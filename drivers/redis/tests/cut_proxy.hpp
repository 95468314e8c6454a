// cut_proxy.hpp — a loopback TCP proxy for the redis driver's in-doubt
// tests: it forwards every connection to a server, and, once armed, cuts the
// connection that sends the next request, either before forwarding it
// (Cut::BeforeSending: the server never sees it) or after the server
// answered it (Cut::AfterReply: applied, the answer is lost). It can also
// refuse every new connection (refuse_new). Header-only, tests only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace evdb::redis::test {

class CutProxy {
 public:
  enum class Cut { None, BeforeSending, AfterReply };

  // Listens on an ephemeral loopback port, forwarding to 127.0.0.1:target.
  explicit CutProxy(int target) : target_(target) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
        ::listen(listen_fd_, 64) != 0)
      throw std::runtime_error("proxy: bind/listen failed");
    socklen_t len = sizeof(a);
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~CutProxy() {
    stop_ = true;
    accept_thread_.join();
    std::vector<std::thread> ts;
    {
      std::lock_guard l(mu_);
      ts.swap(threads_);
    }
    for (auto& t : ts) t.join();
    ::close(listen_fd_);
  }
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  int port() const { return port_; }
  // The next request (the first bytes a client sends after this call) is cut
  // as `how`; later connections are forwarded normally.
  void arm(Cut how) { armed_ = how; }
  // The bytes of the request cut with Cut::BeforeSending.
  std::string held() {
    std::lock_guard l(mu_);
    return held_;
  }
  // Whether the armed cut happened.
  bool cut_done() const { return cut_done_; }
  // New connections are closed at once (the server looks unreachable).
  void refuse_new(bool on) { refuse_ = on; }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      if (refuse_) {
        ::close(c);
        continue;
      }
      int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(target_));
      if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(c);
        ::close(s);
        continue;
      }
      std::lock_guard l(mu_);
      threads_.emplace_back([this, c, s] { pump(c, s); });
    }
  }

  // Forwards both ways until either side closes, the proxy stops, or a cut.
  void pump(int client, int server) {
    char buf[65536];
    bool cutting_after_reply = false;
    while (!stop_) {
      pollfd p[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (p[0].revents != 0) {
        ssize_t n = ::recv(client, buf, sizeof(buf), 0);
        if (n <= 0) break;
        Cut how = armed_.exchange(Cut::None);
        if (how == Cut::BeforeSending) {
          std::lock_guard l(mu_);
          held_.assign(buf, static_cast<size_t>(n));
          cut_done_ = true;
          break;
        }
        if (how == Cut::AfterReply) cutting_after_reply = true;
        if (!send_all(server, buf, static_cast<size_t>(n))) break;
      }
      if (p[1].revents != 0) {
        ssize_t n = ::recv(server, buf, sizeof(buf), 0);
        if (n <= 0) break;
        if (cutting_after_reply) {
          cut_done_ = true;
          break;  // the answer is dropped with the connection
        }
        if (!send_all(client, buf, static_cast<size_t>(n))) break;
      }
    }
    ::close(client);
    ::close(server);
  }

  static bool send_all(int fd, const char* p, size_t n) {
    while (n > 0) {
      ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return true;
  }

  int target_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> refuse_{false};
  std::atomic<Cut> armed_{Cut::None};
  std::atomic<bool> cut_done_{false};
  std::mutex mu_;
  std::string held_;
  std::vector<std::thread> threads_;
  std::thread accept_thread_;
};

}  // namespace evdb::redis::test
