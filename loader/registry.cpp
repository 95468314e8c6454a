// registry.cpp — driver discovery, loading (Boost.DLL) and negotiation.
#include "registry.hpp"

#include <dlfcn.h>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>

#include "context.hpp"
#include "errors.hpp"
#include "handles.hpp"

#ifndef EVDB_INSTALL_DRIVER_DIR
#define EVDB_INSTALL_DRIVER_DIR "/usr/local/lib/evdb/drivers"
#endif

namespace evdb::loader {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPrefix = "libevdb_driver_";
constexpr const char* kSuffix = ".so";

// Everything is guarded by one mutex: loading is rare and dlopen serialises
// anyway; the driver's own open runs outside it.
struct State {
  std::mutex mu;
  std::vector<std::unique_ptr<Driver>> drivers;            // never shrinks
  std::map<std::string, const Driver*> by_scheme;          // the serving driver
  std::map<std::string, const Driver*> by_file;            // canonical path
  std::map<evdb_driver_entry_fn, const Driver*> by_entry;  // in-process
  // Loaded libraries are intentionally never unloaded: objects made by a
  // driver may outlive any handle, and unloading code still referenced is
  // the classic crash. Held through a pointer so that no destructor runs.
  std::vector<boost::dll::shared_library*>* libs = new std::vector<boost::dll::shared_library*>();
};

State& state() {
  static State* s = new State();  // never destroyed, for the same reason
  return *s;
}

}  // namespace

std::vector<SearchDir> search_dirs() {
  std::vector<SearchDir> dirs;
  // secure_getenv: a setuid/setgid program must not load code from a folder
  // its (unprivileged) caller names.
  const char* env = secure_getenv("EVDB_DRIVER_PATH");
  if (env == nullptr && std::getenv("EVDB_DRIVER_PATH") != nullptr)
    dirs.push_back({"", "EVDB_DRIVER_PATH ignored (secure mode: setuid/setgid program)"});
  if (env != nullptr) {
    std::string_view rest(env);
    while (true) {
      size_t colon = rest.find(':');
      std::string entry(rest.substr(0, colon));
      if (!entry.empty()) {
        if (entry[0] == '/')
          dirs.push_back({entry, "EVDB_DRIVER_PATH"});
        else
          dirs.push_back({"", "ignored relative EVDB_DRIVER_PATH entry \"" + entry +
                                  "\" (the current directory is never searched)"});
      }
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
  std::error_code ec;
  fs::path self = boost::dll::this_line_location(ec);
  if (!ec) dirs.push_back({(self.parent_path() / "evdb" / "drivers").string(), "beside libevdb"});
  dirs.push_back({EVDB_INSTALL_DRIVER_DIR, "install prefix"});
  // Drop later duplicates of the same folder.
  std::set<std::string> seen;
  std::vector<SearchDir> unique;
  for (auto& d : dirs) {
    if (d.path.empty()) {
      unique.push_back(d);
      continue;
    }
    std::error_code e2;
    fs::path canon = fs::weakly_canonical(d.path, e2);
    std::string key = e2 ? d.path : canon.string();
    if (seen.insert(key).second) unique.push_back(d);
  }
  return unique;
}

namespace {

bool is_elf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic,
                                         "\x7f"
                                         "ELF",
                                         4) == 0;
}

// The host-side optional entries: the driver's own, or the fallback
// (docs/contract.md §4.5, ABI-19).
evdb_status driver_listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                          evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) {
  return db->driver->table.listen(db->handle, ctx, on_ready, on_inserted, user, err);
}
evdb_status driver_ping(evdb_db* db, evdb_ctx* ctx, evdb_error* err) {
  return db->driver->table.ping(db->handle, ctx, err);
}
evdb_status unsupported_ping(evdb_db* db, evdb_ctx*, evdb_error* err) {
  const evdb_driver& t = db->driver->table;
  return fail(err, EVDB_UNSUPPORTED,
              std::string("ping: driver ") + t.name + " (table of " +
                  std::to_string(t.struct_size) + " bytes) has no ping entry");
}
uint64_t driver_capabilities(const Driver& d, evdb_driver_db* handle) {
  return d.table.db_capabilities(handle);
}
uint64_t table_capabilities(const Driver& d, evdb_driver_db*) {
  return d.table.capabilities;
}

// Chooses, once, the host-side entry for every optional table entry.
void fill_optional(Driver& d) {
  const evdb_driver& t = d.table;
  auto has = [&](bool within, const void* fn) { return within && fn != nullptr; };
  d.listen = has(EVDB_DRIVER_HAS(&t, listen), reinterpret_cast<const void*>(t.listen))
                 ? driver_listen
                 : poll_listen;
  d.ping = has(EVDB_DRIVER_HAS(&t, ping), reinterpret_cast<const void*>(t.ping)) ? driver_ping
                                                                                 : unsupported_ping;
  d.capabilities_of = t.db_capabilities != nullptr ? driver_capabilities : table_capabilities;
}

// Whether `s` is a URI scheme as drivers must list it (DRV-9): a lower-case
// letter, then lower-case letters, digits, '+', '-' or '.'.
bool is_scheme(const std::string& s) {
  if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-' ||
          ch == '.'))
      return false;
  return true;
}

// Calls a driver's entry point and checks DRV-6: the table is one static
// object, the same on every call (the host keeps pointers into it). A second
// call that returns another table leaves `table` NULL and `why` set; a first
// call that returns NULL leaves both empty (adopt() reports that).
struct Entered {
  const evdb_driver* table = nullptr;
  std::string why;
};
Entered call_entry(evdb_driver_entry_fn entry) {
  Entered e;
  e.table = entry(EVDB_DRIVER_ABI_VERSION, host_api());
  if (e.table != nullptr && entry(EVDB_DRIVER_ABI_VERSION, host_api()) != e.table) {
    e.table = nullptr;
    e.why =
        "its entry point returned a different table when called again; the table must be one "
        "static object (DRV-6)";
  }
  return e;
}

// Checks a table and builds the record. Returns NULL with code/message.
std::unique_ptr<Driver> adopt(const Entered& entered, const std::string& file, evdb_status& code,
                              std::string& message) {
  auto bad = [&](evdb_status c, std::string m) -> std::unique_ptr<Driver> {
    code = c;
    message = "driver " + file + ": " + m;
    return nullptr;
  };
  if (!entered.why.empty()) return bad(EVDB_DRIVER_ABI_MISMATCH, entered.why);
  const evdb_driver* t = entered.table;
  if (t == nullptr) return bad(EVDB_DRIVER_ABI_MISMATCH, "its entry point returned no table");
  constexpr uint32_t header = offsetof(evdb_driver, abi_version) + sizeof(uint32_t);
  if (t->struct_size < header)
    return bad(EVDB_DRIVER_ABI_MISMATCH, "its table is " + std::to_string(t->struct_size) +
                                             " bytes, too small to be an evdb table");
  if (t->abi_version == 0 || t->abi_version > EVDB_DRIVER_ABI_VERSION)
    return bad(EVDB_DRIVER_ABI_MISMATCH, "it speaks driver ABI version " +
                                             std::to_string(t->abi_version) +
                                             ", this evdb speaks ABI version 1 up to " +
                                             std::to_string(EVDB_DRIVER_ABI_VERSION));
  if (t->struct_size < EVDB_DRIVER_TABLE_MIN_SIZE)
    return bad(EVDB_DRIVER_ABI_MISMATCH,
               "its table is " + std::to_string(t->struct_size) + " bytes, smaller than the " +
                   std::to_string(EVDB_DRIVER_TABLE_MIN_SIZE) + " bytes ABI version " +
                   std::to_string(t->abi_version) + " requires");
  auto d = std::make_unique<Driver>();
  std::memcpy(&d->table, t, std::min<size_t>(t->struct_size, sizeof(evdb_driver)));
  d->table.struct_size =
      static_cast<uint32_t>(std::min<size_t>(t->struct_size, sizeof(evdb_driver)));
  fill_optional(*d);
  const evdb_driver& c = d->table;
  if (c.name == nullptr || c.name[0] == '\0')
    return bad(EVDB_DRIVER_ABI_MISMATCH, "its table has no name");
  if (c.schemes == nullptr || c.schemes[0] == nullptr)
    return bad(EVDB_DRIVER_ABI_MISMATCH, "its table lists no URI scheme");
  struct Required {
    const void* fn;
    const char* name;
  };
  const Required required[] = {
      {reinterpret_cast<const void*>(c.open), "open"},
      {reinterpret_cast<const void*>(c.close), "close"},
      {reinterpret_cast<const void*>(c.begin), "begin"},
      {reinterpret_cast<const void*>(c.commit), "commit"},
      {reinterpret_cast<const void*>(c.rollback), "rollback"},
      {reinterpret_cast<const void*>(c.read_system_version), "read_system_version"},
      {reinterpret_cast<const void*>(c.read_event_at), "read_event_at"},
      {reinterpret_cast<const void*>(c.read_event_after), "read_event_after"},
      {reinterpret_cast<const void*>(c.read_events), "read_events"},
      {reinterpret_cast<const void*>(c.read_projection_version), "read_projection_version"},
      {reinterpret_cast<const void*>(c.append_event), "append_event"},
      {reinterpret_cast<const void*>(c.init_projection_version), "init_projection_version"},
      {reinterpret_cast<const void*>(c.set_projection_version), "set_projection_version"},
  };
  for (const auto& r : required)
    if (r.fn == nullptr)
      return bad(EVDB_DRIVER_ABI_MISMATCH,
                 std::string("its table lacks the required function ") + r.name);
  for (size_t i = 0; c.schemes[i] != nullptr; ++i) {
    std::string s = c.schemes[i];
    if (s.empty()) return bad(EVDB_DRIVER_ABI_MISMATCH, "its table lists an empty scheme");
    if (!is_scheme(s))
      return bad(EVDB_DRIVER_ABI_MISMATCH,
                 "its table lists the scheme \"" + s +
                     "\", which is not a lower-case URI scheme ([a-z][a-z0-9+.-]*) (DRV-9)");
    d->schemes.push_back(s);
  }
  // DRV-33: a listener claimed is a listener given (the host would otherwise
  // poll silently and the claim would be false).
  if ((c.capabilities & EVDB_CAP_LISTENER) != 0 &&
      !(EVDB_DRIVER_HAS(&c, listen) && c.listen != nullptr))
    return bad(EVDB_DRIVER_ABI_MISMATCH,
               "its table claims EVDB_CAP_LISTENER but has no listen entry (DRV-33)");
  for (auto& s : d->schemes) d->scheme_ptrs.push_back(s.c_str());
  d->scheme_ptrs.push_back(nullptr);
  d->file = file;
  d->info.struct_size = sizeof(evdb_driver_info);
  d->info.name = c.name;
  d->info.version = c.version ? c.version : "";
  d->info.file = d->file.c_str();
  d->info.schemes = d->scheme_ptrs.data();
  d->info.abi_version = c.abi_version;
  d->info.capabilities = c.capabilities;
  return d;
}

// Publishes a driver: `explicit_choice` ones take over their schemes.
const Driver* publish(State& st, std::unique_ptr<Driver> d, bool explicit_choice) {
  const Driver* p = d.get();
  st.drivers.push_back(std::move(d));
  for (auto& s : p->schemes) {
    if (explicit_choice)
      st.by_scheme[s] = p;
    else
      st.by_scheme.emplace(s, p);
  }
  return p;
}

// Loads one file (lock held). Returns the record or NULL with code/message.
const Driver* load_locked(State& st, const std::string& path, bool explicit_choice,
                          evdb_status& code, std::string& message) {
  std::error_code ec;
  fs::path canon = fs::canonical(path, ec);
  if (ec) {
    code = EVDB_DRIVER_NOT_FOUND;
    message = "driver file " + path + " does not exist";
    return nullptr;
  }
  std::string key = canon.string();
  if (auto it = st.by_file.find(key); it != st.by_file.end()) {
    if (explicit_choice)
      for (auto& s : it->second->schemes) st.by_scheme[s] = it->second;
    return it->second;
  }
  if (!fs::is_regular_file(canon, ec) || !is_elf(key)) {
    code = EVDB_DRIVER_NOT_FOUND;
    message = "driver file " + path + " is not a shared object (not an ELF file)";
    return nullptr;
  }
  auto lib = std::make_unique<boost::dll::shared_library>();
  dlerror();
  lib->load(canon, ec, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  if (ec || !lib->is_loaded()) {
    const char* why = dlerror();
    code = EVDB_DRIVER_NOT_FOUND;
    message = "driver file " + path + " could not be loaded: " + (why ? why : ec.message());
    return nullptr;
  }
  if (!lib->has(EVDB_DRIVER_ENTRY_SYMBOL)) {
    code = EVDB_DRIVER_NOT_FOUND;
    message = "driver file " + path + " is a shared object but does not export the entry point " +
              EVDB_DRIVER_ENTRY_SYMBOL + " (is it an evdb driver?)";
    return nullptr;  // lib unloads here: nothing of it was used
  }
  auto entry =
      lib->get<const evdb_driver*(uint32_t, const evdb_host_api*)>(EVDB_DRIVER_ENTRY_SYMBOL);
  Entered entered = call_entry(entry);
  // The driver ran code: keep it loaded whatever its table says.
  st.libs->push_back(lib.release());
  auto d = adopt(entered, key, code, message);
  if (!d) return nullptr;
  const Driver* p = publish(st, std::move(d), explicit_choice);
  st.by_file[key] = p;
  return p;
}

std::vector<std::string> driver_files_in(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(kPrefix, 0) == 0 && name.size() > std::strlen(kPrefix) + 3 &&
        name.compare(name.size() - 3, 3, kSuffix) == 0)
      files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

const Driver* find_driver(const std::string& scheme, evdb_status& code, std::string& message) {
  State& st = state();
  std::lock_guard lock(st.mu);
  if (auto it = st.by_scheme.find(scheme); it != st.by_scheme.end()) return it->second;

  auto dirs = search_dirs();
  std::vector<std::string> problems;
  evdb_status named_code = EVDB_OK;  // error of a file named after the scheme
  std::string named_message;
  const std::string file = kPrefix + scheme + kSuffix;
  // 1. The file named after the scheme, folder by folder.
  for (auto& d : dirs) {
    if (d.path.empty()) continue;
    std::string candidate = d.path + "/" + file;
    std::error_code ec;
    if (!fs::exists(candidate, ec)) continue;
    evdb_status c = EVDB_OK;
    std::string m;
    if (load_locked(st, candidate, false, c, m) == nullptr) {
      problems.push_back(m);
      if (named_code == EVDB_OK) {
        named_code = c;
        named_message = m;
      }
      continue;
    }
    if (auto it = st.by_scheme.find(scheme); it != st.by_scheme.end()) return it->second;
  }
  // 2. Any driver file that claims the scheme (aliases, third-party schemes).
  for (auto& d : dirs) {
    if (d.path.empty()) continue;
    for (auto& f : driver_files_in(d.path)) {
      evdb_status c = EVDB_OK;
      std::string m;
      std::error_code ec;
      std::string key = fs::canonical(f, ec).string();
      if (!ec && st.by_file.count(key)) continue;
      if (fs::path(f).filename() == file) continue;  // tried above
      if (load_locked(st, f, false, c, m) == nullptr) {
        problems.push_back(m);
        continue;
      }
      if (auto it = st.by_scheme.find(scheme); it != st.by_scheme.end()) return it->second;
    }
  }
  if (named_code != EVDB_OK) {
    code = named_code;
    message = named_message;
    return nullptr;
  }
  code = EVDB_DRIVER_NOT_FOUND;
  message = "no driver for URI scheme \"" + scheme + "\": looked for " + file +
            " and for any libevdb_driver_*.so claiming the scheme in:";
  for (auto& d : dirs)
    message += d.path.empty() ? "\n  (" + d.origin + ")" : "\n  " + d.path + " (" + d.origin + ")";
  if (!problems.empty()) {
    message += "\nfiles that could not be used:";
    for (auto& p : problems) message += "\n  " + p;
  }
  message += "\nset EVDB_DRIVER_PATH to the folder holding the driver, or check the scheme";
  return nullptr;
}

const Driver* register_entry(evdb_driver_entry_fn entry, evdb_status& code, std::string& message) {
  State& st = state();
  std::lock_guard lock(st.mu);
  if (auto it = st.by_entry.find(entry); it != st.by_entry.end()) {
    for (auto& s : it->second->schemes) st.by_scheme[s] = it->second;
    return it->second;
  }
  auto d = adopt(call_entry(entry), "(in-process)", code, message);
  if (!d) return nullptr;
  const Driver* p = publish(st, std::move(d), true);
  st.by_entry[entry] = p;
  return p;
}

const Driver* load_file(const std::string& path, evdb_status& code, std::string& message) {
  State& st = state();
  std::lock_guard lock(st.mu);
  return load_locked(st, path, true, code, message);
}

std::vector<const Driver*> load_all(std::vector<LoadProblem>& problems) {
  State& st = state();
  std::lock_guard lock(st.mu);
  for (auto& d : search_dirs()) {
    if (d.path.empty()) continue;
    for (auto& f : driver_files_in(d.path)) {
      evdb_status c = EVDB_OK;
      std::string m;
      if (load_locked(st, f, false, c, m) == nullptr) problems.push_back({f, m});
    }
  }
  std::vector<const Driver*> out;
  for (auto& d : st.drivers) out.push_back(d.get());
  return out;
}

}  // namespace evdb::loader
