// sqlite_driver.cpp — the SQLite evdb driver: open, schema, transactions,
// listener. See sqlite_driver.hpp and docs/sqlite-driver.md.
#include "sqlite_driver.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "connection.hpp"
#include "file_state.hpp"

namespace evdb::sqlite {

namespace {

using drv::Ctx;
using drv::fail;

// Idle connections kept per handle; more are closed when given back.
constexpr size_t kMaxIdle = 16;
// Read buffers larger than this are freed when their connection goes idle.
constexpr size_t kMaxKeptBuffer = size_t{16} << 20;

}  // namespace

// ---------------------------------------------------------------------------
// URI and path checks
// ---------------------------------------------------------------------------

Options parse_uri(drv::Uri& uri) {
  std::string shown(uri.redacted());
  if (!uri.host().empty())
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown + " names a host ('" + std::string(uri.host()) +
                                    "'); a sqlite URI names a file: sqlite:relative/path.db or "
                                    "sqlite:///absolute/path.db");
  if (!uri.user().empty() || !uri.password().empty() || uri.port() != 0)
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown +
                                    " has a user, password or port; a sqlite URI "
                                    "names a file only");
  Options o;
  o.path = std::string(uri.path());
  if (o.path.empty())
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown +
                                    " has no file path (use sqlite:relative/path.db or "
                                    "sqlite:///absolute/path.db)");
  if (o.path.front() == ':' || o.path.rfind("file:", 0) == 0)
    fail(EVDB_INVALID_ARGUMENT, "URI " + shown + " names an in-memory or URI-style database ('" +
                                    o.path + "'); use the memory: driver for in-memory stores");
  if (auto v = uri.take_int("busy_timeout_ms", 0, INT32_MAX)) o.busy_timeout_ms = *v;
  if (auto v = uri.take_int("poll_ms", 1, 60000)) o.poll_ms = *v;
  if (auto v = uri.take("synchronous")) {
    std::string s = *v;
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    if (s != "off" && s != "normal" && s != "full" && s != "extra")
      fail(EVDB_INVALID_ARGUMENT,
           "parameter synchronous=" + *v + " is not one of off, normal, full, extra");
    o.synchronous = s;
  }
  uri.reject_unknown("busy_timeout_ms, synchronous, poll_ms");
  return o;
}

namespace {

std::string parent_folder(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// Clear errors for the file-system problems SQLite reports vaguely.
void check_path(const std::string& path) {
  std::string dir = parent_folder(path);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    int e = errno;
    if (e == ENOENT || e == ENOTDIR)
      fail(EVDB_CONNECTION, "folder " + dir + " of database file " + path + " does not exist");
    fail(EVDB_CONNECTION,
         "cannot access folder " + dir + " of database file " + path + ": " + std::strerror(e));
  }
  if (!S_ISDIR(st.st_mode))
    fail(EVDB_CONNECTION, dir + " (folder of database file " + path + ") is not a folder");
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      fail(EVDB_INVALID_ARGUMENT, path + " is a folder, not a database file");
    if (::access(path.c_str(), R_OK) != 0)
      fail(EVDB_CONNECTION, "no read permission on database file " + path);
    if (::access(path.c_str(), W_OK) != 0)
      fail(EVDB_CONNECTION, "no write permission on database file " + path);
  } else if (errno == ENOENT) {
    if (::access(dir.c_str(), W_OK | X_OK) != 0)
      fail(EVDB_CONNECTION,
           "cannot create database file " + path + ": no write permission on folder " + dir);
  } else {
    fail(EVDB_CONNECTION, "cannot access database file " + path + ": " + std::strerror(errno));
  }
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

// One-shot query returning a single value as text (NULL/no row: "").
std::string query_text(Conn& c, const char* sql, std::string_view doing) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(c.handle(), sql, -1, &s, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(s);
    c.raise(rc, doing);
  }
  rc = sqlite3_step(s);
  std::string out;
  if (rc == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(s, 0);
    if (t != nullptr) out = reinterpret_cast<const char*>(t);
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(s);
  if (rc != SQLITE_DONE) c.raise(rc, doing);
  return out;
}

struct Inspection {
  int64_t application_id = 0;
  int64_t user_version = 0;
  int64_t objects = 0;       // entries in sqlite_schema
  std::string first_object;  // name of one of them, for messages
  bool has_tables = false;   // events and projection_versions exist
};

Inspection inspect(Conn& c) {
  Inspection r;
  const char* doing = "reading the schema";
  r.application_id = std::stoll("0" + query_text(c, "PRAGMA application_id", doing));
  r.user_version = std::stoll("0" + query_text(c, "PRAGMA user_version", doing));
  r.objects = std::stoll("0" + query_text(c, "SELECT count(*) FROM sqlite_schema", doing));
  r.first_object = query_text(c, "SELECT name FROM sqlite_schema ORDER BY name LIMIT 1", doing);
  r.has_tables = query_text(c,
                            "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN "
                            "('events', 'projection_versions')",
                            doing) == "2";
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
void retry_busy(Conn& c, Ctx& ctx, std::string_view doing, F&& fn) {
  auto start = std::chrono::steady_clock::now();
  for (int attempt = 0;; ++attempt) {
    int rc = fn();
    if ((rc & 0xff) != SQLITE_BUSY || c.verdict() != BusyVerdict::kNone) {
      if (rc != SQLITE_OK) c.raise(rc, doing);
      return;
    }
    auto waited = std::chrono::steady_clock::now() - start;
    if (waited > std::chrono::milliseconds(c.options().busy_timeout_ms)) c.raise(rc, doing);
    if (ctx.sleep_us(250 << std::min(attempt, 4)) != EVDB_OK) raise_context(ctx, doing);
  }
}

void init_schema(Conn& c, Ctx& ctx) {
  const std::string& path = c.options().path;
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

int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

// ---------------------------------------------------------------------------
// Handle and transactions
// ---------------------------------------------------------------------------

class SqliteDb;

class SqliteTx final : public drv::Tx {
 public:
  SqliteTx(SqliteDb& db, std::unique_ptr<Conn> conn, bool read_only)
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
    sqlite3_bind_int64(s, 4, e.time_us == 0 ? now_us() : e.time_us);
    sqlite3_bind_text(s, 5, e.revision_vcs ? e.revision_vcs : "",
                      static_cast<int>(e.revision_vcs_len), SQLITE_STATIC);
    write_step(ctx, s, true, "appending an event");
    appended_ = true;
    return ++head_;
  }
  int64_t init_projection_version(Ctx& ctx, int32_t id) override {
    if (auto v = read_projection_version(ctx, id)) return *v;
    sqlite3_stmt* s = conn_->stmt(Sql::kProjectionInsert);
    sqlite3_bind_int(s, 1, id);
    write_step(ctx, s, false, "initialising a projection version");
    return 0;
  }
  void set_projection_version(Ctx& ctx, int32_t id, int64_t version) override {
    enter(ctx);
    sqlite3_stmt* s = conn_->stmt(Sql::kProjectionSet);
    sqlite3_bind_int(s, 1, id);
    sqlite3_bind_int64(s, 2, version);
    write_step(ctx, s, false, "setting a projection version");
    if (sqlite3_changes(conn_->handle()) == 0)
      fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
  }

  void commit(Ctx& ctx) override;
  void rollback() noexcept override { finish(); }

 private:
  void enter(Ctx& ctx) {
    conn_->arm(&ctx, read_only_ ? BusyMode::kReader : BusyMode::kWriter);
    if (holds_lock_) conn_->file()->lock_touched(std::this_thread::get_id());
  }
  size_t read_rows(sqlite3_stmt* s, evdb_event* out, size_t n, std::string_view doing);
  void write_step(Ctx& ctx, sqlite3_stmt* s, bool appending, std::string_view doing);
  // Ends the transaction (rolling back when still open) and gives the
  // connection back. Never throws.
  void finish() noexcept;

  SqliteDb& db_;
  std::unique_ptr<Conn> conn_;
  bool read_only_;
  bool open_ = false;        // between BEGIN and COMMIT/ROLLBACK
  bool holds_lock_ = false;  // this transaction holds SQLite's write lock
  bool appended_ = false;
  int64_t head_ = 0;  // the log's head as this transaction sees it
};

class SqliteDb final : public drv::Db {
 public:
  SqliteDb(Options opts, std::shared_ptr<FileState> file, std::unique_ptr<Conn> first)
      : opts_(std::move(opts)), file_(std::move(file)) {
    idle_.push_back(std::move(first));
  }
  uint64_t capabilities() const override { return kCapabilities; }

  std::unique_ptr<drv::Tx> begin(Ctx& ctx, bool read_only) override {
    ctx.check(read_only ? "beginning a read-only transaction"
                        : "beginning a read-write transaction");
    auto tx = std::make_unique<SqliteTx>(*this, take(), read_only);
    tx->start(ctx);
    return tx;
  }

  void listen(Ctx& ctx, drv::ListenSink& sink) override;

  // A connection from the pool, or a new one.
  std::unique_ptr<Conn> take() {
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
    }
    return Conn::open(opts_, file_);
  }
  // Returns a connection that is outside any transaction to the pool.
  void give_back(std::unique_ptr<Conn> c) {
    // Do not keep the memory of one huge read forever.
    if (c->text_buffer().capacity() > kMaxKeptBuffer) std::string().swap(c->text_buffer());
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(c));
  }
  FileState& file() { return *file_; }

 private:
  Options opts_;
  std::shared_ptr<FileState> file_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Conn>> idle_;
};

void SqliteTx::start(Ctx& ctx) {
  enter(ctx);
  if (read_only_) {
    conn_->run(Sql::kBegin, "beginning a read-only transaction");
    open_ = true;
  } else {
    sqlite3_stmt* s = conn_->stmt(Sql::kBeginImmediate);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
      open_ = true;
      holds_lock_ = true;
      db_.file().lock_acquired(std::this_thread::get_id());
    } else if ((rc & 0xff) == SQLITE_BUSY && conn_->verdict() == BusyVerdict::kSelfDeadlock) {
      // Another read-write transaction of this thread holds the lock: waiting
      // would deadlock. Begin on a snapshot and take the lock at the first
      // write instead (which fails CONFLICT/VERSION_MISMATCH if it cannot).
      conn_->run(Sql::kBegin, "beginning a read-write transaction");
      open_ = true;
    } else {
      conn_->raise(rc, "beginning a read-write transaction (BEGIN IMMEDIATE)");
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

void SqliteTx::write_step(Ctx& ctx, sqlite3_stmt* s, bool appending, std::string_view doing) {
  using namespace std::chrono;
  evdb_status loser = (appending || appended_) ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT;
  steady_clock::time_point start{};  // set at the first wait (no clock read otherwise)
  for (int attempt = 0;; ++attempt) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) {
      if (!holds_lock_) {
        holds_lock_ = true;
        db_.file().lock_acquired(std::this_thread::get_id());
      }
      return;
    }
    if (rc == SQLITE_BUSY_SNAPSHOT)
      fail(loser, std::string(doing) +
                      ": another writer committed since this transaction's snapshot; nothing "
                      "was written (retry the transaction)");
    if (rc == SQLITE_CONSTRAINT_PRIMARYKEY && appending)
      fail(EVDB_VERSION_MISMATCH,
           std::string(doing) + ": version " + std::to_string(head_ + 1) + " exists already");
    if (rc != SQLITE_BUSY || holds_lock_) conn_->raise(rc, doing);
    // A transaction begun without the lock (see start) found it taken.
    if (attempt == 0) start = steady_clock::now();
    auto wait = db_.file().wait_for_holder(std::this_thread::get_id(), milliseconds(10));
    if (wait == FileState::Wait::kSelf)
      fail(loser, std::string(doing) +
                      ": another read-write transaction used by this thread holds the write "
                      "lock of " +
                      conn_->options().path +
                      " (waiting would deadlock); nothing was written (retry after it ends)");
    if (ctx.status() != EVDB_OK) raise_context(ctx, doing);
    if (steady_clock::now() - start > milliseconds(conn_->options().busy_timeout_ms))
      fail(loser, std::string(doing) + ": the database " + conn_->options().path +
                      " is locked by another writer (gave up after busy_timeout_ms=" +
                      std::to_string(conn_->options().busy_timeout_ms) + ")");
    if (wait == FileState::Wait::kNoHolder) {
      if (ctx.sleep_us(250 << std::min(attempt, 3)) != EVDB_OK) raise_context(ctx, doing);
    }
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
           "committing on " + conn_->options().path +
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
  if (holds_lock_) {
    holds_lock_ = false;
    db_.file().lock_released();
  }
  conn_->arm(nullptr, BusyMode::kReader);
  // A connection still inside a transaction (a failed ROLLBACK) is closed.
  if (sqlite3_get_autocommit(conn_->handle()) != 0) {
    try {
      db_.give_back(std::move(conn_));
    } catch (...) {
    }
  }
  conn_.reset();
}

// ---------------------------------------------------------------------------
// Listener
// ---------------------------------------------------------------------------

void SqliteDb::listen(Ctx& ctx, drv::ListenSink& sink) {
  // A dedicated connection: PRAGMA data_version changes when any other
  // connection (this process or another) commits.
  std::unique_ptr<Conn> conn = Conn::open(opts_, file_);
  conn->arm(&ctx, BusyMode::kReader);
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) fail(EVDB_INTERNAL, std::string("eventfd: ") + std::strerror(errno));
  struct Registration {
    FileState& file;
    int fd;
    ~Registration() {
      file.remove_listener(fd);
      ::close(fd);
    }
  } reg{*file_, efd};
  file_->add_listener(efd);

  const char* doing = "listening";
  int64_t data_version = conn->query_int(Sql::kDataVersion, 0, doing);
  int64_t last = conn->query_int(Sql::kHead, 0, doing);
  sink.ready();
  int cancel_fd = ctx.cancel_fd();
  for (;;) {
    ctx.check(doing);
    pollfd fds[2] = {{efd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
    int nfds = cancel_fd >= 0 ? 2 : 1;
    int r = ::poll(fds, nfds, ctx.poll_timeout_ms(static_cast<int>(opts_.poll_ms)));
    if (r < 0 && errno != EINTR) fail(EVDB_INTERNAL, std::string("poll: ") + std::strerror(errno));
    bool notified = false;
    uint64_t count = 0;
    while (::read(efd, &count, sizeof count) == static_cast<ssize_t>(sizeof count)) notified = true;
    ctx.check(doing);
    int64_t dv = conn->query_int(Sql::kDataVersion, 0, doing);
    if (!notified && dv == data_version) continue;
    data_version = dv;
    int64_t head = conn->query_int(Sql::kHead, 0, doing);
    while (last < head) {
      sink.inserted(++last);
      ctx.check(doing);
    }
  }
}

}  // namespace

std::unique_ptr<drv::Db> Traits::open(drv::Uri& uri, drv::Ctx& ctx) {
  Options opts = parse_uri(uri);
  ctx.check("opening " + opts.path);
  check_path(opts.path);
  std::unique_ptr<Conn> conn = Conn::open(opts, nullptr);
  init_schema(*conn, ctx);
  char* real = ::realpath(opts.path.c_str(), nullptr);
  if (real == nullptr)
    fail(EVDB_CONNECTION,
         "cannot resolve database file " + opts.path + ": " + std::strerror(errno));
  std::string canonical(real);
  std::free(real);
  auto file = FileState::get(canonical);
  conn->set_file(file);
  conn->arm(nullptr, BusyMode::kReader);
  return std::make_unique<SqliteDb>(std::move(opts), std::move(file), std::move(conn));
}

}  // namespace evdb::sqlite

EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_sqlite, evdb::sqlite::Traits)
