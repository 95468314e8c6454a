// sqlite_fault_test.cpp — faults and bad input for the SQLite driver: killed
// writers, missing folders, permissions, files that are not ours, unknown
// parameters, other processes (listener, concurrent appends).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "sqlite_test_util.hpp"

namespace evdb::sqlite::test {
namespace {

class SqliteFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { register_driver(); }
  TempDir tmp_;
};

std::string integrity(const std::string& path) {
  sqlite3* db = nullptr;
  sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  sqlite3_stmt* s = nullptr;
  std::string out = "no answer";
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW)
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

// Checks that versions 1..head exist, in order, once each.
void expect_gapless(evdb::DB& db, int64_t head) {
  db.tx_read_only([&](evdb::TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), head);
    auto all = tx.read_events(1, static_cast<size_t>(head) + 10);
    ASSERT_EQ(all.size(), static_cast<size_t>(head));
    for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i].version, static_cast<int64_t>(i) + 1);
  });
}

// A writer killed while its multi-event transaction is open (appended, not
// committed) leaves nothing of it; what it committed before survives.
TEST_F(SqliteFaultTest, WriterKilledBeforeCommitLeavesNoneOfTheTransaction) {
  std::string uri = tmp_.uri("killed.db");
  {
    Helper h({"append-block", uri, "5", "500"});
    ASSERT_EQ(h.line(), "ready");
    h.kill(SIGKILL);
    EXPECT_EQ(h.wait(), 128 + SIGKILL);
  }
  EXPECT_EQ(integrity(tmp_.file("killed.db")), "ok");
  evdb::DB db = evdb::DB::open(uri);
  expect_gapless(db, 5);
  // The store is fully usable afterwards (the dead writer's lock is gone).
  db.tx_rw([](evdb::TxRW& tx) { tx.append_event(5, make_event(6)); });
  expect_gapless(db, 6);
}

// A writer killed at an arbitrary point of a loop of 200-event transactions
// (most of its time is spent inside one) leaves whole transactions only.
TEST_F(SqliteFaultTest, WriterKilledWhileCommittingBatchesLeavesWholeTransactions) {
  std::string uri = tmp_.uri("batches.db", "synchronous=normal");
  {
    Helper h({"append-loop", uri, "200"});
    for (int i = 0; i < 3; ++i) ASSERT_EQ(h.line().rfind("committed ", 0), 0u);
    h.kill(SIGKILL);
    EXPECT_EQ(h.wait(), 128 + SIGKILL);
  }
  EXPECT_EQ(integrity(tmp_.file("batches.db")), "ok");
  evdb::DB db = evdb::DB::open(uri);
  int64_t head = db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); });
  EXPECT_GE(head, 600);
  EXPECT_EQ(head % 200, 0) << "a partial transaction survived: head " << head;
  expect_gapless(db, head);
}

TEST_F(SqliteFaultTest, PathInMissingFolder) {
  std::string dir = tmp_.file("no-such-folder");
  OpenResult r = try_open("sqlite://" + dir + "/x.db");
  EXPECT_EQ(r.status, EVDB_CONNECTION);
  EXPECT_NE(r.message.find(dir + "/x.db"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("does not exist"), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("sqlite"), std::string::npos) << r.message;
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST_F(SqliteFaultTest, FileThatIsNotSqliteIsRefusedAndUntouched) {
  std::string path = tmp_.file("notes.txt");
  std::string junk;
  for (int i = 0; i < 200; ++i) junk += "this is not a database, line " + std::to_string(i) + "\n";
  std::ofstream(path, std::ios::binary) << junk;
  OpenResult r = try_open(tmp_.uri("notes.txt"));
  EXPECT_EQ(r.status, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find(path), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("not a SQLite database"), std::string::npos) << r.message;
  EXPECT_EQ(read_file(path), junk);
}

// Builds a database of "another program" with the raw C API.
void make_foreign(const std::string& path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

TEST_F(SqliteFaultTest, ForeignSchemaIsRefusedAndLeftByteIdentical) {
  std::string path = tmp_.file("foreign.db");
  make_foreign(path,
               "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT);"
               "INSERT INTO users(name) VALUES ('ada'), ('bob');");
  std::string before = read_file(path);
  ASSERT_FALSE(before.empty());
  OpenResult r = try_open(tmp_.uri("foreign.db"));
  EXPECT_EQ(r.status, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find(path), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("users"), std::string::npos) << r.message;
  EXPECT_EQ(read_file(path), before);
  EXPECT_FALSE(std::filesystem::exists(path + "-wal"));
}

TEST_F(SqliteFaultTest, ForeignApplicationIdIsRefusedAndLeftByteIdentical) {
  std::string path = tmp_.file("other-app.db");
  make_foreign(path, "PRAGMA application_id = 1234; CREATE TABLE events(x);");
  std::string before = read_file(path);
  OpenResult r = try_open(tmp_.uri("other-app.db"));
  EXPECT_EQ(r.status, EVDB_INVALID_ARGUMENT);
  EXPECT_NE(r.message.find("another application"), std::string::npos) << r.message;
  EXPECT_EQ(read_file(path), before);
}

TEST_F(SqliteFaultTest, NewerFormatVersionIsRefused) {
  std::string path = tmp_.file("newer.db");
  { evdb::DB db = evdb::DB::open(tmp_.uri("newer.db")); }
  make_foreign(path, "PRAGMA user_version = 99;");
  OpenResult r = try_open(tmp_.uri("newer.db"));
  EXPECT_EQ(r.status, EVDB_UNSUPPORTED);
  EXPECT_NE(r.message.find("99"), std::string::npos) << r.message;
}

TEST_F(SqliteFaultTest, BadUrisAreRefusedWithClearErrors) {
  struct Case {
    std::string uri;
    std::string mentions;
  } cases[] = {
      {tmp_.uri("a.db", "bogus=1"), "bogus"},
      {tmp_.uri("a.db", "synchronous=sometimes"), "synchronous=sometimes"},
      {tmp_.uri("a.db", "busy_timeout_ms=-5"), "busy_timeout_ms"},
      {tmp_.uri("a.db", "poll_ms=0"), "poll_ms"},
      {"sqlite://somehost" + tmp_.file("a.db"), "host"},
      {"sqlite::memory:", "memory"},
  };
  for (const auto& c : cases) {
    OpenResult r = try_open(c.uri);
    EXPECT_EQ(r.status, EVDB_INVALID_ARGUMENT) << c.uri << ": " << r.message;
    EXPECT_NE(r.message.find(c.mentions), std::string::npos) << c.uri << ": " << r.message;
  }
  EXPECT_FALSE(std::filesystem::exists(tmp_.file("a.db")));
}

// Permission checks. Root ignores file permissions, so as root the open runs
// in a helper process that drops to user nobody first.
OpenResult open_unprivileged(const std::string& uri, bool* skipped) {
  *skipped = false;
  if (::geteuid() != 0) return try_open(uri);
  Helper h({"open", uri, "nobody"});
  std::string first = h.line();
  if (h.wait() == 77 || first.rfind("status ", 0) != 0) {
    *skipped = true;
    return {EVDB_OK, first};
  }
  std::string second = h.line();
  evdb_status s = EVDB_INTERNAL;
  for (int c = 0; c <= EVDB_INTERNAL; ++c)
    if (first == std::string("status ") + evdb_status_name(static_cast<evdb_status>(c)))
      s = static_cast<evdb_status>(c);
  return {s, second};
}

class SqlitePermissionTest : public SqliteFaultTest {
 protected:
  void SetUp() override {
    SqliteFaultTest::SetUp();
    // user nobody must reach the folder and create -wal/-shm files in it.
    std::filesystem::permissions(tmp_.dir(), std::filesystem::perms::all);
    { evdb::DB db = evdb::DB::open(tmp_.uri("perm.db")); }
    path_ = tmp_.file("perm.db");
    // Without -wal/-shm files left by root.
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
  }
  std::string path_;
};

TEST_F(SqlitePermissionTest, FileWithoutWritePermission) {
  ASSERT_EQ(::chmod(path_.c_str(), 0444), 0);
  bool skipped = false;
  OpenResult r = open_unprivileged(tmp_.uri("perm.db"), &skipped);
  if (skipped) GTEST_SKIP() << "cannot drop root privileges: " << r.message;
  EXPECT_EQ(r.status, EVDB_CONNECTION) << r.message;
  EXPECT_NE(r.message.find(path_), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("write permission"), std::string::npos) << r.message;
}

TEST_F(SqlitePermissionTest, FileWithoutReadPermission) {
  ASSERT_EQ(::chmod(path_.c_str(), 0200), 0);
  bool skipped = false;
  OpenResult r = open_unprivileged(tmp_.uri("perm.db"), &skipped);
  if (skipped) GTEST_SKIP() << "cannot drop root privileges: " << r.message;
  EXPECT_EQ(r.status, EVDB_CONNECTION) << r.message;
  EXPECT_NE(r.message.find(path_), std::string::npos) << r.message;
  EXPECT_NE(r.message.find("read permission"), std::string::npos) << r.message;
}

TEST_F(SqlitePermissionTest, FolderWithoutWritePermissionForNewFile) {
  ASSERT_EQ(::chmod(tmp_.dir().c_str(), 0555), 0);
  bool skipped = false;
  OpenResult r = open_unprivileged(tmp_.uri("fresh.db"), &skipped);
  if (skipped) GTEST_SKIP() << "cannot drop root privileges: " << r.message;
  EXPECT_EQ(r.status, EVDB_CONNECTION) << r.message;
  EXPECT_NE(r.message.find(tmp_.file("fresh.db")), std::string::npos) << r.message;
}

// Commits of another process reach a listener (through PRAGMA
// data_version), every version once and in order.
TEST_F(SqliteFaultTest, ListenerSeesCommitsOfAnotherProcess) {
  std::string uri = tmp_.uri("xproc.db", "poll_ms=20");
  evdb::DB db = evdb::DB::open(uri);
  evdb::Context ctx;
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::vector<int64_t> got;
  evdb::Status result;
  std::thread th([&] {
    result = db.listen(
        ctx,
        [&] {
          std::lock_guard l(mu);
          ready = true;
          cv.notify_all();
        },
        [&](int64_t v) {
          std::lock_guard l(mu);
          got.push_back(v);
          cv.notify_all();
        });
  });
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(30), [&] { return ready; }));
  }
  Helper h({"append", uri, "20"});
  EXPECT_EQ(h.line(), "done");
  EXPECT_EQ(h.wait(), 0);
  {
    std::unique_lock l(mu);
    cv.wait_for(l, std::chrono::seconds(30), [&] { return got.size() >= 20; });
  }
  ctx.cancel();
  th.join();
  EXPECT_EQ(result.code(), EVDB_CANCELED);
  std::vector<int64_t> want;
  for (int64_t v = 1; v <= 20; ++v) want.push_back(v);
  EXPECT_EQ(got, want);
}

TEST_F(SqliteFaultTest, TwoProcessesAppendingToOneFileStayGapless) {
  std::string uri = tmp_.uri("two.db", "synchronous=normal");
  { evdb::DB db = evdb::DB::open(uri); }
  Helper a({"append", uri, "60"});
  Helper b({"append", uri, "60"});
  EXPECT_EQ(a.line(), "done");
  EXPECT_EQ(b.line(), "done");
  EXPECT_EQ(a.wait(), 0);
  EXPECT_EQ(b.wait(), 0);
  evdb::DB db = evdb::DB::open(uri);
  expect_gapless(db, 120);
}

// Another process holds the write lock: writers of this process queue for
// their turn, the one whose turn it is waits for SQLite's lock, and each
// gives up after busy_timeout_ms (counted from when it began waiting) with
// CONFLICT naming the parameter; readers are not held up.
TEST_F(SqliteFaultTest, QueuedWritersBehindAnotherProcessGiveUpAfterBusyTimeout) {
  std::string uri = tmp_.uri("other.db", "busy_timeout_ms=200");
  Helper h({"append-block", uri, "2", "1"});
  ASSERT_EQ(h.line(), "ready");
  evdb::DB db = evdb::DB::open(uri);
  std::vector<std::thread> writers;
  std::atomic<int> conflicts{0};
  for (int i = 0; i < 3; ++i)
    writers.emplace_back([&] {
      evdb_tx* tx = nullptr;
      evdb_error err = EVDB_ERROR_INIT;
      evdb_status s = evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &tx, &err);
      EXPECT_EQ(s, EVDB_CONFLICT);
      if (s == EVDB_CONFLICT) {
        conflicts++;
        EXPECT_NE(std::string(err.message).find("busy_timeout_ms=200"), std::string::npos)
            << err.message;
      } else if (s == EVDB_OK) {
        evdb_rollback(tx);
      }
      evdb_error_release(&err);
    });
  for (auto& t : writers) t.join();
  EXPECT_EQ(conflicts.load(), 3);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 2);
  h.kill(SIGKILL);
  h.wait();
  // Once the other process is gone, writers proceed.
  db.tx_rw([](evdb::TxRW& tx) { tx.append_event(2, make_event(3)); });
  expect_gapless(db, 3);
}

}  // namespace
}  // namespace evdb::sqlite::test
