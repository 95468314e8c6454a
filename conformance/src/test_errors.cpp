// test_errors.cpp — Errors.*: how a driver reports failure (docs/driver-guide.md
// DRV-29, DRV-30): every failing call fills `err` with the returned code and a
// message the driver allocated, starting with the driver's name; a filled
// `err` is released before it is filled again; a NULL `err` is allowed.
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "harness.hpp"

namespace evdb::conformance {
int link_errors() {
  return 0;
}

namespace {

// Failures only the driver can produce (the host's own checks pass), each a
// C call on a transaction of the given kind over an empty store.
struct DriverFailure {
  const char* what;
  evdb_status expected;
  evdb_tx_kind kind;
  std::function<evdb_status(evdb_tx*, evdb_error*)> call;
};

std::vector<DriverFailure> driver_failures() {
  static evdb_event event = [] {
    evdb_event e = EVDB_EVENT_INIT;
    e.type_name = "Tested";
    e.type_name_len = 6;
    e.payload = "{}";
    e.payload_len = 2;
    return e;
  }();
  return {
      {"read_event_at(1) on an empty log", EVDB_NOT_FOUND, EVDB_TX_READ_ONLY,
       [](evdb_tx* tx, evdb_error* err) {
         evdb_event out = EVDB_EVENT_INIT;
         return evdb_read_event_at(tx, nullptr, 1, &out, err);
       }},
      {"read_event_after(0) on an empty log", EVDB_NOT_FOUND, EVDB_TX_READ_ONLY,
       [](evdb_tx* tx, evdb_error* err) {
         evdb_event out = EVDB_EVENT_INIT;
         return evdb_read_event_after(tx, nullptr, 0, &out, err);
       }},
      {"read_projection_version(3) never initialised", EVDB_NOT_FOUND, EVDB_TX_READ_ONLY,
       [](evdb_tx* tx, evdb_error* err) {
         int64_t v = 0;
         return evdb_read_projection_version(tx, nullptr, 3, &v, err);
       }},
      {"set_projection_version(3, 1) never initialised", EVDB_NOT_FOUND, EVDB_TX_READ_WRITE,
       [](evdb_tx* tx, evdb_error* err) {
         return evdb_set_projection_version(tx, nullptr, 3, 1, err);
       }},
      {"append_event(assumed 7) on an empty log", EVDB_VERSION_MISMATCH, EVDB_TX_READ_WRITE,
       [](evdb_tx* tx, evdb_error* err) {
         return evdb_append_event(tx, nullptr, 7, &event, nullptr, err);
       }},
  };
}

// Runs f on a fresh transaction of `kind`, then rolls it back.
evdb_status on_tx(evdb::DB& db, evdb_tx_kind kind,
                  const std::function<evdb_status(evdb_tx*, evdb_error*)>& f, evdb_error* err) {
  evdb_tx* tx = nullptr;
  evdb_error begin_err = EVDB_ERROR_INIT;
  if (evdb_begin(db.raw(), nullptr, kind, &tx, &begin_err) != EVDB_OK) {
    std::string m = begin_err.message ? begin_err.message : "";
    evdb_error_release(&begin_err);
    ADD_FAILURE() << "begin failed: " << m;
    return EVDB_INTERNAL;
  }
  evdb_status s = f(tx, err);
  evdb_rollback(tx);
  return s;
}

TEST_F(Errors, EveryFailureFillsErrWithCodeAndMessage) {
  const std::string prefix = db().driver_name() + ": ";
  for (const DriverFailure& f : driver_failures()) {
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = on_tx(db(), f.kind, f.call, &err);
    EXPECT_EQ(s, f.expected) << "contract: " << f.what << " gives " << evdb_status_name(f.expected)
                             << "; the driver gave " << evdb_status_name(s);
    if (s != EVDB_OK) {
      EXPECT_EQ(err.code, s) << "contract (DRV-29): after " << f.what << ", err->code ("
                             << evdb_status_name(err.code) << ") equals the returned status ("
                             << evdb_status_name(s) << ")";
      EXPECT_TRUE(err.message != nullptr && err.message[0] != '\0')
          << "contract (DRV-29): after " << f.what << " failed with " << evdb_status_name(s)
          << ", err->message holds a message; it is empty";
      EXPECT_TRUE(err.message == nullptr || err.message[0] == '\0' || err.release != nullptr)
          << "contract (DRV-29): err->release is set with the message (" << f.what << ")";
      if (err.message != nullptr && err.message[0] != '\0') {
        EXPECT_EQ(std::string(err.message).rfind(prefix, 0), 0u)
            << "contract (DRV-30): a driver's message starts with its name (\"" << prefix
            << "\"); after " << f.what << " it was \"" << err.message << "\"";
      }
    }
    evdb_error_release(&err);
  }
}

TEST_F(Errors, OpenFailureFillsErr) {
  // An unknown URI parameter: refused by the driver itself (DRV-12).
  std::string uri =
      uri_ + (uri_.find('?') == std::string::npos ? "?" : "&") + "evdb_conformance_unknown=1";
  evdb_db* other = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri.c_str(), nullptr, &other, &err);
  if (s == EVDB_OK) evdb_close(other);
  EXPECT_EQ(s, EVDB_INVALID_ARGUMENT)
      << "contract: an unknown URI parameter gives EVDB_INVALID_ARGUMENT; the driver gave "
      << evdb_status_name(s);
  EXPECT_EQ(err.code, s) << "contract (DRV-29): err->code equals the status open returned";
  EXPECT_TRUE(err.message != nullptr && err.message[0] != '\0')
      << "contract (DRV-29): a failed open fills err->message";
  evdb_error_release(&err);
}

// An error the test filled before the call; the driver must release it
// (through its release function) before filling err with its own.
struct Sentinel {
  static int released;
  static void release(evdb_error* e) {
    ++released;
    std::free(e->message);
    e->message = nullptr;
    e->release = nullptr;
  }
};
int Sentinel::released = 0;

TEST_F(Errors, FilledErrIsReleasedBeforeItIsFilledAgain) {
  for (const DriverFailure& f : driver_failures()) {
    Sentinel::released = 0;
    evdb_error err = EVDB_ERROR_INIT;
    err.code = EVDB_INTERNAL;
    err.message = strdup("conformance: an earlier error");
    err.release = &Sentinel::release;
    evdb_status s = on_tx(db(), f.kind, f.call, &err);
    EXPECT_EQ(s, f.expected) << "contract: " << f.what << " gives " << evdb_status_name(f.expected);
    EXPECT_EQ(Sentinel::released, 1)
        << "contract (DRV-29): a failing call releases what err held (through err->release) "
           "exactly once before filling it; after "
        << f.what << " it was released " << Sentinel::released << " times";
    EXPECT_EQ(err.code, s) << "contract (DRV-29): err->code equals the returned status after "
                           << f.what;
    if (err.release == &Sentinel::release) {
      ADD_FAILURE() << "contract (DRV-29): after " << f.what
                    << " err still holds the earlier error instead of the driver's";
      Sentinel::release(&err);
    }
    evdb_error_release(&err);
  }
}

TEST_F(Errors, NullErrIsAllowed) {
  for (const DriverFailure& f : driver_failures()) {
    evdb_status s = on_tx(db(), f.kind, f.call, nullptr);
    EXPECT_EQ(s, f.expected) << "contract: with err NULL, " << f.what << " still gives "
                             << evdb_status_name(f.expected) << "; the driver gave "
                             << evdb_status_name(s);
  }
}

}  // namespace
}  // namespace evdb::conformance
