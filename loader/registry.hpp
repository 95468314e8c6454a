// registry.hpp — the process-wide set of drivers: in-process registrations,
// files loaded with Boost.DLL, discovery by scheme on the search path, ABI
// negotiation and table checks. Drivers are never unloaded.
#pragma once

#include <evdb/driver.h>

#include <string>
#include <vector>

namespace evdb::loader {

struct Driver;

// The optional driver entries on the host side, each chosen once when the
// driver is loaded: the driver's own entry, or the host's fallback.
using ListenFn = evdb_status (*)(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                                 evdb_on_inserted_fn on_inserted, void* user, evdb_error* err);
using PingFn = evdb_status (*)(evdb_db* db, evdb_ctx* ctx, evdb_error* err);
using CapabilitiesFn = uint64_t (*)(const Driver& driver, evdb_driver_db* handle);

// The host's polling listener (listen.cpp), for stores without their own.
evdb_status poll_listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                        evdb_on_inserted_fn on_inserted, void* user, evdb_error* err);

// One usable driver. Lives for the life of the process.
struct Driver {
  // The driver's table copied into the host's layout (zero past the
  // driver's size). Its optional entries are only called through the three
  // below, which are never NULL, so no call site tests for NULL.
  evdb_driver table{};
  // The store's capabilities: the driver's db_capabilities, else the table's.
  CapabilitiesFn capabilities_of = nullptr;
  // What evdb_listen runs for a store of this driver that has
  // EVDB_CAP_LISTENER: the driver's listener, or poll_listen when it has none.
  ListenFn listen = poll_listen;
  // evdb_ping: the driver's ping, or a stub answering EVDB_UNSUPPORTED.
  PingFn ping = nullptr;
  std::string file;  // "(in-process)" for registered entries
  std::vector<std::string> schemes;
  std::vector<const char*> scheme_ptrs;  // NULL-terminated, for evdb_driver_info
  evdb_driver_info info{};
};

// Finds the driver serving `scheme` (lower case): registered or loaded
// before, then libevdb_driver_<scheme>.so on the search path, then any driver
// file there that claims the scheme. On failure returns NULL with code and
// message (which lists every place searched).
const Driver* find_driver(const std::string& scheme, evdb_status& code, std::string& message);

// Registers an entry point (in-process driver). Returns NULL on a bad table.
const Driver* register_entry(evdb_driver_entry_fn entry, evdb_status& code, std::string& message);

// Loads a driver file named explicitly by the caller; its schemes take
// precedence over discovered drivers.
const Driver* load_file(const std::string& path, evdb_status& code, std::string& message);

// One search-path entry: an absolute folder and where it comes from, or an
// empty folder and why the entry is ignored.
struct SearchDir {
  std::string path;    // absolute; empty for an ignored entry
  std::string origin;  // where it comes from, or why it is ignored
};

// The search path in order, ignored entries included (with their reason).
std::vector<SearchDir> search_dirs();

// Loads every driver file on the search path; returns every usable driver
// (registered ones too) and the problems of files that could not be used.
struct LoadProblem {
  std::string file, message;
};
std::vector<const Driver*> load_all(std::vector<LoadProblem>& problems);

}  // namespace evdb::loader
