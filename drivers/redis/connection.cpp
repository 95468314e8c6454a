// connection.cpp — see connection.hpp.
#include "connection.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.hpp"
#include "common/wait.hpp"

namespace evdb::redis {
namespace {

std::string errno_text(int e) {
  return std::string(std::strerror(e));
}

void append_bulk(std::string& out, std::string_view s) {
  out += '$';
  out += std::to_string(s.size());
  out += "\r\n";
  out.append(s.data(), s.size());
  out += "\r\n";
}

}  // namespace

std::string Endpoint::where() const {
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false
  // positive) on "[" + host.
  std::string out;
  const bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  if (db != 0) {
    out += '/';
    out += std::to_string(db);
  }
  return out;
}

std::string reply_text(const redisReply* r) {
  if (r == nullptr) return "no reply";
  switch (r->type) {
    case REDIS_REPLY_ERROR:
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_STRING:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return "integer " + std::to_string(r->integer);
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_ARRAY:
      return "array of " + std::to_string(r->elements);
    default:
      return "reply of type " + std::to_string(r->type);
  }
}

Connection::Connection(const Endpoint& ep) : ep_(ep) {}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
  if (reader_ != nullptr) redisReaderFree(reader_);
}

void Connection::broke(evdb_status code, const std::string& message) {
  broken_ = true;
  // Lost or timed out: the server may be gone (a failover); the next
  // connection asks the sentinels / seed nodes first rather than wait for
  // a connect to a dead host.
  if (code == EVDB_CONNECTION && redirected_) redirected_->store(true);
  drv::fail(code, message);
}

void Connection::wait_fd(const drv::Ctx* ctx, short events, int64_t deadline_ms,
                         std::string_view doing) {
  for (;;) {
    if (ctx != nullptr) {
      evdb_status s = ctx->status();
      if (s != EVDB_OK)
        broke(s, std::string(s == EVDB_CANCELED ? "canceled" : "deadline exceeded") + " while " +
                     std::string(doing) + " (redis at " + ep_.where() + ")");
    }
    int cap = -1;
    if (deadline_ms >= 0) {
      int64_t left = deadline_ms - common::steady_now_ms();
      if (left <= 0)
        broke(EVDB_CONNECTION, "no answer from redis at " + ep_.where() + " while " +
                                   std::string(doing) + " (timed out)");
      cap = static_cast<int>(left > 60000 ? 60000 : left);
    }
    short revents = 0;
    try {
      revents = common::wait_fd(ctx, fd_, events, cap, doing);
    } catch (const drv::Error&) {
      broken_ = true;
      throw;
    }
    if (revents != 0) return;
  }
}

std::unique_ptr<Connection> Connection::open(const Endpoint& ep, const drv::Ctx& ctx) {
  ctx.check("connecting to redis at " + ep.where());
  std::unique_ptr<Connection> c(new Connection(ep));
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string port = std::to_string(ep.port);
  int gai = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0)
    drv::fail(EVDB_CONNECTION, "cannot resolve redis host '" + ep.host + "': " + gai_strerror(gai));
  std::string last_error = "no address";
  int64_t deadline = common::steady_now_ms() + ep.connect_timeout_ms;
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno != EINPROGRESS) {
      last_error = errno_text(errno);
      ::close(fd);
      continue;
    }
    c->fd_ = fd;
    c->broken_ = false;
    if (rc != 0) {
      try {
        c->wait_fd(&ctx, POLLOUT, deadline, "connecting to redis at " + ep.where());
      } catch (const drv::Error& e) {
        ::freeaddrinfo(res);
        throw;
      }
      int soerr = 0;
      socklen_t len = sizeof(soerr);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
      if (soerr != 0) {
        last_error = errno_text(soerr);
        ::close(fd);
        c->fd_ = -1;
        continue;
      }
    }
    break;
  }
  ::freeaddrinfo(res);
  if (c->fd_ < 0)
    drv::fail(EVDB_CONNECTION, "cannot connect to redis at " + ep.where() + ": " + last_error);
  int one = 1;
  ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  // From now on the socket is blocking: sends and most receives pass
  // MSG_DONTWAIT and wait in poll(); a call that has nothing to watch (no
  // context) blocks in recv() itself, bounded by io_timeout_ms (SO_RCVTIMEO),
  // which saves a system call per reply.
  ::fcntl(c->fd_, F_SETFL, ::fcntl(c->fd_, F_GETFL) & ~O_NONBLOCK);
  timeval tv{ep.io_timeout_ms / 1000, (ep.io_timeout_ms % 1000) * 1000};
  ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  c->reader_ = redisReaderCreate();
  if (c->reader_ == nullptr) throw std::bad_alloc();

  // Handshake: AUTH and SELECT in one round trip.
  bool auth = !ep.password.empty();
  if (auth) {
    if (ep.user.empty())
      c->add({"AUTH", ep.password});
    else
      c->add({"AUTH", ep.user, ep.password});
  }
  std::string db = std::to_string(ep.db);
  if (ep.db != 0) c->add({"SELECT", db});
  if (!auth && ep.db == 0) c->add({"PING"});
  auto replies = c->exchange(ctx, "connecting to redis at " + ep.where());
  size_t i = 0;
  if (auth) {
    const redisReply* r = replies[i++].get();
    if (r->type == REDIS_REPLY_ERROR)
      drv::fail(EVDB_CONNECTION,
                "redis at " + ep.where() + " refused the credentials" +
                    (ep.user.empty() ? std::string() : " of user '" + ep.user + "'") + ": " +
                    reply_text(r));
  }
  if (ep.db != 0) {
    const redisReply* r = replies[i++].get();
    if (r->type == REDIS_REPLY_ERROR)
      drv::fail(r->len >= 6 && std::string_view(r->str, 6) == "NOAUTH" ? EVDB_CONNECTION
                                                                       : EVDB_INVALID_ARGUMENT,
                "redis at " + ep.where() + " refused database " + db + ": " + reply_text(r));
  } else if (!auth) {
    const redisReply* r = replies[i++].get();
    if (r->type == REDIS_REPLY_ERROR)
      drv::fail(EVDB_CONNECTION, "redis at " + ep.where() + " refused PING: " + reply_text(r) +
                                     " (does it need a password?)");
  }
  return c;
}

void Connection::add(std::initializer_list<std::string_view> args) {
  out_ += '*';
  out_ += std::to_string(args.size());
  out_ += "\r\n";
  for (std::string_view a : args) append_bulk(out_, a);
  ++queued_;
}

void Connection::add(const std::vector<std::string_view>& args) {
  out_ += '*';
  out_ += std::to_string(args.size());
  out_ += "\r\n";
  for (std::string_view a : args) append_bulk(out_, a);
  ++queued_;
}

std::vector<Reply> Connection::exchange(const drv::Ctx& ctx, std::string_view doing, Watch watch,
                                        int extra_wait_ms) {
  const bool ignore_ctx = watch == Watch::SocketOnly;
  if (broken_) drv::fail(EVDB_CONNECTION, "connection to redis at " + ep_.where() + " is broken");
  size_t want = queued_;
  queued_ = 0;
  int64_t io = ep_.io_timeout_ms;
  int64_t deadline = io > 0 ? common::steady_now_ms() + io + extra_wait_ms : -1;
  // Write everything.
  size_t off = 0;
  while (off < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + off, out_.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_fd(&ctx, POLLOUT, deadline, doing);
      continue;
    }
    out_.clear();
    broke(EVDB_CONNECTION, "lost the connection to redis at " + ep_.where() + " while " +
                               std::string(doing) + ": " + errno_text(errno));
  }
  out_.clear();
  // Read the replies. Right after a request nothing can have arrived yet, so
  // wait first: one poll and one recv per reply in the common case.
  std::vector<Reply> replies;
  replies.reserve(want);
  char buf[65536];
  // Nothing to watch but the socket: block in recv (see open()).
  const bool block = (ignore_ctx || ctx.raw() == nullptr) && extra_wait_ms == 0;
  bool wait_first = !block;
  while (replies.size() < want) {
    void* r = nullptr;
    if (redisReaderGetReply(reader_, &r) != REDIS_OK)
      broke(EVDB_CONNECTION, "bad reply from redis at " + ep_.where() + " while " +
                                 std::string(doing) + ": " + reader_->errstr);
    if (r != nullptr) {
      replies.emplace_back(static_cast<redisReply*>(r));
      // A server that refuses writes as a replica was demoted by a
      // failover: this connection must not serve another transaction.
      const redisReply* rr = replies.back().get();
      if (rr->type == REDIS_REPLY_ERROR &&
          std::string_view(rr->str, rr->len).starts_with("READONLY"))
        broken_ = true;
      continue;
    }
    if (wait_first) wait_fd(ignore_ctx ? nullptr : &ctx, POLLIN, deadline, doing);
    ssize_t n = ::recv(fd_, buf, sizeof(buf), block ? 0 : MSG_DONTWAIT);
    if (n > 0) {
      if (redisReaderFeed(reader_, buf, static_cast<size_t>(n)) != REDIS_OK)
        broke(EVDB_CONNECTION, "bad reply from redis at " + ep_.where());
      wait_first = false;
      continue;
    }
    if (n == 0)
      broke(EVDB_CONNECTION,
            "redis at " + ep_.where() + " closed the connection while " + std::string(doing));
    if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
      broke(EVDB_CONNECTION, "lost the connection to redis at " + ep_.where() + " while " +
                                 std::string(doing) + ": " + errno_text(errno));
    if (block && errno != EINTR)
      broke(EVDB_CONNECTION, "no answer from redis at " + ep_.where() + " while " +
                                 std::string(doing) + " (timed out)");
    wait_first = errno != EINTR;
  }
  return replies;
}

Reply Connection::call(const drv::Ctx& ctx, std::string_view doing, Watch watch,
                       int extra_wait_ms) {
  auto r = exchange(ctx, doing, watch, extra_wait_ms);
  return std::move(r.at(0));
}

}  // namespace evdb::redis
