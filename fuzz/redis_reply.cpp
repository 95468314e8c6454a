// redis_reply.cpp — fuzz target: the bytes a Redis server sends back, as the
// Redis driver reads and decodes them (hiredis' redisReader, then the
// driver's own decoding of every reply: handshake, TYPE and SCRIPT LOAD at
// open, the MULTI/EXEC snapshot, XRANGE / XREVRANGE entries, the commit
// script's outcome and, when its connection is lost, one try of the resolve
// script, XLEN and XREAD in the listener). A server is trusted with
// the data, not with the driver's memory: a wrong or hostile reply must end in
// an error, never in a crash, a hang or a read out of bounds.
//
// A fake server on a loopback port answers each request with the next field
// of the input (fields separated by 0x1E, fuzz_input.hpp), across every
// connection the driver opens, in the order the requests arrive; when the
// fields run out, or a field is not a whole number of replies, it closes the
// connection after sending it (so the driver never waits for bytes that will
// not come). The driver runs one fixed session: open, a read-write
// transaction with every kind of read, an append and a projection write,
// commit, then listen until the connection is lost. Oracle: the sanitizers,
// and that every failure is a drv::Error.
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fuzz_input.hpp"
#include "redis_driver.hpp"
#include "uri.hpp"

namespace {

// True when `bytes` is a whole number (>= 1) of well-formed RESP replies.
bool whole_replies(std::string_view bytes) {
  redisReader* r = redisReaderCreate();
  bool ok = redisReaderFeed(r, bytes.data(), bytes.size()) == REDIS_OK;
  int replies = 0;
  while (ok) {
    void* reply = nullptr;
    if (redisReaderGetReply(r, &reply) != REDIS_OK) {
      ok = false;
      break;
    }
    if (reply == nullptr) break;
    freeReplyObject(reply);
    ++replies;
  }
  ok = ok && replies > 0 && r->pos == r->len;
  redisReaderFree(r);
  return ok;
}

class FakeServer {
 public:
  FakeServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::perror("fake redis server");
      std::abort();
    }
    port_ = ntohs(a.sin_port);
    std::thread([this] { loop(); }).detach();  // serves until the process exits
  }
  int port() const { return port_; }

  // The replies for the next session, one per request.
  void set_replies(std::vector<std::string_view> replies) {
    std::lock_guard<std::mutex> lock(mu_);
    replies_.assign(replies.begin(), replies.end());
  }

  // Ends a session once the driver has closed every connection: waits until
  // the server has seen each one close and freed what it kept for it, then
  // drops the replies left over. So everything a session allocates is freed
  // within it, and libFuzzer's leak check (run whenever an input makes more
  // allocations than it frees) stays for real leaks instead of running after
  // every input. A connection the driver never closes is a leak of its own.
  void end_session() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!idle_.wait_for(lock, std::chrono::seconds(10), [this] { return open_clients_ == 0; }))
      evdb::fuzz::oracle_failed("the driver kept a connection open after the store was closed",
                                std::to_string(open_clients_) + " connection(s)");
    replies_.clear();
    replies_.shrink_to_fit();
  }

 private:
  struct Client {
    int fd;
    redisReader* requests;
  };

  void loop() {
    std::vector<Client> clients;
    std::vector<pollfd> fds;
    char buf[65536];
    for (;;) {
      fds.assign(1, pollfd{listen_fd_, POLLIN, 0});
      for (auto& c : clients) fds.push_back(pollfd{c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), -1) < 0) continue;
      if (fds[0].revents & POLLIN) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd >= 0) {
          int one = 1;
          ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          clients.push_back(Client{fd, redisReaderCreate()});
          std::lock_guard<std::mutex> lock(mu_);
          ++open_clients_;
        }
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Client& c = clients[i - 1];
        ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
        bool keep = n > 0 && redisReaderFeed(c.requests, buf, static_cast<size_t>(n)) == REDIS_OK;
        // The replies to every request received so far, sent at once (small
        // separate writes would wait for delayed ACKs: 40 ms each).
        std::string out;
        while (keep) {
          void* request = nullptr;
          if (redisReaderGetReply(c.requests, &request) != REDIS_OK || request == nullptr) break;
          freeReplyObject(request);
          keep = next_reply(out);
        }
        size_t off = 0;
        while (off < out.size()) {
          ssize_t sent = ::send(c.fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
          if (sent <= 0) break;
          off += static_cast<size_t>(sent);
        }
        if (!keep) {
          ::close(c.fd);
          redisReaderFree(c.requests);
          c.fd = -1;
        }
      }
      size_t closed = std::erase_if(clients, [](const Client& c) { return c.fd < 0; });
      if (closed != 0) {
        std::lock_guard<std::mutex> lock(mu_);
        open_clients_ -= closed;
        if (open_clients_ == 0) idle_.notify_all();
      }
    }
  }

  // Appends the next reply to `out`; false when the connection is to be
  // closed after sending what `out` holds.
  bool next_reply(std::string& out) {
    std::string reply;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (replies_.empty()) return false;
      reply = std::move(replies_.front());
      replies_.pop_front();
    }
    out += reply;
    return whole_replies(reply);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::mutex mu_;
  std::condition_variable idle_;
  size_t open_clients_ = 0;  // accepted and not yet closed
  std::deque<std::string> replies_;
};

evdb_status on_inserted(void*, int64_t, evdb_error*) {
  return EVDB_OK;
}

// Runs one step of the session; a drv::Error ends only that step.
template <class F>
void step(F&& f) {
  try {
    f();
  } catch (const evdb::drv::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace drv = evdb::drv;
  static FakeServer server;
  server.set_replies(evdb::fuzz::split_fields(data, size));

  // Short timeouts bound a session whatever the replies say; one pooled
  // connection; the listener gives up at the first lost connection, and a
  // commit whose connection is lost tries to learn its outcome once.
  std::string text = "redis://127.0.0.1:" + std::to_string(server.port()) +
                     "/?prefix=f&connect_timeout_ms=200&io_timeout_ms=200&pool_size=1"
                     "&listen_block_ms=10&listen_reconnect_timeout_ms=0"
                     "&commit_resolve_timeout_ms=0";
  evdb::loader::ParsedUri parsed;
  std::string error;
  if (!evdb::loader::ParsedUri::parse(text, parsed, error)) std::abort();
  drv::Uri uri(parsed.as_c());
  drv::Ctx ctx(nullptr, nullptr);

  std::unique_ptr<drv::Db> db;
  step([&] { db = evdb::redis::Traits::open(uri, ctx); });
  if (!db) {
    server.end_session();
    return 0;
  }
  step([&] {
    auto tx = db->begin(ctx, false);
    evdb_event ev{};
    evdb_event buf[4]{};
    int64_t head = 0;
    step([&] { head = tx->read_system_version(ctx); });
    step([&] { tx->read_event_at(ctx, 1, ev); });
    step([&] { tx->read_event_after(ctx, 0, ev); });
    step([&] { tx->read_events(ctx, 1, false, buf, 4); });
    step([&] { tx->read_events(ctx, head, true, buf, 4); });
    step([&] { tx->read_projection_version(ctx, 7); });
    step([&] {
      evdb_event in{};
      in.type_name = "Fuzzed";
      in.type_name_len = 6;
      in.payload = "{}";
      in.payload_len = 2;
      tx->append_event(ctx, head, in);
    });
    step([&] { tx->set_projection_version(ctx, 7, head + 1); });
    step([&] { tx->commit(ctx); });
  });
  step([&] {
    drv::ListenSink sink(nullptr, on_inserted, nullptr, nullptr);
    db->listen(ctx, sink);
  });
  db.reset();
  server.end_session();
  return 0;
}
