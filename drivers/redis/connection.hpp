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

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
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

// What the connections a MasterLocator opened tell it about where the
// store's master is (docs/contract.md RDS-8): the locator reads it before
// each new connection. Thread-safe; the latest news wins.
class MasterNews {
 public:
  enum class Kind {
    Nothing,  // the master last found is still the one
    Lost,     // a connection to it was lost, timed out or met READONLY:
              // ask the sentinels / seed nodes again
    Moved,    // the cluster answered MOVED naming `to` as the master of the
              // store's slot
  };
  struct Learnt {
    Kind kind = Kind::Nothing;
    Endpoint to;  // Moved: the new master (with the connection's credentials)
  };
  // A connection to the master was lost, timed out or met READONLY.
  void lost();
  // A MOVED named `to` (credentials included) as the slot's master.
  void moved(const Endpoint& to);
  // What was learnt since the last take(); resets it to Nothing.
  Learnt take();

 private:
  std::mutex mu_;
  Learnt learnt_;
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
  // Error replies are returned as replies (type REDIS_REPLY_ERROR); READONLY
  // (the server is a replica now) also marks the connection broken. Throws
  // drv::Error (CONNECTION, CANCELED, DEADLINE_EXCEEDED) and leaves the
  // connection broken on any I/O problem or interrupted wait. `doing` names
  // the operation in messages. extra_wait_ms lengthens the reply timeout
  // (for XREAD BLOCK).
  //
  // Redis Cluster redirects (only on a connection told to follow them,
  // report_to): these replies come before the command ran, so the command
  // is sent again, here, for every command of the driver
  // (docs/contract.md RDS-8):
  //  - `MOVED slot host:port`: this connection reconnects to that node and
  //    stays there (and tells its MasterNews, so new connections go there);
  //  - `ASK slot host:port`: `ASKING` and the command go to that node once,
  //    on a connection of its own; this one stays where it is;
  //  - `TRYAGAIN` (a multi-key command while the slot migrates with its keys
  //    split between two nodes): sent again here after a pause (5 ms
  //    doubling to 100 ms), for at most busy_wait_ms (-1: io_timeout_ms; 0:
  //    no limit but ctx) and ctx's deadline; then ctx's code
  //    (DEADLINE_EXCEEDED, CANCELED) or CONNECTION saying so.
  // What is sent again is the queued batch from its first redirected
  // command (from the MULTI of a redirected command inside MULTI … EXEC,
  // where nothing ran: EXEC answered EXECABORT or the redirect itself); the
  // commands before it ran and keep their replies. The commands after it in
  // the batch may have run and run again: a batch puts after a command that
  // could be redirected only commands that may run twice (WAIT, reads, a
  // wake signal's BLPOP, a script idempotent under its token). More than
  // kMaxRedirects MOVED / ASK for one batch: CONNECTION naming the last one
  // (the connection is broken: the next one asks the cluster again).
  std::vector<Reply> exchange(const drv::Ctx& ctx, std::string_view doing,
                              Watch watch = Watch::Context, int extra_wait_ms = 0,
                              int busy_wait_ms = -1);
  // exchange() for exactly one queued command.
  Reply call(const drv::Ctx& ctx, std::string_view doing, Watch watch = Watch::Context,
             int extra_wait_ms = 0, int busy_wait_ms = -1);

  // MOVED / ASK replies followed for one batch before it fails.
  static constexpr int kMaxRedirects = 5;

  // True once the connection must not be reused.
  bool broken() const { return broken_; }
  // A lost connection or READONLY (and, when following them, a MOVED) is
  // told to `news`, which the MasterLocator that opened this connection
  // reads before its next connection. With follow_redirects (Redis Cluster),
  // exchange() follows MOVED, ASK and TRYAGAIN (see there); without, they
  // are returned as replies. Connections this one opens to follow a
  // redirect inherit both.
  void report_to(std::shared_ptr<MasterNews> news, bool follow_redirects) {
    news_ = std::move(news);
    follow_ = follow_redirects;
  }
  const Endpoint& endpoint() const { return ep_; }

 private:
  explicit Connection(const Endpoint& ep);
  // Waits until fd is ready for `events`; throws (and breaks) on cancel,
  // deadline or timeout. deadline_ms is an absolute steady-clock time in ms
  // (or -1: none).
  void wait_fd(const drv::Ctx* ctx, short events, int64_t deadline_ms, std::string_view doing);
  [[noreturn]] void broke(evdb_status code, const std::string& message);
  // Queues one command of n arguments.
  void add_args(const std::string_view* args, size_t n);
  // Sends `bytes` (want commands) and reads want replies (exchange() without
  // redirects).
  std::vector<Reply> roundtrip(std::string_view bytes, size_t want, const drv::Ctx& ctx,
                               std::string_view doing, Watch watch, int extra_wait_ms);
  // Follows the redirects among `replies` to the queued batch (exchange()).
  void follow(std::vector<Reply>& replies, const drv::Ctx& ctx, std::string_view doing, Watch watch,
              int extra_wait_ms, int busy_wait_ms);
  // A new connection like this one (credentials, database, timeouts, news,
  // redirects) to another node of the cluster.
  std::unique_ptr<Connection> open_node(const std::string& host, int port, const drv::Ctx& ctx);

  // One queued command: where its bytes end in out_, and the index of the
  // command that opens its MULTI … EXEC block (its own index outside one).
  struct Queued {
    size_t end;
    size_t block;
  };

  Endpoint ep_;
  int fd_ = -1;
  std::string out_;               // the queued batch, kept until exchange() ends
  std::vector<Queued> queued_;    // its commands
  size_t multi_open_ = SIZE_MAX;  // index of a MULTI not yet closed by EXEC
  redisReader* reader_ = nullptr;
  bool broken_ = false;
  bool follow_ = false;
  std::shared_ptr<MasterNews> news_;
};

// Text of an error reply (or a short description of an unexpected reply).
std::string reply_text(const redisReply* r);

}  // namespace evdb::redis
