// next_test.cpp — ctest abi.next: a driver and an application built "from
// newer headers" (next/evdb_next.h: an event field, a host service and a
// status added after 1.0) run with this libevdb, which lacks all three.
#include <evdb/driver.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>

#include <evdb/evdb.hpp>

#include "evdb_next.h"

#include <dlfcn.h>

// The newer structs start with the 1.0 layout, field for field.
static_assert(offsetof(evdb_event_next, revision_vcs_len) ==
              offsetof(evdb_event, revision_vcs_len));
static_assert(offsetof(evdb_event_next, causation_id) >= EVDB_EVENT_MIN_SIZE);
static_assert(offsetof(evdb_host_api_next, ctx_sleep) == offsetof(evdb_host_api, ctx_sleep));

namespace {

// td_next_host_has_now() of the driver module the library loaded (dlopen of
// the same file gives the same, already loaded, module).
int td_next_host_has_now() {
  void* h = dlopen(NEXT_DRIVER, RTLD_NOW | RTLD_LOCAL);
  if (h == nullptr) return -1;
  auto fn = reinterpret_cast<int (*)()>(dlsym(h, "td_next_host_has_now"));
  int r = fn != nullptr ? fn() : -1;
  dlclose(h);
  return r;
}

evdb_db* open_next() {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_driver_load_file(NEXT_DRIVER, &err);
  EXPECT_EQ(s, EVDB_OK) << (err.message ? err.message : "");
  evdb_error_release(&err);
  evdb_db* db = nullptr;
  s = evdb_open("tnext:", nullptr, &db, &err);
  EXPECT_EQ(s, EVDB_OK) << (err.message ? err.message : "");
  evdb_error_release(&err);
  return db;
}

// Appends `n` events through an application's newer, larger event struct
// (the library ignores the field it does not know).
int64_t append_next(evdb_db* db, int n) {
  evdb_event_next e = EVDB_EVENT_NEXT_INIT;
  e.type_name = "Next";
  e.type_name_len = 4;
  e.payload = "{\"n\":1}";
  e.payload_len = 7;
  e.causation_id = "ignored by a 1.0 library";
  e.causation_id_len = std::strlen(e.causation_id);
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  EXPECT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
  int64_t head = 0;
  EXPECT_EQ(evdb_read_system_version(tx, nullptr, &head, &err), EVDB_OK);
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(evdb_append_event(tx, nullptr, head + i, reinterpret_cast<const evdb_event*>(&e),
                                nullptr, &err),
              EVDB_OK)
        << (err.message ? err.message : "");
  EXPECT_EQ(evdb_commit(tx, nullptr, &err), EVDB_OK) << (err.message ? err.message : "");
  evdb_error_release(&err);
  return head;
}

TEST(AbiNext, DriverFromNewerHeadersLoadsInAHostThatLacksItsAdditions) {
  evdb_db* db = open_next();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(td_next_host_has_now(), 0) << "this host has no now_us: the driver must see that";
  int64_t head = append_next(db, 3);

  // The host hands the driver its own (1.0) events: the newer driver must
  // not write causation_id past them. A guard after the array shows it.
  struct {
    evdb_event buf[3];
    uint64_t guard;
  } arr{};
  arr.buf[0].struct_size = sizeof(evdb_event);
  arr.guard = 0x4e455854u;
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, &err), EVDB_OK);
  size_t n = 0;
  ASSERT_EQ(evdb_read_events(tx, nullptr, head + 1, 0, arr.buf, 3, &n, &err), EVDB_OK);
  EXPECT_EQ(n, 3u);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(arr.buf[i].version, head + 1 + int64_t(i));
  EXPECT_EQ(arr.guard, 0x4e455854u) << "a newer driver wrote past the host's events";

  // A status added after 1.0 reaches the application unchanged, with its
  // message; a 1.0 library names it "unknown" and does not call it retryable.
  int64_t pv = 0;
  evdb_status s = evdb_read_projection_version(tx, nullptr, 1313, &pv, &err);
  EXPECT_EQ(s, EVDB_NEXT_STATUS);
  EXPECT_EQ(err.code, EVDB_NEXT_STATUS);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("a status newer than the host"), std::string::npos);
  EXPECT_STREQ(evdb_status_name(s), "EVDB_UNKNOWN_STATUS");
  EXPECT_EQ(evdb_status_is_retryable(s), 0);
  evdb_error_release(&err);
  evdb_rollback(tx);
  evdb_close(db);
}

TEST(AbiNext, ApplicationWithLargerStructsIsSteppedByItsOwnSize) {
  evdb_db* db = open_next();
  ASSERT_NE(db, nullptr);
  int64_t head = append_next(db, 3);
  evdb_event_next buf[3];
  for (auto& b : buf) {
    b = evdb_event_next EVDB_EVENT_NEXT_INIT;
    b.causation_id = "untouched";
    b.causation_id_len = 9;
  }
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_ONLY, &tx, &err), EVDB_OK);
  size_t n = 0;
  ASSERT_EQ(
      evdb_read_events(tx, nullptr, head + 1, 0, reinterpret_cast<evdb_event*>(buf), 3, &n, &err),
      EVDB_OK);
  ASSERT_EQ(n, 3u);
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(buf[i].struct_size, sizeof(evdb_event_next)) << i;
    EXPECT_EQ(buf[i].version, head + 1 + int64_t(i)) << "element " << i << " at the app's stride";
    EXPECT_EQ(std::string(buf[i].payload, buf[i].payload_len), "{\"n\":1}");
    // The library's events have no causation_id: the driver wrote none and
    // the library copies none; the field keeps what the application set.
    EXPECT_EQ(std::string(buf[i].causation_id, buf[i].causation_id_len), "untouched");
  }
  evdb_event_next one = EVDB_EVENT_NEXT_INIT;
  ASSERT_EQ(evdb_read_event_at(tx, nullptr, head + 2, reinterpret_cast<evdb_event*>(&one), &err),
            EVDB_OK);
  EXPECT_EQ(one.version, head + 2);
  EXPECT_EQ(one.struct_size, sizeof(evdb_event_next));
  EXPECT_EQ(one.causation_id, nullptr);
  evdb_rollback(tx);
  evdb_close(db);
}

TEST(AbiNext, StructSmallerThanOneZeroIsRefusedWithAClearError) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  ASSERT_EQ(evdb_open("memory:abi-small", nullptr, &db, &err), EVDB_OK);
  evdb_tx* tx = nullptr;
  ASSERT_EQ(evdb_begin(db, nullptr, EVDB_TX_READ_WRITE, &tx, &err), EVDB_OK);
  evdb_event e{};  // struct_size 0: not initialised with EVDB_EVENT_INIT
  e.type_name = "T";
  e.type_name_len = 1;
  e.payload = "{}";
  e.payload_len = 2;
  EXPECT_EQ(evdb_append_event(tx, nullptr, 0, &e, nullptr, &err), EVDB_INVALID_ARGUMENT);
  ASSERT_NE(err.message, nullptr);
  EXPECT_NE(std::string(err.message).find("EVDB_EVENT_INIT"), std::string::npos) << err.message;
  evdb_event out{};
  EXPECT_EQ(evdb_read_event_at(tx, nullptr, 1, &out, &err), EVDB_INVALID_ARGUMENT);
  size_t n = 0;
  EXPECT_EQ(evdb_read_events(tx, nullptr, 1, 0, &out, 1, &n, &err), EVDB_INVALID_ARGUMENT);
  evdb_error_release(&err);
  evdb_rollback(tx);
  evdb_close(db);
}

TEST(AbiNext, CppLayerKeepsAStatusItDoesNotKnow) {
  try {
    evdb::throw_error(EVDB_NEXT_STATUS, "newer");
    FAIL();
  } catch (const evdb::Error& e) {
    EXPECT_EQ(e.code(), EVDB_NEXT_STATUS);
  }
}

}  // namespace
