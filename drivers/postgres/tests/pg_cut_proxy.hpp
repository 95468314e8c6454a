// pg_cut_proxy.hpp — a TCP proxy in front of the test server that cuts a
// connection at the worst moment: when a client sends COMMIT, either after
// the server has executed it (its reply is swallowed) or before the server
// saw it. For the tests of commits lost in flight (docs/contract.md OP-15).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace evdb::postgres::test {

class CutProxy {
 public:
  enum class Cut {
    None,             // forward everything
    AfterTheServer,   // forward COMMIT, wait for the server's reply, drop it and cut
    BeforeTheServer,  // cut instead of forwarding COMMIT
  };

  // Listens on 127.0.0.1 (a free port, see port()) and forwards each
  // connection to 127.0.0.1:target_port. Throws std::runtime_error.
  explicit CutProxy(int target_port) : target_(target_port) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (listen_ < 0 || ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_, 64) != 0 ||
        ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0 || ::pipe(wake_) != 0)
      throw std::runtime_error(std::string("proxy: ") + std::strerror(errno));
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~CutProxy() {
    stop_ = true;
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& p : pairs_) close_pair(p);
    ::close(listen_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }
  CutProxy(const CutProxy&) = delete;
  CutProxy& operator=(const CutProxy&) = delete;

  int port() const { return port_; }
  // The next chunk a client sends that contains "COMMIT" is cut as `c`
  // (once; then the proxy forwards again).
  void arm(Cut c) { armed_ = static_cast<int>(c); }
  // While true, new connections are closed at once (a server that is gone).
  void refuse(bool on) { refuse_ = on; }
  // How many cuts were made.
  int cuts() const { return cuts_; }

 private:
  struct Pair {
    int client = -1;
    int server = -1;
  };

  static void close_pair(Pair& p) {
    if (p.client >= 0) ::close(p.client);
    if (p.server >= 0) ::close(p.server);
    p.client = p.server = -1;
  }

  static bool write_all(int fd, const char* data, size_t n) {
    while (n > 0) {
      ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  int connect_target() const {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(target_));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }

  // A client's chunk: forwarded, or the cut.
  void from_client(Pair& p, const char* buf, size_t n) {
    const int armed = armed_.load();
    if (armed != static_cast<int>(Cut::None) &&
        std::string_view(buf, n).find("COMMIT") != std::string_view::npos) {
      armed_ = static_cast<int>(Cut::None);
      if (armed == static_cast<int>(Cut::AfterTheServer) && write_all(p.server, buf, n)) {
        // Wait for the reply: the server has executed COMMIT.
        pollfd f{p.server, POLLIN, 0};
        char reply[4096];
        if (::poll(&f, 1, 10000) == 1) (void)!::recv(p.server, reply, sizeof reply, 0);
      }
      close_pair(p);
      ++cuts_;
      return;
    }
    if (!write_all(p.server, buf, n)) close_pair(p);
  }

  void loop() {
    std::vector<pollfd> fds;
    char buf[65536];
    while (!stop_) {
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_, POLLIN, 0});
      for (const auto& p : pairs_) {
        fds.push_back({p.client, POLLIN, 0});
        fds.push_back({p.server, POLLIN, 0});
      }
      if (::poll(fds.data(), fds.size(), 1000) <= 0) continue;
      if (fds[1].revents != 0) {
        int c = ::accept(listen_, nullptr, nullptr);
        if (c >= 0) {
          int s = refuse_ ? -1 : connect_target();
          if (s < 0) {
            ::close(c);
          } else {
            pairs_.push_back({c, s});
          }
        }
      }
      const size_t n_pairs = (fds.size() - 2) / 2;
      for (size_t i = 0; i < n_pairs && i < pairs_.size(); ++i) {
        Pair& p = pairs_[i];
        if (fds[2 + 2 * i].revents != 0 && p.client >= 0) {
          ssize_t r = ::recv(p.client, buf, sizeof buf, 0);
          if (r <= 0)
            close_pair(p);
          else
            from_client(p, buf, static_cast<size_t>(r));
        }
        if (fds[3 + 2 * i].revents != 0 && p.server >= 0) {
          ssize_t r = ::recv(p.server, buf, sizeof buf, 0);
          if (r <= 0 || !write_all(p.client, buf, static_cast<size_t>(r))) close_pair(p);
        }
      }
      std::erase_if(pairs_, [](const Pair& p) { return p.client < 0; });
    }
  }

  int target_;
  int port_ = 0;
  int listen_ = -1;
  int wake_[2] = {-1, -1};
  std::atomic<bool> stop_{false};
  std::atomic<int> armed_{static_cast<int>(Cut::None)};
  std::atomic<bool> refuse_{false};
  std::atomic<int> cuts_{0};
  std::vector<Pair> pairs_;  // the loop's thread only
  std::thread thread_;
};

}  // namespace evdb::postgres::test
