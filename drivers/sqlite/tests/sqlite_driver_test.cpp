// sqlite_driver_test.cpp — behaviour of the SQLite driver through libevdb:
// file creation and marker, URIs, reads and writes, transactions on one
// thread, racing writers, lock waits honouring the context, listener.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "sqlite_test_util.hpp"
#include "test_support/listening.hpp"

namespace evdb::sqlite::test {
namespace {

class SqliteDriverTest : public ::testing::Test {
 protected:
  void SetUp() override { register_driver(); }
  TempDir tmp_;
};

// A value of the raw database through the sqlite3 C API.
std::string raw_query(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql, -1, &s, nullptr) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW &&
      sqlite3_column_text(s, 0) != nullptr)
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

TEST_F(SqliteDriverTest, CreatesFileWithMarkerSchemaAndWal) {
  std::string path = tmp_.file("new.db");
  ASSERT_FALSE(std::filesystem::exists(path));
  {
    evdb::DB db = evdb::DB::open(tmp_.uri("new.db"));
    EXPECT_EQ(db.driver_name(), "sqlite");
    EXPECT_TRUE(db.has(EVDB_CAP_LISTENER | EVDB_CAP_DURABLE | EVDB_CAP_CROSS_PROCESS |
                       EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD));
    EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(path));
  EXPECT_EQ(raw_query(path, "PRAGMA application_id"), std::to_string(kApplicationId));
  EXPECT_EQ(raw_query(path, "PRAGMA user_version"), std::to_string(kFormatVersion));
  EXPECT_EQ(raw_query(path, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw_query(path,
                      "SELECT count(*) FROM sqlite_schema WHERE name IN ('events', "
                      "'projection_versions')"),
            "2");
  // Reopening an existing store works and keeps it.
  evdb::DB again = evdb::DB::open(tmp_.uri("new.db"));
  EXPECT_EQ(again.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 0);
}

TEST_F(SqliteDriverTest, RelativePathIsRelativeToCurrentDirectory) {
  char old[4096];
  ASSERT_NE(::getcwd(old, sizeof old), nullptr);
  ASSERT_EQ(::chdir(tmp_.dir().c_str()), 0);
  {
    evdb::DB db = evdb::DB::open("sqlite:relative.db");
    db.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(1)); });
  }
  ASSERT_EQ(::chdir(old), 0);
  EXPECT_TRUE(std::filesystem::exists(tmp_.file("relative.db")));
  evdb::DB db = evdb::DB::open(tmp_.uri("relative.db"));
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 1);
}

TEST_F(SqliteDriverTest, EventsRoundTripByteForByte) {
  evdb::DB db = evdb::DB::open(tmp_.uri("rt.db"));
  std::vector<evdb::Event> in = {
      {0, 1, "A", "  { \"x\" : 1.50e3 , \"y\":[ ] }\n", ""},
      {0, 1'700'000'123'456'789, "B\xC3\xA9", "\"caf\xC3\xA9 \\u00e9\"", "deadbeef"},
      {0, 42, "C", "null", std::string(300, 'r')},
  };
  db.tx_rw([&](evdb::TxRW& tx) {
    int64_t h = 0;
    for (auto& e : in) h = tx.append_event(h, e);
    EXPECT_EQ(h, 3);
    EXPECT_EQ(tx.read_system_version(), 3);  // sees its own writes
  });
  db.tx_read_only([&](evdb::TxRO& tx) {
    for (int v = 1; v <= 3; ++v) {
      evdb::Event e = tx.read_event_at(v);
      evdb::Event want = in[v - 1];
      want.version = v;
      EXPECT_EQ(e, want);
    }
    EXPECT_THROW(tx.read_event_at(0), evdb::NotFound);
    EXPECT_THROW(tx.read_event_at(4), evdb::NotFound);
    EXPECT_EQ(tx.read_event_after(0).version, 1);
    EXPECT_EQ(tx.read_event_after(2).version, 3);
    EXPECT_THROW(tx.read_event_after(3), evdb::NotFound);
    auto asc = tx.read_events(2, 10);
    ASSERT_EQ(asc.size(), 2u);
    EXPECT_EQ(asc[0].version, 2);
    EXPECT_EQ(asc[1].payload, in[2].payload);
    auto desc = tx.read_events(100, 2, evdb::Direction::Descending);
    ASSERT_EQ(desc.size(), 2u);
    EXPECT_EQ(desc[0].version, 3);
    EXPECT_EQ(desc[1].version, 2);
    EXPECT_TRUE(tx.read_events(4, 10).empty());
    EXPECT_TRUE(tx.read_events(1, 0).empty());
  });
  // A zero time means "now".
  auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(3, {0, 0, "Now", "{}", ""}); });
  int64_t t = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_event_at(4).time_us; });
  EXPECT_GE(t, before);
}

TEST_F(SqliteDriverTest, ReadEventsPointersStayValidUntilNextCall) {
  evdb::DB db = evdb::DB::open(tmp_.uri("ptr.db"));
  db.tx_rw([&](evdb::TxRW& tx) {
    for (int i = 0; i < 50; ++i) tx.append_event(i, make_event(i + 1));
  });
  db.tx_read_only([&](evdb::TxRO& tx) {
    std::vector<evdb_event> buf(50, evdb_event EVDB_EVENT_INIT);
    size_t n = 0;
    ASSERT_EQ(evdb_read_events(tx.raw(), nullptr, 1, 0, buf.data(), buf.size(), &n, nullptr),
              EVDB_OK);
    ASSERT_EQ(n, 50u);
    for (size_t i = 0; i < n; ++i) {
      evdb::Event want = make_event(static_cast<int>(i) + 1);
      want.version = static_cast<int64_t>(i) + 1;
      EXPECT_EQ(evdb::Event::from_c(buf[i]), want);
      EXPECT_EQ(buf[i].payload[buf[i].payload_len], '\0');
    }
  });
}

TEST_F(SqliteDriverTest, VersionMismatchWritesNothing) {
  evdb::DB db = evdb::DB::open(tmp_.uri("vm.db"));
  db.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(1)); });
  EXPECT_THROW(db.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(2)); }),
               evdb::VersionMismatch);
  EXPECT_THROW(db.tx_rw([](evdb::TxRW& tx) { tx.append_event(5, make_event(2)); }),
               evdb::VersionMismatch);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 1);
}

TEST_F(SqliteDriverTest, ProjectionVersions) {
  evdb::DB db = evdb::DB::open(tmp_.uri("proj.db"));
  db.tx_rw([](evdb::TxRW& tx) {
    EXPECT_THROW(tx.read_projection_version(7), evdb::NotFound);
    EXPECT_THROW(tx.set_projection_version(7, 3), evdb::NotFound);
    EXPECT_EQ(tx.init_projection_version(7), 0);
    tx.set_projection_version(7, 12);
    EXPECT_EQ(tx.init_projection_version(7), 12);  // never resets
    tx.set_projection_version(7, 4);               // backwards too
    EXPECT_EQ(tx.read_projection_version(7), 4);
  });
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_projection_version(7); }), 4);
}

TEST_F(SqliteDriverTest, RolledBackTransactionLeavesNoTrace) {
  evdb::DB db = evdb::DB::open(tmp_.uri("rb.db"));
  EXPECT_THROW(db.tx_rw([](evdb::TxRW& tx) {
    tx.append_event(0, make_event(1));
    tx.init_projection_version(1);
    throw std::runtime_error("boom");
  }),
               std::runtime_error);
  db.tx_read_only([](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 0);
    EXPECT_THROW(tx.read_projection_version(1), evdb::NotFound);
  });
}

TEST_F(SqliteDriverTest, DurableAcrossReopen) {
  {
    evdb::DB db = evdb::DB::open(tmp_.uri("dur.db", "synchronous=full"));
    db.tx_rw([](evdb::TxRW& tx) {
      tx.append_event(0, make_event(1));
      tx.append_event(1, make_event(2));
      tx.set_projection_version((tx.init_projection_version(3), 3), 2);
    });
  }
  evdb::DB db = evdb::DB::open(tmp_.uri("dur.db"));
  db.tx_read_only([](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 2);
    EXPECT_EQ(tx.read_event_at(2).payload, make_event(2).payload);
    EXPECT_EQ(tx.read_projection_version(3), 2);
  });
}

// Conductor opens a read-only transaction while its read-write one is open,
// on the same thread: it must neither block nor see uncommitted writes.
TEST_F(SqliteDriverTest, ReadOnlyWhileReadWriteOpenOnSameThread) {
  evdb::DB db = evdb::DB::open(tmp_.uri("rorw.db"));
  db.tx_rw([&](evdb::TxRW& rw) {
    rw.append_event(0, make_event(1));
    db.tx_read_only([](evdb::TxRO& ro) { EXPECT_EQ(ro.read_system_version(), 0); });
  });
  // A snapshot stays put while a writer commits.
  db.tx_read_only([&](evdb::TxRO& ro) {
    EXPECT_EQ(ro.read_system_version(), 1);
    db.tx_rw([](evdb::TxRW& rw) { rw.append_event(1, make_event(2)); });
    EXPECT_EQ(ro.read_system_version(), 1);
    EXPECT_THROW(ro.read_event_at(2), evdb::NotFound);
    EXPECT_EQ(ro.read_events(1, 10).size(), 1u);
  });
}

// Two read-write transactions open at once on one thread: the second must
// not deadlock; exactly one of them can write.
TEST_F(SqliteDriverTest, TwoReadWriteTransactionsOnOneThread) {
  evdb::DB db = evdb::DB::open(tmp_.uri("rwrw.db"));
  evdb_tx* t1 = nullptr;
  evdb_tx* t2 = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &t1, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &t2, nullptr), EVDB_OK);
  evdb_event e{sizeof(evdb_event), 0, 1, "T", 1, "{}", 2, "", 0};
  int64_t nv = 0;
  EXPECT_EQ(evdb_append_event(t1, nullptr, 0, &e, &nv, nullptr), EVDB_OK);
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_append_event(t2, nullptr, 0, &e, &nv, &err), EVDB_VERSION_MISMATCH);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("deadlock"), std::string::npos) << err.message;
  evdb_error_release(&err);
  EXPECT_EQ(evdb_init_projection_version(t2, nullptr, 1, &nv, nullptr), EVDB_CONFLICT);
  EXPECT_EQ(evdb_commit(t1, nullptr, nullptr), EVDB_OK);
  // t2's snapshot is now stale: it can still read it, never write.
  int64_t head = -1;
  EXPECT_EQ(evdb_read_system_version(t2, nullptr, &head, nullptr), EVDB_OK);
  EXPECT_EQ(head, 0);
  EXPECT_EQ(evdb_append_event(t2, nullptr, 0, &e, &nv, nullptr), EVDB_VERSION_MISMATCH);
  evdb_rollback(t2);

  // When the first one ends without writing, the second may write.
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &t1, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &t2, nullptr), EVDB_OK);
  evdb_rollback(t1);
  EXPECT_EQ(evdb_append_event(t2, nullptr, 1, &e, &nv, nullptr), EVDB_OK);
  EXPECT_EQ(nv, 2);
  EXPECT_EQ(evdb_commit(t2, nullptr, nullptr), EVDB_OK);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 2);
}

TEST_F(SqliteDriverTest, RacingWriterThreadsAreGapless) {
  evdb::DB db = evdb::DB::open(tmp_.uri("race.db", "synchronous=normal"));
  constexpr int kThreads = 4, kEach = 25;
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {
          try {
            db.tx_rw([&](evdb::TxRW& tx) {
              int64_t h = tx.read_system_version();
              tx.append_event(h, make_event(t * 1000 + i));
            });
            break;
          } catch (const evdb::Error& e) {
            ASSERT_TRUE(e.retryable()) << e.what();
            mismatches++;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), kThreads * kEach);
    auto all = tx.read_events(1, 1000);
    ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int64_t>(i) + 1);
  });
}

// Concurrent first opens of one new file: every one succeeds, one schema.
TEST_F(SqliteDriverTest, ConcurrentFirstOpens) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&] {
      OpenResult r = try_open(tmp_.uri("first.db"));
      EXPECT_EQ(r.status, EVDB_OK) << r.message;
      if (r.status == EVDB_OK) ok++;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 6);
  EXPECT_EQ(raw_query(tmp_.file("first.db"), "SELECT count(*) FROM sqlite_schema"), "2");
}

// Holds a read-write transaction (the write lock) on another thread until
// released.
class LockHolder {
 public:
  explicit LockHolder(evdb::DB& db) {
    th_ = std::thread([&] {
      evdb_tx* tx = nullptr;
      ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
      {
        std::lock_guard l(mu_);
        held_ = true;
      }
      cv_.notify_all();
      std::unique_lock l(mu_);
      cv_.wait(l, [&] { return release_; });
      evdb_rollback(tx);
    });
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return held_; });
  }
  ~LockHolder() {
    {
      std::lock_guard l(mu_);
      release_ = true;
    }
    cv_.notify_all();
    th_.join();
  }

 private:
  std::thread th_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false, release_ = false;
};

TEST_F(SqliteDriverTest, WaitingWriterHonoursCancellation) {
  evdb::DB db = evdb::DB::open(tmp_.uri("wait.db", "busy_timeout_ms=60000"));
  LockHolder holder(db);
  evdb::Context ctx;
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ctx.cancel();
  });
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_begin(db.raw(), ctx.raw(), EVDB_TX_READ_WRITE, &tx, &err), EVDB_CANCELED);
  evdb_error_release(&err);
  canceller.join();
}

TEST_F(SqliteDriverTest, WaitingWriterHonoursDeadline) {
  evdb::DB db = evdb::DB::open(tmp_.uri("deadline.db", "busy_timeout_ms=60000"));
  LockHolder holder(db);
  evdb::Context ctx(std::chrono::milliseconds(50));
  evdb_tx* tx = nullptr;
  EXPECT_EQ(evdb_begin(db.raw(), ctx.raw(), EVDB_TX_READ_WRITE, &tx, nullptr),
            EVDB_DEADLINE_EXCEEDED);
}

TEST_F(SqliteDriverTest, WaitingWriterGivesUpAfterBusyTimeout) {
  evdb::DB db = evdb::DB::open(tmp_.uri("busy.db", "busy_timeout_ms=30"));
  LockHolder holder(db);
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_CONFLICT);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("busy_timeout_ms=30"), std::string::npos) << err.message;
  evdb_error_release(&err);
  // Readers never wait for the writer.
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& t) { return t.read_system_version(); }), 0);
}

TEST_F(SqliteDriverTest, WaitingWriterProceedsWhenLockIsReleased) {
  evdb::DB db = evdb::DB::open(tmp_.uri("proceed.db"));
  std::optional<LockHolder> holder;
  holder.emplace(db);
  std::thread writer([&] { db.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(1)); }); });
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  holder.reset();
  writer.join();
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 1);
}

// Many writer threads on one file queue for the write lock: each reads the
// head and appends there, and none of them ever loses a race or gives up.
TEST_F(SqliteDriverTest, ManyQueuedWriterThreadsAllCommitGaplessWithoutErrors) {
  evdb::DB db = evdb::DB::open(tmp_.uri("queue.db", "synchronous=off"));
  constexpr int kThreads = 12, kEach = 40;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        try {
          db.tx_rw([&](evdb::TxRW& tx) {
            tx.append_event(tx.read_system_version(), make_event(t * 1000 + i));
          });
        } catch (const evdb::Error& e) {
          ADD_FAILURE() << e.what();
          errors++;
        }
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), kThreads * kEach);
    auto all = tx.read_events(1, kThreads * kEach + 1);
    ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
    std::set<std::string> payloads;
    for (size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(all[i].version, static_cast<int64_t>(i) + 1);
      payloads.insert(all[i].payload);
    }
    EXPECT_EQ(payloads.size(), all.size()) << "every event once";
  });
}

// A queued writer whose deadline passes while another thread holds the lock
// returns DEADLINE_EXCEEDED then, not when the holder ends; the writers
// queued with it proceed once the holder ends.
TEST_F(SqliteDriverTest, QueuedWriterWithDeadlineLeavesTheQueueInTime) {
  evdb::DB db = evdb::DB::open(tmp_.uri("queue-deadline.db", "busy_timeout_ms=60000"));
  std::optional<LockHolder> holder;
  holder.emplace(db);
  std::vector<std::thread> patient;
  for (int i = 0; i < 3; ++i)
    patient.emplace_back([&] {
      db.tx_rw([](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), make_event(1)); });
    });
  evdb::Context ctx(std::chrono::milliseconds(100));
  evdb_tx* tx = nullptr;
  EXPECT_EQ(evdb_begin(db.raw(), ctx.raw(), EVDB_TX_READ_WRITE, &tx, nullptr),
            EVDB_DEADLINE_EXCEEDED);
  // Still held: the holder is released only now.
  holder.reset();
  for (auto& t : patient) t.join();
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& t) { return t.read_system_version(); }), 3);
}

// Writers of a process are not served in order: threads committing back to
// back may keep taking the turn while another waits (docs/sqlite-driver.md,
// "Writers queue"). That waiter's bound is its busy_timeout_ms: each attempt
// commits or, once the budget is spent, fails CONFLICT naming it; none hangs,
// and every committed event is in the log once, gapless.
TEST_F(SqliteDriverTest, AWriterOutrunByBackToBackWritersEndsByItsBusyTimeout) {
  evdb::DB db = evdb::DB::open(tmp_.uri("outrun.db", "synchronous=off&busy_timeout_ms=20"));
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::vector<std::thread> busy;
  for (int t = 0; t < 3; ++t)
    busy.emplace_back([&] {
      while (!stop.load()) {
        try {
          db.tx_rw(
              [&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), make_event(1)); });
          committed++;
        } catch (const evdb::Error& e) {
          EXPECT_EQ(e.code(), EVDB_CONFLICT) << e.what();  // their budget is 20 ms too
        }
      }
    });
  int mine = 0, gave_up = 0;
  for (int n = 0; n < 40; ++n) {
    try {
      db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(tx.read_system_version(), make_event(2)); });
      mine++;
    } catch (const evdb::Error& e) {
      EXPECT_EQ(e.code(), EVDB_CONFLICT) << e.what();
      EXPECT_NE(std::string(e.what()).find("busy_timeout_ms=20"), std::string::npos) << e.what();
      gave_up++;
    }
  }
  stop = true;
  for (auto& th : busy) th.join();
  EXPECT_EQ(mine + gave_up, 40);
  const int total = committed.load() + mine;
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), total);
    auto all = tx.read_events(1, total + 1);
    ASSERT_EQ(all.size(), static_cast<size_t>(total));
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int64_t>(i) + 1);
  });
}

TEST_F(SqliteDriverTest, ListenerSeesOtherHandlesInOrderAndNotRollbacks) {
  evdb::DB listening = evdb::DB::open(tmp_.uri("listen.db", "poll_ms=1000"));
  evdb::DB writer = evdb::DB::open(tmp_.uri("listen.db"));
  writer.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(1)); });  // before: not seen
  test_support::Listening l(listening);
  ASSERT_TRUE(l.ready());
  writer.tx_rw([](evdb::TxRW& tx) {
    tx.append_event(1, make_event(2));
    tx.append_event(2, make_event(3));
  });
  EXPECT_THROW(writer.tx_rw([](evdb::TxRW& tx) {
    tx.append_event(3, make_event(4));
    throw std::runtime_error("roll back");
  }),
               std::runtime_error);
  writer.tx_rw([](evdb::TxRW& tx) { tx.append_event(3, make_event(4)); });
  EXPECT_EQ(l.wait_for(3), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(l.stop().code(), EVDB_CANCELED);
  EXPECT_EQ(l.versions(), (std::vector<int64_t>{2, 3, 4}));
}

TEST_F(SqliteDriverTest, ListenerStopsOnCallbackError) {
  evdb::DB db = evdb::DB::open(tmp_.uri("listen-err.db"));
  evdb::Context ctx;
  std::atomic<bool> ready{false};
  std::thread writer([&] {
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    db.tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event(1)); });
  });
  evdb::Status s = db.listen(
      ctx, [&] { ready = true; },
      [](int64_t v) { return evdb::Status(EVDB_INTERNAL, "stop at " + std::to_string(v)); });
  writer.join();
  EXPECT_EQ(s.code(), EVDB_INTERNAL);
  EXPECT_EQ(s.message(), "stop at 1");
}

TEST_F(SqliteDriverTest, ListenerHonoursDeadline) {
  evdb::DB db = evdb::DB::open(tmp_.uri("listen-deadline.db"));
  evdb::Context ctx(std::chrono::milliseconds(30));
  evdb::Status s = db.listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_EQ(s.code(), EVDB_DEADLINE_EXCEEDED);
}

}  // namespace
}  // namespace evdb::sqlite::test
