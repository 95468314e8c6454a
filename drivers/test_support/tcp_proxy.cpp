// tcp_proxy.cpp — TcpProxy: one thread poll()ing the listening socket and
// both ends of every relayed connection (non-blocking, buffered both ways);
// the modes of tcp_proxy.hpp are states of that loop.
#include "test_support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <list>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace evdb::test_support {

namespace {

using Clock = std::chrono::steady_clock;

void set_socket_options(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// What a client sent, passed on at `due`.
struct Chunk {
  Clock::time_point due;
  std::string bytes;
  bool cut_after_reply = false;  // armed Cut::AfterReply: cut at the server's next bytes
};

// One relayed connection.
struct Link {
  int client = -1;
  int server = -1;
  std::deque<Chunk> to_server;
  std::string to_client;
  bool answered = true;       // the client received something since it last sent
  bool cut_on_reply = false;  // a Cut::AfterReply chunk reached the server
  bool closed = false;
};

// Writes as much of `bytes` as the socket takes; false when it failed.
bool write_some(int fd, std::string& bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    bytes.erase(0, static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

TcpProxy::TcpProxy(const std::string& target_host, int target_port, std::chrono::microseconds delay)
    : host_(target_host), target_port_(target_port), delay_(delay) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("TcpProxy: socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("TcpProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  ::fcntl(listen_fd_, F_SETFL, ::fcntl(listen_fd_, F_GETFL) | O_NONBLOCK);
  if (::pipe2(pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("TcpProxy: pipe2() failed");
  }
  thread_ = std::thread([this] { loop(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  wake();
  thread_.join();
  ::close(listen_fd_);
  ::close(pipe_[0]);
  ::close(pipe_[1]);
}

void TcpProxy::wake() {
  char b = 1;
  ssize_t r = ::write(pipe_[1], &b, 1);  // a full pipe wakes the loop anyway
  (void)r;
}

void TcpProxy::sync() {
  std::unique_lock lock(mu_);
  const uint64_t want = ++requested_;
  wake();
  passed_.wait(lock, [&] { return done_ >= want || stop_; });
}

void TcpProxy::cut() {
  cut_ = true;
  sync();
}

void TcpProxy::hold_replies(bool hold) {
  held_ = hold;
  wake();
}

void TcpProxy::arm(Cut how, const std::string& trigger) {
  std::lock_guard lock(mu_);
  armed_ = Arming{how, trigger};
}

std::string TcpProxy::unsent() const {
  std::lock_guard lock(mu_);
  return unsent_;
}

std::optional<TcpProxy::Cut> TcpProxy::take_cut(const char* bytes, size_t n) {
  std::lock_guard lock(mu_);
  if (!armed_ || std::string_view(bytes, n).find(armed_->trigger) == std::string_view::npos)
    return std::nullopt;
  const Cut how = armed_->how;
  armed_.reset();
  if (how == Cut::BeforeSending) unsent_.assign(bytes, n);
  return how;
}

void TcpProxy::loop() {
  std::list<Link> links;
  std::vector<pollfd> fds;
  std::vector<Link*> owners;  // the link of fds[i] (nullptr: pipe, listener)
  char buf[65536];
  while (!stop_) {
    uint64_t want = 0;  // the sync() requests this pass answers
    {
      std::lock_guard lock(mu_);
      want = requested_;
    }
    if (cut_.exchange(false))
      for (Link& l : links) l.closed = true;
    const auto now = Clock::now();
    std::chrono::nanoseconds timeout(-1);  // until the next chunk is due
    fds.clear();
    owners.clear();
    fds.push_back({pipe_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    owners.resize(2, nullptr);
    for (Link& l : links) {
      bool due = !l.to_server.empty() && l.to_server.front().due <= now;
      if (!l.to_server.empty() && !due) {
        auto wait = l.to_server.front().due - now;
        if (timeout.count() < 0 || wait < timeout) timeout = wait;
      }
      fds.push_back({l.client,
                     static_cast<short>(POLLIN | (!l.to_client.empty() && !held_ ? POLLOUT : 0)),
                     0});
      owners.push_back(&l);
      fds.push_back({l.server, static_cast<short>(POLLIN | (due ? POLLOUT : 0)), 0});
      owners.push_back(&l);
    }
    // A pass begun after a sync() request does not wait: it reads whatever
    // has arrived.
    if (want > done_) timeout = std::chrono::nanoseconds(0);
    timespec ts{};
    if (timeout.count() >= 0) {
      ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
      ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
    }
    ::ppoll(fds.data(), fds.size(), timeout.count() >= 0 ? &ts : nullptr, nullptr);
    if (fds[0].revents & POLLIN)
      while (::read(pipe_[0], buf, sizeof buf) > 0) {
      }
    if (fds[1].revents & POLLIN) {
      for (;;) {
        int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (c < 0) break;
        if (refuse_) {
          ::close(c);
          continue;
        }
        int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(target_port_));
        ::inet_pton(AF_INET, host_.c_str(), &a.sin_addr);
        if (s < 0 || ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          if (s >= 0) ::close(s);
          ::close(c);
          continue;
        }
        set_socket_options(c);
        set_socket_options(s);
        links.push_back(Link{c, s, {}, {}, true, false, false});
        ++accepted_;
      }
    }
    const auto after = Clock::now();
    for (size_t i = 2; i < fds.size(); ++i) {
      Link& l = *owners[i];
      if (l.closed) continue;
      const bool is_client = fds[i].fd == l.client;
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
          l.closed = true;
          continue;
        }
        if (n > 0) {
          const auto size = static_cast<size_t>(n);
          if (is_client) {
            if (l.answered) ++bursts_;
            l.answered = false;
            const std::optional<Cut> how = take_cut(buf, size);
            if (how == Cut::BeforeSending) {
              ++cuts_;  // counted before the client can see the cut
              l.closed = true;
              continue;
            }
            l.to_server.push_back({after + delay_, std::string(buf, size), how == Cut::AfterReply});
          } else if (l.cut_on_reply) {
            ++cuts_;  // the answer is dropped with the connection
            l.closed = true;
          } else {
            l.to_client.append(buf, size);
          }
        }
      }
    }
    for (Link& l : links) {
      if (l.closed) continue;
      while (!l.to_server.empty() && l.to_server.front().due <= after) {
        if (!write_some(l.server, l.to_server.front().bytes)) {
          l.closed = true;
          break;
        }
        if (!l.to_server.front().bytes.empty()) break;  // the socket is full
        // What the server sends from now on answers the armed chunk (or
        // what followed it).
        if (l.to_server.front().cut_after_reply) l.cut_on_reply = true;
        l.to_server.pop_front();
      }
      if (!l.closed && !held_ && !l.to_client.empty()) {
        const size_t before = l.to_client.size();
        if (!write_some(l.client, l.to_client)) l.closed = true;
        if (l.to_client.size() < before) l.answered = true;
      }
    }
    for (auto it = links.begin(); it != links.end();) {
      if (it->closed) {
        ::close(it->client);
        ::close(it->server);
        it = links.erase(it);
      } else {
        ++it;
      }
    }
    {
      std::lock_guard lock(mu_);
      done_ = want;
    }
    passed_.notify_all();
  }
  for (Link& l : links) {
    ::close(l.client);
    ::close(l.server);
  }
}

}  // namespace evdb::test_support
