// sqlite_transaction.cpp — transactions: BEGIN / BEGIN IMMEDIATE, reads
// into the connection's buffers, writes that wait for the write lock without
// deadlocking a thread against itself, commit. See docs/sqlite-driver.md.
#include <algorithm>
#include <chrono>
#include <climits>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "sqlite_internal.hpp"

namespace evdb::sqlite {
namespace {

using drv::Ctx;
using drv::fail;

class SqliteTx final : public drv::Tx {
 public:
  SqliteTx(SqliteDb& db, std::unique_ptr<Connection> conn, bool read_only)
      : db_(db), conn_(std::move(conn)), read_only_(read_only) {}
  ~SqliteTx() override { finish(); }

  void start(Ctx& ctx);

  int64_t read_system_version(Ctx& ctx) override {
    enter(ctx);
    return head_;
  }
  bool read_event_at(Ctx& ctx, int64_t version, evdb_event& out) override {
    enter(ctx);
    if (version <= 0 || version > head_) return false;
    sqlite3_stmt* s = conn_->stmt(Sql::kEventAt);
    sqlite3_bind_int64(s, 1, version);
    return read_rows(s, &out, 1, "reading an event") == 1;
  }
  bool read_event_after(Ctx& ctx, int64_t version, evdb_event& out) override {
    enter(ctx);
    if (version >= head_) return false;
    sqlite3_stmt* s = conn_->stmt(Sql::kEventAfter);
    sqlite3_bind_int64(s, 1, version);
    return read_rows(s, &out, 1, "reading an event") == 1;
  }
  size_t read_events(Ctx& ctx, int64_t at, bool reverse, evdb_event* buf, size_t n) override {
    enter(ctx);
    if (n == 0) return 0;
    sqlite3_stmt* s = conn_->stmt(reverse ? Sql::kEventsDesc : Sql::kEventsAsc);
    sqlite3_bind_int64(s, 1, at);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(std::min<size_t>(n, INT64_MAX)));
    return read_rows(s, buf, n, "reading events");
  }
  std::optional<int64_t> read_projection_version(Ctx& ctx, int32_t id) override {
    enter(ctx);
    sqlite3_stmt* s = conn_->stmt(Sql::kProjectionGet);
    sqlite3_bind_int(s, 1, id);
    int64_t v = conn_->query_int(Sql::kProjectionGet, -1, "reading a projection version");
    if (v < 0) return std::nullopt;
    return v;
  }

  int64_t append_event(Ctx& ctx, int64_t assumed, const evdb_event& e) override {
    enter(ctx);
    if (assumed != head_)
      fail(EVDB_VERSION_MISMATCH, "the head is " + std::to_string(head_) +
                                      ", not the assumed version " + std::to_string(assumed) +
                                      "; nothing appended");
    sqlite3_stmt* s = conn_->stmt(Sql::kInsertEvent);
    sqlite3_bind_int64(s, 1, head_ + 1);
    sqlite3_bind_text(s, 2, e.type_name, static_cast<int>(e.type_name_len), SQLITE_STATIC);
    sqlite3_bind_text(s, 3, e.payload ? e.payload : "", static_cast<int>(e.payload_len),
                      SQLITE_STATIC);
    sqlite3_bind_int64(s, 4, e.time_us == 0 ? common::wall_now_us() : e.time_us);
    sqlite3_bind_text(s, 5, e.revision_vcs ? e.revision_vcs : "",
                      static_cast<int>(e.revision_vcs_len), SQLITE_STATIC);
    write_step(ctx, s, Write::Append, "appending an event");
    appended_ = true;
    return ++head_;
  }
  int64_t init_projection_version(Ctx& ctx, int32_t id) override {
    if (auto v = read_projection_version(ctx, id)) return *v;
    sqlite3_stmt* s = conn_->stmt(Sql::kProjectionInsert);
    sqlite3_bind_int(s, 1, id);
    write_step(ctx, s, Write::Projection, "initialising a projection version");
    return 0;
  }
  void set_projection_version(Ctx& ctx, int32_t id, int64_t version) override {
    enter(ctx);
    sqlite3_stmt* s = conn_->stmt(Sql::kProjectionSet);
    sqlite3_bind_int(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    write_step(ctx, s, Write::Projection, "setting a projection version");
    if (sqlite3_changes(conn_->handle()) == 0)
      fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
  }

  void commit(Ctx& ctx) override;
  void rollback() noexcept override { finish(); }

 private:
  void enter(Ctx& ctx) {
    // A writer waits for SQLite's lock only once it holds this process's
    // turn (take_turn): then only another process can hold the lock.
    conn_->arm(&ctx, read_only_ ? BusyMode::kReader : BusyMode::kReserved);
    hold_.touch(std::this_thread::get_id());
  }
  // How take_turn ended.
  enum class Turn { kTaken, kSelf, kTimeout };
  // Takes this process's turn to hold the file's write lock (hold_), waiting
  // for the in-process holder in slices that end at the context's deadline
  // and are never longer than 10 ms, so cancellation is seen promptly
  // (docs/contract.md OP-25); throws the context's error when it ends.
  // kSelf: the holder was last used by this thread (SQL-4: waiting would
  // deadlock); kTimeout: still held after busy_timeout_ms. `since` is set to
  // when the wait began (left alone when the turn was free at once).
  Turn take_turn(Ctx& ctx, std::chrono::steady_clock::time_point& since, std::string_view doing);
  size_t read_rows(sqlite3_stmt* s, evdb_event* out, size_t n, std::string_view doing);
  // What a write_step writes: an event (a lost race is VERSION_MISMATCH) or
  // a projection version (CONFLICT, unless the transaction appended).
  enum class Write { Append, Projection };
  void write_step(Ctx& ctx, sqlite3_stmt* s, Write what, std::string_view doing);
  // write_step's statement, once the turn is held: steps it, backing off
  // while another process holds SQLite's lock (a transaction begun on a
  // snapshot; SQLite calls no busy handler for that), within
  // busy_timeout_ms from `start` (or from the first busy answer).
  void step_locking(Ctx& ctx, sqlite3_stmt* s, bool appending, evdb_status loser,
                    std::chrono::steady_clock::time_point start, std::string_view doing);
  // Ends the transaction (rolling back when still open) and gives the
  // connection back. Never throws.
  void finish() noexcept;

  SqliteDb& db_;
  std::unique_ptr<Connection> conn_;
  bool read_only_;
  bool open_ = false;                    // between BEGIN and COMMIT/ROLLBACK
  common::WriteLockTracker::Hold hold_;  // this process's turn to hold the write lock
  bool locked_ = false;                  // holds SQLite's write lock
  bool appended_ = false;
  int64_t head_ = 0;  // the log's head as this transaction sees it
};

void SqliteTx::start(Ctx& ctx) {
  enter(ctx);
  if (read_only_) {
    conn_->run(Sql::kBegin, "beginning a read-only transaction");
    open_ = true;
  } else {
    // Writers of this process queue for their turn first (woken one at a
    // time), so SQLite's lock never sits idle while they race for it and
    // back off; see docs/sqlite-driver.md, "Writers queue".
    constexpr std::string_view kDoing = "beginning a read-write transaction (BEGIN IMMEDIATE)";
    std::chrono::steady_clock::time_point since{};
    switch (take_turn(ctx, since, kDoing)) {
      case Turn::kTaken: {
        conn_->arm(&ctx, BusyMode::kReserved, since);
        sqlite3_stmt* s = conn_->stmt(Sql::kBeginImmediate);
        int rc = sqlite3_step(s);
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) conn_->raise(rc, kDoing);
        open_ = true;
        locked_ = true;
        break;
      }
      case Turn::kSelf:
        // Another read-write transaction of this thread holds the lock:
        // waiting would deadlock. Begin on a snapshot and take the lock at
        // the first write instead (which fails CONFLICT/VERSION_MISMATCH if
        // it cannot; SQL-4).
        conn_->run(Sql::kBegin, "beginning a read-write transaction");
        open_ = true;
        break;
      case Turn::kTimeout:
        conn_->raise_locked(EVDB_CONFLICT, kDoing);
    }
  }
  // The first read pins the snapshot (and gives the head for appends).
  head_ = conn_->query_int(Sql::kHead, 0, "reading the head of the log");
}

size_t SqliteTx::read_rows(sqlite3_stmt* s, evdb_event* out, size_t n, std::string_view doing) {
  // The strings of the last read live in the connection's buffer until the
  // next call on this transaction (the buffer's capacity outlives it).
  std::string& text = conn_->text_buffer();
  std::vector<size_t>& offsets = conn_->offsets();
  text.clear();
  offsets.clear();
  size_t i = 0;
  auto keep = [&](int col) {
    const char* t = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
    size_t len = static_cast<size_t>(sqlite3_column_bytes(s, col));
    offsets.push_back(text.size());
    if (len != 0) text.append(t, len);
    text.push_back('\0');
    return len;
  };
  while (i < n) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      sqlite3_reset(s);
      conn_->raise(rc, doing);
    }
    evdb_event& e = out[i];
    e.version = sqlite3_column_int64(s, 0);
    e.time_us = sqlite3_column_int64(s, 3);
    e.type_name_len = keep(1);
    e.payload_len = keep(2);
    e.revision_vcs_len = keep(4);
    ++i;
  }
  sqlite3_reset(s);
  const char* base = text.data();
  for (size_t k = 0; k < i; ++k) {
    out[k].type_name = base + offsets[3 * k];
    out[k].payload = base + offsets[3 * k + 1];
    out[k].revision_vcs = base + offsets[3 * k + 2];
  }
  return i;
}

SqliteTx::Turn SqliteTx::take_turn(Ctx& ctx, std::chrono::steady_clock::time_point& since,
                                   std::string_view doing) {
  using namespace std::chrono;
  using Reserve = common::WriteLockTracker::Reserve;
  common::WriteLockTracker& lock = db_.file().write_lock();
  const std::thread::id me = std::this_thread::get_id();
  Reserve r = lock.reserve(me, microseconds::zero(), hold_);  // free: no clock read
  if (r == Reserve::kBusy) {
    since = steady_clock::now();
    const auto budget = milliseconds(conn_->config().busy_timeout_ms);
    while (r == Reserve::kBusy) {
      if (ctx.status() != EVDB_OK) raise_context(ctx, doing);
      auto left = budget - (steady_clock::now() - since);
      if (left <= steady_clock::duration::zero()) return Turn::kTimeout;
      auto slice = std::min<steady_clock::duration>(left, milliseconds(10));
      if (int64_t rem = ctx.remaining_us(); rem >= 0)
        slice = std::min<steady_clock::duration>(slice, microseconds(rem));
      r = lock.reserve(me, std::chrono::ceil<microseconds>(slice), hold_, since);
    }
  }
  return r == Reserve::kReserved ? Turn::kTaken : Turn::kSelf;
}

void SqliteTx::write_step(Ctx& ctx, sqlite3_stmt* s, Write what, std::string_view doing) {
  using namespace std::chrono;
  const bool appending = what == Write::Append;
  evdb_status loser = (appending || appended_) ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT;
  steady_clock::time_point start{};  // set at the first wait (no clock read otherwise)
  bool took_turn = false;
  if (!hold_) {
    // Begun without the lock (see start): take this process's turn first.
    switch (take_turn(ctx, start, doing)) {
      case Turn::kTaken:
        took_turn = true;
        break;
      case Turn::kSelf:
        fail(loser, std::string(doing) +
                        ": another read-write transaction used by this thread holds the write "
                        "lock of " +
                        conn_->config().path +
                        " (waiting would deadlock); nothing was written (retry after it ends)");
      case Turn::kTimeout:
        conn_->raise_locked(loser, doing);
    }
  }
  try {
    step_locking(ctx, s, appending, loser, start, doing);
  } catch (...) {
    // Nothing was written. Unless the failed statement left SQLite's lock
    // held, give the turn back now rather than when the application ends
    // this transaction.
    if (sqlite3_txn_state(conn_->handle(), nullptr) == SQLITE_TXN_WRITE)
      locked_ = true;
    else if (took_turn)
      hold_.release();
    throw;
  }
}

void SqliteTx::step_locking(Ctx& ctx, sqlite3_stmt* s, bool appending, evdb_status loser,
                            std::chrono::steady_clock::time_point start, std::string_view doing) {
  using namespace std::chrono;
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
      locked_ = true;
      return;
    }
    if (rc == SQLITE_BUSY_SNAPSHOT)
      fail(loser, std::string(doing) +
                      ": another writer committed since this transaction's snapshot; nothing "
                      "was written (retry the transaction)");
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY && appending)
      fail(EVDB_VERSION_MISMATCH,
           std::string(doing) + ": version " + std::to_string(head_ + 1) + " exists already");
    if (rc != SQLITE_BUSY || locked_) conn_->raise(rc, doing);
    // A transaction begun on a snapshot found the lock taken by another
    // process (SQLite calls no busy handler for that upgrade): back off.
    if (start == steady_clock::time_point{}) start = steady_clock::now();
    if (ctx.status() != EVDB_OK) raise_context(ctx, doing);
    if (steady_clock::now() - start > milliseconds(conn_->config().busy_timeout_ms))
      conn_->raise_locked(loser, doing);
    if (ctx.sleep_us(250 << std::min(attempt, 3)) != EVDB_OK) raise_context(ctx, doing);
  }
}

void SqliteTx::commit(Ctx& ctx) {
  enter(ctx);
  ctx.check("committing");
  sqlite3_stmt* s = conn_->stmt(Sql::kCommit);
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  if (rc != SQLITE_DONE) {
    if ((rc & 0xff) == SQLITE_BUSY && !read_only_)
      fail(appended_ ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT,
           "committing on " + conn_->config().path +
               ": the database is locked; nothing was committed");
    conn_->raise(rc, "committing");
  }
  open_ = false;
  bool notify = appended_;
  finish();
  if (notify) db_.file().notify_commit();
}

void SqliteTx::finish() noexcept {
  if (!conn_) return;
  if (open_) {
    sqlite3_stmt* s = nullptr;
    try {
      s = conn_->stmt(Sql::kRollback);
    } catch (...) {
    }
    if (s != nullptr) {
      sqlite3_step(s);
      sqlite3_reset(s);
    } else {
      sqlite3_exec(conn_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
    }
    open_ = false;
  }
  hold_.release();
  locked_ = false;
  conn_->arm(nullptr, BusyMode::kReader);
  // A connection still inside a transaction (a failed ROLLBACK) is closed.
  common::Health health = sqlite3_get_autocommit(conn_->handle()) != 0 ? common::Health::Reusable
                                                                       : common::Health::Broken;
  db_.release(std::move(conn_), health);
}

}  // namespace

std::unique_ptr<drv::Tx> start_transaction(SqliteDb& db, drv::Ctx& ctx,
                                           std::unique_ptr<Connection> conn, bool read_only) {
  auto tx = std::make_unique<SqliteTx>(db, std::move(conn), read_only);
  tx->start(ctx);
  return tx;
}

}  // namespace evdb::sqlite
