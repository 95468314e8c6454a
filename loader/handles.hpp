// handles.hpp — what evdb_db and evdb_tx (opaque in evdb.h) are.
#pragma once

#include <evdb/driver.h>

#include <atomic>

#include "listen_hub.hpp"
#include "registry.hpp"

struct evdb_db {
  const evdb::loader::Driver* driver;  // lives for the process
  evdb_driver_db* handle;              // owned; closed by evdb_close
  uint64_t capabilities;               // of this store, read at open
  // The driver's listener, or the host's polling one when this store lacks
  // EVDB_CAP_LISTENER; chosen at open. Run by `hubs` only: one per handle,
  // shared by every evdb_listen on it (listen_hub.hpp).
  evdb::loader::ListenFn listen;
  evdb::loader::ListenHubs hubs;  // joins its threads when destroyed (evdb_close)
};

// A transaction: the driver's handle and what every call on it needs, so
// that a call reaches the driver's entry with one load (the table is
// db->driver->table, which lives for the process). Wrappers are reused:
// api.cpp takes them from per-thread pools ("transaction wrappers" there).
struct evdb_tx {
  const evdb_driver* table;  // the driver's table
  evdb_driver_tx* handle;    // owned; ended by commit/rollback
  evdb_tx_kind kind;
  // In use by a transaction. Set by the thread owning the wrapper's pool,
  // cleared (release) by whichever thread ends the transaction.
  std::atomic<bool> busy{false};
  bool pooled = false;  // false: from the heap, deleted when its transaction ends
};
