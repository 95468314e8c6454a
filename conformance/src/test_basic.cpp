// test_basic.cpp — EmptyStore.*, Append.*, RoundTrip.*, Reads.* (docs/contract.md §1, §2 reads
// and append_event).
#include <chrono>
#include <climits>
#include <cstring>

#include "harness.hpp"

namespace evdb::conformance {
int link_basic() {
  return 0;
}

namespace {

// ---------------------------------------------------------------------------
// EmptyStore
// ---------------------------------------------------------------------------

TEST_F(EmptyStore, DriverDescribesItself) {
  EXPECT_FALSE(db().driver_name().empty()) << "contract: evdb_db_driver_name() names the driver";
  RecordProperty("driver", db().driver_name());
  RecordProperty("capabilities", capability_names(caps_));
}

// DRV-34: a store's capabilities are those of its driver or fewer, and never
// change while it is open.
TEST_F(EmptyStore, CapabilitiesAreTheDriversAndFixed) {
  struct Found {
    std::string name;
    bool seen = false;
    uint64_t caps = 0;
  } found{db().driver_name()};
  evdb_drivers_list(
      [](void* user, const evdb_driver_info* info) {
        auto* f = static_cast<Found*>(user);
        if (info->name != nullptr && f->name == info->name && !f->seen) {
          f->seen = true;
          f->caps = info->capabilities;
        }
      },
      &found, nullptr);
  ASSERT_TRUE(found.seen) << "contract: evdb_drivers_list() lists the driver serving the store ("
                          << found.name << ")";
  EXPECT_EQ(caps_ & ~found.caps, 0u)
      << "contract (DRV-34): a store's capabilities are a subset of its driver's; the store has "
      << capability_names(caps_) << ", the driver claims " << capability_names(found.caps);
  EXPECT_EQ(db().capabilities(), caps_)
      << "contract (DRV-34): a store's capabilities never change while it is open";
  evdb::DB other = open_again();
  EXPECT_EQ(other.capabilities(), caps_)
      << "contract (DRV-34): two handles on one store have the same capabilities";
}

TEST_F(EmptyStore, HeadIsZero) {
  EXPECT_EQ(head(), 0) << "contract: read_system_version() is 0 when the log is empty";
  int64_t rw_head = db().tx_rw([](evdb::TxRW& tx) { return tx.read_system_version(); });
  EXPECT_EQ(rw_head, 0) << "contract: also in a read-write transaction";
}

TEST_F(EmptyStore, NoEventAnywhere) {
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(0));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(1));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_after(0));
    EXPECT_EQ(tx.read_events(0, 10).size(), 0u)
        << "contract: read_events ascending on an empty log";
    EXPECT_EQ(tx.read_events(1, 10).size(), 0u);
    EXPECT_EQ(tx.read_events(5, 10, evdb::Direction::Descending).size(), 0u)
        << "contract: read_events descending on an empty log";
  });
}

TEST_F(EmptyStore, NoProjection) {
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_projection_version(0));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_projection_version(1));
  });
}

TEST_F(EmptyStore, FreshIdGivesFreshStore) {
  append();
  // Another test's store (another {unique}) must not see this one.
  std::string other = expand_uri(settings().uri_template, next_unique_id());
  if (other == uri_) GTEST_SKIP() << "the --uri has no {unique}: every test shares one store";
  evdb::DB db2 = evdb::DB::open(other);
  EXPECT_EQ(head(db2), 0) << "contract: a store named by a new {unique} id starts empty; "
                          << redact_uri(other) << " sees the events of " << redact_uri(uri_);
}

// ---------------------------------------------------------------------------
// Append
// ---------------------------------------------------------------------------

TEST_F(Append, FirstEventIsVersionOne) {
  int64_t v = db().tx_rw([](evdb::TxRW& tx) { return tx.append_event(0, make_event()); });
  if (gapless()) {
    EXPECT_EQ(v, 1) << "contract: append_event(0, …) on an empty log returns 1";
  } else {
    EXPECT_GT(v, 0) << "contract: versions are positive";
  }
  EXPECT_EQ(head(), v) << "contract: the head is the appended version after commit";
}

// What a transaction may still do after one of its writes failed (DRV-51):
// the failed call changed nothing; the driver either keeps the transaction
// usable, or fails every later call with the same code; either way commit
// applies exactly the successful writes or nothing.
TEST_F(Append, TransactionAfterAFailedAppend) {
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = "Kept";
  e.type_name_len = 4;
  e.payload = "{}";
  e.payload_len = 2;
  int64_t v = 0, head_after = -1;
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(tx, nullptr, 0, &e, &v, err));
  EXPECT_C_CODE(EVDB_VERSION_MISMATCH, evdb_append_event(tx, nullptr, 7, &e, nullptr, err));
  Outcome read = c_outcome_of(
      [&](evdb_error* err) { return evdb_read_system_version(tx, nullptr, &head_after, err); });
  Outcome commit = c_outcome_of([&](evdb_error* err) { return evdb_commit(tx, nullptr, err); });
  auto all = all_events();
  if (read.code == EVDB_OK) {
    EXPECT_EQ(head_after, 1) << "contract (DRV-51): a failed append changes nothing; the "
                                "transaction's head stays at its own first append";
  } else {
    EXPECT_EQ(read.code, EVDB_VERSION_MISMATCH)
        << "contract (DRV-51): a driver that stops a transaction after a failed write fails "
           "every later call with that write's code; read_system_version gave "
        << evdb_status_name(read.code);
  }
  if (commit.code == EVDB_OK) {
    saw("the transaction stayed usable after the failed append and committed its first append");
    ASSERT_EQ(all.size(), 1u) << "contract (DRV-51): commit applies the successful append and "
                                 "nothing of the failed one";
    EXPECT_EQ(all[0].type_name, "Kept");
  } else {
    saw("the driver failed the transaction after its failed append");
    EXPECT_EQ(commit.code, EVDB_VERSION_MISMATCH)
        << "contract (DRV-51): after a failed write, commit either applies the successful "
           "writes or fails with the failed write's code; it gave "
        << evdb_status_name(commit.code);
    EXPECT_TRUE(all.empty()) << "contract (DRV-19): a failed commit applies nothing";
  }
}

TEST_F(Append, ReturnsAssumedPlusOne) {
  for (int i = 0; i < 5; ++i) {
    int64_t h = head();
    int64_t v = db().tx_rw([&](evdb::TxRW& tx) { return tx.append_event(h, make_event()); });
    EXPECT_EQ(v, h + 1) << "contract: append_event(assumed) returns assumed + 1";
  }
}

TEST_F(Append, ChainsInOneTransaction) {
  std::vector<int64_t> got = db().tx_rw([](evdb::TxRW& tx) {
    std::vector<int64_t> v;
    v.push_back(tx.append_event(0, make_event("A")));
    v.push_back(tx.append_event(v.back(), make_event("B")));
    v.push_back(tx.append_event(v.back(), make_event("C")));
    return v;
  });
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[1], got[0] + 1) << "contract: appends in one transaction chain";
  EXPECT_EQ(got[2], got[1] + 1) << "contract: appends in one transaction chain";
  auto all = all_events();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].type_name, "A");
  EXPECT_EQ(all[1].type_name, "B");
  EXPECT_EQ(all[2].type_name, "C");
}

TEST_F(Append, SeesOwnAppendsBeforeCommit) {
  db().tx_rw([&](evdb::TxRW& tx) {
    int64_t v = tx.append_event(0, make_event("Own"));
    EXPECT_EQ(tx.read_system_version(), v)
        << "contract: a read-write transaction sees its own writes (head)";
    auto e = tx.find_event_at(v);
    ASSERT_TRUE(e.has_value()) << "contract: read_event_at sees the transaction's own append";
    EXPECT_EQ(e->type_name, "Own");
  });
}

TEST_F(Append, StaleVersionMismatchWritesNothing) {
  append_n(2);
  int64_t h = head();
  auto o = outcome_of(
      [&] { db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(h - 1, make_event("Stale")); }); });
  EXPECT_TRUE(code_is(EVDB_VERSION_MISMATCH, o, "append_event(head - 1, …) (stale)"));
  EXPECT_EQ(head(), h) << "contract: VERSION_MISMATCH appends nothing";
  for (const auto& e : all_events()) EXPECT_NE(e.type_name, "Stale") << "contract: nothing written";
}

TEST_F(Append, StaleZeroVersionMismatch) {
  append();
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, make_event("Stale")); }));
  EXPECT_EQ(all_events().size(), 1u) << "contract: VERSION_MISMATCH appends nothing";
}

TEST_F(Append, AheadVersionMismatchWritesNothing) {
  append_n(2);
  int64_t h = head();
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(h + 1, make_event("Ahead")); }));
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(h + 100, make_event("Ahead")); }));
  EXPECT_EQ(head(), h) << "contract: VERSION_MISMATCH appends nothing";
  EXPECT_EQ(all_events().size(), 2u) << "contract: VERSION_MISMATCH appends nothing";
}

TEST_F(Append, AheadOnEmptyStore) {
  EXPECT_CODE(EVDB_VERSION_MISMATCH,
              db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(1, make_event("Ahead")); }));
  EXPECT_EQ(head(), 0) << "contract: VERSION_MISMATCH appends nothing";
}

TEST_F(Append, MismatchInChainRollsBackWholeTransaction) {
  append();
  int64_t h = head();
  EXPECT_CODE(EVDB_VERSION_MISMATCH, db().tx_rw([&](evdb::TxRW& tx) {
    int64_t v = tx.append_event(h, make_event("First"));
    tx.append_event(v + 1, make_event("Gap"));  // not the head: mismatch
  }));
  EXPECT_EQ(head(), h) << "contract: the transaction's earlier append is rolled back too";
}

TEST_F(Append, MismatchMessageNamesTheDriver) {
  append();
  auto o =
      outcome_of([&] { db().tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, make_event()); }); });
  ASSERT_EQ(o.code, EVDB_VERSION_MISMATCH);
  EXPECT_NE(o.message.find(db().driver_name()), std::string::npos)
      << "contract (docs/contract.md §3): every failure carries a message naming the driver ("
      << db().driver_name() << "); got: " << o.message;
}

TEST_F(Append, EventVersionFieldIgnored) {
  evdb_event e = EVDB_EVENT_INIT;
  e.version = 12345;
  e.type_name = "Ignored";
  e.type_name_len = 7;
  e.payload = "{}";
  e.payload_len = 2;
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  int64_t nv = 0;
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(tx, nullptr, 0, &e, &nv, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
  if (gapless()) {
    EXPECT_EQ(nv, 1) << "contract: event->version is ignored by append_event";
  }
  EXPECT_EQ(head(), nv);
}

TEST_F(Append, NullNewVersionAccepted) {
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = "T";
  e.type_name_len = 1;
  e.payload = "1";
  e.payload_len = 1;
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_WRITE, &tx, err));
  EXPECT_C_CODE(EVDB_OK, evdb_append_event(tx, nullptr, 0, &e, nullptr, err));
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
  EXPECT_EQ(all_events().size(), 1u) << "contract: new_version may be NULL";
}

TEST_F(Append, ManyEventsGapless) {
  // 300 events, some in multi-append transactions: versions 1..300 (gapless).
  int64_t h = 0;
  for (int batch = 0; batch < 30; ++batch) {
    h = db().tx_rw([&](evdb::TxRW& tx) {
      int64_t v = tx.read_system_version();
      for (int k = 0; k < 10; ++k) v = tx.append_event(v, make_event());
      return v;
    });
  }
  auto all = all_events();
  ASSERT_EQ(all.size(), 300u);
  std::vector<int64_t> versions;
  for (const auto& e : all) versions.push_back(e.version);
  EXPECT_TRUE(versions_well_formed(gapless(), versions));
  EXPECT_EQ(h, versions.back());
}

// ---------------------------------------------------------------------------
// RoundTrip: every field of an event comes back as appended.
// ---------------------------------------------------------------------------

void round_trip(StoreTest* t, evdb::DB& db, bool byte_exact, const std::vector<evdb::Event>& in) {
  std::vector<int64_t> versions;
  db.tx_rw([&](evdb::TxRW& tx) {
    int64_t v = tx.read_system_version();
    for (const auto& e : in) versions.push_back(v = tx.append_event(v, e));
  });
  (void)t;
  db.tx_read_only([&](evdb::TxRO& tx) {
    for (size_t i = 0; i < in.size(); ++i) {
      auto e = tx.read_event_at(versions[i]);
      EXPECT_EQ(e.version, versions[i]) << "contract: read_event_at(v).version == v";
      EXPECT_TRUE(event_matches(byte_exact, in[i], e)) << "read_event_at(" << versions[i] << ")";
    }
    auto all = tx.read_events(versions.front(), in.size());
    ASSERT_EQ(all.size(), in.size());
    for (size_t i = 0; i < in.size(); ++i)
      EXPECT_TRUE(event_matches(byte_exact, in[i], all[i])) << "read_events";
  });
}

TEST_F(RoundTrip, ExplicitTimes) {
  round_trip(this, db(), byte_exact(),
             {make_event("T", "{}", "", 1), make_event("T", "{}", "", 1700000000123456),
              make_event("T", "{}", "", 1700000000000001), make_event("T", "{}", "", 999999),
              make_event("T", "{}", "", 4102444800000000 /* 2100-01-01 */),
              make_event("T", "{}", "", 946684799999999 /* 1999-12-31T23:59:59.999999 */)});
}

TEST_F(RoundTrip, ZeroTimeMeansNow) {
  auto us_now = [] {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  int64_t before = us_now();
  int64_t v = append(make_event());
  int64_t after = us_now();
  auto e = db().tx_read_only([&](evdb::TxRO& tx) { return tx.read_event_at(v); });
  // The driver's clock may be another machine's (a database server): allow
  // ten minutes of skew. This checks the unit and epoch, not speed.
  const int64_t skew = 10LL * 60 * 1000 * 1000;
  EXPECT_GE(e.time_us, before - skew)
      << "contract: time_us = 0 on append means now (µs since the Unix epoch, UTC); the test "
         "ran at "
      << before << " µs; the driver stored " << e.time_us;
  EXPECT_LE(e.time_us, after + skew)
      << "contract: time_us = 0 on append means now (µs since the Unix epoch, UTC); the test "
         "ran at "
      << after << " µs; the driver stored " << e.time_us;
}

TEST_F(RoundTrip, RevisionVcs) {
  round_trip(
      this, db(), byte_exact(),
      {make_event("T", "{}", ""), make_event("T", "{}", "0123456789abcdef0123456789abcdef01234567"),
       make_event("T", "{}", "v1.2.3-4-gdeadbee-dirty"), make_event("T", "{}", "rév ✓ 🚀"),
       make_event("T", "{}", " leading and trailing spaces ")});
}

TEST_F(RoundTrip, NullRevisionWithZeroLengthIsEmpty) {
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = "T";
  e.type_name_len = 1;
  e.payload = "{}";
  e.payload_len = 2;
  e.revision_vcs = nullptr;
  e.revision_vcs_len = 0;
  ASSERT_C_CODE(EVDB_OK, evdb_tx_read_write(
                             db().raw(), nullptr,
                             [](evdb_tx* tx, void* u, evdb_error* er) {
                               return evdb_append_event(tx, nullptr, 0, static_cast<evdb_event*>(u),
                                                        nullptr, er);
                             },
                             &e, err));
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &tx, err));
  evdb_event out = EVDB_EVENT_INIT;
  EXPECT_C_CODE(EVDB_OK, evdb_read_event_at(tx, nullptr, head(), &out, err));
  EXPECT_NE(out.revision_vcs, nullptr) << "contract: revision_vcs is never NULL on output";
  EXPECT_EQ(out.revision_vcs_len, 0u);
  EXPECT_NE(out.type_name, nullptr);
  if (out.type_name) {
    EXPECT_EQ(out.type_name[out.type_name_len], '\0') << "contract: NUL-terminated";
  }
  if (out.payload) {
    EXPECT_EQ(out.payload[out.payload_len], '\0') << "contract: NUL-terminated";
  }
  if (out.revision_vcs) {
    EXPECT_EQ(out.revision_vcs[0], '\0') << "contract: NUL-terminated";
  }
  evdb_rollback(tx);
}

TEST_F(RoundTrip, TypeNames) {
  round_trip(this, db(), byte_exact(),
             {make_event("X"), make_event("UserCreated"), make_event("order.line-added/v2"),
              make_event("Ünïcødé ✓ 事件 🚀"), make_event(std::string(1000, 't')),
              make_event(" spaced type ")});
}

TEST_F(RoundTrip, PayloadWhitespaceAndKeyOrder) {
  round_trip(this, db(), byte_exact(),
             {make_event("T", R"({"z":1,"a":2,"m":3})"),
              make_event("T", "{ \"b\" : 1 ,\n\t\"a\" : [ 1 , 2 ] }"),
              make_event("T", "  {\"padded\":true}  "), make_event("T", "{}"),
              make_event("T", "\n[\r\n]\n")});
}

TEST_F(RoundTrip, PayloadUnicode) {
  round_trip(this, db(), byte_exact(),
             {make_event("T", R"({"s":"héllo ✓ 事件 🚀"})"),
              make_event("T", R"({"esc":"\u00e9\u4e8b\ud83d\ude80","q":"\"\\\/\b\f\n\r\t"})"),
              make_event("T", R"({"ключ":"значение"})")});
}

TEST_F(RoundTrip, PayloadAnyJsonValue) {
  round_trip(this, db(), byte_exact(),
             {make_event("T", "42"), make_event("T", R"("s")"), make_event("T", "[1, 2]"),
              make_event("T", "null"), make_event("T", "true"), make_event("T", "false"),
              make_event("T", "-0.5e10"), make_event("T", "0"), make_event("T", "1.0"),
              make_event("T", "9007199254740993"), make_event("T", R"("")"),
              make_event("T", R"([{"a":[[],{}]},null,"x",1.5E+300])")});
}

TEST_F(RoundTrip, LargePayload) {
  std::string big = "{\"data\":\"";
  for (int i = 0; i < 100000; ++i) big += static_cast<char>('a' + i % 26);
  big += "\",\"n\":[";
  for (int i = 0; i < 1000; ++i) {
    if (i != 0) big += ',';
    big += std::to_string(i);
  }
  big += "]}";
  round_trip(this, db(), byte_exact(), {make_event("Big", big)});
}

TEST_F(RoundTrip, SemanticJsonWhenNotByteExact) {
  if (byte_exact())
    GTEST_SKIP() << "driver has EVDB_CAP_BYTE_EXACT_PAYLOAD: byte-exact tests apply";
  round_trip(this, db(), false, {make_event("T", "{ \"b\" : 1, \"a\" : 2 }")});
}

// ---------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------

// Five events, appended in three transactions (1; 2-3; 4-5), payload {"i":k}.
class ReadsFixture {
 public:
  static std::vector<int64_t> fill(evdb::DB& db) {
    std::vector<int64_t> v;
    db.tx_rw(
        [&](evdb::TxRW& tx) { v.push_back(tx.append_event(0, make_event("E", R"({"i":0})"))); });
    db.tx_rw([&](evdb::TxRW& tx) {
      v.push_back(tx.append_event(v.back(), make_event("E", R"({"i":1})")));
      v.push_back(tx.append_event(v.back(), make_event("E", R"({"i":2})")));
    });
    db.tx_rw([&](evdb::TxRW& tx) {
      v.push_back(tx.append_event(v.back(), make_event("E", R"({"i":3})")));
      v.push_back(tx.append_event(v.back(), make_event("E", R"({"i":4})")));
    });
    return v;
  }
};

std::vector<int64_t> versions_of(const std::vector<evdb::Event>& es) {
  std::vector<int64_t> v;
  for (const auto& e : es) v.push_back(e.version);
  return v;
}

TEST_F(Reads, SystemVersionIsLastEvent) {
  auto v = ReadsFixture::fill(db());
  EXPECT_EQ(head(), v.back()) << "contract: read_system_version() is the version of the last event";
  EXPECT_TRUE(versions_well_formed(gapless(), versions_of(all_events())));
}

TEST_F(Reads, EventAtEachVersion) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    for (size_t k = 0; k < v.size(); ++k) {
      auto e = tx.read_event_at(v[k]);
      EXPECT_EQ(e.version, v[k]);
      EXPECT_TRUE(payload_matches(byte_exact(), "{\"i\":" + std::to_string(k) + "}", e.payload));
    }
  });
}

TEST_F(Reads, EventAtZeroAndPastHeadNotFound) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(0));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(v.back() + 1));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(v.back() + 1000));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(INT64_MAX));
  });
}

TEST_F(Reads, EventAfterPicksTheSmallestGreaterVersion) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    // For every x in [0, head): the answer is the first version > x.
    for (int64_t x = 0; x < v.back(); ++x) {
      int64_t want = 0;
      for (int64_t cand : v)
        if (cand > x) {
          want = cand;
          break;
        }
      auto e = tx.read_event_after(x);
      EXPECT_EQ(e.version, want) << "contract: read_event_after(" << x
                                 << ") is the event with the smallest version > " << x;
    }
  });
}

TEST_F(Reads, EventAfterHeadNotFound) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_after(v.back()));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_after(v.back() + 10));
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_after(INT64_MAX));
  });
}

TEST_F(Reads, EventAfterManyEvents) {
  // Enough events that an unordered scan would likely pick a wrong one.
  std::vector<int64_t> v;
  db().tx_rw([&](evdb::TxRW& tx) {
    int64_t h = 0;
    for (int k = 0; k < 200; ++k) v.push_back(h = tx.append_event(h, make_event()));
  });
  db().tx_read_only([&](evdb::TxRO& tx) {
    for (size_t k = 0; k + 1 < v.size(); ++k)
      ASSERT_EQ(tx.read_event_after(v[k]).version, v[k + 1])
          << "contract: read_event_after(v) is the smallest version > v";
    EXPECT_EQ(tx.read_event_after(0).version, v.front());
  });
}

TEST_F(Reads, EventsAscendingFromAt) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(versions_of(tx.read_events(0, 100)), v) << "contract: at = 0 ascending gives all";
    EXPECT_EQ(versions_of(tx.read_events(v.front(), 100)), v)
        << "contract: ascending includes `at`";
    EXPECT_EQ(versions_of(tx.read_events(v[2], 100)), std::vector<int64_t>(v.begin() + 2, v.end()))
        << "contract: ascending over version >= at";
    EXPECT_EQ(versions_of(tx.read_events(v.back(), 100)), std::vector<int64_t>{v.back()});
  });
}

TEST_F(Reads, EventsDescendingFromAt) {
  auto v = ReadsFixture::fill(db());
  std::vector<int64_t> rev(v.rbegin(), v.rend());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(versions_of(tx.read_events(v.back(), 100, evdb::Direction::Descending)), rev)
        << "contract: descending from the head gives all, newest first";
    EXPECT_EQ(versions_of(tx.read_events(v[2], 100, evdb::Direction::Descending)),
              (std::vector<int64_t>{v[2], v[1], v[0]}))
        << "contract: descending over version <= at, `at` included";
    EXPECT_EQ(versions_of(tx.read_events(v.front(), 100, evdb::Direction::Descending)),
              std::vector<int64_t>{v.front()});
    EXPECT_EQ(tx.read_events(0, 100, evdb::Direction::Descending).size(), 0u)
        << "contract: descending at 0 gives nothing";
  });
}

TEST_F(Reads, EventsPastHead) {
  auto v = ReadsFixture::fill(db());
  std::vector<int64_t> rev(v.rbegin(), v.rend());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_events(v.back() + 1, 100).size(), 0u)
        << "contract: `at` past the head gives 0 events ascending";
    EXPECT_EQ(tx.read_events(INT64_MAX, 100).size(), 0u);
    EXPECT_EQ(versions_of(tx.read_events(v.back() + 7, 100, evdb::Direction::Descending)), rev)
        << "contract: `at` past the head starts at the head descending";
    EXPECT_EQ(versions_of(tx.read_events(INT64_MAX, 100, evdb::Direction::Descending)), rev);
  });
}

TEST_F(Reads, EventsLimit) {
  auto v = ReadsFixture::fill(db());
  db().tx_read_only([&](evdb::TxRO& tx) {
    EXPECT_EQ(versions_of(tx.read_events(0, 2)), (std::vector<int64_t>{v[0], v[1]}))
        << "contract: up to n events";
    EXPECT_EQ(versions_of(tx.read_events(v[1], 3)), (std::vector<int64_t>{v[1], v[2], v[3]}));
    EXPECT_EQ(versions_of(tx.read_events(v.back(), 2, evdb::Direction::Descending)),
              (std::vector<int64_t>{v[4], v[3]}));
    EXPECT_EQ(tx.read_events(0, 0).size(), 0u) << "contract: n = 0 gives 0 events";
  });
}

TEST_F(Reads, EventsCBufferExactlyFilled) {
  auto v = ReadsFixture::fill(db());
  evdb_tx* tx = nullptr;
  ASSERT_C_CODE(EVDB_OK, evdb_begin(db().raw(), nullptr, EVDB_TX_READ_ONLY, &tx, err));
  evdb_event buf[4] = {EVDB_EVENT_INIT};  // buf[0].struct_size steps the array
  buf[3].version = -77;                   // sentinel: n = 3 must leave buf[3] untouched
  size_t n_out = 99;
  EXPECT_C_CODE(EVDB_OK, evdb_read_events(tx, nullptr, 0, 0, buf, 3, &n_out, err));
  EXPECT_EQ(n_out, 3u) << "contract: n_out = events written (3 of 5 asked with n = 3)";
  EXPECT_EQ(buf[3].version, -77) << "contract: nothing written past buf[n-1]";
  // Every string of this call stays valid until the next call on tx.
  for (size_t k = 0; k < 3 && k < n_out; ++k) {
    EXPECT_EQ(buf[k].version, v[k]);
    ASSERT_NE(buf[k].payload, nullptr);
    EXPECT_TRUE(payload_matches(byte_exact(), "{\"i\":" + std::to_string(k) + "}",
                                std::string(buf[k].payload, buf[k].payload_len)));
    EXPECT_EQ(std::string(buf[k].type_name, buf[k].type_name_len), "E");
  }
  n_out = 99;
  EXPECT_C_CODE(EVDB_OK, evdb_read_events(tx, nullptr, 0, 0, nullptr, 0, &n_out, err));
  EXPECT_EQ(n_out, 0u) << "contract: n = 0 gives 0 events, buf may be NULL";
  n_out = 99;
  EXPECT_C_CODE(EVDB_OK, evdb_read_events(tx, nullptr, v.back() + 1, 0, buf, 3, &n_out, err));
  EXPECT_EQ(n_out, 0u) << "contract: at past the head, ascending: 0 events";
  EXPECT_C_CODE(EVDB_OK, evdb_commit(tx, nullptr, err));
}

TEST_F(Reads, ReadsWorkInReadWriteTransactions) {
  auto v = ReadsFixture::fill(db());
  db().tx_rw([&](evdb::TxRW& tx) {
    EXPECT_EQ(tx.read_system_version(), v.back())
        << "contract: in a read-write transaction, read_system_version() is the head";
    EXPECT_EQ(tx.read_event_at(v[1]).version, v[1])
        << "contract: in a read-write transaction, read_event_at(v) is event v";
    EXPECT_EQ(tx.read_event_after(v[1]).version, v[2])
        << "contract: in a read-write transaction, read_event_after(v) is the smallest version > v";
    EXPECT_EQ(versions_of(tx.read_events(0, 100)), v)
        << "contract: in a read-write transaction, read_events(0) gives every event ascending";
    EXPECT_CODE(EVDB_NOT_FOUND, tx.read_event_at(0));
  });
}

}  // namespace
}  // namespace evdb::conformance
