// Fault tests of the redis driver against real servers:
//  - a listener waiting while its server restarts reconnects and delivers
//    what it missed, once, in order; it gives up after its reconnect limit;
//  - a server with appendonly yes + appendfsync always, killed with SIGKILL
//    and restarted, still has every acknowledged event;
//  - a client killed with SIGKILL after building a transaction applies
//    nothing, and killed during commits applies each commit wholly or not.
// Servers that get restarted or stalled run on their own ports (test port + 1..4), never
// the shared one. The killed clients are this binary run again with
// --child=MODE.
#include <evdb/evdb.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "redis_test_util.hpp"
#include "test_support/listening.hpp"

namespace {

using namespace evdb::redis::test;
using evdb::test_support::Listening;

using evdb::test_support::ChildProcess;
using evdb::test_support::event;

// A server of our own on `port`, stopped at the end of the test. When the
// test failed, the server's log and data folder are printed first.
class OwnServer {
 public:
  OwnServer(int port, Persistence persistence) : port_(port), persistence_(persistence) {
    redis_local("stop", port_);
    std::system(("rm -rf " + dir()).c_str());
    start();
  }
  ~OwnServer() {
    if (::testing::Test::HasFailure())
      std::system(("echo '--- " + dir() + ":'; ls -lR " + dir() + "; echo '--- server log:'; cat " +
                   dir() + "/redis.log")
                      .c_str());
    redis_local("stop", port_);
  }
  void start() { ASSERT_EQ(redis_local("start", port_, persistence_), 0) << "start on " << port_; }
  void stop() { ASSERT_EQ(redis_local("stop", port_), 0) << "stop on " << port_; }
  // SIGKILL: no shutdown, no final save. Returns once the process is gone or
  // a zombie (which holds no socket or file any more).
  void kill9() {
    std::ifstream f(dir() + "/redis.pid");
    pid_t pid = 0;
    f >> pid;
    ASSERT_GT(pid, 0);
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    for (int i = 0; i < 3000 && alive(pid); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_FALSE(alive(pid)) << "redis-server " << pid << " still running 30 s after SIGKILL";
  }
  int port() const { return port_; }

 private:
  std::string dir() const { return "/tmp/evdb-redis-" + std::to_string(port_); }
  static bool alive(pid_t pid) {
    std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(st, line)) return false;
    // "pid (comm) S ...": the state follows the last ')'.
    size_t close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
  }
  int port_;
  Persistence persistence_;
};

// This binary run again with --child=mode uri (see child_main).
ChildProcess child(const std::string& mode, const std::string& uri) {
  return ChildProcess("/proc/self/exe", {"--child=" + mode, uri});
}

// The child processes.
int child_main(const std::string& mode, const std::string& uri) {
  evdb::DB db = evdb::DB::open(uri);
  if (mode == "build-and-wait") {
    evdb_tx* tx = nullptr;
    if (evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr) != EVDB_OK) return 2;
    const evdb_event e = c_event("Built", "{}");
    for (int64_t v = 0; v < 10; ++v)
      if (evdb_append_event(tx, nullptr, v, &e, nullptr, nullptr) != EVDB_OK) return 3;
    if (evdb_init_projection_version(tx, nullptr, 1, nullptr, nullptr) != EVDB_OK) return 4;
    if (evdb_set_projection_version(tx, nullptr, 1, 10, nullptr) != EVDB_OK) return 5;
    std::printf("ready\n");
    std::fflush(stdout);
    for (;;) ::pause();  // killed here, before commit
  }
  if (mode == "commit-loop") {
    // Big commits (kBatch events of ~2 KB and the projection set to the new
    // head), so a kill often lands while one is being sent.
    constexpr int kBatch = 400;
    std::string payload = "\"" + std::string(2000, 'x') + "\"";
    bool announced = false;
    for (;;) {
      db.tx_rw([&](evdb::TxRW& tx) {
        int64_t h = tx.read_system_version();
        tx.init_projection_version(1);
        for (int i = 0; i < kBatch; ++i) tx.append_event(h + i, event("Batch", payload));
        tx.set_projection_version(1, h + kBatch);
        if (!announced) {
          std::printf("committing\n");
          std::fflush(stdout);
          announced = true;
        }
      });
    }
  }
  return 1;
}

int64_t head_of(Raw& raw, const std::string& p) {
  return raw.integer({"XLEN", "{" + p + "}:log"});
}

// Many listens on the handle share its one listener (contract LSN-1): each
// gets what was committed while the server was away, once, in order.
TEST(RedisFault, ListenerWaitingThroughAServerRestartDeliversWhatItMissed) {
  constexpr int kListeners = 8;
  OwnServer srv(test_port() + 1, Persistence::AppendOnlyFsync);
  std::string p = unique_name("restart");
  std::string u = uri_for(srv.port(), p, "&listen_block_ms=100&listen_reconnect_timeout_ms=20000");
  evdb::DB db = evdb::DB::open(u);
  std::vector<std::unique_ptr<Listening>> ls;
  for (int i = 0; i < kListeners; ++i) {
    ls.push_back(std::make_unique<Listening>(db));
    ASSERT_TRUE(ls.back()->ready());
  }
  auto append = [&](evdb::DB& d, int n) {
    for (int i = 0; i < n; ++i)
      d.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), event("E", "1")); });
  };
  append(db, 3);
  for (auto& l : ls) l->wait_for(3, std::chrono::seconds(15));
  evdb::DB pinger = evdb::DB::open(u);  // its pooled connection dies with the server
  pinger.ping();
  srv.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the listener is now retrying
  srv.start();
  {
    // Written by another handle as soon as the server is back, while the
    // listener may still be reconnecting: it must catch up on them.
    evdb::DB other = evdb::DB::open(u);
    append(other, 4);
  }
  append(db, 2);  // the pooled connections died: begin reconnects
  pinger.ping();  // and so does ping
  for (auto& l : ls) l->wait_for(9, std::chrono::seconds(15));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // room for duplicates
  std::vector<int64_t> want;
  for (int64_t v = 1; v <= 9; ++v) want.push_back(v);
  for (auto& l : ls) {
    evdb::Status st = l->stop();
    EXPECT_EQ(st.code(), EVDB_CANCELED) << st.message();
    EXPECT_EQ(l->versions(), want);
  }
}

// The handle's one listening connection killed by the server (CLIENT KILL)
// with many listens on it: each gets what was committed meanwhile, once, in
// order.
TEST(RedisFault, ListeningConnectionKilledWithManyListeners) {
  constexpr int kListeners = 8;
  OwnServer srv(test_port() + 5, Persistence::Default);
  evdb::DB db = evdb::DB::open(uri_for(srv.port(), unique_name("killed"),
                                       "&listen_block_ms=100&listen_reconnect_timeout_ms=20000"));
  std::vector<std::unique_ptr<Listening>> ls;
  for (int i = 0; i < kListeners; ++i) {
    ls.push_back(std::make_unique<Listening>(db));
    ASSERT_TRUE(ls.back()->ready());
  }
  auto append = [&] {
    db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), event("E", "1")); });
  };
  append();
  for (auto& l : ls) ASSERT_EQ(l->wait_for(1, std::chrono::seconds(15)).size(), 1u);
  Raw raw(srv.port());
  // Kill every client blocked in XREAD: the handle's one listener.
  std::string clients = raw.str({"CLIENT", "LIST"});
  int killed = 0;
  for (size_t at = 0, end; at < clients.size(); at = end + 1) {
    end = clients.find('\n', at);
    if (end == std::string::npos) end = clients.size();
    std::string line = clients.substr(at, end - at);
    if (line.find(" cmd=xread") == std::string::npos) continue;
    std::string id = line.substr(3, line.find(' ') - 3);  // "id=N ..."
    killed += static_cast<int>(raw.integer({"CLIENT", "KILL", "ID", id}));
  }
  EXPECT_EQ(killed, 1) << "one listening connection for " << kListeners << " listens:\n" << clients;
  append();
  append();
  for (auto& l : ls) l->wait_for(3, std::chrono::seconds(15));
  append();
  std::vector<int64_t> want{1, 2, 3, 4};
  for (auto& l : ls) {
    l->wait_for(4, std::chrono::seconds(15));
    EXPECT_EQ(l->stop().code(), EVDB_CANCELED);
    EXPECT_EQ(l->versions(), want);
  }
}

TEST(RedisFault, ListenerGivesUpAfterItsReconnectLimit) {
  OwnServer srv(test_port() + 2, Persistence::Default);
  evdb::DB db = evdb::DB::open(uri_for(srv.port(), unique_name("giveup"),
                                       "&listen_block_ms=50&listen_reconnect_timeout_ms=300"));
  Listening l(db);
  ASSERT_TRUE(l.ready());
  srv.stop();
  evdb::Status st = l.wait_end();
  EXPECT_EQ(st.code(), EVDB_CONNECTION) << st.message();
  EXPECT_NE(st.message().find("listen_reconnect_timeout_ms"), std::string::npos) << st.message();
  EXPECT_EQ(st.message().find(password()), std::string::npos) << st.message();
  // With the server still down, open fails clearly too.
  evdb_db* raw = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_open(uri_for(srv.port(), "x").c_str(), nullptr, &raw, &err), EVDB_CONNECTION);
  evdb_error_release(&err);
}

TEST(RedisFault, AppendOnlyFsyncAlwaysKeepsEveryAcknowledgedEventThroughSigkill) {
  OwnServer srv(test_port() + 3, Persistence::AppendOnlyFsync);
  std::string p = unique_name("durable");
  std::string u = uri_for(srv.port(), p);
  constexpr int kEvents = 60;
  {
    evdb::DB db = evdb::DB::open(u);
    db.tx_rw([&](evdb::TxRW& tx) { tx.init_projection_version(4); });
    for (int i = 0; i < kEvents; ++i)
      db.tx_rw([&](evdb::TxRW& tx) {
        int64_t h = tx.read_system_version();
        tx.append_event(h, event("D", std::to_string(i)));
        tx.set_projection_version(4, h + 1);
      });
  }
  srv.kill9();
  srv.start();
  evdb::DB db = evdb::DB::open(u);
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), kEvents);
    auto all = tx.read_events(1, kEvents);
    ASSERT_EQ(all.size(), static_cast<size_t>(kEvents));
    for (int i = 0; i < kEvents; ++i) EXPECT_EQ(all[i].payload, std::to_string(i));
    EXPECT_EQ(tx.read_projection_version(4), kEvents);
  });
}

TEST(RedisFault, ClientKilledBeforeCommitAppliesNothing) {
  std::string p = unique_name("killed-before");
  Raw raw;
  {
    ChildProcess c = child("build-and-wait", uri(p));
    ASSERT_EQ(c.line(), "ready");
    c.kill(SIGKILL);
    c.wait();
  }
  EXPECT_EQ(head_of(raw, p), 0);
  EXPECT_EQ(raw.integer({"EXISTS", "{" + p + "}:log", "{" + p + "}:proj"}), 0);
  // The store is usable afterwards.
  evdb::DB db = evdb::DB::open(uri(p));
  db.tx_rw([&](evdb::TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A", "1")), 1); });
}

TEST(RedisFault, ClientKilledDuringCommitsAppliesEachWhollyOrNot) {
  std::string p = unique_name("killed-during");
  Raw raw;
  std::mt19937 rng(12345);
  for (int round = 0; round < 6; ++round) {
    ChildProcess c = child("commit-loop", uri(p));
    ASSERT_EQ(c.line(), "committing");
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    c.kill(SIGKILL);
    c.wait();
    // Head and projection in one atomic read: a commit the killed client
    // sent just before dying may still run between two separate reads.
    RawReply r = raw.cmd({"EVAL",
                          "return {redis.call('XLEN', KEYS[1]), "
                          "redis.call('HGET', KEYS[2], '1') or ''}",
                          "2", "{" + p + "}:log", "{" + p + "}:proj"});
    ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
    ASSERT_EQ(r->elements, 2u);
    int64_t head = r->element[0]->integer;
    std::string proj(r->element[1]->str, r->element[1]->len);
    EXPECT_EQ(head % 400, 0) << "a commit was applied in part: head " << head;
    EXPECT_EQ(proj, head > 0 ? std::to_string(head) : "") << "head " << head;
  }
  evdb::DB db = evdb::DB::open(uri(p));
  db.tx_read_only([&](evdb::TxRO& tx) {
    int64_t h = tx.read_system_version();
    if (h > 0) {
      EXPECT_EQ(tx.read_event_at(h).type_name, "Batch");
    }
  });
}

TEST(RedisFault, CancelDeadlineAndIoTimeoutInterruptWaitsForAStalledServer) {
  OwnServer srv(test_port() + 4, Persistence::Default);
  std::string p = unique_name("stalled");
  evdb::DB db = evdb::DB::open(uri_for(srv.port(), p, "&pool_size=0"));
  evdb::DB slow = evdb::DB::open(uri_for(srv.port(), p, "&pool_size=0&io_timeout_ms=300"));
  Raw raw(srv.port());
  // A transaction built before the stall, committed during it.
  evdb_tx* tx = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
  const evdb_event e = c_event("Paused", "1");
  ASSERT_EQ(evdb_append_event(tx, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  ASSERT_EQ(raw.str({"CLIENT", "PAUSE", "3000", "ALL"}), "OK");
  // Cancel: begin is waiting for the snapshot reply.
  {
    evdb::Context ctx;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ctx.cancel();
    });
    evdb_tx* t = nullptr;
    evdb_error err = EVDB_ERROR_INIT;
    EXPECT_EQ(evdb_begin(db.raw(), ctx.raw(), EVDB_TX_READ_ONLY, &t, &err), EVDB_CANCELED)
        << (err.message ? err.message : "");
    evdb_error_release(&err);
    canceller.join();
  }
  // Deadline.
  {
    evdb::Context ctx(std::chrono::milliseconds(100));
    evdb_tx* t = nullptr;
    EXPECT_EQ(evdb_begin(db.raw(), ctx.raw(), EVDB_TX_READ_ONLY, &t, nullptr),
              EVDB_DEADLINE_EXCEEDED);
  }
  // io_timeout_ms: no reply in time is a connection error.
  {
    evdb_tx* t = nullptr;
    evdb_error err = EVDB_ERROR_INIT;
    EXPECT_EQ(evdb_begin(slow.raw(), nullptr, EVDB_TX_READ_ONLY, &t, &err), EVDB_CONNECTION);
    ASSERT_NE(err.message, nullptr);
    EXPECT_NE(std::string(err.message).find("timed out"), std::string::npos) << err.message;
    evdb_error_release(&err);
  }
  // A commit already sent waits for its outcome even when cancelled meanwhile.
  {
    evdb::Context ctx;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      ctx.cancel();
    });
    EXPECT_EQ(evdb_commit(tx, ctx.raw(), nullptr), EVDB_OK);
    canceller.join();
  }
  db.tx_read_only([&](evdb::TxRO& t) { EXPECT_EQ(t.read_event_at(1).type_name, "Paused"); });
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]).rfind("--child=", 0) == 0)
    return child_main(std::string(argv[1]).substr(8), argv[2]);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
