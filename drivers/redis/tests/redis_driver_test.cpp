// Tests of libevdb_driver_redis.so through libevdb against the private test
// server (fixture redis_server): URI handling, key layout, transactions
// (own writes, conflicts, snapshots, rollbacks that send nothing, NOSCRIPT
// fallback), the listener, the connection pool, racing writers.
#include <evdb/evdb.hpp>

#include <atomic>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "redis_test_util.hpp"
#include "test_support/listening.hpp"

namespace {

using namespace evdb::redis::test;
using evdb::test_support::Listening;

using evdb::test_support::event;
using evdb::test_support::try_open;

TEST(RedisUri, OpensAndReportsCapabilities) {
  evdb::DB db = evdb::DB::open(uri(unique_name("caps")));
  EXPECT_EQ(db.driver_name(), "redis");
  EXPECT_TRUE(db.has(EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD |
                     EVDB_CAP_CROSS_PROCESS | EVDB_CAP_LISTENER_RECONNECT | EVDB_CAP_DURABLE));
  db.ping();
}

TEST(RedisUri, RedissIsUnsupportedWithAClearMessage) {
  auto [s, msg] = try_open("rediss://evdb:secret-pw@127.0.0.1:6380?prefix=x");
  EXPECT_EQ(s, EVDB_UNSUPPORTED) << msg;
  EXPECT_NE(msg.find("TLS"), std::string::npos) << msg;
  EXPECT_NE(msg.find("redis"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret-pw"), std::string::npos) << msg;
}

TEST(RedisUri, UnknownParameterIsNamed) {
  auto [s, msg] = try_open(uri("x", "&bogus=1"));
  EXPECT_EQ(s, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("bogus"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
}

TEST(RedisUri, BadValuesAreRefused) {
  for (const std::string& extra :
       {std::string("&connect_timeout_ms=abc"), std::string("&io_timeout_ms=-5"),
        std::string("&pool_size=100000"), std::string("&listen_block_ms=1")}) {
    auto [s, msg] = try_open(uri("x", extra));
    EXPECT_EQ(s, EVDB_INVALID_ARGUMENT) << extra << ": " << msg;
    std::string key = extra.substr(1, extra.find('=') - 1);
    EXPECT_NE(msg.find(key), std::string::npos) << msg;
  }
  auto [s1, m1] = try_open(uri("a{b}c"));
  EXPECT_EQ(s1, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(m1.find("prefix"), std::string::npos) << m1;
  auto [s2, m2] = try_open("redis://evdb:" + password() +
                           "@127.0.0.1:" + std::to_string(test_port()) + "/notanumber?prefix=x");
  EXPECT_EQ(s2, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(m2.find("database"), std::string::npos) << m2;
  auto [s3, m3] = try_open("redis://evdb:" + password() +
                           "@127.0.0.1:" + std::to_string(test_port()) + "/99999?prefix=x");
  EXPECT_EQ(s3, EVDB_INVALID_ARGUMENT) << m3;
  EXPECT_EQ(m3.find(password()), std::string::npos) << m3;
}

// Sentinel and Cluster parameters (RDS-8): each mistake named.
TEST(RedisUri, SentinelAndClusterParametersAreChecked) {
  struct Case {
    std::string extra, path, says;
  };
  for (const Case& c : std::vector<Case>{
           {"&hosts=127.0.0.1:1", "", "sentinel=GROUP"},
           {"&sentinel=", "", "sentinel"},
           {"&sentinel=g&cluster=1", "", "exclude"},
           {"&cluster=2", "", "cluster"},
           {"&cluster=1", "/3", "database"},
           {"&sentinel=g&hosts=127.0.0.1", "", "host:port"},
           {"&sentinel=g&hosts=127.0.0.1:99999", "", "host:port"},
           {"&sentinel=g&hosts=:5", "", "host:port"},
           {"&wait_replicas=-1", "", "wait_replicas"},
           {"&wait_timeout_ms=0", "", "wait_timeout_ms"},
           {"&commit_resolve_timeout_ms=x", "", "commit_resolve_timeout_ms"},
       }) {
    auto [s, msg] =
        try_open("redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(test_port()) +
                 c.path + "?prefix=x" + c.extra);
    EXPECT_EQ(s, EVDB_INVALID_ARGUMENT) << c.extra << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.extra << ": " << msg;
    EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
  }
}

// Several hosts in the authority, as libpq-style URIs write them: the same as
// the first host in the authority and the others in `hosts` (RDS-8).
TEST(RedisUri, HostListInTheAuthorityIsTheOtherFormOfHosts) {
  const std::string at = "redis://evdb:" + password() + "@";
  const std::string server = "127.0.0.1:" + std::to_string(test_port());
  struct Case {
    std::string authority, extra, says;
    evdb_status code;
  };
  for (const Case& c : std::vector<Case>{
           // A list without sentinel or cluster names what is missing.
           {server + ",127.0.0.1:1", "", "sentinel=GROUP", EVDB_INVALID_ARGUMENT},
           // Every host of a list carries its port.
           {"127.0.0.1," + server, "&sentinel=evdb", "host:port", EVDB_INVALID_ARGUMENT},
           // A well-formed list is used: the plain server is asked as a
           // sentinel (and is none), the listed host is never reached.
           {server + ",127.0.0.1:1", "&sentinel=evdb&connect_timeout_ms=500", "sentinel",
            EVDB_CONNECTION},
       }) {
    auto [s, msg] = try_open(at + c.authority + "?prefix=x" + c.extra);
    EXPECT_EQ(s, c.code) << c.authority << c.extra << ": " << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << c.authority << c.extra << ": " << msg;
    EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
  }
}

// A plain server is no sentinel: asking it for a master group fails at open,
// naming the sentinel; no password in the message.
TEST(RedisUri, ServerThatIsNoSentinelIsAConnectionError) {
  auto [s, msg] = try_open(uri("x", "&sentinel=evdb&connect_timeout_ms=500"));
  EXPECT_EQ(s, EVDB_CONNECTION) << msg;
  EXPECT_NE(msg.find("sentinel"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
}

TEST(RedisUri, WrongPasswordIsAConnectionErrorWithoutThePassword) {
  auto [s, msg] = try_open(
      "redis://evdb:not-the-Secret-42@127.0.0.1:" + std::to_string(test_port()) + "?prefix=x");
  EXPECT_EQ(s, EVDB_CONNECTION) << msg;
  EXPECT_NE(msg.find("credentials"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("not-the-Secret-42"), std::string::npos) << msg;
  // No password at all: the server wants one.
  auto [s2, msg2] = try_open("redis://127.0.0.1:" + std::to_string(test_port()) + "?prefix=x");
  EXPECT_EQ(s2, EVDB_CONNECTION) << msg2;
  // The default user with requirepass works too.
  evdb::DB db =
      evdb::DB::open("redis://:" + password() + "@127.0.0.1:" + std::to_string(test_port()) +
                     "?prefix=" + unique_name("def"));
  db.ping();
}

TEST(RedisUri, ServerDownAtOpenIsAConnectionError) {
  // Nothing listens on the port after the test server's: refused at once.
  auto [s, msg] = try_open(uri_for(test_port() + 9, "x", "&connect_timeout_ms=2000"));
  EXPECT_EQ(s, EVDB_CONNECTION) << msg;
  EXPECT_NE(msg.find("127.0.0.1:" + std::to_string(test_port() + 9)), std::string::npos) << msg;
  EXPECT_EQ(msg.find(password()), std::string::npos) << msg;
}

TEST(RedisUri, KeyOfAnotherTypeIsRefused) {
  std::string p = unique_name("foreign");
  Raw raw;
  raw.cmd({"SET", "{" + p + "}:log", "not a stream"});
  auto [s, msg] = try_open(uri(p));
  EXPECT_EQ(s, EVDB_INVALID_ARGUMENT) << msg;
  EXPECT_NE(msg.find("{" + p + "}:log"), std::string::npos) << msg;
  raw.cmd({"DEL", "{" + p + "}:log"});
}

TEST(RedisLayout, StreamIdsEncodeVersionsAndKeysShareOneHashTag) {
  std::string p = unique_name("layout");
  evdb::DB db = evdb::DB::open(uri(p));
  db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(0, event("A", R"({"a":1})", 1700000000123456, "rev-1"));
    tx.append_event(1, event("B", "[1, 2]"));
    tx.init_projection_version(7);
    tx.set_projection_version(7, 2);
  });
  Raw raw;
  std::string log = "{" + p + "}:log", proj = "{" + p + "}:proj";
  EXPECT_EQ(raw.str({"TYPE", log}), "stream");
  EXPECT_EQ(raw.str({"TYPE", proj}), "hash");
  EXPECT_EQ(raw.integer({"XLEN", log}), 2);
  auto r = raw.cmd({"XRANGE", log, "-", "+"});
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 2u);
  EXPECT_EQ(std::string(r->element[0]->element[0]->str), "1-0");
  EXPECT_EQ(std::string(r->element[1]->element[0]->str), "2-0");
  const redisReply* f = r->element[0]->element[1];
  ASSERT_EQ(f->elements, 8u);
  EXPECT_EQ(std::string(f->element[0]->str), "t");
  EXPECT_EQ(std::string(f->element[1]->str), "A");
  EXPECT_EQ(std::string(f->element[3]->str), R"({"a":1})");
  EXPECT_EQ(std::string(f->element[5]->str), "1700000000123456");
  EXPECT_EQ(std::string(f->element[7]->str), "rev-1");
  EXPECT_EQ(raw.str({"HGET", proj, "7"}), "2");
  // Every key of the store carries the hash tag {p}: the log, the
  // projections, the wake list of the write lock (the lock itself is
  // released) and the commit's done key "1", which expires (RDS-4).
  auto keys = raw.cmd({"KEYS", "*{" + p + "}*"});
  std::set<std::string> names;
  std::string done;
  for (size_t i = 0; i < keys->elements; ++i) {
    std::string k = keys->element[i]->str;
    if (k.starts_with("{" + p + "}:done:"))
      done = k;
    else
      names.insert(k);
  }
  EXPECT_EQ(names, (std::set<std::string>{log, proj, "{" + p + "}:wake"}));
  ASSERT_FALSE(done.empty()) << "no done key";
  EXPECT_EQ(raw.str({"GET", done}), "1");
  long long ttl = raw.integer({"PTTL", done});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 600000);
}

// Found by fuzzing the replies (fuzz/corpus/redis_reply/regress-log-shorter-
// than-xlen): a log whose entries do not match its length (here one entry
// under an id evdb never writes) made read_event_after index past the end of
// the pending appends. It is now a clear INTERNAL error.
TEST(RedisTx, ReadAfterOnALogChangedBehindEvdbIsAnInternalError) {
  std::string p = unique_name("foreign-entry");
  Raw raw;
  raw.cmd({"XADD", "{" + p + "}:log", "5-0", "t", "A", "p", "{}", "ts", "1", "r", ""});
  evdb::DB db = evdb::DB::open(uri(p));
  try {
    db.tx_read_only([](evdb::TxRO& tx) { (void)tx.read_event_after(0); });
    ADD_FAILURE() << "read_event_after(0) succeeded on a log with no entry 1";
  } catch (const evdb::Error& e) {
    EXPECT_EQ(e.code(), EVDB_INTERNAL) << e.what();
    EXPECT_NE(std::string(e.what()).find("changed by something other than evdb"), std::string::npos)
        << e.what();
  }
  raw.cmd({"DEL", "{" + p + "}:log"});
}

TEST(RedisTx, RoundTripAndReads) {
  evdb::DB db = evdb::DB::open(uri(unique_name("rt")));
  std::string payload = "{\"s\":\"caf\xc3\xa9 \\u0000\",  \"n\": 1.50}";
  db.tx_rw([&](evdb::TxRW& tx) {
    EXPECT_EQ(tx.read_system_version(), 0);
    for (int i = 0; i < 5; ++i)
      // .append, not "literal" + std::string&&: GCC 12 -O3 false -Wrestrict (bug 105329).
      EXPECT_EQ(tx.append_event(i, event(std::string("T").append(std::to_string(i)), payload,
                                         1000 + i, "rev-1")),
                i + 1);
  });
  db.tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 5);
    evdb::Event e = tx.read_event_at(3);
    EXPECT_EQ(e.version, 3);
    EXPECT_EQ(e.type_name, "T2");
    EXPECT_EQ(e.payload, payload);
    EXPECT_EQ(e.time_us, 1002);
    EXPECT_EQ(e.revision_vcs, "rev-1");
    EXPECT_EQ(tx.read_event_after(0).version, 1);
    EXPECT_EQ(tx.read_event_after(4).version, 5);
    EXPECT_THROW(tx.read_event_after(5), evdb::NotFound);
    EXPECT_THROW(tx.read_event_at(6), evdb::NotFound);
    auto asc = tx.read_events(2, 10);
    ASSERT_EQ(asc.size(), 4u);
    EXPECT_EQ(asc.front().version, 2);
    EXPECT_EQ(asc.back().version, 5);
    auto desc = tx.read_events(100, 3, evdb::Direction::Descending);
    ASSERT_EQ(desc.size(), 3u);
    EXPECT_EQ(desc[0].version, 5);
    EXPECT_EQ(desc[2].version, 3);
    EXPECT_TRUE(tx.read_events(6, 10).empty());
    EXPECT_TRUE(tx.read_events(0, 0).empty());
  });
}

TEST(RedisTx, ReadsSeeOwnWritesAcrossServerAndPending) {
  evdb::DB db = evdb::DB::open(uri(unique_name("own")));
  db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(0, event("S1", "1"));
    tx.append_event(1, event("S2", "2"));
  });
  db.tx_rw([&](evdb::TxRW& tx) {
    EXPECT_EQ(tx.append_event(2, event("P3", "3")), 3);
    EXPECT_EQ(tx.append_event(3, event("P4", "4")), 4);
    EXPECT_EQ(tx.read_system_version(), 4);
    EXPECT_EQ(tx.read_event_at(4).type_name, "P4");
    EXPECT_EQ(tx.read_event_after(2).type_name, "P3");
    auto asc = tx.read_events(1, 10);
    ASSERT_EQ(asc.size(), 4u);
    EXPECT_EQ(asc[1].type_name, "S2");
    EXPECT_EQ(asc[2].type_name, "P3");
    auto desc = tx.read_events(4, 10, evdb::Direction::Descending);
    ASSERT_EQ(desc.size(), 4u);
    EXPECT_EQ(desc[0].type_name, "P4");
    EXPECT_EQ(desc[3].type_name, "S1");
    EXPECT_THROW(tx.append_event(3, event("X", "0")), evdb::VersionMismatch);
    EXPECT_EQ(tx.init_projection_version(1), 0);
    tx.set_projection_version(1, 4);
    EXPECT_EQ(tx.read_projection_version(1), 4);
    EXPECT_EQ(tx.init_projection_version(1), 4);
    EXPECT_THROW(tx.set_projection_version(2, 1), evdb::NotFound);
  });
  db.tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 4);
    EXPECT_EQ(tx.read_projection_version(1), 4);
    EXPECT_THROW(tx.read_projection_version(2), evdb::NotFound);
  });
}

// What the server executed for this store is read with MONITOR and filtered
// by the store's prefix, so other tests using the server at the same time do
// not disturb the count.
TEST(RedisTx, RollbackWritesNothingAndReleasesTheWriteLock) {
  std::string p = unique_name("rollback");
  evdb::DB db = evdb::DB::open(uri(p));
  Raw monitor;
  ASSERT_EQ(monitor.str({"MONITOR"}), "OK");
  evdb::Status s = db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(0, event("A", "{}"));
    tx.init_projection_version(3);
    return evdb::Status(EVDB_CONFLICT, "changed my mind");
  });
  EXPECT_EQ(s.code(), EVDB_CONFLICT);
  EXPECT_EQ(s.message(), "changed my mind");
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(0, event("A", "{}"));
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  const std::string end = "end-of-" + p;
  Raw().str({"ECHO", end});
  std::vector<std::string> seen;  // every command naming the store
  for (std::string line = monitor.next_pushed(); line.find(end) == std::string::npos;
       line = monitor.next_pushed())
    if (line.find(p) != std::string::npos) seen.push_back(line);
  EXPECT_FALSE(seen.empty()) << "the snapshots at begin name the store's keys";
  for (const std::string& line : seen) {
    // The scripts it runs take and release the write lock; none writes.
    EXPECT_EQ(line.find("\"XADD\""), std::string::npos) << "a rolled-back tx wrote: " << line;
    EXPECT_EQ(line.find("\"HSET\""), std::string::npos) << "a rolled-back tx wrote: " << line;
  }
  EXPECT_EQ(Raw().integer({"EXISTS", "{" + p + "}:log", "{" + p + "}:proj"}), 0);
  EXPECT_EQ(Raw().integer({"EXISTS", "{" + p + "}:wlock"}), 0) << "rollback releases the lock";
}

// Begins a read-write transaction on another thread, as a writer there
// would (it queues for the write lock), for use on this one.
evdb_tx* begin_elsewhere(evdb::DB& db) {
  return std::async(std::launch::async,
                    [&db] {
                      evdb_tx* tx = nullptr;
                      EXPECT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr),
                                EVDB_OK);
                      return tx;
                    })
      .get();
}

TEST(RedisTx, LoserOfARaceGetsVersionMismatchOrConflict) {
  // A write lock that expires at once: b begins (on another thread, which
  // waits for the lock) while a is still open (a's lock expired), as a
  // writer does whose lock outlived write_lock_ms; the commit script still
  // refuses the loser.
  evdb::DB db = evdb::DB::open(uri(unique_name("race"), "&write_lock_ms=1"));
  db.tx_rw([&](evdb::TxRW& tx) { tx.init_projection_version(1); });
  // Two transactions open at once, both appending at head 0.
  evdb_tx* a = nullptr;
  evdb_tx* b = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &a, nullptr), EVDB_OK);
  ASSERT_NE(b = begin_elsewhere(db), nullptr);
  const evdb_event e = c_event("X", "1");
  ASSERT_EQ(evdb_append_event(a, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_append_event(b, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_commit(a, nullptr, nullptr), EVDB_OK);
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_commit(b, nullptr, &err), EVDB_VERSION_MISMATCH);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("redis"), std::string::npos) << err.message;
  evdb_error_release(&err);
  // Projection-only writers: the loser gets CONFLICT.
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &a, nullptr), EVDB_OK);
  ASSERT_NE(b = begin_elsewhere(db), nullptr);
  int64_t v = 0;
  ASSERT_EQ(evdb_read_projection_version(a, nullptr, 1, &v, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_read_projection_version(b, nullptr, 1, &v, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_set_projection_version(a, nullptr, 1, 10, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_set_projection_version(b, nullptr, 1, 20, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_commit(a, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_commit(b, nullptr, nullptr), EVDB_CONFLICT);
  db.tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 1);
    EXPECT_EQ(tx.read_projection_version(1), 10);
  });
  // A transaction that only read: commits (its reads were one snapshot).
  db.tx_rw([&](evdb::TxRW& tx) { EXPECT_EQ(tx.read_system_version(), 1); });
}

TEST(RedisTx, ReadOnlySnapshotIgnoresLaterCommits) {
  evdb::DB db = evdb::DB::open(uri(unique_name("snap")));
  db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(0, event("A", "1"));
    tx.init_projection_version(5);
  });
  db.tx_read_only([&](evdb::TxRO& ro) {
    db.tx_rw([&](evdb::TxRW& tx) {
      tx.append_event(1, event("B", "2"));
      tx.set_projection_version(5, 9);
      tx.init_projection_version(6);
    });
    EXPECT_EQ(ro.read_system_version(), 1);
    EXPECT_THROW(ro.read_event_at(2), evdb::NotFound);
    EXPECT_THROW(ro.read_event_after(1), evdb::NotFound);
    EXPECT_EQ(ro.read_events(1, 10).size(), 1u);
    EXPECT_EQ(ro.read_events(9, 10, evdb::Direction::Descending).size(), 1u);
    EXPECT_EQ(ro.read_projection_version(5), 0);
    EXPECT_THROW(ro.read_projection_version(6), evdb::NotFound);
  });
  evdb_tx* ro = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_ONLY, &ro, nullptr), EVDB_OK);
  const evdb_event e = c_event("X", "1");
  EXPECT_EQ(evdb_append_event(ro, nullptr, 2, &e, nullptr, nullptr), EVDB_READ_ONLY);
  evdb_rollback(ro);
}

TEST(RedisTx, CommitFallsBackToEvalAfterScriptFlush) {
  evdb::DB db = evdb::DB::open(uri(unique_name("noscript")));
  Raw raw;
  ASSERT_EQ(raw.str({"SCRIPT", "FLUSH"}), "OK");
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, event("A", "1")); });
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(1, event("B", "2")); });
  db.tx_read_only([&](evdb::TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 2); });
}

TEST(RedisTx, ManyTransactionsOpenAtOnceAndRacingWriters) {
  std::string p = unique_name("writers");
  evdb::DB db = evdb::DB::open(uri(p, "&pool_size=2"));
  // Conductor's pattern: a read-only transaction inside a read-write one.
  db.tx_rw([&](evdb::TxRW& rw) {
    rw.append_event(rw.read_system_version(), event("A", "1"));
    db.tx_read_only([&](evdb::TxRO& ro) { EXPECT_EQ(ro.read_system_version(), 0); });
  });
  constexpr int kThreads = 8, kEach = 25;
  std::atomic<int> retries{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      evdb::DB mine = evdb::DB::open(uri(p));  // also: several handles
      evdb::DB& use = (t % 2 == 0) ? db : mine;
      for (int i = 0; i < kEach; ++i) {
        for (;;) {
          try {
            use.tx_rw([&](evdb::TxRW& tx) {
              int64_t h = tx.read_system_version();
              tx.append_event(h, event("W", std::to_string(t)));
            });
            break;
          } catch (const evdb::Error& e) {
            ASSERT_TRUE(e.retryable()) << e.what();
            ++retries;
          }
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(retries.load(), 0) << "writers queue: appending at the head read never loses a race";
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), 1 + kThreads * kEach);
    auto all = tx.read_events(1, 1000);
    ASSERT_EQ(all.size(), static_cast<size_t>(1 + kThreads * kEach));
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int64_t>(i + 1));
  });
}

// ---------------------------------------------------------------------------
// Writers queue on the write lock
// ---------------------------------------------------------------------------

// Watches what the server runs (MONITOR); await() returns once a command
// line holding both texts was run: ordering for the tests, not a timing.
class Monitor {
 public:
  Monitor() { EXPECT_EQ(raw_.str({"MONITOR"}), "OK"); }
  void await(const std::string& a, const std::string& b) {
    for (std::string line = raw_.next_pushed();; line = raw_.next_pushed())
      if (line.find(a) != std::string::npos && line.find(b) != std::string::npos) return;
  }

 private:
  Raw raw_;
};

// A read-write transaction that has appended one event at head 0 (it holds
// the write lock until it ends).
evdb_tx* open_writer(evdb::DB& db) {
  evdb_tx* tx = nullptr;
  EXPECT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
  const evdb_event e = c_event("A", "1");
  EXPECT_EQ(evdb_append_event(tx, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  return tx;
}

TEST(RedisQueue, SecondWriterWaitsThenAppendsAtTheNewHead) {
  std::string p = unique_name("queue");
  evdb::DB db = evdb::DB::open(uri(p));
  Monitor monitor;
  evdb_tx* a = open_writer(db);
  auto b = std::async(std::launch::async, [&] {
    return db.tx_rw([&](evdb::TxRW& tx) {  // waits for a
      int64_t head = tx.read_system_version();
      tx.append_event(head, event("B", "2"));
      return head;
    });
  });
  monitor.await("BLPOP", "{" + p + "}:wake");
  ASSERT_EQ(evdb_commit(a, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(b.get(), 1) << "the queued writer's snapshot is taken after the first commit";
  db.tx_read_only([](evdb::TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 2); });
}

TEST(RedisQueue, StaleAssumedVersionIsStillVersionMismatch) {
  evdb::DB db = evdb::DB::open(uri(unique_name("stale")));
  int64_t seen = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(seen, event("A", "1")); });
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(seen, event("B", "2")); }),
               evdb::VersionMismatch);
  db.tx_read_only([](evdb::TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 1); });
}

// A read-only transaction neither waits for an open writer nor for one
// queued behind it (it runs on this thread while both are open).
TEST(RedisQueue, ReadOnlyPassesWritersHoldingAndWaitingForTheLock) {
  std::string p = unique_name("ropass");
  evdb::DB db = evdb::DB::open(uri(p));
  Monitor monitor;
  evdb_tx* holder = open_writer(db);
  auto queued = std::async(std::launch::async, [&] {
    db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), event("B", "2")); });
  });
  monitor.await("BLPOP", "{" + p + "}:wake");
  db.tx_read_only([](evdb::TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 0); });
  ASSERT_EQ(evdb_commit(holder, nullptr, nullptr), EVDB_OK);
  queued.get();
}

// A writer waiting for the lock ends with its context's status.
void interrupt_a_queued_writer(evdb::Context& ctx, evdb_status expected) {
  std::string p = unique_name("interrupt");
  evdb::DB db = evdb::DB::open(uri(p));
  Monitor monitor;
  evdb_tx* holder = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &holder, nullptr), EVDB_OK);
  auto f = std::async(std::launch::async, [&] {
    return evdb::test_support::begin_status(db.raw(), ctx.raw(), EVDB_TX_READ_WRITE);
  });
  if (expected == EVDB_CANCELED) {
    monitor.await("BLPOP", "{" + p + "}:wake");
    ctx.cancel();
  }
  EXPECT_EQ(f.get(), expected);
  ASSERT_EQ(evdb_commit(holder, nullptr, nullptr), EVDB_OK);
  db.tx_rw([](evdb::TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A", "1")), 1); });
}

TEST(RedisQueue, CancelInterruptsAWriterWaitingForTheLock) {
  evdb::Context ctx;
  interrupt_a_queued_writer(ctx, EVDB_CANCELED);
}

TEST(RedisQueue, DeadlineInterruptsAWriterWaitingForTheLock) {
  evdb::Context ctx(std::chrono::milliseconds(200));
  interrupt_a_queued_writer(ctx, EVDB_DEADLINE_EXCEEDED);
}

// A bound on liveness for a begin that must not wait for its own thread
// (it never gets near it; the test asserts outcomes, not times).
constexpr auto kLiveness = std::chrono::seconds(30);

// What a projection holds on the server ("(nil)" when absent).
std::string projection_on_server(const std::string& p, int32_t id) {
  return Raw().str({"HGET", "{" + p + "}:proj", std::to_string(id)});
}

// Starts a writer on another thread that appends at the head it reads, and
// returns once it waits for the write lock; its future gives that head.
std::future<int64_t> queued_writer(evdb::DB& db, Monitor& monitor, const std::string& p) {
  auto f = std::async(std::launch::async, [&db] {
    return db.tx_rw([](evdb::TxRW& tx) {
      int64_t head = tx.read_system_version();
      tx.append_event(head, event("D", "{}"));
      return head;
    });
  });
  monitor.await("BLPOP", "{" + p + "}:wake");
  return f;
}

// Two read-write transactions open at once on one thread (OP-18, RDS-7):
// the second does not wait for the lock the first holds; each of its writes
// tries the lock once and fails at once, VERSION_MISMATCH for an append and
// CONFLICT for a projection write, keeping nothing. The first commits;
// afterwards a writer on this thread queues as usual.
TEST(RedisQueue, WritersOnTheHoldersThreadFailAtOnce) {
  std::string p = unique_name("samethread");
  evdb::DB db = evdb::DB::open(uri(p));
  db.tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(1); });
  evdb::Context live(kLiveness);
  evdb_tx* a = open_writer(db);  // holds the lock
  evdb_tx* b = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), live.raw(), EVDB_TX_READ_WRITE, &b, nullptr), EVDB_OK);
  int64_t v = -1;
  ASSERT_EQ(evdb_read_system_version(b, nullptr, &v, nullptr), EVDB_OK);
  EXPECT_EQ(v, 0) << "b reads its own snapshot, without a's append";
  const evdb_event e = c_event("B", "2");
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_append_event(b, nullptr, 0, &e, nullptr, &err), EVDB_VERSION_MISMATCH);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("this thread"), std::string::npos) << err.message;
  evdb_error_release(&err);
  EXPECT_EQ(evdb_init_projection_version(b, nullptr, 1, &v, nullptr), EVDB_OK)
      << "an existing projection is only read: no lock needed";
  EXPECT_EQ(evdb_init_projection_version(b, nullptr, 2, &v, nullptr), EVDB_CONFLICT);
  EXPECT_EQ(evdb_set_projection_version(b, nullptr, 1, 5, nullptr), EVDB_CONFLICT);
  EXPECT_EQ(evdb_read_projection_version(b, nullptr, 1, &v, nullptr), EVDB_OK);
  EXPECT_EQ(v, 0) << "a refused write is not kept";
  EXPECT_EQ(evdb_read_projection_version(b, nullptr, 2, &v, nullptr), EVDB_NOT_FOUND);
  evdb_tx* f = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), live.raw(), EVDB_TX_READ_WRITE, &f, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_commit(a, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_commit(b, nullptr, nullptr), EVDB_OK) << "b kept nothing to write";
  // f's snapshot is older than a's commit: it takes the lock at its append
  // now, and the commit script still refuses it.
  EXPECT_EQ(evdb_append_event(f, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_commit(f, nullptr, nullptr), EVDB_VERSION_MISMATCH);
  EXPECT_EQ(Raw().integer({"XLEN", "{" + p + "}:log"}), 1) << "only a's event";
  EXPECT_EQ(projection_on_server(p, 1), "0");
  EXPECT_EQ(projection_on_server(p, 2), "(nil)");
  EXPECT_EQ(Raw().integer({"EXISTS", "{" + p + "}:wlock"}), 0);

  // The first has ended: a writer on this thread takes the lock at begin
  // again, so a writer on another thread queues behind it.
  Monitor monitor;
  evdb_tx* c = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), live.raw(), EVDB_TX_READ_WRITE, &c, nullptr), EVDB_OK);
  auto elsewhere = queued_writer(db, monitor, p);
  const evdb_event ce = c_event("C", "3");
  ASSERT_EQ(evdb_append_event(c, nullptr, 1, &ce, nullptr, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_commit(c, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(elsewhere.get(), 2) << "the queued writer's snapshot is taken after c's commit";
}

// A writer begun while this thread's other transaction held the lock takes
// the lock at its first write once that one has ended, and is then the
// holder: another writer on this thread does not wait for it, one on
// another thread queues behind it.
TEST(RedisQueue, LaterWriterOnTheSameThreadTakesTheLockOnceTheFirstEnded) {
  std::string p = unique_name("takeslater");
  evdb::DB db = evdb::DB::open(uri(p));
  evdb::Context live(kLiveness);
  evdb_tx* a = nullptr;
  evdb_tx* b = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &a, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_begin(db.raw(), live.raw(), EVDB_TX_READ_WRITE, &b, nullptr), EVDB_OK);
  evdb_rollback(a);
  const evdb_event e = c_event("B", "1");
  ASSERT_EQ(evdb_append_event(b, nullptr, 0, &e, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(Raw().integer({"EXISTS", "{" + p + "}:wlock"}), 1) << "b took the lock";
  evdb_tx* c = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), live.raw(), EVDB_TX_READ_WRITE, &c, nullptr), EVDB_OK);
  EXPECT_EQ(evdb_append_event(c, nullptr, 0, &e, nullptr, nullptr), EVDB_VERSION_MISMATCH);
  evdb_rollback(c);
  Monitor monitor;
  auto elsewhere = queued_writer(db, monitor, p);
  ASSERT_EQ(evdb_commit(b, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(elsewhere.get(), 1);
  EXPECT_EQ(Raw().integer({"XLEN", "{" + p + "}:log"}), 2);
}

// A holder that died (here: a lock set under a token no transaction has)
// frees the lock by expiry; the next writer then proceeds.
TEST(RedisQueue, LockOfADeadHolderExpires) {
  std::string p = unique_name("deadholder");
  evdb::DB db = evdb::DB::open(uri(p));
  ASSERT_EQ(Raw().str({"SET", "{" + p + "}:wlock", "dead-holder", "PX", "300"}), "OK");
  EXPECT_EQ(db.tx_rw([](evdb::TxRW& tx) { return tx.append_event(0, event("A", "1")); }), 1);
  EXPECT_EQ(Raw().integer({"EXISTS", "{" + p + "}:wlock"}), 0);
}

TEST(RedisListener, DeliversEachCommitOnceInOrderAndCancels) {
  std::string p = unique_name("listen");
  evdb::DB db = evdb::DB::open(uri(p, "&listen_block_ms=50"));
  evdb::DB other = evdb::DB::open(uri(p));
  Listening l(db);
  ASSERT_TRUE(l.ready());
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, event("A", "1")); });
  (void)db.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(1, event("Rolled", "1"));
    return evdb::Status(EVDB_CONFLICT, "no");
  });
  other.tx_rw([&](evdb::TxRW& tx) {
    tx.append_event(1, event("B", "2"));
    tx.append_event(2, event("C", "3"));
  });
  EXPECT_EQ(l.wait_for(3), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(l.stop().code(), EVDB_CANCELED);
  EXPECT_EQ(l.versions(), (std::vector<int64_t>{1, 2, 3}));
}

TEST(RedisListener, CallbackErrorEndsListen) {
  std::string p = unique_name("listen-stop");
  evdb::DB db = evdb::DB::open(uri(p));
  evdb::Context ctx;
  std::atomic<bool> ready{false};
  evdb::Status st;
  std::thread listener([&] {
    st = db.listen(
        ctx, [&] { ready = true; },
        [&](int64_t v) { return evdb::Status(EVDB_INTERNAL, "stop at " + std::to_string(v)); });
  });
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, event("A", "1")); });
  listener.join();
  EXPECT_EQ(st.code(), EVDB_INTERNAL);
  EXPECT_EQ(st.message(), "stop at 1");
}

TEST(RedisListener, DeadlineEndsListen) {
  evdb::DB db = evdb::DB::open(uri(unique_name("listen-deadline")));
  evdb::Context ctx(std::chrono::milliseconds(200));
  evdb::Status st = db.listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_EQ(st.code(), EVDB_DEADLINE_EXCEEDED);
}

// libevdb runs the listener once per handle for every listen on it (contract
// LSN-1): 1000 listens on one handle are served by one XREAD connection. The
// store uses database 11, which no other test uses, so the server's CLIENT
// LIST names exactly this handle's connections (a pool of one + the listener).
TEST(RedisListen, ThousandListenersShareOneConnection) {
  constexpr int kListeners = 1000;
  const std::string u = "redis://evdb:" + password() + "@127.0.0.1:" + std::to_string(test_port()) +
                        "/11?prefix=" + unique_name("hub") + "&pool_size=1";
  evdb::DB db = evdb::DB::open(u);
  std::vector<std::unique_ptr<Listening>> ls;
  for (int i = 0; i < kListeners; ++i) {
    ls.push_back(std::make_unique<Listening>(db));
    ASSERT_TRUE(ls.back()->ready()) << "listener " << i << ": " << ls.back()->wait_end().message();
  }
  int64_t v = db.tx_rw([](evdb::TxRW& tx) { return tx.append_event(0, event("A", "1")); });
  for (int i = 0; i < kListeners; ++i)
    ASSERT_EQ(ls[i]->wait_for(1), std::vector<int64_t>{v}) << "listener " << i;
  std::string clients = Raw().str({"CLIENT", "LIST"});
  int on_db = 0, listening = 0;
  for (size_t at = 0, end; at < clients.size(); at = end + 1) {
    end = clients.find('\n', at);
    if (end == std::string::npos) end = clients.size();
    std::string line = clients.substr(at, end - at);
    if (line.find(" db=11 ") == std::string::npos) continue;
    ++on_db;
    if (line.find(" cmd=xread") != std::string::npos) ++listening;
  }
  EXPECT_EQ(listening, 1) << clients;
  EXPECT_LE(on_db, 2) << "contract LSN-1: " << kListeners
                      << " listens on one handle (pool_size=1) hold one listening connection and "
                         "at most one pooled one:\n"
                      << clients;
  for (auto& l : ls) EXPECT_EQ(l->stop().code(), EVDB_CANCELED);
}

}  // namespace
