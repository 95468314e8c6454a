// pg_driver_test.cpp — behaviour of the PostgreSQL driver through libevdb:
// URIs, layout creation, round trips, conflicts and their codes, snapshots,
// the pool, the listener, and the Conductor layout beside a "Go" writer.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "pg_test_util.hpp"

namespace evdb::postgres::test {
namespace {

evdb_status open_status(const std::string& u, std::string* message = nullptr) {
  register_driver();
  test_support::OpenResult r = test_support::try_open(u);
  if (message) *message = r.message;
  return r.status;
}

// ---------------------------------------------------------------------------
// URIs
// ---------------------------------------------------------------------------

TEST(PgUri, UnknownParameterIsRefusedByName) {
  std::string msg;
  EXPECT_EQ(open_status(uri("schema=x&frobnicate=1"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("frobnicate"), std::string::npos) << msg;
  // With a password in the URI (authority and parameter): not in the message.
  const std::string pw = "Uri-Secret-771";
  EXPECT_EQ(open_status("postgres://evdb:" + pw + "@127.0.0.1:" +
                            std::to_string(EVDB_PG_TEST_PORT) + "/evdb?schema=x&frobnicate=1",
                        &msg),
            EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("frobnicate"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(pw), std::string::npos) << msg;
  EXPECT_EQ(open_status("postgres://evdb@127.0.0.1:1/evdb?password=" + pw + "&bogus=1", &msg),
            EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("bogus"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(pw), std::string::npos) << msg;
}

TEST(PgUri, BadValuesAreRefused) {
  std::string msg;
  EXPECT_EQ(open_status(uri("layout=mongo"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("layout"), std::string::npos) << msg;
  EXPECT_EQ(open_status(uri("pool_max=0"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("pool_max"), std::string::npos) << msg;
  EXPECT_EQ(open_status(uri("create_layout=1"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("create_layout"), std::string::npos) << msg;
  EXPECT_EQ(open_status(uri("schema=" + std::string(64, 'a')), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(open_status(uri("listen_reconnect_timeout_ms=-1"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(open_status(uri("read_only_on=replica"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("read_only_on=replica"), std::string::npos) << msg;
  EXPECT_EQ(open_status(uri("commit_resolve_timeout_ms=3600001"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(msg.find(test_password()), std::string::npos) << msg;
  // Checked by the driver, which applies it itself (libpq ignores it when
  // connecting without blocking).
  EXPECT_EQ(open_status(uri("connect_timeout=abc"), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("connect_timeout=abc"), std::string::npos) << msg;
  EXPECT_EQ(open_status(uri("connect_timeout=5s"), &msg), EVDB_INVALID_ARGUMENT);
}

TEST(PgUri, LibpqParametersPassThrough) {
  std::string schema = fresh_schema();
  register_driver();
  {
    DB db = DB::open(uri("schema=" + schema +
                         "&application_name=evdb_pt_test&connect_timeout=5&sslmode=disable"));
    std::string app = db.tx_read_only([](TxRO&) { return 0; }) == 0 ? "ok" : "";
    EXPECT_EQ(app, "ok");
    // The application name reached the server.
    pqxx::connection c(raw_conninfo());
    pqxx::nontransaction t(c);
    // A pooled connection of db is idle and still open.
    auto r =
        t.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'evdb_pt_test'");
    EXPECT_GE(r[0][0].as<int>(), 1);
  }
  drop_schema(schema);
}

// libpq's multi-host URIs: hosts tried in order, each with its own port; the
// first (nothing listens on port 1) refuses, the test server answers.
TEST(PgUri, HostListsAreTriedInOrder) {
  std::string schema = fresh_schema();
  register_driver();
  const std::string port = std::to_string(EVDB_PG_TEST_PORT);
  std::string tail =
      std::string(EVDB_PG_TEST_URI).substr(std::string(EVDB_PG_TEST_URI).find('/', 11));
  {
    DB db = DB::open("postgres://evdb@127.0.0.1:1,[::1]:1,127.0.0.1:" + port + tail +
                     "&schema=" + schema + "&target_session_attrs=read-write");
    db.tx_rw([](TxRW& tx) { tx.append_event(0, test_support::event("e", "{}")); });
    EXPECT_EQ(db.tx_read_only([](TxRO& tx) { return tx.read_system_version(); }), 1);
  }
  std::string msg;
  EXPECT_EQ(open_status("postgres://evdb:Host-Secret-9@127.0.0.1:1,," + port + tail, &msg),
            EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("host list"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("Host-Secret-9"), std::string::npos) << msg;
  // No host answers: CONNECTION, naming no password.
  EXPECT_EQ(open_status("postgres://evdb:Host-Secret-9@127.0.0.1:1,127.0.0.1:2/evdb", &msg),
            EVDB_CONNECTION);
  EXPECT_EQ(msg.find("Host-Secret-9"), std::string::npos) << msg;
  drop_schema(schema);
}

TEST(PgUri, PostgresqlSchemeIsAnAlias) {
  std::string schema = fresh_schema();
  std::string u = uri("schema=" + schema);
  u.replace(0, std::string("postgres://").size(), "postgresql://");
  register_driver();
  {
    DB db = DB::open(u);
    EXPECT_EQ(db.driver_name(), "postgres");
  }
  drop_schema(schema);
}

// ---------------------------------------------------------------------------
// Layout
// ---------------------------------------------------------------------------

TEST(PgLayout, ConcurrentFirstOpensAllSucceed) {
  std::string schema = fresh_schema();
  register_driver();
  std::vector<std::future<evdb_status>> opens;
  for (int i = 0; i < 8; ++i)
    opens.push_back(std::async(std::launch::async, [&] {
      std::string msg;
      evdb_status s = open_status(uri("schema=" + schema), &msg);
      if (s != EVDB_OK) ADD_FAILURE() << msg;
      return s;
    }));
  for (auto& f : opens) EXPECT_EQ(f.get(), EVDB_OK);
  DB db = DB::open(uri("schema=" + schema));
  EXPECT_TRUE(db.has(kCapabilities));
  db.tx_rw([](TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A")), 1); });
  drop_schema(schema);
}

TEST(PgLayout, ReopenKeepsEvents) {
  Store s;
  s.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("A", "[1,2]")); });
  DB again = s.open_again();
  again.tx_read_only([](TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 1);
    EXPECT_EQ(tx.read_event_at(1).payload, "[1,2]");
  });
}

TEST(PgLayout, ForeignTablesAreRefusedAndLeftAlone) {
  std::string schema = fresh_schema();
  {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    t.exec0("CREATE SCHEMA " + t.quote_name(schema));
    t.exec0("CREATE TABLE " + t.quote_name(schema) + ".events (id int)");
    t.commit();
  }
  std::string msg;
  EXPECT_EQ(open_status(uri("schema=" + schema), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find(schema), std::string::npos) << msg;
  pqxx::connection c(raw_conninfo());
  pqxx::nontransaction t(c);
  EXPECT_EQ(t.exec("SELECT count(*) FROM pg_attribute WHERE attrelid = '" + schema +
                   ".events'::regclass AND attnum > 0")[0][0]
                .as<int>(),
            1);
  drop_schema(schema);
}

// ---------------------------------------------------------------------------
// Round trips and reads
// ---------------------------------------------------------------------------

TEST(PgRoundTrip, EverythingComesBackExactly) {
  Store s;
  const std::vector<int64_t> times = {1, 1700000000123456, 253402300799999999, INT64_MAX - 1,
                                      INT64_MAX};
  const std::string payload = "{ \"b\" : 1,  \"a\":[1 , 2.50],\"u\":\"\\u00e9 é\" }";
  s.db().tx_rw([&](TxRW& tx) {
    int64_t v = 0;
    for (int64_t t : times)
      v = tx.append_event(v, event("Type.é", payload, t, "rev-" + std::to_string(t)));
    tx.append_event(v, event("NoRev", "null", 0, ""));
  });
  s.db().tx_read_only([&](TxRO& tx) {
    auto all = tx.read_events(1, 100);
    ASSERT_EQ(all.size(), times.size() + 1);
    for (size_t i = 0; i < times.size(); ++i) {
      EXPECT_EQ(all[i].version, static_cast<int64_t>(i + 1));
      EXPECT_EQ(all[i].type_name, "Type.é");
      EXPECT_EQ(all[i].payload, payload);
      EXPECT_EQ(all[i].time_us, times[i]);
      EXPECT_EQ(all[i].revision_vcs, "rev-" + std::to_string(times[i]));
    }
    Event last = all.back();
    EXPECT_EQ(last.payload, "null");
    EXPECT_EQ(last.revision_vcs, "");
    // time 0 means "now": the server's clock, within a day of ours.
    int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    EXPECT_LT(std::llabs(last.time_us - now), int64_t{86400} * 1000000);
  });
}

TEST(PgReads, EdgeCases) {
  Store s;
  s.db().tx_rw([](TxRW& tx) {
    // .append, not "literal" + std::string&&: GCC 12 -O3 false -Wrestrict (bug 105329).
    for (int i = 0; i < 5; ++i)
      tx.append_event(i, event(std::string("E").append(std::to_string(i + 1))));
  });
  s.db().tx_read_only([](TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 5);
    EXPECT_FALSE(tx.find_event_at(0));
    EXPECT_FALSE(tx.find_event_at(6));
    EXPECT_EQ(tx.read_event_at(3).type_name, "E3");
    EXPECT_EQ(tx.read_event_after(0).version, 1);
    EXPECT_EQ(tx.read_event_after(4).version, 5);
    EXPECT_THROW(tx.read_event_after(5), NotFound);
    EXPECT_EQ(tx.read_events(3, 10).size(), 3u);
    EXPECT_EQ(tx.read_events(6, 10).size(), 0u);
    auto desc = tx.read_events(100, 2, Direction::Descending);
    ASSERT_EQ(desc.size(), 2u);
    EXPECT_EQ(desc[0].version, 5);
    EXPECT_EQ(desc[1].version, 4);
    EXPECT_EQ(tx.read_events(1, 0).size(), 0u);
    EXPECT_THROW(tx.read_projection_version(1), NotFound);
  });
}

TEST(PgProjections, InitSetRead) {
  Store s;
  s.db().tx_rw([](TxRW& tx) {
    EXPECT_EQ(tx.init_projection_version(7), 0);
    tx.set_projection_version(7, 42);
    EXPECT_EQ(tx.init_projection_version(7), 42);
    tx.set_projection_version(7, 3);
    EXPECT_THROW(tx.set_projection_version(8, 1), NotFound);
  });
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_projection_version(7), 3); });
}

// ---------------------------------------------------------------------------
// Conflicts
// ---------------------------------------------------------------------------

TEST(PgConflict, StaleAndAheadAppendsWriteNothing) {
  Store s;
  s.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("A")); });
  s.db().tx_rw([](TxRW& tx) {
    EXPECT_THROW(tx.append_event(0, event("stale")), VersionMismatch);
    EXPECT_THROW(tx.append_event(5, event("ahead")), VersionMismatch);
    // The transaction stays usable after a plain mismatch.
    EXPECT_EQ(tx.read_system_version(), 1);
  });
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 1); });
}

// Returns once some transaction waits for the write lock (the events table)
// of schema: ordering for the tests below, not a timing.
void await_a_queued_writer(const std::string& schema) {
  pqxx::connection c(raw_conninfo());
  for (;;) {
    pqxx::nontransaction t(c);
    int64_t n = t.exec_params1(
                     "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE NOT l.granted AND n.nspname = $1 AND c.relname = 'events'",
                     schema)[0]
                    .as<int64_t>();
    if (n > 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

// Writers queue: a read-write transaction begun while another is open waits
// for it, then sees its commit; appending at the head it read succeeds.
TEST(PgQueue, SecondWriterWaitsThenAppendsAtTheNewHead) {
  Store s;
  RawTx a(s.db(), EVDB_TX_READ_WRITE);
  ASSERT_EQ(a.head(), 0);
  ASSERT_EQ(a.append(0), EVDB_OK);
  auto fb = std::async(std::launch::async, [&] {
    RawTx b(s.db(), EVDB_TX_READ_WRITE);  // waits for a
    int64_t head = b.head();
    evdb_status appended = b.append(head);
    return std::make_tuple(head, appended, b.commit());
  });
  await_a_queued_writer(s.schema());
  EXPECT_EQ(a.commit(), EVDB_OK);
  auto [head, appended, committed] = fb.get();
  EXPECT_EQ(head, 1) << "the queued writer's snapshot is taken after the first one's commit";
  EXPECT_EQ(appended, EVDB_OK);
  EXPECT_EQ(committed, EVDB_OK);
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 2); });
}

// A bound on liveness for a begin that must not wait for its own thread:
// before, it waited for this long and failed with DEADLINE_EXCEEDED.
constexpr auto kLiveness = std::chrono::seconds(30);

// Runs a writer on another thread: it begins (queueing for the write lock),
// appends at the head it read and commits. Returns {head read, append,
// commit}.
std::future<std::tuple<int64_t, evdb_status, evdb_status>> writer_elsewhere(Store& s) {
  return std::async(std::launch::async, [&s] {
    RawTx w(s.db(), EVDB_TX_READ_WRITE);
    int64_t head = w.head();
    evdb_status appended = w.append(head);
    return std::make_tuple(head, appended, w.commit());
  });
}

// Two read-write transactions open at once on one thread (OP-18, PG-8):
// the later ones begin without waiting for the lock the first holds; their
// first write tries it without waiting and fails at once, VERSION_MISMATCH
// for an append and CONFLICT for a projection write, writing nothing. The
// first commits; afterwards a writer on this thread queues as usual.
void writers_on_the_holders_thread(Store& s) {
  s.db().tx_rw([](TxRW& tx) { tx.init_projection_version(1); });
  int64_t h0 = s.db().tx_read_only([](TxRO& tx) { return tx.read_system_version(); });
  Context live(kLiveness);
  {
    RawTx a(s.db(), EVDB_TX_READ_WRITE);
    ASSERT_EQ(a.append(h0, "A"), EVDB_OK);
    RawTx b(s.db(), EVDB_TX_READ_WRITE, &live);
    EXPECT_EQ(b.head(), h0) << "b reads its own snapshot, without a's append";
    std::string msg;
    EXPECT_EQ(b.append(h0, "B", &msg), EVDB_VERSION_MISMATCH);
    EXPECT_NE(msg.find("this thread"), std::string::npos) << msg;
    EXPECT_EQ(b.append(h0, "B"), EVDB_VERSION_MISMATCH) << "the refusal aborted b's transaction";
    RawTx c(s.db(), EVDB_TX_READ_WRITE, &live);
    EXPECT_EQ(c.read_proj(1), EVDB_OK);
    EXPECT_EQ(c.set_proj(1, 5), EVDB_CONFLICT);
    RawTx d(s.db(), EVDB_TX_READ_WRITE, &live);
    EXPECT_EQ(d.init_proj(1), EVDB_OK) << "an existing projection is only read: no lock needed";
    EXPECT_EQ(d.init_proj(2), EVDB_CONFLICT);
    RawTx f(s.db(), EVDB_TX_READ_WRITE, &live);
    EXPECT_EQ(a.commit(), EVDB_OK);
    // f's snapshot is older than a's commit: once it can take the lock, its
    // append at the head it read still loses (at the write or at commit).
    evdb_status late = f.append(h0, "F");
    if (late == EVDB_OK) late = f.commit();
    EXPECT_EQ(late, EVDB_VERSION_MISMATCH);
  }
  int64_t h1 = s.db().tx_read_only([&](TxRO& tx) {
    auto all = tx.read_events(1, 10);
    EXPECT_EQ(all.size(), 1u) << "only a's event";
    EXPECT_EQ(all.back().type_name, "A");
    EXPECT_EQ(tx.read_projection_version(1), 0);
    EXPECT_THROW(tx.read_projection_version(2), NotFound);
    return tx.read_system_version();
  });

  // The first has ended: a writer on this thread takes the lock at begin
  // again, so a writer on another thread queues behind it.
  RawTx e(s.db(), EVDB_TX_READ_WRITE, &live);
  auto elsewhere = writer_elsewhere(s);
  await_a_queued_writer(s.schema());
  ASSERT_EQ(e.append(h1, "E"), EVDB_OK);
  ASSERT_EQ(e.commit(), EVDB_OK);
  auto [head, appended, committed] = elsewhere.get();
  EXPECT_GT(head, h1) << "the queued writer's snapshot is taken after e's commit";
  EXPECT_EQ(appended, EVDB_OK);
  EXPECT_EQ(committed, EVDB_OK);
}

TEST(PgQueue, WritersOnTheHoldersThreadFailAtOnce) {
  Store s;
  writers_on_the_holders_thread(s);
}

TEST(PgQueue, WritersOnTheHoldersThreadFailAtOnceConductor) {
  Store s("layout=conductor&create_layout=1", "cnd");
  writers_on_the_holders_thread(s);
}

// A writer begun while this thread's other transaction held the lock takes
// the lock at its first write once that one has ended, and is then the
// holder: another writer on this thread does not wait for it, one on
// another thread queues behind it.
TEST(PgQueue, LaterWriterOnTheSameThreadTakesTheLockOnceTheFirstEnded) {
  Store s;
  Context live(kLiveness);
  RawTx a(s.db(), EVDB_TX_READ_WRITE);
  RawTx b(s.db(), EVDB_TX_READ_WRITE, &live);
  a.rollback();
  ASSERT_EQ(b.append(0), EVDB_OK);
  {
    RawTx c(s.db(), EVDB_TX_READ_WRITE, &live);
    EXPECT_EQ(c.append(0), EVDB_VERSION_MISMATCH);
  }
  auto elsewhere = writer_elsewhere(s);
  await_a_queued_writer(s.schema());
  EXPECT_EQ(b.commit(), EVDB_OK);
  auto [head, appended, committed] = elsewhere.get();
  EXPECT_EQ(head, 1);
  EXPECT_EQ(appended, EVDB_OK);
  EXPECT_EQ(committed, EVDB_OK);
}

// A writer whose assumed version is stale (read before another commit, in
// another transaction) still gets VERSION_MISMATCH, queue or not.
TEST(PgQueue, StaleAssumedVersionIsStillVersionMismatch) {
  Store s;
  int64_t seen = s.db().tx_read_only([](TxRO& tx) { return tx.read_system_version(); });
  s.db().tx_rw([&](TxRW& tx) { tx.append_event(seen, event("A")); });
  RawTx b(s.db(), EVDB_TX_READ_WRITE);
  EXPECT_EQ(b.append(seen), EVDB_VERSION_MISMATCH);
  EXPECT_EQ(b.commit(), EVDB_OK);  // a plain mismatch leaves the transaction usable
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 1); });
}

// Write skew against a SERIALIZABLE writer that does not take the lock (SQL
// from outside evdb): R reads projection 2 and writes 1, the evdb
// transaction reads 1 and writes 2; R commits first, so the evdb transaction
// loses (at its write or at commit): VERSION_MISMATCH when it appended,
// CONFLICT otherwise.
enum class Appends { No, Yes };
evdb_status lose_write_skew_to_outside_writer(Store& s, Appends appends) {
  s.db().tx_rw([](TxRW& tx) {
    tx.init_projection_version(1);
    tx.init_projection_version(2);
  });
  pqxx::connection rc(raw_conninfo());
  pqxx::nontransaction r(rc);
  const std::string pv = r.quote_name(s.schema()) + ".projection_versions";
  r.exec0("BEGIN ISOLATION LEVEL SERIALIZABLE");
  r.exec1("SELECT version FROM " + pv + " WHERE id = 2");
  r.exec0("UPDATE " + pv + " SET version = 10 WHERE id = 1");
  RawTx e(s.db(), EVDB_TX_READ_WRITE);
  EXPECT_EQ(e.read_proj(1), EVDB_OK);
  if (appends == Appends::Yes) {
    EXPECT_EQ(e.append(e.head()), EVDB_OK);
  }
  evdb_status set = e.set_proj(2, 10);
  r.exec0("COMMIT");
  return set == EVDB_OK ? e.commit() : set;
}

TEST(PgConflict, CommitTimeLoserWithoutAppendIsConflict) {
  Store s;
  EXPECT_EQ(lose_write_skew_to_outside_writer(s, Appends::No), EVDB_CONFLICT);
}

TEST(PgConflict, CommitTimeLoserThatAppendedIsVersionMismatch) {
  Store s;
  EXPECT_EQ(lose_write_skew_to_outside_writer(s, Appends::Yes), EVDB_VERSION_MISMATCH);
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 0); });
}

TEST(PgConflict, RacingWritersLeaveNoGapsNoDuplicates) {
  Store s("pool_max=4");
  constexpr int kThreads = 6, kEach = 15;
  std::vector<std::thread> ts;
  std::atomic<int> retries{0};
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        for (;;) {
          try {
            s.db().tx_rw([&](TxRW& tx) {
              tx.append_event(tx.read_system_version(),
                              event("W", "{\"t\":" + std::to_string(t) + "}"));
            });
            break;
          } catch (const Error& e) {
            ASSERT_TRUE(e.retryable()) << e.what();
            ++retries;
          }
        }
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(retries.load(), 0) << "writers queue: appending at the head read never loses a race";
  s.db().tx_read_only([&](TxRO& tx) {
    ASSERT_EQ(tx.read_system_version(), kThreads * kEach);
    auto all = tx.read_events(1, 1000);
    ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
    for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int64_t>(i + 1));
  });
}

// ---------------------------------------------------------------------------
// Read-only transactions
// ---------------------------------------------------------------------------

TEST(PgReadOnly, WritesAreRefusedAndTheSnapshotHolds) {
  Store s;
  s.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("A")); });
  RawTx ro(s.db(), EVDB_TX_READ_ONLY);
  EXPECT_EQ(ro.head(), 1);
  EXPECT_EQ(ro.append(1), EVDB_READ_ONLY);
  s.db().tx_rw([](TxRW& tx) { tx.append_event(1, event("B")); });
  EXPECT_EQ(ro.head(), 1);  // still the snapshot of its start
  EXPECT_EQ(ro.commit(), EVDB_OK);
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 2); });
}

// A read-only transaction neither waits for an open writer nor queues behind
// one waiting for the lock (it runs on this thread while both are open).
TEST(PgReadOnly, ReadOnlyPassesWritersHoldingAndWaitingForTheLock) {
  Store s("pool_max=3");
  RawTx holder(s.db(), EVDB_TX_READ_WRITE);
  ASSERT_EQ(holder.append(0), EVDB_OK);
  auto queued = std::async(std::launch::async, [&] {
    RawTx w(s.db(), EVDB_TX_READ_WRITE);
    EXPECT_EQ(w.append(w.head()), EVDB_OK);
    return w.commit();
  });
  await_a_queued_writer(s.schema());
  s.db().tx_read_only([](TxRO& r) { EXPECT_EQ(r.read_system_version(), 0); });
  EXPECT_EQ(holder.commit(), EVDB_OK);
  EXPECT_EQ(queued.get(), EVDB_OK);
}

TEST(PgReadOnly, ReadOnlyOpenWhileReadWriteIsOpen) {
  Store s("pool_max=2");
  s.db().tx_rw([&](TxRW& tx) {
    tx.append_event(0, event("A"));
    s.db().tx_read_only([](TxRO& r) { EXPECT_EQ(r.read_system_version(), 0); });
  });
}

// ---------------------------------------------------------------------------
// Pool
// ---------------------------------------------------------------------------

TEST(PgPool, MoreTransactionsThanConnectionsAllFinish) {
  Store s("pool_max=2");
  std::vector<std::thread> ts;
  std::atomic<int> done{0};
  for (int i = 0; i < 6; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 5; ++k)
        s.db().tx_read_only([&](TxRO& tx) { EXPECT_GE(tx.read_system_version(), 0); });
      ++done;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(done.load(), 6);
}

TEST(PgPool, CancelWhileWaitingForAConnection) {
  Store s("pool_max=1");
  RawTx held(s.db(), EVDB_TX_READ_WRITE);
  Context ctx;
  auto f = std::async(std::launch::async, [&] {
    evdb_tx* tx = nullptr;
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status st = evdb_begin(s.db().raw(), ctx.raw(), EVDB_TX_READ_ONLY, &tx, &err);
    evdb_error_release(&err);
    if (tx) evdb_rollback(tx);
    return st;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ctx.cancel();
  EXPECT_EQ(f.get(), EVDB_CANCELED);
}

// ---------------------------------------------------------------------------
// Cancellation interrupts statements waiting on locks
// ---------------------------------------------------------------------------

// A writer waiting for the write lock ends with its context's status; the
// store works afterwards (the interrupted connection is not reused).
void interrupt_a_queued_writer(Store& s, Context& ctx, evdb_status expected) {
  RawTx holder(s.db(), EVDB_TX_READ_WRITE);  // holds the lock
  auto f = std::async(std::launch::async, [&] {
    return test_support::begin_status(s.db().raw(), ctx.raw(), EVDB_TX_READ_WRITE);
  });
  if (expected == EVDB_CANCELED) {
    await_a_queued_writer(s.schema());
    ctx.cancel();
  }
  EXPECT_EQ(f.get(), expected);
  EXPECT_EQ(holder.commit(), EVDB_OK);
  s.db().tx_rw([](TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A")), 1); });
}

TEST(PgCancel, CancelInterruptsAWriterWaitingForTheLock) {
  Store s;
  Context ctx;
  interrupt_a_queued_writer(s, ctx, EVDB_CANCELED);
}

TEST(PgCancel, DeadlineInterruptsAWriterWaitingForTheLock) {
  Store s;
  Context ctx(std::chrono::milliseconds(200));
  interrupt_a_queued_writer(s, ctx, EVDB_DEADLINE_EXCEEDED);
}

TEST(PgCancel, DeadlineInterruptsAConductorWriterWaitingForTheLock) {
  Store s("layout=conductor&create_layout=1", "cnd");
  Context ctx(std::chrono::milliseconds(200));
  interrupt_a_queued_writer(s, ctx, EVDB_DEADLINE_EXCEEDED);
}

// ---------------------------------------------------------------------------
// Listener
// ---------------------------------------------------------------------------

TEST(PgListener, EachCommitOnceInOrderRollbacksSilent) {
  Store s;
  Listening l(s.db());
  ASSERT_TRUE(l.ready());
  s.db().tx_rw([](TxRW& tx) {
    tx.append_event(0, event("A"));
    tx.append_event(1, event("B"));
  });
  Status rolled = s.db().tx_rw([](TxRW& tx) {
    tx.append_event(2, event("X"));
    return Status(EVDB_CONFLICT, "deliberate rollback");
  });
  EXPECT_EQ(rolled.code(), EVDB_CONFLICT);
  DB other = s.open_again();
  other.tx_rw([](TxRW& tx) { tx.append_event(2, event("C")); });
  EXPECT_EQ(l.wait_for(3), (std::vector<int64_t>{1, 2, 3}));
  Status st = l.stop();
  EXPECT_EQ(st.code(), EVDB_CANCELED);
  EXPECT_EQ(l.wait_for(3), (std::vector<int64_t>{1, 2, 3}));
}

TEST(PgListener, OtherSchemasAreNotHeard) {
  Store a;
  Store b;
  Listening l(a.db());
  b.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("B")); });
  a.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("A")); });
  EXPECT_EQ(l.wait_for(1), (std::vector<int64_t>{1}));
  l.stop();
  EXPECT_EQ(l.wait_for(1), (std::vector<int64_t>{1}));
}

TEST(PgListener, CallbackErrorEndsListen) {
  Store s;
  Context ctx;
  // The append waits for on_ready: one committed before the listener read the
  // head is not news to it, and listen would wait forever (a fixed 200 ms
  // head start was not enough under ThreadSanitizer on a loaded machine).
  std::atomic<bool> ready{false};
  std::thread w([&] {
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    s.db().tx_rw([](TxRW& tx) { tx.append_event(0, event("A")); });
  });
  Status st = s.db().listen(
      ctx, [&] { ready = true; }, [](int64_t) { return Status(EVDB_NOT_FOUND, "stop here"); });
  w.join();
  EXPECT_EQ(st.code(), EVDB_NOT_FOUND);
  EXPECT_EQ(st.message(), "stop here");
}

TEST(PgListener, DeadlineEndsListen) {
  Store s;
  Context ctx(std::chrono::milliseconds(100));
  Status st = s.db().listen(
      ctx, [] {}, [](int64_t) {});
  EXPECT_EQ(st.code(), EVDB_DEADLINE_EXCEEDED);
}

// libevdb runs the listener once per handle for every listen on it (contract
// LSN-1): 1000 listens on one handle are served by one listening connection
// (with a pool of one, the handle holds at most two), and each gets every
// commit. Before, each listen opened its own connection, and a default server
// (max_connections=100) refused the 100th.
TEST(PgListen, ThousandListenersShareOneConnection) {
  constexpr int kListeners = 1000;
  const std::string app = fresh_schema("evdb_hub");
  Store s("pool_max=1&application_name=" + app);
  std::vector<std::unique_ptr<Listening>> ls;
  for (int i = 0; i < kListeners; ++i) {
    ls.push_back(std::make_unique<Listening>(s.db()));
    ASSERT_TRUE(ls.back()->ready()) << "listener " << i << ": " << ls.back()->wait_end().message();
  }
  int64_t v = s.db().tx_rw([](TxRW& tx) { return tx.append_event(0, event("A")); });
  for (int i = 0; i < kListeners; ++i)
    ASSERT_EQ(ls[i]->wait_for(1), std::vector<int64_t>{v}) << "listener " << i;
  pqxx::connection c(raw_conninfo());
  pqxx::nontransaction t(c);
  int connections =
      t.exec("SELECT count(*) FROM pg_stat_activity WHERE application_name = " + t.quote(app))[0][0]
          .as<int>();
  EXPECT_GE(connections, 1);
  EXPECT_LE(connections, 2) << "contract LSN-1: " << kListeners
                            << " listens on one handle (pool_max=1) hold one listening "
                               "connection and at most one pooled one";
  for (auto& l : ls) EXPECT_EQ(l->stop().code(), EVDB_CANCELED);
}

// ---------------------------------------------------------------------------
// Conductor layout
// ---------------------------------------------------------------------------

TEST(PgConductor, NeedsCreateLayoutThenWorks) {
  std::string schema = fresh_schema("cnd");
  std::string msg;
  EXPECT_EQ(open_status(uri("layout=conductor&schema=" + schema), &msg), EVDB_NOT_FOUND);
  EXPECT_NE(msg.find("create_layout"), std::string::npos) << msg;
  {
    DB db = DB::open(uri("layout=conductor&create_layout=1&schema=" + schema));
    EXPECT_FALSE(db.has(EVDB_CAP_GAPLESS));
    EXPECT_FALSE(db.has(EVDB_CAP_BYTE_EXACT_PAYLOAD));
    EXPECT_TRUE(db.has(EVDB_CAP_LISTENER | EVDB_CAP_DURABLE));
    db.tx_rw([](TxRW& tx) {
      EXPECT_EQ(tx.append_event(0, event("A", "{ \"b\":1, \"a\" : 2 }", 1700000000123456, "r1")),
                1);
      EXPECT_THROW(tx.append_event(0, event("stale")), VersionMismatch);
      EXPECT_THROW(tx.append_event(3, event("ahead")), VersionMismatch);
    });
  }
  // Reopen without create_layout; evdb layout on it is refused.
  DB db = DB::open(uri("layout=conductor&schema=" + schema));
  db.tx_read_only([](TxRO& tx) {
    Event e = tx.read_event_at(1);
    EXPECT_EQ(e.payload, "{\"a\": 2, \"b\": 1}");  // normalised by JSONB
    EXPECT_EQ(e.time_us, 1700000000123456);
    EXPECT_EQ(e.revision_vcs, "r1");
  });
  EXPECT_EQ(open_status(uri("schema=" + schema), &msg), EVDB_INVALID_ARGUMENT);
  EXPECT_NE(msg.find("conductor"), std::string::npos) << msg;
  drop_schema(schema);
}

TEST(PgConductor, TimesRoundTripExactly) {
  Store s("layout=conductor&create_layout=1", "cnd");
  const std::vector<int64_t> times = {
      1,        999999, 1700000000123456, 253402300799999999, 9123456789123456789, INT64_MAX - 1,
      INT64_MAX};
  std::vector<int64_t> versions;
  s.db().tx_rw([&](TxRW& tx) {
    int64_t v = 0;
    for (int64_t t : times) versions.push_back(v = tx.append_event(v, event("T", "{}", t)));
  });
  s.db().tx_read_only([&](TxRO& tx) {
    for (size_t i = 0; i < times.size(); ++i)
      EXPECT_EQ(tx.read_event_at(versions[i]).time_us, times[i]) << i;
  });
}

// In the conductor layout a notification only wakes the listener, which then
// reads the log. A commit whose notification arrives while that read runs
// (and after its snapshot) must still be delivered: bursts of back-to-back
// commits from two handles, each burst caught up within a few seconds.
TEST(PgConductor, ListenerDeliversCommitsNotifiedDuringItsCatchUpRead) {
  Store s("layout=conductor&create_layout=1", "cnd");
  DB other = s.open_again();
  Listening l(s.db());
  ASSERT_TRUE(l.ready());
  auto append_on = [](DB& db) {
    db.tx_rw([](TxRW& tx) { tx.append_event(tx.read_system_version(), event("Burst")); });
  };
  constexpr size_t kBursts = 40;
  for (size_t b = 1; b <= kBursts; ++b) {
    append_on(s.db());
    append_on(other);
    append_on(s.db());
    auto got = l.wait_for(3 * b, std::chrono::seconds(5));
    ASSERT_EQ(got.size(), 3 * b) << "burst " << b << ": the last commit was not delivered";
  }
  auto got = l.wait_for(3 * kBursts);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_LT(got[i - 1], got[i]);
}

// Go writers (dbpgx) take versions from the sequence without our lock, so a
// later version can commit before an earlier one. The listener delivers in
// order: it holds version 2 while the transaction holding 1 is open, then
// delivers 1, 2.
TEST(PgConductor, ListenerHoldsLaterVersionsUntilAnEarlierGoTransactionEnds) {
  Store s("layout=conductor&create_layout=1", "cnd");
  Listening l(s.db());
  ASSERT_TRUE(l.ready());
  auto insert = [&](pqxx::work& t, const std::string& type) {
    return t
        .exec1("INSERT INTO " + t.quote_name(s.schema()) + ".events (type, payload) VALUES (" +
               t.quote(type) + ", '{}') RETURNING version")[0]
        .as<int64_t>();
  };
  pqxx::connection ca(raw_conninfo()), cb(raw_conninfo());
  pqxx::work slow(ca), fast(cb);
  ASSERT_EQ(insert(slow, "Slow"), 1);
  ASSERT_EQ(insert(fast, "Fast"), 2);
  fast.commit();
  EXPECT_EQ(l.wait_for(1, std::chrono::milliseconds(600)), std::vector<int64_t>{})
      << "version 2 must wait while version 1 may still commit";
  slow.commit();
  EXPECT_EQ(l.wait_for(2), (std::vector<int64_t>{1, 2}));
}

// A version whose transaction rolled back never commits: the listener skips
// it once no transaction that could hold it is in progress (Go rollbacks and
// evdb rollbacks, which burn sequence values too).
TEST(PgConductor, ListenerSkipsVersionsThatNeverCommit) {
  Store s("layout=conductor&create_layout=1", "cnd");
  Listening l(s.db());
  ASSERT_TRUE(l.ready());
  {
    pqxx::connection ca(raw_conninfo()), cb(raw_conninfo());
    pqxx::work gone(ca), kept(cb);
    gone.exec0("INSERT INTO " + gone.quote_name(s.schema()) +
               ".events (type, payload) VALUES ('Gone', '{}')");
    kept.exec0("INSERT INTO " + kept.quote_name(s.schema()) +
               ".events (type, payload) VALUES ('Kept', '{}')");
    kept.commit();
    gone.abort();
  }
  EXPECT_EQ(l.wait_for(1), std::vector<int64_t>{2});
  Status rolled = s.db().tx_rw([](TxRW& tx) {
    tx.append_event(tx.read_system_version(), event("RolledBack"));
    return Status(EVDB_CONFLICT, "deliberate rollback");
  });
  ASSERT_EQ(rolled.code(), EVDB_CONFLICT);
  int64_t v = 0;
  s.db().tx_rw([&](TxRW& tx) { v = tx.append_event(tx.read_system_version(), event("After")); });
  EXPECT_EQ(l.wait_for(2), (std::vector<int64_t>{2, v}));
}

TEST(PgConductor, BesideAGoWriter) {
  Store s("layout=conductor&create_layout=1", "cnd");
  // What dbpgx does: a plain INSERT taking a version from the sequence.
  auto go_append = [&](const std::string& type) {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    t.exec0("INSERT INTO " + t.quote_name(s.schema()) + ".events (type, payload) VALUES (" +
            t.quote(type) + ", '{\"go\":true}')");
    t.commit();
  };
  Listening l(s.db());
  go_append("Go1");
  s.db().tx_rw([](TxRW& tx) { tx.append_event(tx.read_system_version(), event("Evdb")); });
  go_append("Go2");
  // A stale append after the Go write fails.
  s.db().tx_rw([](TxRW& tx) { EXPECT_THROW(tx.append_event(2, event("stale")), VersionMismatch); });
  auto got = l.wait_for(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_LT(got[0], got[1]);
  EXPECT_LT(got[1], got[2]);
  s.db().tx_read_only([&](TxRO& tx) {
    auto all = tx.read_events(1, 10);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].type_name, "Go1");
    EXPECT_EQ(all[1].type_name, "Evdb");
    EXPECT_EQ(all[2].type_name, "Go2");
    EXPECT_EQ(all[2].revision_vcs, "");  // NULL reads as empty
    EXPECT_EQ(all[0].version, got[0]);
  });
}

TEST(PgConductor, ExistingLayoutIsNeverAltered) {
  std::string schema = fresh_schema("cnd");
  { DB db = DB::open(uri("layout=conductor&create_layout=1&schema=" + schema)); }
  auto ddl = [&] {
    pqxx::connection c(raw_conninfo());
    pqxx::nontransaction t(c);
    return t
        .exec(
            "SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM "
            "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = " +
            t.quote(schema))[0][0]
        .as<std::string>();
  };
  std::string before = ddl();
  { DB db = DB::open(uri("layout=conductor&create_layout=1&schema=" + schema)); }
  EXPECT_EQ(ddl(), before);
  drop_schema(schema);
}

}  // namespace
}  // namespace evdb::postgres::test
