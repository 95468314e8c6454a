// sqlite_driver.hpp — the SQLite evdb driver ("sqlite:" URIs).
//
// Public to evdb's own tests and benchmarks (which link
// evdb_driver_sqlite_impl and register evdb_driver_entry_sqlite in-process);
// applications go through evdb.h. The decisions are in docs/sqlite-driver.md.
//
// URIs: `sqlite:relative/path.db` (relative to the process's current
// directory) or `sqlite:///absolute/path.db`, with the optional parameters
//   busy_timeout_ms=N  how long a writer waits for the write lock (default
//                      5000; 0 = fail at once), then CONFLICT;
//   synchronous=off|normal|full|extra  PRAGMA synchronous (default full);
//   poll_ms=N          how often a listener looks for commits of other
//                      processes (PRAGMA data_version; default 50, 1..60000).
// Any other parameter is refused with EVDB_INVALID_ARGUMENT.
//
// Store layout (format version 1): one file in WAL mode, marked with
// PRAGMA application_id = kApplicationId and PRAGMA user_version =
// kFormatVersion, holding the tables of kSchemaSql. A database that is not
// empty and lacks the marker belongs to another program: it is refused and
// left untouched.
#pragma once

#include <evdb/driver.h>

#include <cstdint>

#include "adapter.hpp"
#include "common/version.hpp"

namespace evdb::sqlite {

// Capabilities of every SQLite store.
inline constexpr uint64_t kCapabilities = EVDB_CAP_LISTENER | EVDB_CAP_DURABLE |
                                          EVDB_CAP_CROSS_PROCESS | EVDB_CAP_GAPLESS |
                                          EVDB_CAP_BYTE_EXACT_PAYLOAD;

// PRAGMA application_id of an evdb store: "evdb" in ASCII.
inline constexpr int32_t kApplicationId = 0x65766462;

// PRAGMA user_version of the layout this driver writes and reads.
inline constexpr int32_t kFormatVersion = 1;

// The tables of format version 1 (also used by the benchmark's raw side).
inline constexpr const char* kSchemaSql =
    "CREATE TABLE events ("
    "version INTEGER PRIMARY KEY, "
    "type TEXT NOT NULL, "
    "payload TEXT NOT NULL, "
    "time_us INTEGER NOT NULL, "
    "revision_vcs TEXT NOT NULL);"
    "CREATE TABLE projection_versions ("
    "id INTEGER PRIMARY KEY, "
    "version INTEGER NOT NULL);";

// The driver's traits for the adapter (drivers/adapter.hpp).
struct Traits {
  static constexpr const char* name = "sqlite";
  static constexpr const char* version = common::kDriverVersion;
  static constexpr uint64_t capabilities = kCapabilities;
  static constexpr const char* const schemes[] = {"sqlite", nullptr};
  // Opens (and on first use creates) the store named by uri. Errors:
  // INVALID_ARGUMENT (bad URI or parameter, not a SQLite file, foreign
  // schema), UNSUPPORTED (newer format version), CONNECTION (missing folder,
  // no permission, I/O error), CONFLICT (locked longer than busy_timeout_ms),
  // CANCELED / DEADLINE_EXCEEDED.
  static std::unique_ptr<drv::Db> open(drv::Uri& uri, drv::Ctx& ctx);
};

}  // namespace evdb::sqlite

// The SQLite driver's entry point (see evdb_driver_entry_fn in driver.h):
// returns its static table. Register it with evdb_register_driver() to use
// the driver without loading libevdb_driver_sqlite.so.
extern "C" EVDB_API const evdb_driver* evdb_driver_entry_sqlite(uint32_t host_abi_version,
                                                                const evdb_host_api* host);
