// drivers_api.cpp — the driver-management part of the C API: registration,
// explicit loading, listing, the search path.
#include <evdb/driver.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.hpp"
#include "registry.hpp"

using evdb::loader::fail;

extern "C" {

evdb_status evdb_register_driver(evdb_driver_entry_fn entry, evdb_error* err) {
  if (entry == nullptr) return fail(err, EVDB_INVALID_ARGUMENT, "register_driver: entry is NULL");
  evdb_status code = EVDB_OK;
  std::string message;
  if (evdb::loader::register_entry(entry, code, message) == nullptr)
    return fail(err, code, "register_driver: " + message);
  return EVDB_OK;
}

evdb_status evdb_driver_load_file(const char* path, evdb_error* err) {
  if (path == nullptr || path[0] == '\0')
    return fail(err, EVDB_INVALID_ARGUMENT, "driver_load_file: path is NULL or empty");
  evdb_status code = EVDB_OK;
  std::string message;
  if (evdb::loader::load_file(path, code, message) == nullptr)
    return fail(err, code, "driver_load_file: " + message);
  return EVDB_OK;
}

evdb_status evdb_drivers_list(evdb_driver_info_fn fn, void* user,
                              void (*problem)(void* user, const char* file, const char* message)) {
  std::vector<evdb::loader::LoadProblem> problems;
  auto drivers = evdb::loader::load_all(problems);
  if (fn != nullptr)
    for (auto* d : drivers) fn(user, &d->info);
  if (problem != nullptr)
    for (auto& p : problems) problem(user, p.file.c_str(), p.message.c_str());
  return EVDB_OK;
}

char* evdb_driver_search_path(void) {
  std::string all;
  for (auto& d : evdb::loader::search_dirs()) {
    if (d.path.empty()) continue;  // ignored entries: evdb_driver_search_path_notes
    if (!all.empty()) all += '\n';
    all += d.path;
  }
  char* out = static_cast<char*>(std::malloc(all.size() + 1));
  if (out != nullptr) std::memcpy(out, all.c_str(), all.size() + 1);
  return out;
}

void evdb_driver_search_path_notes(evdb_search_note_fn fn, void* user) {
  if (fn == nullptr) return;
  for (auto& d : evdb::loader::search_dirs())
    fn(user, d.path.empty() ? nullptr : d.path.c_str(), d.origin.c_str());
}

}  // extern "C"
