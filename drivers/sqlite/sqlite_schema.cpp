// sqlite_schema.cpp — recognising an evdb store (application_id,
// user_version, the tables), refusing foreign files untouched, creating the
// schema of a new one. See sqlite_driver.hpp and docs/sqlite-driver.md.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "sqlite_internal.hpp"

namespace evdb::sqlite {
namespace {

using drv::Ctx;
using drv::fail;

// Runs a one-shot query and gives its first row to `read` (not called when
// there is no row).
template <class F>
void query_row(Connection& c, const char* sql, std::string_view doing, F&& read) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(c.handle(), sql, -1, &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    c.raise(rc, doing);
  }
  rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    read(s);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) c.raise(rc, doing);
}

// A one-shot query's single value as text (NULL/no row: "").
std::string query_text(Connection& c, const char* sql, std::string_view doing) {
  std::string out;
  query_row(c, sql, doing, [&](sqlite3_stmt* s) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    if (t != nullptr) out = reinterpret_cast<const char*>(t);
  });
  return out;
}

// A one-shot query's single value as an integer (NULL/no row: 0).
int64_t query_integer(Connection& c, const char* sql, std::string_view doing) {
  int64_t out = 0;
  query_row(c, sql, doing, [&](sqlite3_stmt* s) { out = sqlite3_column_int64(s, 0); });
  return out;
}

struct Inspection {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t objects = 0;       // entries in sqlite_schema
  std::string first_object;  // name of one of them, for messages
  bool has_tables = false;   // events and projection_versions exist
};

Inspection inspect(Connection& c) {
  Inspection r;
  const char* doing = "reading the schema";
  r.application_id = query_integer(c, "PRAGMA application_id", doing);
  r.user_version = query_integer(c, "PRAGMA user_version", doing);
  r.objects = query_integer(c, "SELECT count(*) FROM sqlite_schema", doing);
  r.first_object = query_text(c, "SELECT name FROM sqlite_schema ORDER BY name LIMIT 1", doing);
  r.has_tables = query_integer(c,
                               "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                               "name IN ('events', 'projection_versions')",
                               doing) == 2;
  return r;
}

// True when the file is an evdb store of our format; false when it is empty
// (ours to create); throws when it belongs to someone else.
bool classify(const Inspection& r, const std::string& path) {
  if (r.application_id == kApplicationId) {
    if (r.user_version > kFormatVersion)
      fail(EVDB_UNSUPPORTED, "database file " + path + " has evdb format version " +
                                 std::to_string(r.user_version) + ", newer than this driver's (" +
                                 std::to_string(kFormatVersion) + ")");
    if (r.user_version != kFormatVersion || !r.has_tables)
      fail(EVDB_INVALID_ARGUMENT, "database file " + path +
                                      " is marked as an evdb store but lacks its tables or has "
                                      "format version " +
                                      std::to_string(r.user_version) + "; refusing to use it");
    return true;
  }
  if (r.application_id != 0) {
    char hex[16];
    std::snprintf(hex, sizeof hex, "0x%08llx",
                  static_cast<unsigned long long>(static_cast<uint32_t>(r.application_id)));
    fail(EVDB_INVALID_ARGUMENT, "database file " + path +
                                    " belongs to another application (PRAGMA application_id " +
                                    hex + "); refusing to use or alter it");
  }
  if (r.objects != 0)
    fail(EVDB_INVALID_ARGUMENT, "database file " + path + " holds a schema that is not evdb's (" +
                                    std::to_string(r.objects) + " schema object(s), e.g. '" +
                                    r.first_object + "'); refusing to use or alter it");
  return false;
}

// Runs fn, retrying while SQLite answers SQLITE_BUSY without having waited
// itself (journal mode changes), within busy_timeout_ms and ctx.
template <class F>
void retry_busy(Connection& c, Ctx& ctx, std::string_view doing, F&& fn) {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    int rc = fn();
    if ((rc & 0xff) != SQLITE_BUSY || c.verdict() != BusyVerdict::kNone) {
      if (rc != SQLITE_OK) c.raise(rc, doing);
      return;
    }
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited > std::chrono::milliseconds(c.config().busy_timeout_ms)) c.raise(rc, doing);
    if (ctx.sleep_us(250 << std::min(attempt, 4)) != EVDB_OK) raise_context(ctx, doing);
  }
}

}  // namespace

void init_schema(Connection& c, Ctx& ctx) {
  const std::string& path = c.config().path;
  c.arm(&ctx, BusyMode::kReader);
  // 1. Look without writing: a foreign or non-SQLite file stays untouched.
  c.exec("BEGIN", "reading the schema");
  Inspection r;
  try {
    r = inspect(c);
  } catch (...) {
    sqlite3_exec(c.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
  c.exec("COMMIT", "reading the schema");
  bool ours = classify(r, path);

  // 2. WAL mode (persistent in the file; a no-op once set).
  std::string mode;
  retry_busy(c, ctx, "switching to WAL mode", [&] {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(c.handle(), "PRAGMA journal_mode = WAL", -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        mode = t ? reinterpret_cast<const char*>(t) : "";
        rc = SQLITE_OK;
      }
    }
    sqlite3_finalize(s);
    return rc;
  });
  if (mode != "wal")
    fail(EVDB_CONNECTION,
         "cannot switch database file " + path + " to WAL mode (it stays in '" + mode + "' mode)");
  if (ours) return;

  // 3. Create the tables in one transaction; another process may have done it
  // meanwhile, so look again under the write lock.
  c.arm(&ctx, BusyMode::kWriter);
  c.exec("BEGIN IMMEDIATE", "creating the schema");
  try {
    r = inspect(c);
    if (!classify(r, path)) {
      c.exec(kSchemaSql, "creating the schema");
      c.exec(("PRAGMA application_id = " + std::to_string(kApplicationId)).c_str(),
             "creating the schema");
      c.exec(("PRAGMA user_version = " + std::to_string(kFormatVersion)).c_str(),
             "creating the schema");
    }
    c.exec("COMMIT", "creating the schema");
  } catch (...) {
    sqlite3_exec(c.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

}  // namespace evdb::sqlite
