// pg_pipeline_test.cpp — the PostgreSQL driver's round trips
// (docs/contract.md PG-9; docs/postgres-driver.md "Round trips"): counted
// through a relay (test_support/tcp_proxy.hpp), and what buffering appends
// until commit must not change: reads of a transaction's own appends, errors
// of buffered statements (at commit, nothing applied), cancellation during a
// pipelined commit.
#include <future>
#include <optional>
#include <string>

#include "pg_test_util.hpp"
#include "test_support/tcp_proxy.hpp"

namespace evdb::postgres::test {
namespace {

constexpr auto kLiveness = std::chrono::seconds(30);

// A store reached through a TcpProxy, with one pooled connection (so every
// transaction uses the one whose statements are already prepared).
class ProxiedStore {
 public:
  explicit ProxiedStore(const std::string& extra = "")
      : proxy_("127.0.0.1", EVDB_PG_TEST_PORT), schema_(fresh_schema("pgp")) {
    register_driver();
    db_.emplace(DB::open(
        "postgres://evdb:" + test_password() + "@127.0.0.1:" + std::to_string(proxy_.port()) +
        "/evdb?pool_max=1&schema=" + schema_ + (extra.empty() ? "" : "&" + extra)));
  }
  ~ProxiedStore() {
    db_.reset();
    drop_schema(schema_);
  }
  DB& db() { return *db_; }
  test_support::TcpProxy& proxy() { return proxy_; }
  const std::string& schema() const { return schema_; }

  // The round trips (client send bursts) `fn` makes, those it does not wait
  // for included.
  template <class F>
  uint64_t round_trips(F&& fn) {
    proxy_.sync();
    const uint64_t before = proxy_.bursts();
    fn();
    proxy_.sync();
    return proxy_.bursts() - before;
  }

 private:
  test_support::TcpProxy proxy_;
  std::string schema_;
  std::optional<DB> db_;
};

// Runs every kind of transaction once, so that the statements libpqxx
// prepares on first use are prepared before counting.
void warm_up(DB& db) {
  db.tx_rw([](TxRW& tx) {
    int64_t v = tx.append_event(tx.read_system_version(), event("Warm"));
    tx.read_event_at(v);
    tx.read_event_after(0);
    tx.read_events(1, 10);
  });
  db.tx_read_only([](TxRO& tx) {
    tx.read_event_at(1);
    tx.read_event_after(0);
    tx.read_events(1, 10);
  });
}

TEST(PgRoundTrips, OneAppendTransactionTakesTwo) {
  ProxiedStore s;
  warm_up(s.db());
  uint64_t n = s.round_trips([&] {
    s.db().tx_rw([](TxRW& tx) { tx.append_event(tx.read_system_version(), event("One")); });
  });
  EXPECT_EQ(n, 2u) << "begin (with the lock and the head), then the INSERT with COMMIT";
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 2); });
}

TEST(PgRoundTrips, HundredAppendTransactionTakesTwo) {
  ProxiedStore s;
  warm_up(s.db());
  uint64_t n = s.round_trips([&] {
    s.db().tx_rw([](TxRW& tx) {
      int64_t v = tx.read_system_version();
      for (int i = 0; i < 100; ++i) v = tx.append_event(v, event("Batch"));
    });
  });
  EXPECT_EQ(n, 2u);
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 101); });
}

// A read-only transaction with one read: begin and the read; its COMMIT is
// sent without waiting for the answer (shown by holding the server's answers
// back: commit still returns), and the next transaction reads it first.
TEST(PgRoundTrips, ReadOnlyTransactionWaitsForTwo) {
  ProxiedStore s;
  warm_up(s.db());
  std::optional<RawTx> ro;
  uint64_t n = s.round_trips([&] {
    ro.emplace(s.db(), EVDB_TX_READ_ONLY);
    evdb_event e = EVDB_EVENT_INIT;
    ASSERT_EQ(RawTx::status_of(
                  [&](evdb_error* err) { return evdb_read_event_at(ro->tx, nullptr, 1, &e, err); }),
              EVDB_OK);
  });
  EXPECT_EQ(n, 2u) << "begin (with the head), the read";
  s.proxy().hold_replies(true);
  auto committed = std::async(std::launch::async, [&] { return ro->commit(); });
  const bool returned = committed.wait_for(kLiveness) == std::future_status::ready;
  s.proxy().hold_replies(false);
  ASSERT_TRUE(returned) << "the read-only commit waited for the server's answer";
  EXPECT_EQ(committed.get(), EVDB_OK);
  // The next transaction on that connection reads the answer first.
  uint64_t next = s.round_trips([&] {
    EXPECT_EQ(s.db().tx_read_only([](TxRO& tx) { return tx.read_system_version(); }), 1);
  });
  EXPECT_EQ(next, 2u) << "begin (with the head), and the COMMIT nobody waits for";
}

// Reading what the transaction appended sends the buffer first (one more
// round trip); reading below its first append does not.
TEST(PgRoundTrips, OnlyAReadOfBufferedAppendsSendsThemFirst) {
  ProxiedStore s;
  warm_up(s.db());
  uint64_t below = s.round_trips([&] {
    s.db().tx_rw([](TxRW& tx) {
      tx.append_event(1, event("B"));
      EXPECT_EQ(tx.read_event_at(1).type_name, "Warm");
    });
  });
  EXPECT_EQ(below, 3u) << "begin, the read, the INSERT with COMMIT";
  uint64_t own = s.round_trips([&] {
    s.db().tx_rw([](TxRW& tx) {
      tx.append_event(2, event("C"));
      EXPECT_EQ(tx.read_event_at(3).type_name, "C");
    });
  });
  EXPECT_EQ(own, 4u) << "begin, the INSERT, the read, COMMIT";
}

// The Conductor layout keeps one round trip per append (the sequence, not
// the client, gives the version); begin and commit are as in the evdb layout.
TEST(PgRoundTrips, ConductorLayoutSendsEachAppend) {
  ProxiedStore s("layout=conductor&create_layout=1");
  warm_up(s.db());
  uint64_t n = s.round_trips([&] {
    s.db().tx_rw([](TxRW& tx) { tx.append_event(tx.read_system_version(), event("One")); });
  });
  EXPECT_EQ(n, 3u) << "begin, the INSERT, COMMIT";
}

// ---------------------------------------------------------------------------
// What buffering must not change
// ---------------------------------------------------------------------------

TEST(PgBuffered, ReadsSeeOwnAppendsInOrder) {
  Store s;
  s.db().tx_rw([](TxRW& tx) {
    tx.append_event(0, event("Old"));
    // From version 0: the first event is 1, buffered.
    auto first = tx.read_events(0, 1);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].type_name, "Old");
  });
  s.db().tx_rw([](TxRW& tx) {
    EXPECT_EQ(tx.append_event(1, event("A")), 2);
    EXPECT_EQ(tx.append_event(2, event("B")), 3);
    EXPECT_EQ(tx.read_system_version(), 3);
    auto all = tx.read_events(1, 10);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].type_name, "Old");
    EXPECT_EQ(all[1].type_name, "A");
    EXPECT_EQ(all[2].type_name, "B");
    EXPECT_EQ(tx.read_event_after(2).type_name, "B");
    EXPECT_EQ(tx.append_event(3, event("C")), 4);
    EXPECT_EQ(tx.append_event(4, event("D", "[1]", 42, "r")), 5);
    Event d = tx.read_event_at(5);
    EXPECT_EQ(d.payload, "[1]");
    EXPECT_EQ(d.time_us, 42);
    EXPECT_EQ(d.revision_vcs, "r");
    auto back = tx.read_events(10, 10, Direction::Descending);
    ASSERT_EQ(back.size(), 5u);
    for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i].version, 5 - int64_t(i));
    EXPECT_THROW(tx.append_event(4, event("Stale")), VersionMismatch);
    EXPECT_EQ(tx.append_event(5, event("E")), 6);  // a mismatch leaves it usable
  });
  s.db().tx_read_only([](TxRO& tx) {
    auto all = tx.read_events(1, 10);
    ASSERT_EQ(all.size(), 6u);
    EXPECT_EQ(all[5].type_name, "E");
  });
}

// A statement the server refuses (here a CHECK constraint added outside
// evdb) fails the commit with the code it would have had at the append
// (INTERNAL, naming the SQLSTATE), and nothing of the transaction is applied.
TEST(PgBuffered, RefusedAppendFailsTheCommitAndAppliesNothing) {
  Store s;
  {
    pqxx::connection c(raw_conninfo());
    pqxx::work t(c);
    t.exec0("ALTER TABLE " + t.quote_name(s.schema()) +
            ".events ADD CONSTRAINT refuse CHECK (type <> 'Refused')");
    t.commit();
  }
  RawTx tx(s.db(), EVDB_TX_READ_WRITE);
  ASSERT_EQ(tx.append(0, "A"), EVDB_OK);
  ASSERT_EQ(tx.append(1, "Refused"), EVDB_OK) << "buffered: the server has not seen it yet";
  ASSERT_EQ(tx.append(2, "C"), EVDB_OK);
  std::string msg;
  EXPECT_EQ(tx.commit(&msg), EVDB_INTERNAL);
  EXPECT_NE(msg.find("23514"), std::string::npos) << msg;
  EXPECT_EQ(msg.find(test_password()), std::string::npos) << msg;
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 0); });
  // The connection is clean for the next transaction.
  s.db().tx_rw([](TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A")), 1); });
}

// A writer begun without the lock (PG-8: another transaction of its thread
// held it) checks its appends against its snapshot; when a writer committed
// meanwhile, the key refuses the buffered INSERT at commit: VERSION_MISMATCH,
// nothing applied.
TEST(PgBuffered, VersionTakenMeanwhileIsVersionMismatchAtCommit) {
  Store s;
  RawTx a(s.db(), EVDB_TX_READ_WRITE);
  RawTx b(s.db(), EVDB_TX_READ_WRITE);  // this thread: begins without the lock
  ASSERT_EQ(a.append(0, "A"), EVDB_OK);
  ASSERT_EQ(a.commit(), EVDB_OK);
  EXPECT_EQ(b.head(), 0) << "its snapshot predates a's commit";
  ASSERT_EQ(b.append(0, "B1"), EVDB_OK) << "the lock is free now; the head is its snapshot's";
  ASSERT_EQ(b.append(1, "B2"), EVDB_OK);
  std::string msg;
  EXPECT_EQ(b.commit(&msg), EVDB_VERSION_MISMATCH) << msg;
  s.db().tx_read_only([](TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 1);
    EXPECT_EQ(tx.read_event_at(1).type_name, "A");
  });
}

// A context cancelled while the pipelined INSERTs run (held up here by a
// trigger waiting for an advisory lock another session holds) cancels them:
// the commit fails with CANCELED and applies nothing (OP-27, PG-6).
TEST(PgBuffered, CancelDuringAPipelinedCommitAppliesNothing) {
  Store s;
  const std::string q = pqxx::connection(raw_conninfo()).quote_name(s.schema());
  pqxx::connection holder(raw_conninfo());
  {
    pqxx::work t(holder);
    t.exec0(
        "CREATE FUNCTION " + q +
        ".gate() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_advisory_xact_lock(hashtext(TG_TABLE_SCHEMA)); RETURN NEW; END $$");
    t.exec0("CREATE TRIGGER gate BEFORE INSERT ON " + q + ".events FOR EACH ROW EXECUTE FUNCTION " +
            q + ".gate()");
    t.commit();
  }
  pqxx::nontransaction hold(holder);
  hold.exec_params("SELECT pg_advisory_lock(hashtext($1))", s.schema());

  Context ctx;
  RawTx tx(s.db(), EVDB_TX_READ_WRITE);
  ASSERT_EQ(tx.append(0, "A"), EVDB_OK);
  ASSERT_EQ(tx.append(1, "B"), EVDB_OK);
  std::string msg;
  auto committed = std::async(std::launch::async, [&] { return tx.commit(&msg, &ctx); });
  {
    // Ordering, not timing: the INSERT waits for the advisory lock.
    pqxx::connection c(raw_conninfo());
    for (;;) {
      pqxx::nontransaction t(c);
      if (!t.exec_params("SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
                         holder.backendpid())
               .empty())
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  ctx.cancel();
  ASSERT_EQ(committed.wait_for(kLiveness), std::future_status::ready);
  EXPECT_EQ(committed.get(), EVDB_CANCELED) << msg;
  hold.exec_params("SELECT pg_advisory_unlock(hashtext($1))", s.schema());
  s.db().tx_read_only([](TxRO& tx) { EXPECT_EQ(tx.read_system_version(), 0); });
  s.db().tx_rw([](TxRW& tx) { EXPECT_EQ(tx.append_event(0, event("A")), 1); });
}

// The connection lost once the pipelined COMMIT was sent (here: after the
// server ran it, before its answer arrived) is resolved by the commit token
// sent in the same pipeline (OP-15, PG-5): the commit returns OK.
TEST(PgBuffered, ConnectionLostDuringAPipelinedCommitIsResolved) {
  ProxiedStore s;
  warm_up(s.db());
  RawTx tx(s.db(), EVDB_TX_READ_WRITE);
  ASSERT_EQ(tx.append(1, "X"), EVDB_OK);
  s.proxy().hold_replies(true);
  std::string msg;
  auto committed = std::async(std::launch::async, [&] { return tx.commit(&msg); });
  {
    // Ordering, not timing: the server has committed.
    pqxx::connection c(raw_conninfo());
    const std::string q = "SELECT count(*) FROM " + c.quote_name(s.schema()) + ".events";
    for (;;) {
      pqxx::nontransaction t(c);
      if (t.exec(q)[0][0].as<int64_t>() == 2) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  s.proxy().cut();
  s.proxy().hold_replies(false);
  ASSERT_EQ(committed.wait_for(kLiveness), std::future_status::ready);
  // The server committed: the driver reconnects, finds the commit token sent
  // in the pipeline, and reports the commit applied (OP-15, PG-5).
  EXPECT_EQ(committed.get(), EVDB_OK) << msg;
  // A new connection replaces the lost one; the head agrees.
  s.db().tx_read_only([](TxRO& t) { EXPECT_EQ(t.read_system_version(), 2); });
}

}  // namespace
}  // namespace evdb::postgres::test
