// Tests of the memory driver linked directly: its C++ classes and the C table
// built by the adapter (no loader involved). A small fake host supplies
// contexts for the cancellation and deadline tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "memory_driver.hpp"
#include "test_support/events.hpp"
#include "test_support/fake_host.hpp"
#include "test_support/names.hpp"

namespace {

using evdb::drv::Ctx;
using evdb::drv::Error;
using evdb::memory::MemoryDb;
using evdb::memory::open_name;

using evdb::test_support::c_event;
using evdb::test_support::FakeContext;
using evdb::test_support::unique_name;

// The flags of drv::Db::begin and drv::Tx::read_events, named.
constexpr bool kReadOnly = true, kReadWrite = false;
constexpr bool kReverse = true, kForward = false;

const evdb_driver* table() {
  return evdb_driver_entry_memory(EVDB_DRIVER_ABI_VERSION, FakeContext::host());
}

// ---- helpers ----------------------------------------------------------------
Ctx no_ctx() {
  return Ctx(nullptr, nullptr);
}

std::string str(const char* p, size_t n) {
  return std::string(p, n);
}

// Appends `count` events in one read-write transaction at the current head.
void append_n(MemoryDb& db, int count, const std::string& tag = "e") {
  Ctx ctx = no_ctx();
  auto tx = db.begin(ctx, kReadWrite);
  int64_t head = tx->read_system_version(ctx);
  for (int i = 0; i < count; ++i) {
    // .append, not "literal" + std::string&&: GCC 12 -O3 false -Wrestrict (bug 105329).
    std::string payload =
        std::string("{\"tag\":\"").append(tag).append("\",\"i\":").append(std::to_string(i)) + "}";
    std::string type = std::string("T").append(std::to_string(i % 3));
    head = tx->append_event(ctx, head, c_event(type, payload));
  }
  tx->commit(ctx);
}

int64_t head_of(MemoryDb& db) {
  Ctx ctx = no_ctx();
  auto tx = db.begin(ctx, kReadOnly);
  int64_t h = tx->read_system_version(ctx);
  tx->commit(ctx);
  return h;
}

template <class F>
evdb_status code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return EVDB_OK;
}

// ---- basics -------------------------------------------------------------------

TEST(MemoryDriver, EmptyStore) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  auto tx = db->begin(ctx, kReadOnly);
  EXPECT_EQ(tx->read_system_version(ctx), 0);
  evdb_event e = EVDB_EVENT_INIT;
  EXPECT_FALSE(tx->read_event_at(ctx, 0, e));
  EXPECT_FALSE(tx->read_event_at(ctx, 1, e));
  EXPECT_FALSE(tx->read_event_after(ctx, 0, e));
  evdb_event buf[4] = {EVDB_EVENT_INIT};
  EXPECT_EQ(tx->read_events(ctx, 1, kForward, buf, 4), 0u);
  EXPECT_EQ(tx->read_events(ctx, 5, kReverse, buf, 4), 0u);
  EXPECT_FALSE(tx->read_projection_version(ctx, 1).has_value());
  tx->commit(ctx);
  EXPECT_EQ(db->capabilities(), EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD);
}

TEST(MemoryDriver, AppendAndReadBackByteExact) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  const std::string payload = "{ \"a\" : [1, 2.50, \"\\u00e9\xc3\xa9\"] ,\n\t\"b\":null }";
  auto before = std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  {
    auto tx = db->begin(ctx, kReadWrite);
    EXPECT_EQ(tx->append_event(ctx, 0, c_event("Created", payload, "abc123", 42)), 1);
    EXPECT_EQ(tx->append_event(ctx, 1, c_event("Updated", "7", "")), 2);
    evdb_event nullrev = c_event("Nulled", "[]");
    nullrev.revision_vcs = nullptr;
    nullrev.revision_vcs_len = 0;
    EXPECT_EQ(tx->append_event(ctx, 2, nullrev), 3);
    tx->commit(ctx);
  }
  auto after = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  auto tx = db->begin(ctx, kReadOnly);
  EXPECT_EQ(tx->read_system_version(ctx), 3);
  evdb_event e = EVDB_EVENT_INIT;
  ASSERT_TRUE(tx->read_event_at(ctx, 1, e));
  EXPECT_EQ(e.version, 1);
  EXPECT_EQ(e.time_us, 42);
  EXPECT_EQ(str(e.type_name, e.type_name_len), "Created");
  EXPECT_EQ(str(e.payload, e.payload_len), payload);
  EXPECT_EQ(str(e.revision_vcs, e.revision_vcs_len), "abc123");
  EXPECT_EQ(e.type_name[e.type_name_len], '\0');
  EXPECT_EQ(e.payload[e.payload_len], '\0');
  EXPECT_EQ(e.revision_vcs[e.revision_vcs_len], '\0');
  ASSERT_TRUE(tx->read_event_at(ctx, 2, e));
  EXPECT_GE(e.time_us, before);  // time 0 means "now"
  EXPECT_LE(e.time_us, after);
  ASSERT_TRUE(tx->read_event_at(ctx, 3, e));
  ASSERT_NE(e.revision_vcs, nullptr);
  EXPECT_EQ(e.revision_vcs_len, 0u);
  EXPECT_STREQ(e.revision_vcs, "");
  EXPECT_FALSE(tx->read_event_at(ctx, 4, e));
  ASSERT_TRUE(tx->read_event_after(ctx, 0, e));
  EXPECT_EQ(e.version, 1);
  ASSERT_TRUE(tx->read_event_after(ctx, 2, e));
  EXPECT_EQ(e.version, 3);
  EXPECT_FALSE(tx->read_event_after(ctx, 3, e));
  EXPECT_FALSE(tx->read_event_after(ctx, INT64_MAX, e));
  EXPECT_FALSE(tx->read_event_at(ctx, INT64_MAX, e));
  evdb_event buf[2] = {EVDB_EVENT_INIT};
  EXPECT_EQ(tx->read_events(ctx, INT64_MAX, kForward, buf, 2), 0u);
  ASSERT_EQ(tx->read_events(ctx, INT64_MAX, kReverse, buf, 2), 2u);
  EXPECT_EQ(buf[0].version, 3);
}

TEST(MemoryDriver, AppendVersionMismatchAppendsNothing) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  append_n(*db, 2);
  auto tx = db->begin(ctx, kReadWrite);
  EXPECT_EQ(code_of([&] { tx->append_event(ctx, 1, c_event("T", "{}")); }),
            EVDB_VERSION_MISMATCH);  // stale
  EXPECT_EQ(code_of([&] { tx->append_event(ctx, 3, c_event("T", "{}")); }),
            EVDB_VERSION_MISMATCH);  // ahead
  EXPECT_EQ(tx->read_system_version(ctx), 2);
  EXPECT_EQ(tx->append_event(ctx, 2, c_event("T", "{}")), 3);
  EXPECT_EQ(code_of([&] { tx->append_event(ctx, 2, c_event("T", "{}")); }),
            EVDB_VERSION_MISMATCH);  // must chain on its own append
  tx->commit(ctx);
  EXPECT_EQ(head_of(*db), 3);
}

TEST(MemoryDriver, RollbackLeavesNoTrace) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  {
    auto tx = db->begin(ctx, kReadWrite);
    tx->append_event(ctx, 0, c_event("T", "{}"));
    tx->init_projection_version(ctx, 7);
    tx->rollback();
  }
  auto tx = db->begin(ctx, kReadOnly);
  EXPECT_EQ(tx->read_system_version(ctx), 0);
  EXPECT_FALSE(tx->read_projection_version(ctx, 7).has_value());
}

TEST(MemoryDriver, ReadOnlyRefusesWrites) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  auto tx = db->begin(ctx, kReadOnly);
  EXPECT_EQ(code_of([&] { tx->append_event(ctx, 0, c_event("T", "{}")); }), EVDB_READ_ONLY);
  EXPECT_EQ(code_of([&] { tx->init_projection_version(ctx, 1); }), EVDB_READ_ONLY);
  EXPECT_EQ(code_of([&] { tx->set_projection_version(ctx, 1, 1); }), EVDB_READ_ONLY);
  tx->commit(ctx);
  EXPECT_EQ(head_of(*db), 0);
}

TEST(MemoryDriver, Projections) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  auto tx = db->begin(ctx, kReadWrite);
  EXPECT_EQ(code_of([&] { tx->set_projection_version(ctx, 5, 1); }), EVDB_NOT_FOUND);
  EXPECT_EQ(tx->init_projection_version(ctx, 5), 0);
  tx->set_projection_version(ctx, 5, 10);
  EXPECT_EQ(tx->read_projection_version(ctx, 5), 10);  // own write
  EXPECT_EQ(tx->init_projection_version(ctx, 5), 10);  // never resets
  EXPECT_EQ(code_of([&] { tx->set_projection_version(ctx, 5, -1); }), EVDB_INVALID_ARGUMENT);
  tx->commit(ctx);
  auto tx2 = db->begin(ctx, kReadWrite);
  EXPECT_EQ(tx2->init_projection_version(ctx, 5), 10);
  tx2->set_projection_version(ctx, 5, 3);  // backwards is fine
  EXPECT_EQ(tx2->init_projection_version(ctx, -2), 0);
  tx2->commit(ctx);
  auto ro = db->begin(ctx, kReadOnly);
  EXPECT_EQ(ro->read_projection_version(ctx, 5), 3);
  EXPECT_EQ(ro->read_projection_version(ctx, -2), 0);
  EXPECT_FALSE(ro->read_projection_version(ctx, 6).has_value());
}

TEST(MemoryDriver, ReadEventsEdgesAcrossSegments) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  append_n(*db, 1000, "a");
  append_n(*db, 2500, "b");  // crosses the 1024- and 3072-event segment edges
  auto tx = db->begin(ctx, kReadOnly);
  const int64_t head = 3500;
  ASSERT_EQ(tx->read_system_version(ctx), head);
  std::vector<evdb_event> buf(4000, evdb_event EVDB_EVENT_INIT);
  EXPECT_EQ(tx->read_events(ctx, 1, kForward, buf.data(), 0), 0u);
  ASSERT_EQ(tx->read_events(ctx, 0, kForward, buf.data(), 4000), size_t(head));
  for (int64_t v = 1; v <= head; ++v) {
    ASSERT_EQ(buf[v - 1].version, v);
    evdb_event one = EVDB_EVENT_INIT;
    ASSERT_TRUE(tx->read_event_at(ctx, v, one));
    ASSERT_EQ(std::memcmp(&one, &buf[v - 1], sizeof one), 0);
  }
  ASSERT_EQ(tx->read_events(ctx, 1020, kForward, buf.data(), 10), 10u);
  EXPECT_EQ(buf[9].version, 1029);
  EXPECT_EQ(tx->read_events(ctx, head + 1, kForward, buf.data(), 10), 0u);
  ASSERT_EQ(tx->read_events(ctx, head - 2, kForward, buf.data(), 10), 3u);
  EXPECT_EQ(buf[2].version, head);
  // Descending.
  ASSERT_EQ(tx->read_events(ctx, 1030, kReverse, buf.data(), 10), 10u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(buf[i].version, 1030 - i);
  ASSERT_EQ(tx->read_events(ctx, head + 50, kReverse, buf.data(), 2), 2u);
  EXPECT_EQ(buf[0].version, head);
  EXPECT_EQ(buf[1].version, head - 1);
  ASSERT_EQ(tx->read_events(ctx, 3, kReverse, buf.data(), 10), 3u);
  EXPECT_EQ(buf[2].version, 1);
  EXPECT_EQ(tx->read_events(ctx, 0, kReverse, buf.data(), 10), 0u);
  ASSERT_EQ(tx->read_events(ctx, head, kReverse, buf.data(), 4000), size_t(head));
  for (int64_t i = 0; i < head; ++i) ASSERT_EQ(buf[i].version, head - i);
}

// Blocks of 2 MiB and more are mapped from the kernel (docs/memory-driver.md,
// decision 3): segments from version 31745 on and arena chunks once the arena
// holds 2 MiB, or one event's strings larger than that. Everything written
// there reads back, and the store unmaps it on close.
TEST(MemoryDriver, EventsInMappedBlocksReadBackByteExact) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  const std::string big = "{\"x\":\"" + std::string(3 * 1024 * 1024 + 5, 'q') + "\"}";
  {
    auto tx = db->begin(ctx, kReadWrite);
    ASSERT_EQ(tx->append_event(ctx, 0, c_event("Big", big)), 1);
    tx->commit(ctx);
  }
  append_n(*db, 40'000, "m");  // into segment 5 (32 768 records, 2 MiB)
  auto tx = db->begin(ctx, kReadOnly);
  ASSERT_EQ(tx->read_system_version(ctx), 40'001);
  evdb_event e = EVDB_EVENT_INIT;
  ASSERT_TRUE(tx->read_event_at(ctx, 1, e));
  EXPECT_EQ(str(e.payload, e.payload_len), big);
  EXPECT_EQ(e.payload[e.payload_len], '\0');
  std::vector<evdb_event> buf(40'000, evdb_event EVDB_EVENT_INIT);
  ASSERT_EQ(tx->read_events(ctx, 2, kForward, buf.data(), buf.size()), buf.size());
  for (int i = 0; i < 40'000; ++i) {
    ASSERT_EQ(buf[i].version, i + 2);
    ASSERT_EQ(str(buf[i].type_name, buf[i].type_name_len), "T" + std::to_string(i % 3));
    ASSERT_EQ(str(buf[i].payload, buf[i].payload_len),
              "{\"tag\":\"m\",\"i\":" + std::to_string(i) + "}");
  }
  tx->commit(ctx);
}

// A dropped store's big blocks go to the next store, not zeroed
// (docs/memory-driver.md, decision 3): stores made, filled past the first
// mapped segment and dropped on several threads at once each read back
// exactly their own events.
TEST(MemoryDriver, StoresMadeAndDroppedOnManyThreadsReadOnlyTheirOwnEvents) {
  constexpr int kThreads = 3, kRounds = 2, kEvents = 35'000;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&failures, t] {
      for (int r = 0; r < kRounds; ++r) {
        auto db = open_name("");
        const std::string tag = std::to_string(t) + "-" + std::to_string(r);
        append_n(*db, kEvents, tag);
        Ctx ctx = no_ctx();
        auto tx = db->begin(ctx, kReadOnly);
        std::vector<evdb_event> buf(kEvents, evdb_event EVDB_EVENT_INIT);
        if (tx->read_events(ctx, 1, kForward, buf.data(), buf.size()) != buf.size()) ++failures;
        for (int i = 0; i < kEvents; ++i) {
          const std::string want =
              std::string("{\"tag\":\"").append(tag).append("\",\"i\":").append(std::to_string(i)) +
              "}";
          if (buf[i].version != i + 1 || str(buf[i].payload, buf[i].payload_len) != want) {
            ++failures;
            break;
          }
        }
        tx->commit(ctx);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(MemoryDriver, ReadWriteSeesOwnWritesInEveryRead) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  append_n(*db, 3);
  auto tx = db->begin(ctx, kReadWrite);
  tx->append_event(ctx, 3, c_event("Own4", "4"));
  tx->append_event(ctx, 4, c_event("Own5", "5"));
  EXPECT_EQ(tx->read_system_version(ctx), 5);
  evdb_event e = EVDB_EVENT_INIT;
  ASSERT_TRUE(tx->read_event_at(ctx, 5, e));
  EXPECT_EQ(str(e.type_name, e.type_name_len), "Own5");
  EXPECT_EQ(e.type_name[e.type_name_len], '\0');
  ASSERT_TRUE(tx->read_event_after(ctx, 3, e));
  EXPECT_EQ(e.version, 4);
  EXPECT_EQ(str(e.payload, e.payload_len), "4");
  evdb_event buf[10] = {EVDB_EVENT_INIT};
  ASSERT_EQ(tx->read_events(ctx, 2, kForward, buf, 10), 4u);
  EXPECT_EQ(buf[0].version, 2);
  EXPECT_EQ(buf[3].version, 5);
  EXPECT_EQ(str(buf[3].payload, buf[3].payload_len), "5");
  ASSERT_EQ(tx->read_events(ctx, 9, kReverse, buf, 3), 3u);
  EXPECT_EQ(buf[0].version, 5);
  EXPECT_EQ(buf[2].version, 3);
  // Appending an event read back from this transaction (its strings point
  // into the transaction's own buffer) copies it correctly.
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(tx->read_event_at(ctx, 4, e));  // valid until the next call
    tx->append_event(ctx, 5 + i, e);
  }
  ASSERT_TRUE(tx->read_event_at(ctx, 55, e));
  EXPECT_EQ(str(e.type_name, e.type_name_len), "Own4");
  EXPECT_EQ(str(e.payload, e.payload_len), "4");
  tx->commit(ctx);
  auto ro = db->begin(ctx, kReadOnly);
  ASSERT_TRUE(ro->read_event_at(ctx, 55, e));
  EXPECT_EQ(str(e.type_name, e.type_name_len), "Own4");
  EXPECT_EQ(ro->read_system_version(ctx), 55);
}

// ---- stores: private vs shared ---------------------------------------------

TEST(MemoryDriver, PrivateStoresAreSeparate) {
  auto a = open_name("");
  auto b = open_name("");
  EXPECT_NE(a->store(), b->store());
  append_n(*a, 2);
  EXPECT_EQ(head_of(*a), 2);
  EXPECT_EQ(head_of(*b), 0);
}

TEST(MemoryDriver, NamedStoresAreSharedAndOutliveTheirHandles) {
  const std::string name = unique_name("shared");
  auto a = open_name(name);
  auto b = open_name(name);
  auto other = open_name(name + "-other");
  EXPECT_EQ(a->store(), b->store());
  append_n(*a, 4);
  EXPECT_EQ(head_of(*b), 4);
  EXPECT_EQ(head_of(*other), 0);
  a.reset();
  b.reset();
  // Decision: a named store lives for the life of the process.
  auto c = open_name(name);
  EXPECT_EQ(head_of(*c), 4);
}

// ---- concurrency --------------------------------------------------------------

TEST(MemoryDriver, ReadOnlySnapshotIsStableWhileWriterCommits) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  append_n(*db, 5);
  {
    auto w = db->begin(ctx, kReadWrite);
    w->init_projection_version(ctx, 1);
    w->commit(ctx);
  }
  auto ro = db->begin(ctx, kReadOnly);
  EXPECT_EQ(ro->read_system_version(ctx), 5);
  std::thread writer([&] {
    for (int i = 0; i < 20; ++i) {
      Ctx c = no_ctx();
      auto w = db->begin(c, kReadWrite);
      int64_t h = w->read_system_version(c);
      w->append_event(c, h, c_event("W", "{}"));
      w->set_projection_version(c, 1, h + 1);
      w->init_projection_version(c, 2);
      w->commit(c);
    }
  });
  writer.join();
  EXPECT_EQ(ro->read_system_version(ctx), 5);
  evdb_event e = EVDB_EVENT_INIT;
  EXPECT_FALSE(ro->read_event_at(ctx, 6, e));
  EXPECT_FALSE(ro->read_event_after(ctx, 5, e));
  evdb_event buf[10] = {EVDB_EVENT_INIT};
  EXPECT_EQ(ro->read_events(ctx, 1, kForward, buf, 10), 5u);
  EXPECT_EQ(ro->read_events(ctx, 100, kReverse, buf, 10), 5u);
  EXPECT_EQ(buf[0].version, 5);
  EXPECT_EQ(ro->read_projection_version(ctx, 1), 0);
  EXPECT_FALSE(ro->read_projection_version(ctx, 2).has_value());
  ro->commit(ctx);
  auto fresh = db->begin(ctx, kReadOnly);
  EXPECT_EQ(fresh->read_system_version(ctx), 25);
  EXPECT_EQ(fresh->read_projection_version(ctx, 1), 25);
  EXPECT_EQ(fresh->read_projection_version(ctx, 2), 0);
}

TEST(MemoryDriver, SnapshotReadsConsistentUnderConcurrentCommits) {
  // A reader thread keeps checking that what it sees is one consistent state:
  // the head, the events up to it and projection 1 (set to the head by each
  // writer) agree, while a writer commits.
  auto db = open_name("");
  Ctx ctx = no_ctx();
  {
    auto w = db->begin(ctx, kReadWrite);
    w->init_projection_version(ctx, 1);
    w->commit(ctx);
  }
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    Ctx c = no_ctx();
    std::vector<evdb_event> buf(64, evdb_event EVDB_EVENT_INIT);
    while (!done.load()) {
      auto ro = db->begin(c, kReadOnly);
      int64_t h = ro->read_system_version(c);
      if (ro->read_projection_version(c, 1) != h) bad++;
      size_t n = ro->read_events(c, h, kReverse, buf.data(), buf.size());
      if (n != static_cast<size_t>(std::min<int64_t>(h, 64))) bad++;
      if (n > 0 && buf[0].version != h) bad++;
      ro->commit(c);
    }
  });
  for (int i = 0; i < 300; ++i) {
    auto w = db->begin(ctx, kReadWrite);
    int64_t h = w->read_system_version(ctx);
    h = w->append_event(ctx, h, c_event("W", "1"));
    h = w->append_event(ctx, h, c_event("W", "2"));
    w->set_projection_version(ctx, 1, h);
    w->commit(ctx);
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(head_of(*db), 600);
}

TEST(MemoryDriver, SnapshotsConsistentUnderConcurrentCommitsOfProjections) {
  // Commits that only append alternate with commits that also set projection
  // 1 to their last event (of type "P"). Readers on several threads, each
  // also beginning on a second store in between (so their cached tables go
  // stale), check that every snapshot is one committed state: projection 1
  // names the last "P" event up to the head, and every later one is "A".
  auto db = open_name("");
  auto other = open_name("");
  Ctx ctx = no_ctx();
  {
    auto w = db->begin(ctx, kReadWrite);
    w->init_projection_version(ctx, 1);
    w->commit(ctx);
  }
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, seen{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r)
    readers.emplace_back([&] {
      Ctx c = no_ctx();
      std::vector<evdb_event> buf(8, evdb_event EVDB_EVENT_INIT);
      for (int n = 0; !done.load() || n < 100; ++n) {
        auto ro = (n % 5 == 0 ? other : db)->begin(c, kReadOnly);
        ro->commit(c);
        ro = db->begin(c, kReadOnly);
        const int64_t h = ro->read_system_version(c);
        const int64_t p = ro->read_projection_version(c, 1).value_or(-1);
        if (p < 0 || p > h || h - p > 2) {
          bad++;
          continue;
        }
        size_t k = ro->read_events(c, h, kReverse, buf.data(), static_cast<size_t>(h - p + 1));
        for (size_t i = 0; i < k; ++i) {
          const char want = buf[i].version == p ? 'P' : 'A';
          if (buf[i].type_name_len != 1 || buf[i].type_name[0] != want) bad++;
        }
        seen++;
        ro->commit(c);
      }
    });
  for (int i = 0; i < 600; ++i) {
    auto w = db->begin(ctx, kReadWrite);
    int64_t h = w->read_system_version(ctx);
    if (i % 3 == 0) {
      h = w->append_event(ctx, h, c_event("P", "1"));
      w->set_projection_version(ctx, 1, h);
    } else {
      h = w->append_event(ctx, h, c_event("A", "1"));
    }
    w->commit(ctx);
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_GE(seen.load(), 300);
  EXPECT_EQ(head_of(*db), 600);
}

TEST(MemoryDriver, ReadersAreNotBlockedByAnOpenWriter) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  append_n(*db, 1);
  auto w = db->begin(ctx, kReadWrite);
  w->append_event(ctx, 1, c_event("Pending", "{}"));
  w->init_projection_version(ctx, 9);
  // Same thread: a read-only transaction begins, reads and commits while the
  // writer is open (a lock held by the writer would deadlock here).
  {
    auto ro = db->begin(ctx, kReadOnly);
    EXPECT_EQ(ro->read_system_version(ctx), 1);
    EXPECT_FALSE(ro->read_projection_version(ctx, 9).has_value());
    ro->commit(ctx);
  }
  // Another thread too.
  std::thread t([&] {
    Ctx c = no_ctx();
    auto ro = db->begin(c, kReadOnly);
    EXPECT_EQ(ro->read_system_version(c), 1);
    ro->commit(c);
  });
  t.join();
  w->commit(ctx);
  EXPECT_EQ(head_of(*db), 2);
}

TEST(MemoryDriver, TwoWritersOnOneThreadExactlyOneWins) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  auto a = db->begin(ctx, kReadWrite);
  auto b = db->begin(ctx, kReadWrite);
  EXPECT_EQ(a->append_event(ctx, 0, c_event("A", "\"a\"")), 1);
  EXPECT_EQ(b->append_event(ctx, 0, c_event("B", "\"b\"")), 1);
  a->commit(ctx);
  EXPECT_EQ(code_of([&] { b->commit(ctx); }), EVDB_VERSION_MISMATCH);
  b->rollback();
  auto ro = db->begin(ctx, kReadOnly);
  EXPECT_EQ(ro->read_system_version(ctx), 1);
  evdb_event e = EVDB_EVENT_INIT;
  ASSERT_TRUE(ro->read_event_at(ctx, 1, e));
  EXPECT_EQ(str(e.type_name, e.type_name_len), "A");
}

TEST(MemoryDriver, ProjectionWritersConflict) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  {  // Both initialise the same projection: the second gets CONFLICT.
    auto a = db->begin(ctx, kReadWrite);
    auto b = db->begin(ctx, kReadWrite);
    a->init_projection_version(ctx, 1);
    b->init_projection_version(ctx, 1);
    a->commit(ctx);
    EXPECT_EQ(code_of([&] { b->commit(ctx); }), EVDB_CONFLICT);
  }
  {  // Both set it: the second gets CONFLICT.
    auto a = db->begin(ctx, kReadWrite);
    auto b = db->begin(ctx, kReadWrite);
    a->set_projection_version(ctx, 1, 5);
    b->set_projection_version(ctx, 1, 6);
    b->commit(ctx);
    EXPECT_EQ(code_of([&] { a->commit(ctx); }), EVDB_CONFLICT);
  }
  {  // Different projections do not conflict.
    auto a = db->begin(ctx, kReadWrite);
    auto b = db->begin(ctx, kReadWrite);
    a->init_projection_version(ctx, 2);
    b->init_projection_version(ctx, 3);
    a->commit(ctx);
    b->commit(ctx);
  }
  {  // It read the head, another transaction appended: CONFLICT.
    auto a = db->begin(ctx, kReadWrite);
    EXPECT_EQ(a->read_system_version(ctx), 0);
    a->set_projection_version(ctx, 2, 1);
    append_n(*db, 1);
    EXPECT_EQ(code_of([&] { a->commit(ctx); }), EVDB_CONFLICT);
  }
  {  // It read only an old event, another transaction appended: no conflict.
    auto a = db->begin(ctx, kReadWrite);
    evdb_event e = EVDB_EVENT_INIT;
    ASSERT_TRUE(a->read_event_at(ctx, 1, e));
    a->set_projection_version(ctx, 2, 1);
    append_n(*db, 1);
    a->commit(ctx);
  }
  {  // A reader-only read-write transaction always commits.
    auto a = db->begin(ctx, kReadWrite);
    a->read_system_version(ctx);
    append_n(*db, 1);
    a->commit(ctx);
  }
  {  // It appended and a projection it read changed: VERSION_MISMATCH.
    auto a = db->begin(ctx, kReadWrite);
    int64_t h = a->read_system_version(ctx);
    a->set_projection_version(ctx, 3, 7);
    a->append_event(ctx, h, c_event("A", "1"));
    auto b = db->begin(ctx, kReadWrite);
    b->set_projection_version(ctx, 3, 8);
    b->commit(ctx);
    EXPECT_EQ(code_of([&] { a->commit(ctx); }), EVDB_VERSION_MISMATCH);
  }
  auto ro = db->begin(ctx, kReadOnly);
  EXPECT_EQ(ro->read_projection_version(ctx, 1), 6);
  EXPECT_EQ(ro->read_projection_version(ctx, 2), 1);
  EXPECT_EQ(ro->read_projection_version(ctx, 3), 8);
  EXPECT_EQ(ro->read_system_version(ctx), 3);
}

TEST(MemoryDriver, RacingWritersOnManyThreadsNoGapsNoDuplicates) {
  auto db = open_name("");
  constexpr int kThreads = 4;
  constexpr int kPerThread = 300;
  std::atomic<int> mismatches{0};
  // Thread t's i-th payload "[t,i]". Appended, not "literal" + std::string&&:
  // GCC 12 -O3 false -Wrestrict (bug 105329).
  auto payload_of = [](int t, int i) {
    return std::string("[").append(std::to_string(t)).append(",").append(std::to_string(i)) + "]";
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Ctx ctx = no_ctx();
      for (int i = 0; i < kPerThread;) {
        auto tx = db->begin(ctx, kReadWrite);
        int64_t h = tx->read_system_version(ctx);
        std::string payload = payload_of(t, i);
        try {
          tx->append_event(ctx, h, c_event("R", payload));
          tx->commit(ctx);
          ++i;
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), EVDB_VERSION_MISMATCH) << e.what();
          tx->rollback();
          mismatches++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  Ctx ctx = no_ctx();
  auto ro = db->begin(ctx, kReadOnly);
  ASSERT_EQ(ro->read_system_version(ctx), kThreads * kPerThread);
  std::vector<evdb_event> buf(kThreads * kPerThread, evdb_event EVDB_EVENT_INIT);
  ASSERT_EQ(ro->read_events(ctx, 1, kForward, buf.data(), buf.size()), buf.size());
  std::set<std::string> seen;
  std::vector<int> next(kThreads, 0);
  for (size_t i = 0; i < buf.size(); ++i) {
    ASSERT_EQ(buf[i].version, static_cast<int64_t>(i + 1));
    std::string p = str(buf[i].payload, buf[i].payload_len);
    ASSERT_TRUE(seen.insert(p).second) << "duplicate " << p;
    int t = p[1] - '0';
    ASSERT_EQ(p, payload_of(t, next[t]++));
  }
  EXPECT_EQ(seen.size(), buf.size());
}

TEST(MemoryDriver, ManyWritersOnOneThreadExactlyOneWinsPerVersion) {
  auto db = open_name("");
  Ctx ctx = no_ctx();
  for (int round = 0; round < 20; ++round) {
    std::vector<std::unique_ptr<evdb::drv::Tx>> txs;
    for (int i = 0; i < 5; ++i) txs.push_back(db->begin(ctx, kReadWrite));
    for (auto& tx : txs) tx->append_event(ctx, round, c_event("X", "0"));
    int won = 0;
    for (auto& tx : txs) {
      evdb_status s = code_of([&] { tx->commit(ctx); });
      if (s == EVDB_OK) {
        ++won;
      } else {
        EXPECT_EQ(s, EVDB_VERSION_MISMATCH);
      }
    }
    EXPECT_EQ(won, 1);
    EXPECT_EQ(head_of(*db), round + 1);
  }
}

// ---- the C table --------------------------------------------------------------

// Whether a built URI has an authority part ("//…").
enum class Authority { No, Yes };

struct UriBuilder {
  std::vector<evdb_uri_param> params;
  evdb_uri uri{};
  explicit UriBuilder(const char* text, const char* path, Authority authority = Authority::No) {
    uri.struct_size = sizeof(evdb_uri);
    uri.text = text;
    uri.redacted = text;
    uri.scheme = "memory";
    uri.has_authority = authority == Authority::Yes ? 1 : 0;
    uri.user = uri.password = uri.host = "";
    uri.path = path;
  }
  const evdb_uri* get() {
    uri.params = params.data();
    uri.param_count = params.size();
    return &uri;
  }
};

TEST(MemoryDriverTable, DescribesItself) {
  const evdb_driver* t = table();
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->struct_size, sizeof(evdb_driver));
  EXPECT_EQ(t->abi_version, EVDB_DRIVER_ABI_VERSION);
  EXPECT_STREQ(t->name, "memory");
  EXPECT_STREQ(t->version, EVDB_TEST_PROJECT_VERSION);  // the project's, from CMake
  ASSERT_NE(t->schemes, nullptr);
  EXPECT_STREQ(t->schemes[0], "memory");
  EXPECT_EQ(t->schemes[1], nullptr);
  EXPECT_EQ(t->capabilities, EVDB_CAP_LISTENER | EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD);
  EXPECT_NE(t->listen, nullptr);
}

// A newer host hands the driver events larger than the driver's evdb_event
// (fields appended after 1.0): the adapter steps the array by the host's
// struct_size and writes only the fields the driver knows.
TEST(MemoryDriverTable, NewerHostsLargerEventsAreSteppedAndOnlyKnownFieldsWritten) {
  struct NewerEvent {
    evdb_event known;
    int64_t added_later;  // a field this driver's header does not have
  };
  static_assert(sizeof(NewerEvent) > sizeof(evdb_event));
  const evdb_driver* t = table();
  const std::string name = unique_name("newer-host");
  UriBuilder u(("memory:" + name).c_str(), name.c_str());
  evdb_driver_db* db = nullptr;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, nullptr), EVDB_OK);
  evdb_driver_tx* tx = nullptr;
  ASSERT_EQ(t->begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
  std::string type = "T", payload = "{}";
  evdb_event e = c_event(type, payload);
  int64_t nv = 0;
  for (int64_t v = 0; v < 3; ++v)
    ASSERT_EQ(t->append_event(tx, nullptr, v, &e, &nv, nullptr), EVDB_OK);
  NewerEvent buf[3];
  for (auto& b : buf) {
    b.known = evdb_event EVDB_EVENT_INIT;
    b.known.struct_size = sizeof(NewerEvent);
    b.added_later = -1;
  }
  size_t n = 0;
  ASSERT_EQ(t->read_events(tx, nullptr, 1, 0, &buf[0].known, 3, &n, nullptr), EVDB_OK);
  ASSERT_EQ(n, 3u);
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(buf[i].known.version, i + 1) << "element " << i << " at the host's stride";
    EXPECT_EQ(buf[i].known.struct_size, sizeof(NewerEvent));
    EXPECT_EQ(buf[i].added_later, -1) << "the driver wrote a field it does not know";
  }
  NewerEvent one{evdb_event EVDB_EVENT_INIT, -1};
  one.known.struct_size = sizeof(NewerEvent);
  ASSERT_EQ(t->read_event_at(tx, nullptr, 2, &one.known, nullptr), EVDB_OK);
  EXPECT_EQ(one.known.version, 2);
  EXPECT_EQ(one.known.struct_size, sizeof(NewerEvent));
  EXPECT_EQ(one.added_later, -1);
  t->rollback(tx);
  t->close(db);
}

TEST(MemoryDriverTable, UnknownParameterIsRefusedByName) {
  const evdb_driver* t = table();
  UriBuilder u("memory:x?cache=shared&mode=y", "x");
  u.params = {{"cache", "shared"}, {"mode", "y"}};
  evdb_driver_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, &err), EVDB_INVALID_ARGUMENT);
  EXPECT_EQ(db, nullptr);
  ASSERT_NE(err.message, nullptr);
  std::string msg = err.message;
  EXPECT_NE(msg.find("memory: open:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cache"), std::string::npos) << msg;
  EXPECT_NE(msg.find("mode"), std::string::npos) << msg;
  err.release(&err);
}

TEST(MemoryDriverTable, AuthorityIsRefused) {
  const evdb_driver* t = table();
  UriBuilder u("memory://user:secret@host/x", "/x", Authority::Yes);
  u.uri.redacted = "memory://user:***@host/x";
  u.uri.password = "secret";
  evdb_driver_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, &err), EVDB_INVALID_ARGUMENT);
  ASSERT_NE(err.message, nullptr);
  std::string msg = err.message;
  EXPECT_NE(msg.find("memory:NAME"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("secret"), std::string::npos) << msg;
  err.release(&err);
}

TEST(MemoryDriverTable, OpenCommitConflictThroughTheTable) {
  const evdb_driver* t = table();
  const std::string name = unique_name("table");
  UriBuilder u(("memory:" + name).c_str(), name.c_str());
  evdb_driver_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, &err), EVDB_OK);
  EXPECT_EQ(t->db_capabilities(db), t->capabilities);
  evdb_driver_tx *a = nullptr, *b = nullptr;
  ASSERT_EQ(t->begin(db, nullptr, EVDB_TX_READ_WRITE, &a, &err), EVDB_OK);
  ASSERT_EQ(t->begin(db, nullptr, EVDB_TX_READ_WRITE, &b, &err), EVDB_OK);
  std::string type = "T", payload = "{}";
  evdb_event e = c_event(type, payload);
  int64_t nv = 0;
  ASSERT_EQ(t->append_event(a, nullptr, 0, &e, &nv, &err), EVDB_OK);
  EXPECT_EQ(nv, 1);
  ASSERT_EQ(t->append_event(b, nullptr, 0, &e, &nv, &err), EVDB_OK);
  ASSERT_EQ(t->commit(a, nullptr, &err), EVDB_OK);
  ASSERT_EQ(t->commit(b, nullptr, &err), EVDB_VERSION_MISMATCH);
  ASSERT_NE(err.message, nullptr);
  EXPECT_EQ(std::string(err.message).rfind("memory: commit: ", 0), 0u) << err.message;
  err.release(&err);
  evdb_driver_tx* r = nullptr;
  ASSERT_EQ(t->begin(db, nullptr, EVDB_TX_READ_ONLY, &r, &err), EVDB_OK);
  EXPECT_EQ(t->read_event_at(r, nullptr, 2, &e, &err), EVDB_NOT_FOUND);
  EXPECT_NE(std::string(err.message).find("no event at version 2"), std::string::npos);
  err.release(&err);
  int64_t pv = 0;
  EXPECT_EQ(t->read_projection_version(r, nullptr, 1, &pv, &err), EVDB_NOT_FOUND);
  err.release(&err);
  t->rollback(r);
  t->close(db);
}

// ---- listener -----------------------------------------------------------------

struct Collected {
  std::promise<void> ready;
  std::vector<int64_t> versions;
  int64_t stop_at = -1;  // return an error once this version arrives
};

evdb_status collect(void* user, int64_t v, evdb_error* err) {
  auto* c = static_cast<Collected*>(user);
  c->versions.push_back(v);
  if (v == c->stop_at) {
    evdb::drv::set_error(err, EVDB_INTERNAL, "enough");
    return EVDB_INTERNAL;
  }
  return EVDB_OK;
}
evdb_status on_ready(void* user, evdb_error*) {
  static_cast<Collected*>(user)->ready.set_value();
  return EVDB_OK;
}

TEST(MemoryDriverListener, DeliversEveryCommitOnceInOrderFromOtherHandles) {
  const evdb_driver* t = table();
  const std::string name = unique_name("listen");
  UriBuilder u(("memory:" + name).c_str(), name.c_str());
  evdb_driver_db* db = nullptr;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, nullptr), EVDB_OK);
  auto writer = open_name(name);  // a second handle on the same store
  append_n(*writer, 2);           // before the listener: not delivered

  Collected got;
  got.stop_at = 2 + 10;
  evdb_error err = EVDB_ERROR_INIT;
  std::future<void> ready = got.ready.get_future();
  std::thread listener(
      [&] { EXPECT_EQ(t->listen(db, nullptr, on_ready, collect, &got, &err), EVDB_INTERNAL); });
  ready.wait();
  Ctx ctx = no_ctx();
  append_n(*writer, 3);
  {
    auto tx = writer->begin(ctx, kReadWrite);  // rolled back: silent
    tx->append_event(ctx, 5, c_event("R", "0"));
    tx->rollback();
  }
  {
    auto tx = writer->begin(ctx, kReadWrite);  // a projection-only commit: silent
    tx->init_projection_version(ctx, 1);
    tx->commit(ctx);
  }
  append_n(*writer, 1);
  append_n(*writer, 6);
  listener.join();
  std::vector<int64_t> want;
  for (int64_t v = 3; v <= 12; ++v) want.push_back(v);
  EXPECT_EQ(got.versions, want);
  ASSERT_NE(err.message, nullptr);
  EXPECT_STREQ(err.message, "enough");  // the callback's own error, untouched
  err.release(&err);
  t->close(db);
}

TEST(MemoryDriverListener, ReturnsCanceledAfterCancel) {
  const evdb_driver* t = table();
  UriBuilder u("memory:", "");
  evdb_driver_db* db = nullptr;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, nullptr), EVDB_OK);
  FakeContext fctx;
  Collected got;
  std::future<void> ready = got.ready.get_future();
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status result = EVDB_OK;
  std::thread listener([&] { result = t->listen(db, fctx.raw(), on_ready, collect, &got, &err); });
  ready.wait();
  fctx.cancel();
  listener.join();
  EXPECT_EQ(result, EVDB_CANCELED);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("memory: listen: canceled"), std::string::npos)
      << err.message;
  err.release(&err);
  EXPECT_TRUE(got.versions.empty());
  t->close(db);
}

TEST(MemoryDriverListener, ReturnsDeadlineExceeded) {
  const evdb_driver* t = table();
  UriBuilder u("memory:", "");
  evdb_driver_db* db = nullptr;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, nullptr), EVDB_OK);
  FakeContext fctx;
  fctx.expire_in_us(30'000);
  Collected got;
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(t->listen(db, fctx.raw(), on_ready, collect, &got, &err), EVDB_DEADLINE_EXCEEDED);
  err.release(&err);
  t->close(db);
}

TEST(MemoryDriverContext, CanceledContextFailsBeginAndCommit) {
  const evdb_driver* t = table();
  UriBuilder u("memory:", "");
  evdb_driver_db* db = nullptr;
  ASSERT_EQ(t->open(u.get(), nullptr, &db, nullptr), EVDB_OK);
  FakeContext fctx;
  evdb_driver_tx* tx = nullptr;
  ASSERT_EQ(t->begin(db, fctx.raw(), EVDB_TX_READ_WRITE, &tx, nullptr), EVDB_OK);
  std::string type = "T", payload = "1";
  evdb_event e = c_event(type, payload);
  int64_t nv = 0;
  ASSERT_EQ(t->append_event(tx, fctx.raw(), 0, &e, &nv, nullptr), EVDB_OK);
  fctx.cancel();
  EXPECT_EQ(t->commit(tx, fctx.raw(), nullptr), EVDB_CANCELED);  // nothing applied
  evdb_driver_tx* tx2 = nullptr;
  EXPECT_EQ(t->begin(db, fctx.raw(), EVDB_TX_READ_ONLY, &tx2, nullptr), EVDB_CANCELED);
  ASSERT_EQ(t->begin(db, nullptr, EVDB_TX_READ_ONLY, &tx2, nullptr), EVDB_OK);
  int64_t h = -1;
  ASSERT_EQ(t->read_system_version(tx2, nullptr, &h, nullptr), EVDB_OK);
  EXPECT_EQ(h, 0);
  t->rollback(tx2);
  t->close(db);
}

}  // namespace
