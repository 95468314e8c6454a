// connection.hpp — one SQLite connection of the evdb SQLite driver.
//
// Internal to the SQLite driver. A Connection owns a sqlite3 handle, its prepared
// statements (prepared on first use, kept for the connection's life) and a
// busy handler that honours the evdb context and busy_timeout_ms. A Connection is
// used by one thread at a time (the pool hands it out exclusively).
#pragma once

#include <sqlite3.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "adapter.hpp"
#include "file_state.hpp"

namespace evdb::sqlite {

// What the URI configures.
struct Config {
  // The database file path as the URI gave it (used in messages and opened
  // as is: relative paths are relative to the process's current directory).
  std::string path;
  // How long a writer waits for the write lock before giving up (CONFLICT).
  int64_t busy_timeout_ms = 5000;
  // PRAGMA synchronous value: "off", "normal", "full" or "extra".
  std::string synchronous = "full";
  // How often a listener checks PRAGMA data_version for other processes.
  int64_t poll_ms = 50;
};

// The prepared statements a connection keeps.
enum class Sql : int {
  kBegin,
  kBeginImmediate,
  kCommit,
  kRollback,
  kHead,
  kEventAt,
  kEventAfter,
  kEventsAsc,
  kEventsDesc,
  kInsertEvent,
  kProjectionGet,
  kProjectionInsert,
  kProjectionSet,
  kDataVersion,
  kCount
};

// Why the busy handler stopped waiting.
enum class BusyVerdict { kNone, kContext, kTimeout, kSelfDeadlock };

// How the busy handler waits.
enum class BusyMode {
  kReader,    // transient busy (WAL recovery, checkpoint): back off and retry
  kWriter,    // waiting for the write lock: wait for the in-process holder too
  kReserved,  // waiting for the write lock with this process's turn reserved
              // (WriteLockTracker::reserve): only another process holds it;
              // back off and retry
};

class Connection {
 public:
  // Opens a connection to cfg.path (creating the file when absent) with
  // extended result codes, the busy handler and PRAGMA synchronous set.
  // Throws Error(CONNECTION) naming the path when it cannot be opened or is
  // not writable.
  static std::unique_ptr<Connection> open(const Config& cfg, std::shared_ptr<FileState> file);

  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* handle() const { return db_; }
  const Config& config() const { return cfg_; }
  FileState* file() const { return file_.get(); }
  // Attaches the per-file state once it is known (after the first open).
  void set_file(std::shared_ptr<FileState> file) { file_ = std::move(file); }

  // The prepared statement `which` (prepared on first use; every user resets
  // it after stepping).
  sqlite3_stmt* stmt(Sql which);

  // Sets the context and mode the busy handler uses for the next
  // statements. `ctx` must outlive them (it is the current call's context).
  // busy_timeout_ms counts from `waiting_since` when given (time already
  // spent waiting in this process), else from the first busy answer.
  void arm(const drv::Ctx* ctx, BusyMode mode,
           std::chrono::steady_clock::time_point waiting_since = {}) {
    ctx_ = ctx;
    mode_ = mode;
    verdict_ = BusyVerdict::kNone;
    waiting_since_ = waiting_since;
  }
  // Why the busy handler last gave up.
  BusyVerdict verdict() const { return verdict_; }

  // Runs a statement without results (sqlite3_exec); throws on failure.
  void exec(const char* sql, std::string_view doing);
  // Steps a prepared statement expected to finish (SQLITE_DONE); throws on
  // failure. Resets it.
  void run(Sql which, std::string_view doing);
  // The single int64 of a one-row one-column query, or `none` when there is
  // no row (e.g. the head of an empty log).
  int64_t query_int(Sql which, int64_t none, std::string_view doing);

  // Throws the evdb error for SQLite result `rc` while `doing`, naming the
  // file and using the busy handler's verdict for SQLITE_BUSY.
  [[noreturn]] void raise(int rc, std::string_view doing) const;
  // Throws `code` for a writer that gave up waiting for the write lock
  // after busy_timeout_ms while `doing` (the message names the file and
  // the parameter).
  [[noreturn]] void raise_locked(evdb_status code, std::string_view doing) const;

  // Scratch buffers for the strings a transaction hands out (NUL-separated)
  // and their offsets. Kept with the pooled connection so their capacity is
  // reused from one transaction to the next.
  std::string& text_buffer() { return text_; }
  std::vector<size_t>& offsets() { return offsets_; }

 private:
  Connection(const Config& cfg, std::shared_ptr<FileState> file)
      : cfg_(cfg), file_(std::move(file)) {}
  static int on_busy(void* self, int count);

  Config cfg_;
  std::shared_ptr<FileState> file_;
  sqlite3* db_ = nullptr;
  std::array<sqlite3_stmt*, static_cast<size_t>(Sql::kCount)> stmts_{};
  const drv::Ctx* ctx_ = nullptr;
  BusyMode mode_ = BusyMode::kReader;
  BusyVerdict verdict_ = BusyVerdict::kNone;
  std::chrono::steady_clock::time_point busy_start_{};
  std::chrono::steady_clock::time_point waiting_since_{};
  std::string text_;
  std::vector<size_t> offsets_;
};

// Throws the error for a context that is done (CANCELED/DEADLINE_EXCEEDED).
[[noreturn]] void raise_context(const drv::Ctx& ctx, std::string_view doing);

}  // namespace evdb::sqlite
