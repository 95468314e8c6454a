// opening.hpp — opening stores through libevdb in the drivers' tests:
// registering the driver linked into the test, and evdb_open's status and
// message for a URI. Header-only (links with libevdb and GoogleTest). Not
// installed.
#pragma once

#include <evdb/driver.h>
#include <evdb/evdb.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace evdb::test_support {

// Registers a driver linked into the test in-process (a repeat is a no-op);
// throws std::runtime_error with libevdb's message when it is refused.
inline void register_driver(evdb_driver_entry_fn entry) {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_register_driver(entry, &err);
  if (s != EVDB_OK) {
    std::string m = err.message ? err.message : "";
    evdb_error_release(&err);
    throw std::runtime_error("cannot register the driver: " + m);
  }
}

// What evdb_open made of a URI.
struct OpenResult {
  evdb_status status;
  std::string message;  // "" on success
};

// Opens `uri` through the C API (closing the store again on success). A
// failed open that still gives a handle fails the current test.
inline OpenResult try_open(const std::string& uri) {
  evdb_db* db = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri.c_str(), nullptr, &db, &err);
  OpenResult r{s, err.message ? err.message : ""};
  if (s != EVDB_OK && db != nullptr)
    ADD_FAILURE() << "contract: a failed evdb_open leaves *out NULL; it gave a handle with "
                  << evdb_status_name(s);
  evdb_error_release(&err);
  evdb_close(db);
  return r;
}

// The status of evdb_begin of a `kind` transaction on db with ctx (a
// transaction it gives is rolled back at once): for tests of a begin that
// waits (for a connection, for the write lock) and is cancelled.
inline evdb_status begin_status(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind) {
  evdb_tx* tx = nullptr;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status st = evdb_begin(db, ctx, kind, &tx, &err);
  evdb_error_release(&err);
  if (tx) evdb_rollback(tx);
  return st;
}

}  // namespace evdb::test_support
