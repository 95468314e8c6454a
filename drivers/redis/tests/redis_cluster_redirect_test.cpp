// Redis Cluster redirects, followed inside the command (docs/contract.md
// RDS-8), on the Cluster of the redis_cluster fixture (scripts/redis-cluster,
// nodes EVDB_REDIS_CLUSTER_TEST_PORT … +5). Each test moves its own store's
// hash slot between masters step by step, as `redis-cli --cluster reshard`
// does (CLUSTER SETSLOT … IMPORTING / MIGRATING, MIGRATE of the keys,
// CLUSTER SETSLOT … NODE), while handles are open:
//  - MOVED: writers, readers and a listener go on through the move without
//    an error, and the log stays whole;
//  - ASK: with the slot migrating and its keys on the importing node, reads
//    and a new listener reach them by ASK; a write waits (TRYAGAIN: its
//    script has keys that exist nowhere yet) and fails at its deadline with
//    nothing written, then goes through once the migration ended;
//  - TRYAGAIN: a commit sent while the keys are split between the two nodes
//    waits and applies once the migration ended, or ends at its deadline
//    with nothing written;
//  - two masters naming each other as the slot's owner: the redirect limit
//    ends the command with a clear CONNECTION error.
// The cluster stays usable after each test: every move is completed (also
// when a test fails midway) and the loop is undone.
#include <evdb/evdb.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "redis_test_util.hpp"
#include "test_support/listening.hpp"

namespace {

using namespace evdb::redis::test;
using evdb::test_support::event;
using evdb::test_support::Listening;
using Clock = std::chrono::steady_clock;

constexpr int kBase = EVDB_REDIS_CLUSTER_TEST_PORT;

// The seed nodes in the hosts parameter (the failover test uses the other
// form, a host list in the authority).
std::string cluster_uri(const std::string& prefix, const std::string& extra = "") {
  return "redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(kBase) +
         "?cluster=1&hosts=127.0.0.1:" + std::to_string(kBase + 1) +
         ",127.0.0.1:" + std::to_string(kBase + 2) + "&prefix=" + prefix + extra;
}

struct Node {
  int port = 0;
  std::string id;
};

// The masters that are not failed, by CLUSTER NODES of the first node.
std::vector<Node> masters() {
  Raw raw(kBase);
  std::string nodes = raw.str({"CLUSTER", "NODES"});
  std::vector<Node> out;
  std::istringstream lines(nodes);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string id, addr, flags;
    f >> id >> addr >> flags;
    if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos)
      continue;
    size_t colon = addr.find(':'), at = addr.find('@');
    out.push_back(Node{std::stoi(addr.substr(colon + 1, at - colon - 1)), id});
  }
  return out;
}

int slot_of(const std::string& prefix) {
  Raw raw(kBase);
  return static_cast<int>(raw.integer({"CLUSTER", "KEYSLOT", "{" + prefix + "}"}));
}

// The port of the master `port`'s node says owns `slot` (0: none).
int owner_seen_by(int port, int slot) {
  Raw raw(port);
  auto r = raw.cmd({"CLUSTER", "SLOTS"});
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* range = r->element[i];
    if (range->element[0]->integer <= slot && slot <= range->element[1]->integer)
      return static_cast<int>(range->element[2]->element[1]->integer);
  }
  return 0;
}

long long keys_in_slot(int port, int slot) {
  Raw raw(port);
  return raw.integer({"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)});
}

// XLEN of `key` on the node `port` while it imports the key's slot (ASKING
// first: it does not serve the slot to others yet).
long long xlen_importing(int port, const std::string& key) {
  Raw raw(port);
  raw.cmd({"ASKING"});
  return raw.integer({"XLEN", key});
}

// A store on its own slot (no other key in it) and its masters: the one
// owning the slot and another.
struct Store {
  std::string prefix;
  int slot = 0;
  Node from, to;
  std::string log() const { return "{" + prefix + "}:log"; }
  std::string proj() const { return "{" + prefix + "}:proj"; }
};

Store new_store(const std::string& base) {
  auto ms = masters();
  if (ms.size() != 3) throw std::runtime_error("the cluster does not have 3 masters");
  for (int i = 0; i < 50; ++i) {
    Store s;
    s.prefix = unique_name(base);
    s.slot = slot_of(s.prefix);
    int owner = owner_seen_by(kBase, s.slot);
    bool found = false;
    for (const Node& m : ms) {
      if (m.port == owner) {
        s.from = m;
        found = true;
      } else if (s.to.port == 0) {
        s.to = m;
      }
    }
    if (found && keys_in_slot(owner, s.slot) == 0) return s;
  }
  throw std::runtime_error("no empty slot found for a store");
}

// Moves a slot from one master to another step by step; a move started and
// not finished is finished on destruction (the cluster stays whole).
class SlotMove {
 public:
  explicit SlotMove(const Store& s) : slot_(std::to_string(s.slot)), from_(s.from), to_(s.to) {}
  ~SlotMove() {
    if (started_ && !finished_) try {
        finish();
      } catch (const std::exception& e) {
        ADD_FAILURE() << "could not finish the slot move: " << e.what();
      }
  }
  SlotMove(const SlotMove&) = delete;
  SlotMove& operator=(const SlotMove&) = delete;

  // IMPORTING on the target, then MIGRATING on the source.
  void start() {
    expect_ok(Raw(to_.port).cmd({"CLUSTER", "SETSLOT", slot_, "IMPORTING", from_.id}));
    started_ = true;
    expect_ok(Raw(from_.port).cmd({"CLUSTER", "SETSLOT", slot_, "MIGRATING", to_.id}));
  }
  // MIGRATEs the slot's keys still on the source that `which` accepts.
  void move_keys(const std::function<bool(const std::string&)>& which) {
    Raw src(from_.port);
    for (;;) {
      auto keys = src.cmd({"CLUSTER", "GETKEYSINSLOT", slot_, "1000"});
      std::vector<std::string> cmd = {
          "MIGRATE",  "127.0.0.1", std::to_string(to_.port), "", "0", "5000", "AUTH2", "evdb",
          password(), "KEYS"};
      size_t n = 0;
      for (size_t i = 0; i < keys->elements; ++i) {
        std::string k(keys->element[i]->str, keys->element[i]->len);
        if (which(k)) {
          cmd.push_back(k);
          ++n;
        }
      }
      if (n == 0) return;
      auto r = src.cmd(cmd);
      // NOKEY: they expired meanwhile.
      if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("MIGRATE: ") + r->str);
      if (n < 1000) return;
    }
  }
  // The remaining keys, then the slot assigned to the target: on the
  // target, the source, then the other masters.
  void finish() {
    move_keys([](const std::string&) { return true; });
    expect_ok(Raw(to_.port).cmd({"CLUSTER", "SETSLOT", slot_, "NODE", to_.id}));
    expect_ok(Raw(from_.port).cmd({"CLUSTER", "SETSLOT", slot_, "NODE", to_.id}));
    for (const Node& m : masters())
      if (m.port != from_.port && m.port != to_.port)
        expect_ok(Raw(m.port).cmd({"CLUSTER", "SETSLOT", slot_, "NODE", to_.id}));
    finished_ = true;
  }

 private:
  static void expect_ok(const RawReply& r) {
    if (r->type == REDIS_REPLY_ERROR) throw std::runtime_error(std::string("SETSLOT: ") + r->str);
  }
  std::string slot_;
  Node from_, to_;
  bool started_ = false, finished_ = false;
};

// The log through a new handle: versions 1..n in order, their payloads.
std::vector<std::string> read_log(const std::string& prefix) {
  evdb::DB db = evdb::DB::open(cluster_uri(prefix));
  std::vector<std::string> payloads;
  db.tx_read_only([&](evdb::TxRO& tx) {
    auto log = tx.read_events(1, static_cast<size_t>(tx.read_system_version()) + 1);
    for (size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].version, static_cast<int64_t>(i + 1));
      payloads.push_back(log[i].payload);
    }
  });
  return payloads;
}

// A JSON string payload holding `text`.
std::string js(const std::string& text) {
  return "\"" + text + "\"";
}

// Appends an event with payload js(text) and sets projection 1 to its version.
void append(evdb::DB& db, const std::string& text, evdb::Context* ctx = nullptr) {
  db.tx_rw(
      [&](evdb::TxRW& tx) {
        int64_t v = tx.append_event(tx.read_system_version(), event("E", js(text)));
        tx.init_projection_version(1);
        tx.set_projection_version(1, v);
      },
      ctx);
}

// ---- MOVED -----------------------------------------------------------------

TEST(RedisClusterRedirect, WritersReadersAndAListenerFollowTheirSlotToAnotherMaster) {
  Store s = new_store("moved");
  evdb::DB db = evdb::DB::open(cluster_uri(s.prefix, "&listen_block_ms=100"));
  Listening listening(db);
  ASSERT_TRUE(listening.ready());
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::mutex mu;
  std::vector<std::string> errors;
  std::vector<Clock::time_point> commit_times;
  // Two writers on the handle (they queue on the write lock: its BLPOP
  // follows too), each reading back what it wrote.
  auto writer = [&](int id) {
    for (int n = 0; !stop; ++n) {
      std::string payload = js(std::to_string(id) + ":" + std::to_string(n));
      try {
        int64_t v = db.tx_rw([&](evdb::TxRW& tx) {
          return tx.append_event(tx.read_system_version(), event("M", payload));
        });
        db.tx_read_only([&](evdb::TxRO& tx) {
          auto e = tx.read_events(v, 1);
          if (e.size() != 1 || e[0].payload != payload)
            throw std::runtime_error("read back something else at " + std::to_string(v));
        });
        std::lock_guard l(mu);
        commit_times.push_back(Clock::now());
        ++done;
      } catch (const std::exception& e) {
        std::lock_guard l(mu);
        errors.push_back(e.what());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };
  std::thread w1(writer, 1), w2(writer, 2);
  auto wait_done = [&](int n) {
    for (int i = 0; i < 1000 && done < n; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  };
  wait_done(20);
  const int before = done;
  const long long keys = keys_in_slot(s.from.port, s.slot);
  const auto move_began = Clock::now();
  {
    SlotMove move(s);
    move.start();
    move.move_keys([](const std::string&) { return true; });
    move.finish();
  }
  const auto move_ended = Clock::now();
  wait_done(before + 40);
  stop = true;
  w1.join();
  w2.join();
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, the first: " << errors.front();
  EXPECT_GE(done, before + 40) << "the writers did not go on after the move";
  // The store is on the other master now, whole.
  EXPECT_EQ(owner_seen_by(s.from.port, s.slot), s.to.port);
  EXPECT_EQ(keys_in_slot(s.from.port, s.slot), 0);
  auto log = read_log(s.prefix);
  EXPECT_EQ(log.size(), static_cast<size_t>(done.load()));
  EXPECT_EQ(std::set<std::string>(log.begin(), log.end()).size(), log.size()) << "a commit twice";
  EXPECT_EQ(Raw(s.to.port).integer({"XLEN", s.log()}), static_cast<long long>(log.size()));
  std::vector<int64_t> want;
  for (int64_t v = 1; v <= static_cast<int64_t>(log.size()); ++v) want.push_back(v);
  EXPECT_EQ(listening.wait_for(want.size(), std::chrono::seconds(10)), want);
  EXPECT_EQ(listening.stop().code(), EVDB_CANCELED);
  // The figures for docs/deployment.md ("Resharding a Redis Cluster").
  double gap_ms = 0;
  for (size_t i = 1; i < commit_times.size(); ++i)
    if (commit_times[i] >= move_began)
      gap_ms = std::max(
          gap_ms,
          std::chrono::duration<double, std::milli>(commit_times[i] - commit_times[i - 1]).count());
  std::printf(
      "slot move of %lld keys: %.1f ms from MIGRATING to the last SETSLOT NODE; longest pause "
      "between two commits from then on: %.1f ms (%d commits)\n",
      keys, std::chrono::duration<double, std::milli>(move_ended - move_began).count(), gap_ms,
      done.load());
}

// ---- ASK ---------------------------------------------------------------------

TEST(RedisClusterRedirect, ReadsFollowAskWhileTheSlotMigratesAndWritesWaitForItsEnd) {
  Store s = new_store("ask");
  evdb::DB db = evdb::DB::open(cluster_uri(s.prefix, "&listen_block_ms=100&write_lock_ms=1000"));
  for (int i = 1; i <= 3; ++i) append(db, "e" + std::to_string(i));
  SlotMove move(s);
  move.start();
  move.move_keys([](const std::string&) { return true; });
  // The slot still belongs to the source (every node says so), and its keys
  // are all on the target: only ASK reaches them.
  ASSERT_EQ(owner_seen_by(s.from.port, s.slot), s.from.port);
  ASSERT_EQ(owner_seen_by(s.to.port, s.slot), s.from.port);
  ASSERT_EQ(keys_in_slot(s.from.port, s.slot), 0);
  // A new handle: its connections go to the owner, the source.
  evdb::DB other = evdb::DB::open(cluster_uri(s.prefix, "&listen_block_ms=100"));
  other.tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 3);  // the snapshot (MULTI … EXEC)
    auto log = tx.read_events(1, 10);        // XRANGE
    ASSERT_EQ(log.size(), 3u);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(log[i].payload, js("e" + std::to_string(i + 1)));
    EXPECT_EQ(tx.read_projection_version(1), 3);
  });
  Listening listening(other);
  ASSERT_TRUE(listening.ready());
  // A write cannot run while the slot migrates: the begin script takes the
  // write lock, a key that exists nowhere yet, and the importing node
  // refuses a command with a missing key among several (TRYAGAIN). It
  // waits, within its context.
  evdb::Context ctx(std::chrono::milliseconds(700));
  try {
    append(db, "e4", &ctx);
    ADD_FAILURE() << "a write went through during the migration";
  } catch (const evdb::Error& e) {
    EXPECT_EQ(e.code(), EVDB_DEADLINE_EXCEEDED) << e.what();
    EXPECT_NE(std::string(e.what()).find("TRYAGAIN"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(password()), std::string::npos) << e.what();
  }
  EXPECT_EQ(xlen_importing(s.to.port, s.log()), 3);  // nothing written
  move.finish();
  // Then it goes through (MOVED to the new owner), and the listener that
  // started through ASK delivers it.
  append(db, "e4");
  EXPECT_EQ(listening.wait_for(1, std::chrono::seconds(10)), std::vector<int64_t>{4});
  EXPECT_EQ(read_log(s.prefix), (std::vector<std::string>{js("e1"), js("e2"), js("e3"), js("e4")}));
}

// ---- TRYAGAIN ----------------------------------------------------------------

// Inside a read-write transaction on a store of two events: appends "e3",
// sets projection 1 to it, then starts moving the store's slot and moves only
// the log, so that the commit finds the store's keys split between the two
// nodes (TRYAGAIN until the move ends). Returns the appended version.
int64_t write_then_split(evdb::TxRW& tx, const Store& s, SlotMove& move) {
  int64_t at = tx.append_event(tx.read_system_version(), event("E", js("e3")));
  tx.set_projection_version(1, at);
  move.start();
  const std::string log = s.log();
  move.move_keys([&](const std::string& k) { return k == log; });
  return at;
}

// A transaction begun before the migration commits while the store's keys
// are split between the two nodes (the log moved, the projections and the
// write lock not yet): its commit waits, then applies once.
TEST(RedisClusterRedirect, ACommitDuringASplitMigrationWaitsAndAppliesWhenItEnds) {
  Store s = new_store("split");
  evdb::DB db = evdb::DB::open(cluster_uri(s.prefix, "&write_lock_ms=5000"));
  append(db, "e1");
  append(db, "e2");
  SlotMove move(s);
  std::promise<void> split;
  std::atomic<int64_t> ending_ns{0};
  std::thread mover([&] {
    split.get_future().wait();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ending_ns = Clock::now().time_since_epoch().count();
    move.finish();
  });
  int64_t v = 0;
  try {
    v = db.tx_rw([&](evdb::TxRW& tx) {
      int64_t at = write_then_split(tx, s, move);
      EXPECT_GT(keys_in_slot(s.from.port, s.slot), 0);  // the projections, the lock, …
      EXPECT_EQ(keys_in_slot(s.to.port, s.slot), 1);    // the log
      split.set_value();
      return at;
    });
  } catch (const evdb::Error& e) {
    ADD_FAILURE() << "the commit failed: " << e.what();
  }
  const int64_t committed_ns = Clock::now().time_since_epoch().count();
  mover.join();
  EXPECT_EQ(v, 3);
  // It applied after the migration began to end, not before (the keys were
  // split until then).
  EXPECT_GT(committed_ns, ending_ns.load());
  EXPECT_EQ(read_log(s.prefix), (std::vector<std::string>{js("e1"), js("e2"), js("e3")}));
  Raw to(s.to.port);
  EXPECT_EQ(to.str({"HGET", s.proj(), "1"}), "3");
  EXPECT_EQ(keys_in_slot(s.from.port, s.slot), 0);
}

TEST(RedisClusterRedirect, ACommitDuringASplitMigrationEndsAtItsDeadlineWithNothingWritten) {
  Store s = new_store("splitdl");
  evdb::DB db = evdb::DB::open(cluster_uri(s.prefix, "&write_lock_ms=1000"));
  append(db, "e1");
  append(db, "e2");
  SlotMove move(s);
  evdb::Context ctx(std::chrono::milliseconds(800));
  try {
    db.tx_rw([&](evdb::TxRW& tx) { write_then_split(tx, s, move); }, &ctx);
    ADD_FAILURE() << "the commit went through with the keys split";
  } catch (const evdb::Error& e) {
    EXPECT_EQ(e.code(), EVDB_DEADLINE_EXCEEDED) << e.what();
    EXPECT_NE(std::string(e.what()).find("TRYAGAIN"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("did not run"), std::string::npos) << e.what();
  }
  // Nothing half-written: the log (moved) and the projection (not) as
  // before.
  EXPECT_EQ(xlen_importing(s.to.port, s.log()), 2);
  EXPECT_EQ(Raw(s.from.port).str({"HGET", s.proj(), "1"}), "2");
  move.finish();
  // The store goes on from there.
  append(db, "e3 again");
  EXPECT_EQ(read_log(s.prefix), (std::vector<std::string>{js("e1"), js("e2"), js("e3 again")}));
}

// ---- the redirect limit ------------------------------------------------------

// Two masters each naming the other as the owner of the store's slot (the
// source gave it away without a migration): MOVED back and forth, which the
// driver follows Connection::kMaxRedirects times, then gives up.
TEST(RedisClusterRedirect, ARedirectLoopEndsWithAClearConnectionError) {
  Store s = new_store("loop");
  evdb::DB db = evdb::DB::open(cluster_uri(s.prefix));  // opened while the slot is sound
  const std::string slot = std::to_string(s.slot);
  auto setslot = [&](const Node& on, const Node& owner) {
    auto r = Raw(on.port).cmd({"CLUSTER", "SETSLOT", slot, "NODE", owner.id});
    ASSERT_NE(r->type, REDIS_REPLY_ERROR) << r->str;
  };
  setslot(s.from, s.to);  // the source now says MOVED to the target, which says MOVED back
  try {
    db.tx_read_only([&](evdb::TxRO& tx) { tx.read_system_version(); });
    ADD_FAILURE() << "a read went through a redirect loop";
  } catch (const evdb::Error& e) {
    EXPECT_EQ(e.code(), EVDB_CONNECTION) << e.what();
    EXPECT_NE(std::string(e.what()).find("redirected"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("MOVED"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find(password()), std::string::npos) << e.what();
  }
  setslot(s.from, s.from);  // the source takes it back
  append(db, "e1");
  EXPECT_EQ(read_log(s.prefix), std::vector<std::string>{js("e1")});
  EXPECT_EQ(owner_seen_by(s.to.port, s.slot), s.from.port);
}

}  // namespace
