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

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

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

bool same_name(std::string_view a, std::string_view upper) {
  return a.size() == upper.size() &&
         std::equal(a.begin(), a.end(), upper.begin(), [](char x, char y) {
           return (x >= 'a' && x <= 'z' ? static_cast<char>(x - 'a' + 'A') : x) == y;
         });
}

// A Redis Cluster redirect reply: MOVED / ASK with the node, or TRYAGAIN.
struct Redirect {
  enum Kind { None, Moved, Ask, TryAgain } kind = None;
  std::string host;  // "" : the node answering (Redis leaves it out when unknown)
  int port = 0;
};

Redirect redirect_of(const redisReply* r) {
  Redirect out;
  if (r->type != REDIS_REPLY_ERROR) return out;
  std::string_view text(r->str, r->len);
  if (text.starts_with("TRYAGAIN")) {
    out.kind = Redirect::TryAgain;
    return out;
  }
  Redirect::Kind kind = text.starts_with("MOVED ") ? Redirect::Moved
                        : text.starts_with("ASK ") ? Redirect::Ask
                                                   : Redirect::None;
  if (kind == Redirect::None) return out;
  // "MOVED 3999 127.0.0.1:6381": the slot, then host:port.
  size_t addr = text.find(' ', text.find(' ') + 1);
  if (addr == std::string_view::npos) return out;
  std::string_view node = text.substr(addr + 1);
  size_t colon = node.rfind(':');
  if (colon == std::string_view::npos) return out;
  std::string_view port = node.substr(colon + 1);
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (ec != std::errc() || p != port.data() + port.size() || out.port <= 0 || out.port > 65535)
    return out;
  out.host = std::string(node.substr(0, colon));
  out.kind = kind;
  return out;
}

// The first reply from `from` on that is a redirect, or replies.size().
size_t first_redirect(const std::vector<Reply>& replies, size_t from) {
  for (size_t i = from; i < replies.size(); ++i)
    if (redirect_of(replies[i].get()).kind != Redirect::None) return i;
  return replies.size();
}

// First and longest pause before sending again after TRYAGAIN.
constexpr int64_t kBusyFirstPauseMs = 5;
constexpr int64_t kBusyMaxPauseMs = 100;

}  // namespace

void MasterNews::lost() {
  std::lock_guard<std::mutex> lock(mu_);
  learnt_.kind = Kind::Lost;
}

void MasterNews::moved(const Endpoint& to) {
  std::lock_guard<std::mutex> lock(mu_);
  learnt_.kind = Kind::Moved;
  learnt_.to = to;
}

MasterNews::Learnt MasterNews::take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::exchange(learnt_, Learnt{});
}

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
  if (code == EVDB_CONNECTION && news_) news_->lost();
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
  add_args(args.begin(), args.size());
}

void Connection::add(const std::vector<std::string_view>& args) {
  add_args(args.data(), args.size());
}

void Connection::add_args(const std::string_view* args, size_t n) {
  out_ += '*';
  out_ += std::to_string(n);
  out_ += "\r\n";
  for (size_t i = 0; i < n; ++i) append_bulk(out_, args[i]);
  const size_t index = queued_.size();
  size_t block = index;
  if (multi_open_ != SIZE_MAX) {
    block = multi_open_;
    if (n > 0 && (same_name(args[0], "EXEC") || same_name(args[0], "DISCARD")))
      multi_open_ = SIZE_MAX;
  } else if (n > 0 && same_name(args[0], "MULTI")) {
    multi_open_ = index;
  }
  queued_.push_back(Queued{out_.size(), block});
}

std::vector<Reply> Connection::exchange(const drv::Ctx& ctx, std::string_view doing, Watch watch,
                                        int extra_wait_ms, int busy_wait_ms) {
  // The batch is kept until the end (redirects send part of it again), then
  // dropped whatever happens.
  struct Clear {
    Connection& c;
    ~Clear() {
      c.out_.clear();
      c.queued_.clear();
      c.multi_open_ = SIZE_MAX;
    }
  } clear{*this};
  if (broken_) drv::fail(EVDB_CONNECTION, "connection to redis at " + ep_.where() + " is broken");
  auto replies = roundtrip(out_, queued_.size(), ctx, doing, watch, extra_wait_ms);
  if (follow_ && first_redirect(replies, 0) < replies.size())
    follow(replies, ctx, doing, watch, extra_wait_ms, busy_wait_ms);
  return replies;
}

std::unique_ptr<Connection> Connection::open_node(const std::string& host, int port,
                                                  const drv::Ctx& ctx) {
  Endpoint e = ep_;
  if (!host.empty()) e.host = host;
  e.port = port;
  auto c = open(e, ctx);
  c->report_to(news_, follow_);
  return c;
}

void Connection::follow(std::vector<Reply>& replies, const drv::Ctx& ctx, std::string_view doing,
                        Watch watch, int extra_wait_ms, int busy_wait_ms) {
  int redirects = 0;        // MOVED / ASK since the last TRYAGAIN
  int64_t busy_until = -1;  // steady ms; INT64_MAX: no limit but ctx
  int64_t pause_ms = kBusyFirstPauseMs;
  std::string busy;  // what the last TRYAGAIN was, for a message
  for (size_t first = first_redirect(replies, 0); first < replies.size();
       first = first_redirect(replies, first)) {
    const std::string text = reply_text(replies[first].get());
    const Redirect r = redirect_of(replies[first].get());
    first = queued_[first].block;  // inside MULTI … EXEC: from the MULTI
    const size_t begin = first == 0 ? 0 : queued_[first - 1].end;
    const std::string_view tail = std::string_view(out_).substr(begin);
    const size_t count = queued_.size() - first;
    if (r.kind == Redirect::TryAgain) {
      // Nothing ran: the slot's keys are split between two nodes for the
      // moment. Wait a little, within the context and the limit, and send
      // again here (to the slot's owner: an ASK is asked again).
      const int64_t now = common::steady_now_ms();
      const int64_t limit = busy_wait_ms < 0 ? ep_.io_timeout_ms : busy_wait_ms;
      if (busy_until < 0) busy_until = limit > 0 ? now + limit : INT64_MAX;
      busy = "redis at " + ep_.where() + " answered \"" + text + "\" while " + std::string(doing) +
             " (the store's slot is being migrated between cluster nodes, its keys split "
             "between them); the command did not run";
      if (now >= busy_until)
        drv::fail(EVDB_CONNECTION, busy + " for " + std::to_string(limit) + " ms" +
                                       (busy_wait_ms < 0 ? " (io_timeout_ms)" : "") +
                                       ": try again once the migration ended");
      evdb_status s = ctx.sleep_us(std::min(pause_ms, busy_until - now) * 1000);
      if (s != EVDB_OK)
        drv::fail(s, std::string(s == EVDB_CANCELED ? "canceled" : "deadline exceeded") +
                         " while waiting: " + busy);
      pause_ms = std::min(pause_ms * 2, kBusyMaxPauseMs);
      redirects = 0;
    } else if (++redirects > kMaxRedirects) {
      broken_ = true;
      if (news_) news_->lost();
      drv::fail(EVDB_CONNECTION, "redis cluster redirected " + std::string(doing) + " " +
                                     std::to_string(kMaxRedirects + 1) +
                                     " times in a row (last: " + text + " from " + ep_.where() +
                                     "): the slot map keeps changing; the command did not run "
                                     "(the next connection asks the cluster again)");
    }
    std::vector<Reply> again;
    try {
      if (r.kind == Redirect::Moved) {
        // The slot lives there now: move this connection over.
        auto there = open_node(r.host, r.port, ctx);
        std::swap(fd_, there->fd_);
        std::swap(reader_, there->reader_);
        std::swap(ep_, there->ep_);
        if (news_) news_->moved(ep_);
        again = roundtrip(tail, count, ctx, doing, watch, extra_wait_ms);
      } else if (r.kind == Redirect::Ask) {
        // The slot is migrating and the keys are there already: these
        // commands only, each after ASKING (which lasts one command, or a
        // whole MULTI … EXEC).
        auto there = open_node(r.host, r.port, ctx);
        std::string asked;
        asked.reserve(tail.size() + 32 * count);
        std::vector<bool> asking(count);
        for (size_t i = 0; i < count; ++i) {
          const size_t q = first + i;
          const size_t from = q == 0 ? 0 : queued_[q - 1].end;
          asking[i] = queued_[q].block == q;  // outside MULTI, or MULTI itself
          if (asking[i]) asked += "*1\r\n$6\r\nASKING\r\n";
          asked.append(out_, from, queued_[q].end - from);
        }
        const size_t sent =
            count + static_cast<size_t>(std::count(asking.begin(), asking.end(), true));
        auto got = there->roundtrip(asked, sent, ctx, doing, watch, extra_wait_ms);
        size_t k = 0;
        for (size_t i = 0; i < count; ++i) {
          if (asking[i]) ++k;  // ASKING's +OK
          again.push_back(std::move(got[k++]));
        }
      } else {
        again = roundtrip(tail, count, ctx, doing, watch, extra_wait_ms);
      }
    } catch (const drv::Error& e) {
      // The context ended while following: say what was being waited for.
      if (busy.empty() || (e.code() != EVDB_CANCELED && e.code() != EVDB_DEADLINE_EXCEEDED)) throw;
      drv::fail(e.code(), std::string(e.what()) + "; before that, " + busy);
    }
    replies.resize(first);
    for (Reply& a : again) replies.push_back(std::move(a));
  }
}

std::vector<Reply> Connection::roundtrip(std::string_view bytes, size_t want, const drv::Ctx& ctx,
                                         std::string_view doing, Watch watch, int extra_wait_ms) {
  const bool ignore_ctx = watch == Watch::SocketOnly;
  if (broken_) drv::fail(EVDB_CONNECTION, "connection to redis at " + ep_.where() + " is broken");
  int64_t io = ep_.io_timeout_ms;
  int64_t deadline = io > 0 ? common::steady_now_ms() + io + extra_wait_ms : -1;
  // Write everything.
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_fd(&ctx, POLLOUT, deadline, doing);
      continue;
    }
    broke(EVDB_CONNECTION, "lost the connection to redis at " + ep_.where() + " while " +
                               std::string(doing) + ": " + errno_text(errno));
  }
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
          std::string_view(rr->str, rr->len).starts_with("READONLY")) {
        broken_ = true;
        if (news_) news_->lost();
      }
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

Reply Connection::call(const drv::Ctx& ctx, std::string_view doing, Watch watch, int extra_wait_ms,
                       int busy_wait_ms) {
  auto r = exchange(ctx, doing, watch, extra_wait_ms, busy_wait_ms);
  return std::move(r.at(0));
}

}  // namespace evdb::redis
