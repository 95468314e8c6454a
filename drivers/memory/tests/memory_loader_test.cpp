// Tests of libevdb_driver_memory.so through libevdb: evdb_open("memory:…")
// finds the driver file beside the library, and the C/C++ APIs behave as the
// contract says.
#include <gtest/gtest.h>
#include <evdb/evdb.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "test_support/events.hpp"
#include "test_support/names.hpp"

namespace {

using evdb::test_support::unique_name;

evdb::Event ev(std::string type, std::string payload) {
  return evdb::test_support::event(std::move(type), std::move(payload), 0, "rev1");
}

TEST(MemoryThroughLoader, OpensTheDriverFileAndReportsCapabilities) {
  evdb::DB db = evdb::DB::open("memory:");
  EXPECT_STREQ(evdb_db_driver_name(db.raw()), "memory");
  EXPECT_EQ(evdb_db_capabilities(db.raw()),
            EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD);
}

TEST(MemoryThroughLoader, UnknownParameterIsAnError) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_open("memory:x?bogus=1", nullptr, &db, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(db, nullptr);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("bogus"), std::string::npos) << err.message;
  EXPECT_NE(std::string(err.message).find("memory"), std::string::npos) << err.message;
  evdb_error_release(&err);
}

TEST(MemoryThroughLoader, PrivateAndSharedStores) {
  const std::string name = "memory:" + unique_name("loader_shared");
  evdb::DB a = evdb::DB::open(name);
  evdb::DB b = evdb::DB::open(name);
  evdb::DB p = evdb::DB::open("memory:");
  evdb::DB q = evdb::DB::open("memory:");
  a.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, ev("Created", R"({"id":1})")); });
  p.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, ev("Private", "1")); });
  EXPECT_EQ(b.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 1);
  EXPECT_EQ(q.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 0);
  evdb::Event got = b.tx_read_only([](evdb::TxRO& tx) { return tx.read_event_at(1); });
  EXPECT_EQ(got.version, 1);
  EXPECT_EQ(got.type_name, "Created");
  EXPECT_EQ(got.payload, R"({"id":1})");
  EXPECT_EQ(got.revision_vcs, "rev1");
}

TEST(MemoryThroughLoader, VersionMismatchAndRollbackOnError) {
  evdb::DB db = evdb::DB::open("memory:");
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(1, ev("T", "{}")); }),
               evdb::VersionMismatch);
  evdb::Status s = db.tx_rw([&](evdb::TxRW& tx) -> evdb::Status {
    tx.append_event(0, ev("T", "{}"));
    tx.init_projection_version(3);
    return evdb::Status(EVDB_CONFLICT, "the body gave up");
  });
  EXPECT_EQ(s.code(), EVDB_CONFLICT);
  EXPECT_EQ(s.message(), "the body gave up");
  db.tx_read_only([](evdb::TxRO& tx) {
    EXPECT_EQ(tx.read_system_version(), 0);
    EXPECT_THROW(tx.read_projection_version(3), evdb::NotFound);
  });
}

TEST(MemoryThroughLoader, BadInputNeverReachesTheStore) {
  evdb::DB db = evdb::DB::open("memory:");
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, ev("T", "{not json")); }),
               evdb::InvalidArgument);
  EXPECT_THROW(db.tx_rw([&](evdb::TxRW& tx) { tx.append_event(0, ev("", "{}")); }),
               evdb::InvalidArgument);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 0);
}

TEST(MemoryThroughLoader, TwoWritersOnOneThreadThroughTheCApi) {
  evdb::DB db = evdb::DB::open("memory:");
  evdb_tx *a = nullptr, *b = nullptr;
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &a, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_begin(db.raw(), nullptr, EVDB_TX_READ_WRITE, &b, nullptr), EVDB_OK);
  evdb_event e{};
  e.type_name = "T";
  e.type_name_len = 1;
  e.payload = "1";
  e.payload_len = 1;
  int64_t nv = 0;
  ASSERT_EQ(evdb_append_event(a, nullptr, 0, &e, &nv, nullptr), EVDB_OK);
  ASSERT_EQ(evdb_append_event(b, nullptr, 0, &e, &nv, nullptr), EVDB_OK);
  EXPECT_EQ(nv, 1);
  EXPECT_EQ(evdb_commit(b, nullptr, nullptr), EVDB_OK);
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_commit(a, nullptr, &err), EVDB_VERSION_MISMATCH);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("memory"), std::string::npos) << err.message;
  evdb_error_release(&err);
  EXPECT_EQ(db.tx_read_only([](evdb::TxRO& tx) { return tx.read_system_version(); }), 1);
}

TEST(MemoryThroughLoader, ListenDeliversInOrderAndStopsOnCancel) {
  const std::string name = "memory:" + unique_name("loader_listen");
  evdb::DB db = evdb::DB::open(name);
  evdb::DB writer = evdb::DB::open(name);
  evdb::Context ctx;
  std::promise<void> ready;
  std::vector<int64_t> got;
  std::promise<void> all;
  std::thread listener([&] {
    evdb::Status s = db.listen(
        ctx, [&] { ready.set_value(); },
        [&](int64_t v) {
          got.push_back(v);
          if (got.size() == 5) all.set_value();
        });
    EXPECT_EQ(s.code(), EVDB_CANCELED);
  });
  ready.get_future().wait();
  for (int i = 0; i < 5; ++i)
    writer.tx_rw([&](evdb::TxRW& tx) { tx.append_event(i, ev("T", std::to_string(i))); });
  all.get_future().wait();
  ctx.cancel();
  listener.join();
  EXPECT_EQ(got, (std::vector<int64_t>{1, 2, 3, 4, 5}));
}

}  // namespace
