// registry.hpp — the process-wide set of drivers: in-process registrations,
// files loaded with Boost.DLL, discovery by scheme on the search path, ABI
// negotiation and table checks. Drivers are never unloaded.
#pragma once

#include <evdb/driver.h>

#include <string>
#include <vector>

namespace evdb::loader {

// One usable driver. Lives for the life of the process.
struct Driver {
  // The driver's table copied into the host's layout: fields beyond the
  // driver's own size are zero (so optional entries read as NULL).
  evdb_driver table{};
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

// The search folders in order, each with where it comes from, e.g.
// "/opt/x (EVDB_DRIVER_PATH)". Relative EVDB_DRIVER_PATH entries are listed
// as ignored.
std::vector<std::string> describe_search_path();

// Loads every driver file on the search path; returns every usable driver
// (registered ones too) and the problems of files that could not be used.
struct LoadProblem {
  std::string file, message;
};
std::vector<const Driver*> load_all(std::vector<LoadProblem>& problems);

}  // namespace evdb::loader
