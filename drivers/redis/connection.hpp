// connection.hpp — one connection to a Redis server, for the redis driver.
//
// The socket is our own (non-blocking, TCP_NODELAY, writes with MSG_NOSIGNAL
// so a dropped server never raises SIGPIPE); hiredis parses the replies
// (redisReader). Every wait polls the socket together with the context's
// cancel fd and honours its deadline, so cancellation interrupts a wait at
// once. A connection whose wait was interrupted, or that saw an I/O error, is
// "broken": its state is unknown and it must be dropped, never reused.
#pragma once

#include <hiredis/hiredis.h>

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter.hpp"

namespace evdb::redis {

// Frees a hiredis reply.
struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
// An owned hiredis reply.
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// Where and how to connect. The password is only ever sent in AUTH.
struct Endpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // "" → AUTH <password> (default user)
  std::string password;  // "" → no AUTH
  int db = 0;            // SELECT when not 0
  int connect_timeout_ms = 5000;
  int io_timeout_ms = 30000;  // 0: no limit on waiting for a reply
  // "127.0.0.1:6379" (no credentials): used in messages.
  std::string where() const;
};

class Connection {
 public:
  // Connects (every address of host in turn), authenticates and selects the
  // database. Throws drv::Error: CONNECTION (unreachable, authentication
  // refused), INVALID_ARGUMENT (SELECT refused: bad database number),
  // CANCELED / DEADLINE_EXCEEDED from ctx.
  static std::unique_ptr<Connection> open(const Endpoint& ep, const drv::Ctx& ctx);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues one command (binary-safe arguments) in the output buffer.
  void add(std::initializer_list<std::string_view> args);
  void add(const std::vector<std::string_view>& args);

  // What a wait for a reply watches besides the socket.
  enum class Watch {
    Context,     // the caller's context: its end interrupts the wait
    SocketOnly,  // only the socket, once the request is written (a commit
                 // waits for its outcome); io_timeout_ms still applies
  };

  // Sends what is queued and reads one reply per queued command, in order.
  // Error replies are returned as replies (type REDIS_REPLY_ERROR); a
  // redirect (READONLY: the server is a replica now; MOVED / ASK: another
  // cluster node serves the slot) also marks the connection broken. Throws
  // drv::Error (CONNECTION, CANCELED, DEADLINE_EXCEEDED) and leaves the
  // connection broken on any I/O problem or interrupted wait. `doing` names
  // the operation in messages. extra_wait_ms lengthens the reply timeout
  // (for XREAD BLOCK).
  std::vector<Reply> exchange(const drv::Ctx& ctx, std::string_view doing,
                              Watch watch = Watch::Context, int extra_wait_ms = 0);
  // exchange() for exactly one queued command.
  Reply call(const drv::Ctx& ctx, std::string_view doing, Watch watch = Watch::Context,
             int extra_wait_ms = 0);

  // True once the connection must not be reused.
  bool broken() const { return broken_; }
  // A redirect (MOVED, ASK, READONLY: another node serves the store now) or
  // a lost connection sets *flag, so that the MasterLocator that opened this
  // connection looks for the master again.
  void report_redirects_to(std::shared_ptr<std::atomic<bool>> flag) {
    redirected_ = std::move(flag);
  }
  const Endpoint& endpoint() const { return ep_; }

 private:
  explicit Connection(const Endpoint& ep);
  // Waits until fd is ready for `events`; throws (and breaks) on cancel,
  // deadline or timeout. deadline_ms is an absolute steady-clock time in ms
  // (or -1: none).
  void wait_fd(const drv::Ctx* ctx, short events, int64_t deadline_ms, std::string_view doing);
  [[noreturn]] void broke(evdb_status code, const std::string& message);

  Endpoint ep_;
  int fd_ = -1;
  std::string out_;
  size_t queued_ = 0;
  redisReader* reader_ = nullptr;
  bool broken_ = false;
  std::shared_ptr<std::atomic<bool>> redirected_;
};

// Text of an error reply (or a short description of an unexpected reply).
std::string reply_text(const redisReply* r);

}  // namespace evdb::redis
