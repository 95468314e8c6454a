// test_projections.cpp — Projections.* (docs/contract.md §2.3: init/set/read of projection
// versions).
#include <climits>

#include "harness.hpp"

namespace evdb::conformance {
int link_projections() {
  return 0;
}

namespace {

TEST_F(Projections, NotFoundWhenNeverInitialised) {
  db().tx_read_only(
      [&](evdb::TxRO& tx) { EXPECT_CODE(EVDB_NOT_FOUND, tx.read_projection_version(7)); });
  EXPECT_CODE(EVDB_NOT_FOUND, db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(7, 3); }));
  EXPECT_FALSE(projection(7).has_value())
      << "contract: set_projection_version on a never-initialised id creates nothing";
}

TEST_F(Projections, InitStartsAtZero) {
  int64_t v = db().tx_rw([](evdb::TxRW& tx) { return tx.init_projection_version(1); });
  EXPECT_EQ(v, 0) << "contract: init_projection_version creates the entry at 0";
  EXPECT_EQ(projection(1), std::optional<int64_t>(0));
}

TEST_F(Projections, InitIsIdempotentAndNeverResets) {
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(1);
    tx.set_projection_version(1, 42);
  });
  int64_t v = db().tx_rw([](evdb::TxRW& tx) { return tx.init_projection_version(1); });
  EXPECT_EQ(v, 42) << "contract: init_projection_version returns the current value, never resets";
  v = db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(1);
    return tx.init_projection_version(1);
  });
  EXPECT_EQ(v, 42);
  EXPECT_EQ(projection(1), std::optional<int64_t>(42));
}

TEST_F(Projections, InitTwiceInOneTransaction) {
  int64_t v = db().tx_rw([](evdb::TxRW& tx) {
    EXPECT_EQ(tx.init_projection_version(3), 0);
    tx.set_projection_version(3, 5);
    return tx.init_projection_version(3);
  });
  EXPECT_EQ(v, 5) << "contract: a read-write transaction sees its own writes; init never resets";
}

TEST_F(Projections, SetForwardAndBackward) {
  db().tx_rw([](evdb::TxRW& tx) { tx.init_projection_version(2); });
  db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(2, 10); });
  EXPECT_EQ(projection(2), std::optional<int64_t>(10));
  db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(2, 3); });
  EXPECT_EQ(projection(2), std::optional<int64_t>(3))
      << "contract: set_projection_version may move backwards (projection rebuilds)";
  db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(2, 0); });
  EXPECT_EQ(projection(2), std::optional<int64_t>(0));
  db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(2, int64_t{1} << 40); });
  EXPECT_EQ(projection(2), std::optional<int64_t>(int64_t{1} << 40));
}

TEST_F(Projections, SetIndependentOfLog) {
  // A projection version need not be an existing event's version.
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(4);
    tx.set_projection_version(4, 1000);
  });
  EXPECT_EQ(projection(4), std::optional<int64_t>(1000));
  EXPECT_EQ(head(), 0) << "contract: projections do not touch the log";
}

TEST_F(Projections, NegativeVersionIsInvalid) {
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(5);
    tx.set_projection_version(5, 9);
  });
  EXPECT_CODE(EVDB_INVALID_ARGUMENT,
              db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(5, -1); }));
  EXPECT_CODE(EVDB_INVALID_ARGUMENT,
              db().tx_rw([](evdb::TxRW& tx) { tx.set_projection_version(5, INT64_MIN); }));
  EXPECT_EQ(projection(5), std::optional<int64_t>(9))
      << "contract: INVALID_ARGUMENT changes nothing";
}

TEST_F(Projections, IdsAreIndependent) {
  const int32_t ids[] = {0, 1, -1, 2, INT32_MAX, INT32_MIN, 123456};
  db().tx_rw([&](evdb::TxRW& tx) {
    for (int32_t id : ids) tx.init_projection_version(id);
  });
  db().tx_rw([&](evdb::TxRW& tx) {
    int64_t k = 1;
    for (int32_t id : ids) tx.set_projection_version(id, 100 + k++);
  });
  int64_t k = 1;
  for (int32_t id : ids)
    EXPECT_EQ(projection(id), std::optional<int64_t>(100 + k++))
        << "contract: every int32 id is its own projection (id " << id << ")";
  EXPECT_FALSE(projection(3).has_value()) << "contract: ids never initialised stay NOT_FOUND";
}

TEST_F(Projections, ReadInReadWriteSeesOwnWrites) {
  db().tx_rw([&](evdb::TxRW& tx) {
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_projection_version(6));
    tx.init_projection_version(6);
    EXPECT_EQ(tx.read_projection_version(6), 0);
    tx.set_projection_version(6, 17);
    EXPECT_EQ(tx.read_projection_version(6), 17)
        << "contract: a read-write transaction sees its own writes";
  });
  EXPECT_EQ(projection(6), std::optional<int64_t>(17));
}

TEST_F(Projections, RollbackUndoesInitAndSet) {
  db().tx_rw([](evdb::TxRW& tx) {
    tx.init_projection_version(8);
    tx.set_projection_version(8, 4);
  });
  evdb::Status s = db().tx_rw([](evdb::TxRW& tx) {
    tx.set_projection_version(8, 99);
    tx.init_projection_version(9);
    return evdb::Status(EVDB_INTERNAL, "conformance: deliberate rollback");
  });
  EXPECT_EQ(s.code(), EVDB_INTERNAL);
  EXPECT_EQ(projection(8), std::optional<int64_t>(4)) << "contract: a rollback leaves no trace";
  EXPECT_FALSE(projection(9).has_value()) << "contract: a rollback leaves no trace";
}

TEST_F(Projections, NullOutAcceptedForInit) {
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  EXPECT_C_CODE(EVDB_OK, evdb_init_projection_version(tx, nullptr, 11, nullptr, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
  EXPECT_EQ(projection(11), std::optional<int64_t>(0)) << "contract: init's out may be NULL";
}

}  // namespace
}  // namespace evdb::conformance
