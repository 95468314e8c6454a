// test_transactions.cpp — Transactions.*, ReadOnly.*, Snapshot.* (docs/contract.md §2.4
// transactions).
#include <cstring>
#include <string>

#include "harness.hpp"

namespace evdb::conformance {
int link_transactions() {
  return 0;
}

namespace {

// A distinct exception type: the rethrown exception must be this very one.
struct Boom {
  int id;
};

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

TEST_F(Transactions, CommitMakesWritesVisible) {
  db().tx_rw([](evdb::TxRW& tx) {
    tx.append_event(0, make_event());
    tx.init_projection_version(1);
    tx.set_projection_version(1, 1);
  });
  EXPECT_EQ(all_events().size(), 1u) << "contract: commit applies the append";
  EXPECT_EQ(projection(1), std::optional<int64_t>(1)) << "contract: commit applies projections";
}

TEST_F(Transactions, ReturnedErrorRollsBackAndComesBack) {
  append();
  evdb::Status s = db().tx_rw([](evdb::TxRW& tx) {
    tx.append_event(tx.read_system_version(), make_event("Gone"));
    tx.init_projection_version(1);
    return evdb::Status(EVDB_NOT_FOUND, "conformance: my own error 4711");
  });
  EXPECT_EQ(s.code(), EVDB_NOT_FOUND) << "contract: tx_rw returns the body's error unchanged";
  EXPECT_EQ(s.message(), "conformance: my own error 4711")
      << "contract: tx_rw returns the body's error unchanged";
  EXPECT_EQ(all_events().size(), 1u) << "contract: a rolled-back transaction leaves no event";
  EXPECT_FALSE(projection(1).has_value()) << "contract: … and no projection change";
}

TEST_F(Transactions, CallbackErrorThroughCApi) {
  // evdb_tx_rw with a C body that appends, then fails with its own message.
  struct Body {
    static evdb_status run(evdb_tx* tx, void*, evdb_error* err) {
      evdb_event e{};
      e.type_name = "Gone";
      e.type_name_len = 4;
      e.payload = "{}";
      e.payload_len = 2;
      evdb_status s = evdb_append_event(tx, nullptr, 0, &e, nullptr, err);
      if (s != EVDB_OK) return s;
      evdb_error_set(err, EVDB_CONFLICT, "conformance: body gave up");
      return EVDB_CONFLICT;
    }
  };
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_tx_rw(db().raw(), nullptr, &Body::run, nullptr, &err);
  EXPECT_EQ(s, EVDB_CONFLICT) << "contract: evdb_tx_rw returns the body's status; got "
                              << evdb_status_name(s);
  EXPECT_EQ(err.code, EVDB_CONFLICT) << "contract: err carries the body's code";
  ASSERT_NE(err.message, nullptr) << "contract: err carries the body's message";
  EXPECT_STREQ(err.message, "conformance: body gave up")
      << "contract: evdb_tx_rw returns the body's error unchanged";
  evdb_error_release(&err);
  EXPECT_EQ(head(), 0) << "contract: the body's append is rolled back";
}

TEST_F(Transactions, CallbackErrorThroughCApiReadOnly) {
  struct Body {
    static evdb_status run(evdb_tx*, void*, evdb_error* err) {
      evdb_error_set(err, EVDB_INTERNAL, "conformance: read-only body failed");
      return EVDB_INTERNAL;
    }
  };
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_tx_read_only(db().raw(), nullptr, &Body::run, nullptr, &err);
  EXPECT_EQ(s, EVDB_INTERNAL) << "contract: evdb_tx_read_only returns the body's status";
  ASSERT_NE(err.message, nullptr);
  EXPECT_STREQ(err.message, "conformance: read-only body failed");
  evdb_error_release(&err);
}

TEST_F(Transactions, ExceptionRollsBackAndIsRethrown) {
  append();
  bool caught = false;
  try {
    db().tx_rw([](evdb::TxRW& tx) {
      tx.append_event(tx.read_system_version(), make_event("Gone"));
      tx.init_projection_version(2);
      throw Boom{4711};
    });
  } catch (const Boom& b) {
    caught = true;
    EXPECT_EQ(b.id, 4711) << "contract: the same exception is rethrown";
  }
  EXPECT_TRUE(caught) << "contract: an exception in the body is rethrown by tx_rw";
  EXPECT_EQ(all_events().size(), 1u) << "contract: a rolled-back transaction leaves no event";
  EXPECT_FALSE(projection(2).has_value()) << "contract: … and no projection change";
}

TEST_F(Transactions, ExceptionInReadOnlyIsRethrown) {
  bool caught = false;
  try {
    db().tx_read_only([](evdb::TxRO& tx) {
      tx.read_system_version();
      throw Boom{7};
    });
  } catch (const Boom& b) {
    caught = b.id == 7;
  }
  EXPECT_TRUE(caught) << "contract: an exception in a read-only body is rethrown unchanged";
  EXPECT_EQ(head(), 0);
}

TEST_F(Transactions, EvdbErrorFromBodyRollsBack) {
  // A failed append inside a body that lets the exception escape.
  append();
  EXPECT_CODE(EVDB_VERSION_MISMATCH, db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(3);
    tx.append_event(0, make_event("Stale"));
  }));
  EXPECT_EQ(all_events().size(), 1u);
  EXPECT_FALSE(projection(3).has_value()) << "contract: a rolled-back transaction leaves no trace";
}

TEST_F(Transactions, ExplicitRollbackLeavesNoTrace) {
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  EXPECT_EQ(evdb_tx_get_kind(tx), EVDB_TX_READ_WRITE);
  evdb_event e{};
  e.type_name = "Gone";
  e.type_name_len = 4;
  e.payload = "[]";
  e.payload_len = 2;
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(tx, nullptr, 0, &e, nullptr, err));
  EXPECT_C_CODE(EVDB_OK, evdb_init_projection_version(tx, nullptr, 1, nullptr, err));
  evdb_rollback(tx);
  EXPECT_EQ(head(), 0) << "contract: evdb_rollback leaves no event";
  EXPECT_FALSE(projection(1).has_value()) << "contract: evdb_rollback leaves no projection";
  // The store still works afterwards.
  int64_t v = append();
  if (gapless()) {
    EXPECT_EQ(v, 1) << "contract: a rolled-back append leaves no gap";
  }
}

TEST_F(Transactions, RollbackOfEmptyTransactions) {
  for (auto kind : {EVDB_TX_READ_ONLY, EVDB_TX_READ_WRITE}) {
    evdb_tx* tx = nullptr;
    ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, kind, &tx, err));
    evdb_rollback(tx);
  }
  evdb_rollback(nullptr);  // contract: safe on NULL
  EXPECT_EQ(head(), 0);
}

TEST_F(Transactions, CommitOfEmptyTransactions) {
  db().tx_rw([](evdb::TxRW&) {});
  db().tx_read_only([](evdb::TxRO&) {});
  EXPECT_EQ(head(), 0);
}

TEST_F(Transactions, ValueReturnedFromBody) {
  int64_t v = db().tx_rw([](evdb::TxRW& tx) { return tx.append_event(0, make_event()); });
  EXPECT_EQ(v, head());
}

TEST_F(Transactions, ManySequentialTransactions) {
  for (int i = 0; i < 100; ++i) {
    append();
    (void)head();
  }
  EXPECT_EQ(all_events().size(), 100u) << "contract: no transaction leaks or gets lost";
}

TEST_F(Transactions, CanceledContextFailsBegin) {
  evdb::Context ctx;
  ctx.cancel();
  EXPECT_CODE(EVDB_CANCELED,
              db().tx_rw([](evdb::TxRW& tx) { tx.append_event(0, make_event()); }, &ctx));
  EXPECT_EQ(head(), 0) << "contract: a cancelled call writes nothing";
}

// ---------------------------------------------------------------------------
// ReadOnly
// ---------------------------------------------------------------------------

TEST_F(ReadOnly, WritesFailWithReadOnly) {
  append();
  db().tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(1); });
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &tx, err));
  EXPECT_EQ(evdb_tx_get_kind(tx), EVDB_TX_READ_ONLY);
  evdb_event e{};
  e.type_name = "Nope";
  e.type_name_len = 4;
  e.payload = "{}";
  e.payload_len = 2;
  int64_t h = 0;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(tx, nullptr, &h, err));
  EXPECT_C_CODE(EVDB_READ_ONLY, evdb_append_event(tx, nullptr, h, &e, nullptr, err));
  EXPECT_C_CODE(EVDB_READ_ONLY, evdb_init_projection_version(tx, nullptr, 2, nullptr, err));
  EXPECT_C_CODE(EVDB_READ_ONLY, evdb_set_projection_version(tx, nullptr, 1, 5, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
  EXPECT_EQ(all_events().size(), 1u) << "contract: a read-only transaction writes nothing";
  EXPECT_EQ(projection(1), std::optional<int64_t>(0))
      << "contract: a read-only transaction writes nothing";
  EXPECT_FALSE(projection(2).has_value()) << "contract: a read-only transaction writes nothing";
}

TEST_F(ReadOnly, WritesFailThroughTxReadOnlyCallback) {
  struct Body {
    static evdb_status run(evdb_tx* tx, void*, evdb_error* err) {
      evdb_event e{};
      e.type_name = "Nope";
      e.type_name_len = 4;
      e.payload = "{}";
      e.payload_len = 2;
      return evdb_append_event(tx, nullptr, 0, &e, nullptr, err);
    }
  };
  EXPECT_C_CODE(EVDB_READ_ONLY, evdb_tx_read_only(db().raw(), nullptr, &Body::run, nullptr, err));
  EXPECT_EQ(head(), 0) << "contract: a read-only transaction writes nothing";
}

TEST_F(ReadOnly, OpenWhileReadWriteOpenOnSameHandle) {
  append();
  evdb_tx* rw = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &rw, err));
  int64_t h = 0;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(rw, nullptr, &h, err));
  evdb_event e{};
  e.type_name = "Pending";
  e.type_name_len = 7;
  e.payload = "{}";
  e.payload_len = 2;
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(rw, nullptr, h, &e, nullptr, err));
  // Conductor opens a read-only transaction while its read-write one is open.
  evdb_tx* ro = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &ro, err));
  int64_t ro_head = -1;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &ro_head, err));
  EXPECT_EQ(ro_head, h) << "contract: a read-only transaction does not see uncommitted appends";
  evdb_event out{};
  EXPECT_C_CODE(EVDB_NOT_FOUND, evdb_read_event_at(ro, nullptr, h + 1, &out, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(ro, nullptr, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(rw, nullptr, err));
  EXPECT_EQ(head(), h + 1);
}

TEST_F(ReadOnly, NestedInsideTxRwBody) {
  db().tx_rw([&](evdb::TxRW& tx) {
    int64_t v = tx.append_event(0, make_event());
    int64_t seen = db().tx_read_only([](evdb::TxRO& ro) { return ro.read_system_version(); });
    EXPECT_EQ(seen, 0) << "contract: uncommitted appends are invisible to other transactions";
    EXPECT_EQ(v, tx.read_system_version());
  });
  EXPECT_EQ(all_events().size(), 1u);
}

TEST_F(ReadOnly, ManyOpenAtOnce) {
  append_n(3);
  std::vector<evdb_tx*> txs(8, nullptr);
  for (auto& t : txs)
    ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &t, err));
  for (auto* t : txs) {
    int64_t h = 0;
    EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(t, nullptr, &h, err));
    EXPECT_EQ(h, head());
  }
  for (auto* t : txs) EXPECT_C_CODE(EVDB_OK, evdb_commit(t, nullptr, err));
}

// ---------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------

// Begins a read-only transaction, lets `between` commit writes, then checks
// that the transaction still sees the state at its begin.
void expect_snapshot(StoreTest* t, evdb::DB& db, bool read_first, bool gapless) {
  (void)t;
  // Initial state: 2 events, projection 1 at 1.
  std::vector<int64_t> v;
  db.tx_rw([&](evdb::TxRW& tx) {
    v.push_back(tx.append_event(0, make_event("Old")));
    v.push_back(tx.append_event(v.back(), make_event("Old")));
    tx.init_projection_version(1);
    tx.set_projection_version(1, 1);
  });
  evdb_tx* ro = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db.raw(), nullptr, EVDB_TX_READ_ONLY, &ro, err));
  if (read_first) {
    int64_t h = 0;
    EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &h, err));
    EXPECT_EQ(h, v.back());
  }
  // A commit after the read-only transaction began.
  int64_t newest = db.tx_rw([&](evdb::TxRW& tx) {
    int64_t n = tx.append_event(v.back(), make_event("New"));
    n = tx.append_event(n, make_event("New"));
    tx.set_projection_version(1, 2);
    tx.init_projection_version(2);
    return n;
  });
  (void)gapless;
  int64_t h = -1;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &h, err));
  EXPECT_EQ(h, v.back()) << "contract: a read-only transaction does not see a commit made after "
                            "its begin (read_system_version)";
  evdb_event e{};
  EXPECT_C_CODE(EVDB_NOT_FOUND, evdb_read_event_at(ro, nullptr, newest, &e, err));
  EXPECT_C_CODE(EVDB_NOT_FOUND, evdb_read_event_after(ro, nullptr, v.back(), &e, err));
  evdb_event buf[8];
  size_t n = 0;
  EXPECT_C_CODE(EVDB_OK, evdb_read_events(ro, nullptr, 0, 0, buf, 8, &n, err));
  EXPECT_EQ(n, 2u) << "contract: the snapshot's read_events sees only the 2 events committed "
                      "before its begin";
  EXPECT_C_CODE(EVDB_OK, evdb_read_events(ro, nullptr, INT64_MAX, 1, buf, 8, &n, err));
  EXPECT_EQ(n, 2u) << "contract: descending from past the head starts at the snapshot's head";
  if (n > 0) {
    EXPECT_EQ(buf[0].version, v.back());
  }
  int64_t p = -1;
  EXPECT_C_CODE(EVDB_OK, evdb_read_projection_version(ro, nullptr, 1, &p, err));
  EXPECT_EQ(p, 1) << "contract: the snapshot does not see a later projection change";
  EXPECT_C_CODE(EVDB_NOT_FOUND, evdb_read_projection_version(ro, nullptr, 2, &p, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(ro, nullptr, err));
}

TEST_F(Snapshot, CommitAfterBeginInvisible) {
  expect_snapshot(this, db(), false, gapless());
}

TEST_F(Snapshot, CommitAfterFirstReadInvisible) {
  expect_snapshot(this, db(), true, gapless());
}

TEST_F(Snapshot, NewTransactionSeesTheCommit) {
  append();
  evdb_tx* ro = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &ro, err));
  int64_t v2 = append();
  EXPECT_EQ(head(), v2) << "contract: a transaction begun after the commit sees it";
  evdb_rollback(ro);
}

TEST_F(Snapshot, SnapshotFromOtherHandle) {
  append();
  evdb::DB other = open_again();
  evdb_tx* ro = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &ro, err));
  int64_t h0 = 0;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &h0, err));
  append(other, make_event("FromOther"));
  int64_t h1 = -1;
  EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &h1, err));
  EXPECT_EQ(h1, h0) << "contract: the snapshot does not see another handle's later commit";
  EXPECT_C_CODE(EVDB_OK, evdb_commit(ro, nullptr, err));
}

TEST_F(Snapshot, StableAcrossManyCommits) {
  append();
  int64_t h0 = head();
  evdb_tx* ro = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &ro, err));
  for (int i = 0; i < 20; ++i) {
    append();
    int64_t h = -1;
    EXPECT_C_CODE(EVDB_OK, evdb_read_system_version(ro, nullptr, &h, err));
    EXPECT_EQ(h, h0) << "contract: one consistent snapshot for the whole transaction";
    size_t n = 0;
    evdb_event buf[4];
    EXPECT_C_CODE(EVDB_OK, evdb_read_events(ro, nullptr, 0, 0, buf, 4, &n, err));
    EXPECT_EQ(n, 1u);
  }
  EXPECT_C_CODE(EVDB_OK, evdb_commit(ro, nullptr, err));
}

}  // namespace
}  // namespace evdb::conformance
