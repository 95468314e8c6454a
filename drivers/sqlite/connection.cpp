// connection.cpp — one SQLite connection: statements, busy handling, errors.
#include "connection.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace evdb::sqlite {

namespace {

constexpr const char* kSqlText[] = {
    /* kBegin */ "BEGIN",
    /* kBeginImmediate */ "BEGIN IMMEDIATE",
    /* kCommit */ "COMMIT",
    /* kRollback */ "ROLLBACK",
    /* kHead */ "SELECT version FROM events ORDER BY version DESC LIMIT 1",
    /* kEventAt */
    "SELECT version, type, payload, time_us, revision_vcs FROM events WHERE version = ?1",
    /* kEventAfter */
    "SELECT version, type, payload, time_us, revision_vcs FROM events WHERE version > ?1 "
    "ORDER BY version LIMIT 1",
    /* kEventsAsc */
    "SELECT version, type, payload, time_us, revision_vcs FROM events WHERE version >= ?1 "
    "ORDER BY version LIMIT ?2",
    /* kEventsDesc */
    "SELECT version, type, payload, time_us, revision_vcs FROM events WHERE version <= ?1 "
    "ORDER BY version DESC LIMIT ?2",
    /* kInsertEvent */
    "INSERT INTO events(version, type, payload, time_us, revision_vcs) VALUES (?1, ?2, ?3, ?4, "
    "?5)",
    /* kProjectionGet */ "SELECT version FROM projection_versions WHERE id = ?1",
    /* kProjectionInsert */ "INSERT INTO projection_versions(id, version) VALUES (?1, 0)",
    /* kProjectionSet */ "UPDATE projection_versions SET version = ?2 WHERE id = ?1",
    /* kDataVersion */ "PRAGMA data_version",
};
static_assert(std::size(kSqlText) == static_cast<size_t>(Sql::kCount));

std::string describe(sqlite3* db, int rc) {
  std::string s = sqlite3_errstr(rc);
  if (db != nullptr) {
    const char* m = sqlite3_errmsg(db);
    if (m != nullptr && s != m) s = std::string(m) + " (" + s + ")";
    int e = sqlite3_system_errno(db);
    if (e != 0 && ((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_IOERR ||
                   (rc & 0xff) == SQLITE_PERM || (rc & 0xff) == SQLITE_READONLY))
      s += ": " + std::string(std::strerror(e));
  }
  return s;
}

}  // namespace

void raise_context(const drv::Ctx& ctx, std::string_view doing) {
  ctx.check(doing);
  drv::fail(EVDB_CANCELED, "interrupted while " + std::string(doing));
}

std::unique_ptr<Connection> Connection::open(const Config& cfg, std::shared_ptr<FileState> file) {
  std::unique_ptr<Connection> c(new Connection(cfg, std::move(file)));
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(cfg.path.c_str(), &c->db_, flags, nullptr);
  if (rc != SQLITE_OK)
    drv::fail(EVDB_CONNECTION,
              "cannot open database file " + cfg.path + ": " + describe(c->db_, rc));
  sqlite3_extended_result_codes(c->db_, 1);
  if (sqlite3_db_readonly(c->db_, "main") == 1)
    drv::fail(EVDB_CONNECTION, "no write permission on database file " + cfg.path);
  sqlite3_busy_handler(c->db_, &Connection::on_busy, c.get());
  std::string pragma = "PRAGMA synchronous = " + cfg.synchronous;
  c->exec(pragma.c_str(), "setting PRAGMA synchronous");
  return c;
}

Connection::~Connection() {
  for (sqlite3_stmt* s : stmts_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
}

sqlite3_stmt* Connection::stmt(Sql which) {
  sqlite3_stmt*& s = stmts_[static_cast<size_t>(which)];
  if (s == nullptr) {
    int rc = sqlite3_prepare_v3(db_, kSqlText[static_cast<size_t>(which)], -1,
                                SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      s = nullptr;
      raise(rc, "preparing a statement");
    }
  }
  return s;
}

void Connection::exec(const char* sql, std::string_view doing) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) raise(rc, doing);
}

void Connection::run(Sql which, std::string_view doing) {
  sqlite3_stmt* s = stmt(which);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) raise(rc, doing);
}

int64_t Connection::query_int(Sql which, int64_t none, std::string_view doing) {
  sqlite3_stmt* s = stmt(which);
  int rc = sqlite3_step(s);
  int64_t v = none;
  if (rc == SQLITE_ROW) {
    v = sqlite3_column_int64(s, 0);
  } else if (rc != SQLITE_DONE) {
    sqlite3_reset(s);
    raise(rc, doing);
  }
  sqlite3_reset(s);
  return v;
}

void Connection::raise(int rc, std::string_view doing) const {
  const std::string& path = cfg_.path;
  std::string what = std::string(doing) + " on " + path + ": ";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
      if (rc == SQLITE_BUSY_SNAPSHOT)
        drv::fail(EVDB_CONFLICT, what + "another writer committed since this transaction began");
      switch (verdict_) {
        case BusyVerdict::kContext:
          if (ctx_ != nullptr) raise_context(*ctx_, doing);
          break;
        case BusyVerdict::kSelfDeadlock:
          drv::fail(EVDB_CONFLICT,
                    what +
                        "another read-write transaction used by this thread holds the write "
                        "lock (waiting for it would deadlock)");
        case BusyVerdict::kTimeout:
        case BusyVerdict::kNone:
          break;
      }
      raise_locked(EVDB_CONFLICT, doing);
    case SQLITE_LOCKED:
      drv::fail(EVDB_CONFLICT, what + describe(db_, rc));
    case SQLITE_INTERRUPT:
      if (ctx_ != nullptr && ctx_->status() != EVDB_OK) raise_context(*ctx_, doing);
      drv::fail(EVDB_INTERNAL, what + describe(db_, rc));
    case SQLITE_NOTADB:
      drv::fail(EVDB_INVALID_ARGUMENT,
                "file " + path + " is not a SQLite database (" + describe(db_, rc) + ")");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
      drv::fail(EVDB_CONNECTION, what + describe(db_, rc));
    case SQLITE_CORRUPT:
      drv::fail(EVDB_INTERNAL, what + "the database file is corrupt (" + describe(db_, rc) + ")");
    default:
      drv::fail(EVDB_INTERNAL, what + describe(db_, rc));
  }
}

void Connection::raise_locked(evdb_status code, std::string_view doing) const {
  drv::fail(code, std::string(doing) + " on " + cfg_.path +
                      ": the database is locked by another writer (gave up after "
                      "busy_timeout_ms=" +
                      std::to_string(cfg_.busy_timeout_ms) + ")");
}

int Connection::on_busy(void* self, int count) {
  auto* c = static_cast<Connection*>(self);
  using namespace std::chrono;
  auto now = steady_clock::now();
  if (count == 0) {
    c->busy_start_ = c->waiting_since_ != steady_clock::time_point{} ? c->waiting_since_ : now;
    c->verdict_ = BusyVerdict::kNone;
  }
  if (c->ctx_ != nullptr && c->ctx_->status() != EVDB_OK) {
    c->verdict_ = BusyVerdict::kContext;
    return 0;
  }
  auto budget = milliseconds(c->cfg_.busy_timeout_ms) - (now - c->busy_start_);
  if (budget <= steady_clock::duration::zero()) {
    c->verdict_ = BusyVerdict::kTimeout;
    return 0;
  }
  // Wait in slices of at most 10 ms so cancellation is seen promptly.
  auto slice = std::min<steady_clock::duration>(budget, milliseconds(10));
  if (c->ctx_ != nullptr) {
    int64_t rem = c->ctx_->remaining_us();
    if (rem >= 0) slice = std::min<steady_clock::duration>(slice, microseconds(rem));
  }
  if (c->mode_ == BusyMode::kWriter && c->file_) {
    using Wait = common::WriteLockTracker::Wait;
    switch (c->file_->write_lock().wait_for_holder(std::this_thread::get_id(),
                                                   duration_cast<microseconds>(slice))) {
      case Wait::kSelf:
        c->verdict_ = BusyVerdict::kSelfDeadlock;
        return 0;
      case Wait::kWaited:
        return 1;
      case Wait::kNoHolder:
        break;
    }
  }
  // Another process holds the lock (or a transient state): back off
  // 0.25, 0.5, 1, 2 ms… capped at the slice; interrupted by cancellation.
  auto backoff = microseconds(250) * (1 << std::min(count, 3));
  auto sleep = std::min<steady_clock::duration>(slice, backoff);
  int64_t us = duration_cast<microseconds>(sleep).count();
  if (c->ctx_ != nullptr) {
    c->ctx_->sleep_us(us);
  } else {
    std::this_thread::sleep_for(microseconds(us));
  }
  return 1;
}

}  // namespace evdb::sqlite
