// handles.hpp — what evdb_db and evdb_tx (opaque in evdb.h) are.
#pragma once

#include <evdb/driver.h>

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

struct evdb_tx {
  evdb_db* db;
  evdb_driver_tx* handle;  // owned; ended by commit/rollback
  evdb_tx_kind kind;
};
