// pg_driver.cpp — the PostgreSQL driver: open (layout creation), the
// connection pool, transactions and error mapping. The listener is in
// pg_listener.cpp. Decisions: docs/postgres-driver.md.
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <utility>

#include "common/clock.hpp"
#include "common/wait.hpp"
#include "pg_internal.hpp"

namespace evdb::postgres {

// ---------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------

Statements make_statements(Layout layout, const std::string& s) {
  Statements st;
  const std::string ev = s + ".events";
  const std::string pv = s + ".projection_versions";
  std::string cols;
  std::string append;
  if (layout == Layout::Evdb) {
    cols = "version, type, payload, time_us, vcs_revision";
    append = "INSERT INTO " + ev +
             " (version, type, payload, time_us, vcs_revision) "
             "SELECT $1::bigint + 1, $2, $3::json, "
             "CASE WHEN $4::bigint = 0 THEN (extract(epoch FROM now()) * 1000000)::bigint "
             "ELSE $4::bigint END, $5 "
             "WHERE (SELECT coalesce(max(version), 0) FROM " +
             ev + ") = $1::bigint RETURNING version";
  } else {
    // time <-> microseconds without floating point: split into parts whose
    // products are exact, and back through an interval from 2000-01-01
    // (extract(epoch FROM time) loses the last digits near the top of the
    // range).
    cols =
        "version, type, payload::text, "
        "(extract(epoch FROM (time - timestamptz '2000-01-01 00:00:00+00')) * 1000000)::bigint "
        "+ 946684800000000, coalesce(vcs_revision, '')";
    append = "INSERT INTO " + ev +
             " (type, payload, time, vcs_revision) "
             "SELECT $2, $3::jsonb, "
             "CASE WHEN $4::bigint = 0 THEN now() ELSE timestamptz 'epoch' "
             "+ ($4::bigint / 1000000000000) * interval '1000000 seconds' "
             "+ ($4::bigint / 1000000 % 1000000) * interval '1 second' "
             "+ ($4::bigint % 1000000) * interval '1 microsecond' END, $5 "
             "WHERE (SELECT coalesce(max(version), 0) FROM " +
             ev + ") = $1::bigint RETURNING version";
  }
  // Writers queue on the table lock, then take their snapshot (reading the
  // head; LOCK takes none): each sees every earlier writer's commit, so appending
  // at the head it read never loses a race. EXCLUSIVE conflicts with every
  // writer's ROW EXCLUSIVE (ours and, in the conductor layout, dbpgx's
  // INSERTs) but not with ACCESS SHARE: readers never wait. SERIALIZABLE
  // stays as the check that does not depend on every writer taking the
  // lock. Waiting is a running statement: the Canceller interrupts it when
  // the context ends. See docs/postgres-driver.md.
  //
  // Every begin ends with the head of the new snapshot (the statement that
  // takes the snapshot; PgTx::start): the transaction knows its head from then on, so
  // read_system_version() and the check of an append's assumed version need
  // no round trip (PgTx).
  const std::string lock = "LOCK TABLE " + ev + " IN EXCLUSIVE MODE";
  const std::string head = "SELECT coalesce(max(version), 0) FROM " + ev;
  st.ro_begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
  st.rw_begin = "BEGIN ISOLATION LEVEL SERIALIZABLE";
  st.lock = lock;
  st.head = head;
  // A writer begun while a transaction of its own thread holds the lock
  // (PgTx::start) takes it at its first write with NOWAIT: refused at once
  // (SQLSTATE 55P03) when held, and only that statement; a lock_timeout
  // would have to be set and reset around it, and 0 means "wait forever".
  st.lock_nowait = lock + " NOWAIT";
  st.events_table = ev;
  st.tokens_table = s + ".commit_tokens";
  const std::string sel = "SELECT " + cols + " FROM " + ev;
  st.all = {
      {stmt::kHead, head},
      {stmt::kAt, sel + " WHERE version = $1"},
      {stmt::kAfter, sel + " WHERE version > $1 ORDER BY version LIMIT 1"},
      {stmt::kAsc, sel + " WHERE version >= $1 ORDER BY version LIMIT $2"},
      {stmt::kDesc, sel + " WHERE version <= $1 ORDER BY version DESC LIMIT $2"},
      {stmt::kAppend, append},
      {stmt::kProjGet, "SELECT version FROM " + pv + " WHERE id = $1"},
      {stmt::kProjInit, "WITH ins AS (INSERT INTO " + pv +
                            " (id, version) VALUES ($1, 0) ON CONFLICT (id) DO NOTHING "
                            "RETURNING version) SELECT version FROM ins UNION ALL "
                            "SELECT version FROM " +
                            pv + " WHERE id = $1"},
      {stmt::kProjSet, "UPDATE " + pv + " SET version = $2 WHERE id = $1"},
      {stmt::kVersionsAfter, "SELECT version FROM " + ev + " WHERE version > $1 ORDER BY version"},
  };
  if (layout == Layout::Evdb) {
    // A buffered append (PgTx): its version was decided by the client
    // against the head it knows; the primary key still refuses a version
    // another writer took (one that began without the lock, PG-8).
    st.insert = "INSERT INTO " + ev +
                " (version, type, payload, time_us, vcs_revision) "
                "VALUES ($1::bigint, $2, $3::json, "
                "CASE WHEN $4::bigint = 0 THEN (extract(epoch FROM now()) * 1000000)::bigint "
                "ELSE $4::bigint END, $5)";
  }
  return st;
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

drv::Error translate_current(const char* doing, Appended appended, const drv::Ctx& ctx,
                             const std::string& password) {
  auto msg = [&](const std::string& what) {
    return scrub(std::string(doing) + ": " + what, password);
  };
  auto conflict = [&](const std::string& what) {
    if (appended == Appended::Yes)
      return drv::Error(EVDB_VERSION_MISMATCH,
                        msg("a concurrent writer appended first (" + what + ")"));
    return drv::Error(EVDB_CONFLICT, msg("lost to a concurrent writer (" + what + ")"));
  };
  try {
    throw;
  } catch (const drv::Error& e) {
    return e;
  } catch (const pqxx::in_doubt_error& e) {
    return drv::Error(
        EVDB_CONNECTION,
        msg(std::string("connection lost during commit, outcome unknown: ") + e.what()));
  } catch (const pqxx::broken_connection& e) {
    return drv::Error(EVDB_CONNECTION, msg(std::string("connection lost: ") + e.what()));
  } catch (const pqxx::statement_completion_unknown& e) {
    return drv::Error(EVDB_CONNECTION, msg(std::string("statement outcome unknown: ") + e.what()));
  } catch (const pqxx::transaction_rollback& e) {
    // serialization_failure (40001), deadlock_detected (40P01), and any
    // other rollback the server forced.
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    return conflict(what);
  } catch (const pqxx::sql_error& e) {
    const std::string& state = e.sqlstate();
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    if (state == "40001" || state == "40P01" || state == "23505") return conflict(what);
    if (state == "57014") {
      evdb_status s = ctx.status();
      if (s != EVDB_OK)
        return drv::Error(s, msg(s == EVDB_CANCELED ? "canceled" : "deadline exceeded"));
      return drv::Error(EVDB_CANCELED, msg("statement canceled: " + what));
    }
    if (state == "25006") return drv::Error(EVDB_READ_ONLY, msg(what));
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0)
      return drv::Error(EVDB_CONNECTION, msg(what));
    return drv::Error(EVDB_INTERNAL, msg(what + " [SQLSTATE " + state + "]"));
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    return drv::Error(EVDB_INTERNAL, msg(e.what()));
  }
}

// ---------------------------------------------------------------------------
// Connections and the pool
// ---------------------------------------------------------------------------

namespace {

// The context of the connect_raw() running on this thread, for CtxConnect
// (libpqxx constructs the policy from the conninfo alone).
thread_local const drv::Ctx* t_connect_ctx = nullptr;
// The handle CtxConnect connected last on this thread, for the Connection
// being constructed (libpqxx 6 keeps its handle private).
thread_local PGconn* t_connected = nullptr;

// connect_timeout of a conninfo (else of $PGCONNECT_TIMEOUT, as libpq) in
// milliseconds, -1 when absent or <= 0 (libpq: "zero, negative, or not
// specified means wait indefinitely"; 1 means 2 s).
int64_t connect_timeout_ms(const std::string& conninfo) {
  const char* value = std::getenv("PGCONNECT_TIMEOUT");
  std::string given;
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (err != nullptr) PQfreemem(err);
  for (PQconninfoOption* o = opts; o != nullptr && o->keyword != nullptr; ++o)
    if (std::strcmp(o->keyword, "connect_timeout") == 0 && o->val != nullptr) given = o->val;
  if (opts != nullptr) PQconninfoFree(opts);
  if (!given.empty()) value = given.c_str();
  if (value == nullptr) return -1;
  int64_t sec = 0;
  auto [p, ec] = std::from_chars(value, value + std::strlen(value), sec);
  if (ec != std::errc() || sec <= 0) return -1;
  return std::max<int64_t>(sec, 2) * 1000;
}

[[noreturn]] void connect_failed(PGconn* c, const std::string& why) {
  std::string what = why.empty() && c != nullptr ? PQerrorMessage(c) : why;
  if (c != nullptr) PQfinish(c);
  throw pqxx::broken_connection(what);
}

}  // namespace

CtxConnect::handle CtxConnect::do_startconnect(handle orig) {
  if (orig != nullptr) return orig;
  const drv::Ctx no_ctx(nullptr, nullptr);
  const drv::Ctx& ctx = t_connect_ctx != nullptr ? *t_connect_ctx : no_ctx;
  const int64_t limit_ms = connect_timeout_ms(options());
  const int64_t t0_ms = common::steady_now_ms();
  PGconn* c = PQconnectStart(options().c_str());
  if (c == nullptr) throw std::bad_alloc();
  if (PQstatus(c) == CONNECTION_BAD) connect_failed(c, "");
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  for (;;) {
    if (st == PGRES_POLLING_OK) {
      t_connected = c;
      return c;
    }
    if (st == PGRES_POLLING_FAILED) connect_failed(c, "");
    if (ctx.status() != EVDB_OK) {
      PQfinish(c);
      ctx.check("connecting");
    }
    int cap = -1;
    if (limit_ms >= 0) {
      int64_t left = limit_ms - (common::steady_now_ms() - t0_ms);
      if (left <= 0)
        connect_failed(
            c, "timeout expired (connect_timeout=" + std::to_string(limit_ms / 1000) + " s)");
      cap = static_cast<int>(left);
    }
    short revents = 0;
    try {
      revents = common::wait_fd(&ctx, PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                                cap, "connecting");
    } catch (const drv::Error& e) {
      connect_failed(c, e.what());
    }
    if (revents != 0) st = PQconnectPoll(c);
  }
}

Connection::Connection(const std::string& opts) : pqxx::basic_connection_base<CtxConnect>(opts) {
  raw_ = t_connected;
  t_connected = nullptr;
  if (raw_ == nullptr || PQsocket(raw_) != sock())
    throw pqxx::internal_error("the connection's libpq handle was not recorded");
}

void Connection::drain_unread() {
  if (!unread_) return;
  unread_ = false;
  while (PGresult* r = PQgetResult(raw_)) PQclear(r);
  if (PQstatus(raw_) == CONNECTION_BAD) throw pqxx::broken_connection(PQerrorMessage(raw_));
}

std::unique_ptr<Connection> connect_raw(const Config& cfg, const drv::Ctx& ctx) {
  std::unique_ptr<Connection> c;
  const drv::Ctx* outer = t_connect_ctx;
  t_connect_ctx = &ctx;
  try {
    c = std::make_unique<Connection>(cfg.conninfo);
    t_connect_ctx = outer;
  } catch (const drv::Error&) {
    t_connect_ctx = outer;
    throw;  // the context ended
  } catch (const std::exception& e) {
    t_connect_ctx = outer;
    std::string what = e.what();
    while (!what.empty() && (what.back() == '\n' || what.back() == ' ')) what.pop_back();
    drv::fail(EVDB_CONNECTION,
              scrub("cannot connect to " + cfg.redacted + ": " + what, cfg.password));
  }
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  // We reconnect ourselves; a silent reconnect would lose LISTEN and the
  // transaction state.
  c->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  return c;
}

PgDb::PgDb(Config cfg, Statements stmts, std::string channel)
    : cfg_(std::move(cfg)),
      stmts_(std::move(stmts)),
      channel_(std::move(channel)),
      // The connection string (never printed) and schema name one store.
      write_lock_(
          common::shared_per_key<common::WriteLockTracker>(cfg_.conninfo + '\n' + cfg_.schema)),
      pool_({static_cast<size_t>(cfg_.pool_max), static_cast<size_t>(cfg_.pool_max), "pool_max"},
            [this](const drv::Ctx& ctx) { return connect(ctx, false); }) {
  if (!cfg_.read_only_target.empty()) {
    // libpq keeps the last of a repeated keyword: this one wins over the
    // URI's own target_session_attrs.
    ro_cfg_ = cfg_;
    ro_cfg_.conninfo += " target_session_attrs='" + cfg_.read_only_target + "'";
    ro_pool_ = std::make_unique<common::Pool<Connection>>(
        common::Pool<Connection>::Limits{static_cast<size_t>(cfg_.pool_max),
                                         static_cast<size_t>(cfg_.pool_max), "pool_max"},
        [this](const drv::Ctx& ctx) { return connect(ctx, true); });
  }
}

PgDb::~PgDb() = default;

uint64_t PgDb::capabilities() const {
  return cfg_.layout == Layout::Evdb ? kCapabilities : kConductorCapabilities;
}

std::unique_ptr<Connection> PgDb::connect(const drv::Ctx& ctx, bool read_only) const {
  auto c = connect_raw(read_only && ro_pool_ ? ro_cfg_ : cfg_, ctx);
  prepare(*c);
  return c;
}

void PgDb::prepare(Connection& conn) const {
  // libpqxx prepares each on its first use, inside a transaction (preparing
  // an INSERT takes the table's ROW EXCLUSIVE lock, which must wait for the
  // write lock's holder). The pipelined INSERT is prepared by PgTx::pipeline.
  for (const auto& [name, sql] : stmts_.all) conn.prepare(name, sql);
}

void PgDb::adopt(std::unique_ptr<Connection> conn) {
  prepare(*conn);
  pool_.adopt(std::move(conn));
}

std::unique_ptr<Connection> PgDb::acquire(drv::Ctx& ctx, bool read_only) {
  return read_only && ro_pool_ ? ro_pool_->acquire(ctx) : pool_.acquire(ctx);
}

void PgDb::release(std::unique_ptr<Connection> conn, bool read_only,
                   common::Health health) noexcept {
  if (!conn || !conn->is_open() || conn->broken()) health = common::Health::Broken;
  (read_only && ro_pool_ ? *ro_pool_ : pool_).release(std::move(conn), health);
}

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

namespace {

// One round trip in libpq's pipeline mode (libpqxx 6 has no pipeline of
// prepared statements): statements are queued, sent together with one Sync,
// and their answers read in order. The server runs them in order and, at the
// first error, skips the rest (answered "aborted"). Until finish() returned,
// the connection is in pipeline mode and libpqxx must not use it; an
// Exchange destroyed unfinished (an exception while queueing) marks its
// connection broken. Not thread-safe.
class Exchange {
 public:
  explicit Exchange(Connection& conn) : conn_(conn), c_(conn.raw()) {
    if (PQenterPipelineMode(c_) != 1) throw pqxx::broken_connection(PQerrorMessage(c_));
  }
  ~Exchange() {
    PQclear(kept_);
    if (!finished_) conn_.set_broken();
  }
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Queues the preparation of `sql` as `name`, unless the connection has it
  // (`which`); recorded as prepared when the server accepts it (a named
  // statement outlives the transaction).
  void prepare_once(Connection::Prepared which, const char* name, const std::string& sql) {
    if (conn_.has_prepared(which) || !sent_) return;
    sent_ = PQsendPrepare(c_, name, sql.c_str(), 0, nullptr) == 1;
    if (sent_) prepares_.emplace_back(queued_++, which);
  }
  // Queues a statement without parameters; returns its index.
  size_t query(const char* sql) {
    if (sent_) sent_ = PQsendQueryParams(c_, sql, 0, nullptr, nullptr, nullptr, nullptr, 0) == 1;
    return queued_++;
  }
  // Queues an execution of the prepared statement `name` with text values;
  // returns its index.
  size_t execute(const char* name, int n, const char* const* values) {
    if (sent_) sent_ = PQsendQueryPrepared(c_, name, n, values, nullptr, nullptr, 0) == 1;
    return queued_++;
  }
  // Statement `index` is COMMIT (see finish()).
  void mark_commit(size_t index) { commit_ = index; }
  // Keep statement `index`'s answer (kept()).
  void keep(size_t index) { keep_ = index; }

  // Sends the Sync and reads every answer. Throws: pqxx::sql_error (with
  // its SQLSTATE) for the first statement the server refused, nothing after
  // it having run; pqxx::in_doubt_error when the connection was lost once
  // COMMIT was queued, with no statement refused before it (the outcome is
  // unknown, OP-15); pqxx::broken_connection when lost otherwise.
  void finish() {
    finished_ = true;
    if (sent_) sent_ = PQpipelineSync(c_) == 1;
    std::string state, message;
    bool refused = false, lost = !sent_;
    for (size_t i = 0; i < queued_ && !lost; ++i) {
      PGresult* r = PQgetResult(c_);
      if (r == nullptr) {
        lost = true;
        break;
      }
      const ExecStatusType status = PQresultStatus(r);
      if (status == PGRES_FATAL_ERROR && !refused) {
        const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (s == nullptr || PQstatus(c_) == CONNECTION_BAD) {
          lost = true;
        } else {
          refused = true;
          state = s;
          message = PQresultErrorMessage(r);
        }
      }
      for (const auto& [index, which] : prepares_)
        if (index == i && status == PGRES_COMMAND_OK) conn_.set_prepared(which);
      if (i == commit_ && status != PGRES_PIPELINE_ABORTED) commit_answered_ = true;
      if (i == keep_ && status == PGRES_TUPLES_OK)
        kept_ = r;
      else
        PQclear(r);
      if (!lost) {
        PGresult* end = PQgetResult(c_);  // each statement's answers end with a null
        if (end != nullptr) {
          PQclear(end);
          lost = true;
        }
      }
    }
    if (!lost) {
      PGresult* sync = PQgetResult(c_);
      lost = sync == nullptr || PQresultStatus(sync) != PGRES_PIPELINE_SYNC;
      PQclear(sync);
    }
    if (!lost) lost = PQexitPipelineMode(c_) != 1;
    if (refused) {
      if (lost) conn_.set_broken();
      throw pqxx::sql_error(message, "", state.c_str());
    }
    if (lost) {
      conn_.set_broken();
      const std::string why = PQerrorMessage(c_);
      if (commit_ != kNone) throw pqxx::in_doubt_error(why);
      throw pqxx::broken_connection(why);
    }
  }

  // Whether COMMIT ran (committed or refused): the transaction has ended.
  bool commit_answered() const { return commit_answered_; }
  // The kept answer (nullptr unless it had rows); owned by the Exchange.
  const PGresult* kept() const { return kept_; }

 private:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  Connection& conn_;
  PGconn* c_;
  size_t queued_ = 0;
  bool sent_ = true;
  bool finished_ = false;
  bool commit_answered_ = false;
  size_t commit_ = kNone;
  size_t keep_ = kNone;
  PGresult* kept_ = nullptr;
  std::vector<std::pair<size_t, Connection::Prepared>> prepares_;
};

// What a read-write transaction keeps before sending it (PgTx::pipeline):
// at most this many appends, or about this many bytes of them. The bound
// keeps the client's memory and one pipeline's size in check; past it the
// buffer is sent (one round trip) and buffering goes on.
constexpr size_t kMaxBuffered = 1000;
constexpr size_t kMaxBufferedBytes = size_t{4} << 20;

// A transaction on one pooled connection (docs/postgres-driver.md,
// "Transactions"). Round trips (docs/contract.md PG-4, PG-9):
// - begin: one (BEGIN, the write lock for a writer, the head of the
//   snapshot), so the head is known from then on: read_system_version() is
//   answered locally;
// - evdb layout: an append is checked against that head locally and
//   buffered; commit sends every buffered INSERT and COMMIT in one round trip
//   (pipeline()). A read of events that may include a buffered append sends
//   the buffer first. Conductor layout: each append is sent at once (the
//   sequence, not the client, gives its version);
// - a read-only transaction's COMMIT or ROLLBACK is sent without waiting
//   for the answer (nothing depends on it), which the connection's next user
//   reads first (Connection::drain_unread).
class PgTx final : public drv::Tx {
 public:
  PgTx(PgDb& db, std::unique_ptr<Connection> conn, bool read_only)
      : db_(db),
        conn_(std::move(conn)),
        read_only_(read_only),
        buffered_(!read_only && db.config().layout == Layout::Evdb) {}
  ~PgTx() override { finish(Ending::Rollback); }

  void start(drv::Ctx& ctx) {
    // A writer queues for the write lock, unless a transaction last used by
    // this thread holds it: it would wait for itself (OP-18). It then begins
    // without the lock and takes it at its first write (lock_for_write).
    const std::thread::id me = std::this_thread::get_id();
    const bool queue = !read_only_ && !db_.write_lock().held_by(me);
    const Statements& st = db_.statements();
    run(ctx, "beginning the transaction", [&] {
      conn_->drain_unread();  // the previous user's COMMIT/ROLLBACK
      // libpqxx's own transaction classes send BEGIN alone and let the
      // snapshot wait for the first statement; we drive BEGIN/COMMIT
      // ourselves over a nontransaction.
      tx_ = std::make_unique<pqxx::nontransaction>(*conn_);
      in_tx_ = true;
      // BEGIN, the lock, and the head (which takes the snapshot), in one
      // round trip; the head's statement is prepared (it would be planned
      // at every begin otherwise), after BEGIN and the lock: preparing a
      // SELECT takes a snapshot, which must come after both.
      Exchange x(*conn_);
      x.query(read_only_ ? st.ro_begin.c_str() : st.rw_begin.c_str());
      if (queue) x.query(st.lock.c_str());
      x.prepare_once(Connection::Prepared::Head, stmt::kBeginHead, st.head);
      x.keep(x.execute(stmt::kBeginHead, 0, nullptr));
      x.finish();
      const PGresult* r = x.kept();
      if (r == nullptr || PQntuples(r) != 1)
        drv::fail(EVDB_INTERNAL, "the server did not answer the head at begin");
      head_ = parse_int64(PQgetvalue(r, 0, 0), static_cast<size_t>(PQgetlength(r, 0, 0)));
    });
    if (queue) hold_ = db_.write_lock().acquired(me);
  }

  int64_t read_system_version(drv::Ctx& ctx) override {
    usable(ctx, "reading the head");
    return head_;
  }

  bool read_event_at(drv::Ctx& ctx, int64_t version, evdb_event& out) override {
    send_before_read(ctx, version > sent_head());
    return read_one(ctx, stmt::kAt, version, out);
  }
  bool read_event_after(drv::Ctx& ctx, int64_t version, evdb_event& out) override {
    send_before_read(ctx, version >= sent_head());
    return read_one(ctx, stmt::kAfter, version, out);
  }

  size_t read_events(drv::Ctx& ctx, int64_t at, bool reverse, evdb_event* buf, size_t n) override {
    if (n == 0) return 0;
    // Ascending, the versions from max(at, 1) … (+n-1: versions are
    // gapless where appends are buffered); descending, those up to at.
    const int64_t sent = sent_head();
    const int64_t from = std::max<int64_t>(at, 1);
    send_before_read(
        ctx, reverse ? at > sent : from > sent || static_cast<uint64_t>(sent - from) < n - 1);
    int64_t limit = n > static_cast<size_t>(std::numeric_limits<int64_t>::max())
                        ? std::numeric_limits<int64_t>::max()
                        : static_cast<int64_t>(n);
    run(ctx, "reading events",
        [&] { last_ = tx_->exec_prepared(reverse ? stmt::kDesc : stmt::kAsc, at, limit); });
    size_t i = 0;
    for (const auto& row : last_) fill(row, buf[i++]);
    return i;
  }

  std::optional<int64_t> read_projection_version(drv::Ctx& ctx, int32_t id) override {
    std::optional<int64_t> v;
    run(ctx, "reading a projection version", [&] {
      pqxx::result r = tx_->exec_prepared(stmt::kProjGet, id);
      if (!r.empty()) v = r[0][0].as<int64_t>();
    });
    return v;
  }

  int64_t append_event(drv::Ctx& ctx, int64_t assumed, const evdb_event& e) override {
    require_rw();
    // A statement that fails on the key has tried to append: map its
    // conflict to VERSION_MISMATCH.
    const bool before = appended_;
    appended_ = true;
    wrote_ = true;
    if (!hold_)
      run(ctx, "appending an event", [&] { lock_for_write(EVDB_VERSION_MISMATCH); });
    else
      usable(ctx, "appending an event");
    // The head is this transaction's (its snapshot, taken under the write
    // lock, and its own appends): decided here, without a round trip.
    if (assumed != head_) {
      appended_ = before;
      drv::fail(EVDB_VERSION_MISMATCH, "the head is " + std::to_string(head_) +
                                           ", not the assumed version " + std::to_string(assumed));
    }
    std::string type(e.type_name, e.type_name_len);
    std::string payload(e.payload, e.payload_len);
    std::string rev(e.revision_vcs ? e.revision_vcs : "", e.revision_vcs_len);
    if (!buffered_) {
      // Conductor layout: the sequence gives the version; the statement
      // still checks the head (it answers no row when it is not assumed).
      bool mismatch = false;
      run(ctx, "appending an event", [&] {
        pqxx::result r = tx_->exec_prepared(stmt::kAppend, assumed, type, payload, e.time_us, rev);
        if (r.empty())
          mismatch = true;
        else
          head_ = to_int64(r[0][0]);
      });
      if (mismatch) {
        appended_ = before;
        drv::fail(EVDB_VERSION_MISMATCH,
                  "the head is not the assumed version " + std::to_string(assumed));
      }
      proof_.versions.push_back(head_);
      return head_;
    }
    buffered_bytes_ += type.size() + payload.size() + rev.size();
    buffer_.push_back({++head_, std::move(type), std::move(payload), e.time_us, std::move(rev)});
    proof_.versions.push_back(head_);
    if (buffer_.size() >= kMaxBuffered || buffered_bytes_ >= kMaxBufferedBytes)
      run(ctx, "appending events", [&] { pipeline(Then::Nothing); });
    return head_;
  }

  int64_t init_projection_version(drv::Ctx& ctx, int32_t id) override {
    require_rw();
    int64_t v = 0;
    run(ctx, "initialising a projection version", [&] {
      if (!hold_) {
        // Without the write lock yet: an existing version is only read.
        pqxx::result r = tx_->exec_prepared(stmt::kProjGet, id);
        if (!r.empty()) {
          v = r[0][0].as<int64_t>();
          return;
        }
        lock_for_write(EVDB_CONFLICT);
      }
      wrote_ = true;
      v = tx_->exec_prepared1(stmt::kProjInit, id)[0].as<int64_t>();
    });
    return v;
  }

  void set_projection_version(drv::Ctx& ctx, int32_t id, int64_t version) override {
    require_rw();
    bool found = false;
    run(ctx, "setting a projection version", [&] {
      lock_for_write(EVDB_CONFLICT);
      wrote_ = true;
      found = tx_->exec_prepared(stmt::kProjSet, id, version).affected_rows() > 0;
    });
    if (!found)
      drv::fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
  }

  void commit(drv::Ctx& ctx) override {
    if (read_only_) {
      // Nothing to apply: the answer changes nothing, so it is not waited
      // for (the connection's next user reads it).
      run(ctx, "committing", [&] {
        tx_.reset();
        in_tx_ = false;
        send_unread("COMMIT");
      });
      finish(Ending::Commit);
      return;
    }
    // A transaction that wrote, in the evdb layout, commits with a token
    // (PG-5), sent in the commit's pipeline: found after a lost COMMIT, it
    // proves the commit applied.
    if (wrote_ && db_.config().layout == Layout::Evdb && !failed_)
      proof_.token = new_commit_token();
    const bool sent = !failed_ && ctx.status() == EVDB_OK;
    try {
      run(ctx, "committing", [&] { pipeline(Then::Commit); });
    } catch (const drv::Error& e) {
      // The connection was lost with COMMIT in flight: learn the outcome.
      if (e.code() != EVDB_CONNECTION || !sent || !wrote_) throw;
      finish(Ending::Commit);
      resolve_lost_commit(db_, ctx, proof_, e);
      return;
    }
    finish(Ending::Commit);
  }

  void rollback() noexcept override { finish(Ending::Rollback); }

 private:
  // A buffered append (evdb layout): the INSERT pipeline() sends.
  struct Buffered {
    int64_t version;
    std::string type, payload;
    int64_t time_us;
    std::string rev;
  };
  enum class Then { Nothing, Commit };

  void require_rw() const {
    if (read_only_) drv::fail(EVDB_READ_ONLY, "the transaction is read-only");
  }

  // What every call checks first: a transaction that failed fails again
  // with the same code (PG-5); an ended context ends the call (OP-25).
  void usable(drv::Ctx& ctx, const char* doing) {
    if (failed_) throw *failed_;
    ctx.check(doing);
    hold_.touch(std::this_thread::get_id());
  }

  // The head the server's view of this transaction has: its snapshot's and
  // the appends sent so far (the buffered ones are the versions after it;
  // evdb layout, gapless).
  int64_t sent_head() const { return head_ - static_cast<int64_t>(buffer_.size()); }

  // Before a read of events: when it may reach a buffered append
  // (`reaches_buffer`), the buffer is sent first (one round trip), so the
  // read sees this transaction's appends, in order (OP-14).
  void send_before_read(drv::Ctx& ctx, bool reaches_buffer) {
    if (buffer_.empty() || !reaches_buffer) return;
    run(ctx, "appending events (before a read that sees them)", [&] { pipeline(Then::Nothing); });
  }

  // Runs body, turning every failure into a drv::Error. After a database
  // error the PostgreSQL transaction is aborted: every later call fails with
  // the same code.
  template <class F>
  void run(drv::Ctx& ctx, const char* doing, F&& body) {
    usable(ctx, doing);
    Canceller::Watch watch = db_.canceller().watch(*conn_, ctx);
    try {
      body();
      if (watch.end()) healthy_ = false;
    } catch (...) {
      if (watch.end()) healthy_ = false;
      drv::Error e = translate_current(doing, appended_ ? Appended::Yes : Appended::No, ctx,
                                       db_.config().password);
      failed_ = drv::Error(e.code(), std::string("transaction failed earlier: ") + e.what());
      if (e.code() == EVDB_CONNECTION) healthy_ = false;
      throw e;
    }
  }

  // The commit path (Then::Commit), and the sending of the buffer before a
  // read or when full (Then::Nothing): every buffered INSERT, then COMMIT,
  // in one round trip (an Exchange). The server runs them in order and, at
  // the first error, skips the rest, COMMIT included: nothing is applied,
  // and that error is thrown (mapped by run() as any statement's:
  // docs/contract.md PG-5). A context that ends meanwhile cancels the
  // running statement like any other (57014; PG-6, OP-27). A connection lost
  // once COMMIT was queued, with no earlier statement refused, leaves the
  // outcome unknown (CONNECTION, OP-15). Call inside run().
  void pipeline(Then then) {
    std::vector<Buffered> batch = std::move(buffer_);
    buffer_.clear();
    buffered_bytes_ = 0;
    Exchange x(*conn_);
    if (!batch.empty())
      x.prepare_once(Connection::Prepared::Insert, stmt::kInsert, db_.statements().insert);
    for (const Buffered& b : batch) {
      const std::string version = std::to_string(b.version), time = std::to_string(b.time_us);
      const char* values[5] = {version.c_str(), b.type.c_str(), b.payload.c_str(), time.c_str(),
                               b.rev.c_str()};
      x.execute(stmt::kInsert, 5, values);
    }
    if (then == Then::Commit) {
      // The commit token (PG-5) goes with the commit, in the same round trip.
      if (!proof_.token.empty())
        for (const std::string& sql :
             commit_token_statements(db_.statements(), proof_.token, db_.token_prune_due()))
          x.query(sql.c_str());
      x.mark_commit(x.query("COMMIT"));
    }
    try {
      x.finish();
    } catch (...) {
      if (x.commit_answered()) in_tx_ = false;  // COMMIT ended the transaction, either way
      throw;
    }
    if (x.commit_answered()) in_tx_ = false;
  }

  // Sends sql (COMMIT or ROLLBACK) without waiting for its answer, which the
  // connection's next user reads (Connection::drain_unread).
  void send_unread(const char* sql) {
    if (PQsendQuery(conn_->raw(), sql) != 1)
      throw pqxx::broken_connection(PQerrorMessage(conn_->raw()));
    conn_->expect_unread_reply();
  }

  // Inside run(), before a read-write transaction's first write: one begun
  // without the write lock (start) takes it now, without waiting, as the
  // holder may be a transaction of this very thread. Refused (another holds
  // it), the write fails with `loser` before anything was written, and no
  // statement of this transaction ever waits for the holder's locks (every
  // write comes after this). The server has then aborted the transaction:
  // later calls fail too (run).
  void lock_for_write(evdb_status loser) {
    if (hold_) return;
    try {
      tx_->exec(db_.statements().lock_nowait);
    } catch (const pqxx::sql_error& e) {
      if (e.sqlstate() != "55P03") throw;
      drv::fail(loser,
                "another writer holds the write lock (the events table); this transaction began "
                "without waiting for it because a read-write transaction used by this thread "
                "held it (waiting would deadlock); nothing was written (retry the transaction)");
    }
    hold_ = db_.write_lock().acquired(std::this_thread::get_id());
  }

  bool read_one(drv::Ctx& ctx, const char* name, int64_t version, evdb_event& out) {
    run(ctx, "reading an event", [&] { last_ = tx_->exec_prepared(name, version); });
    if (last_.empty()) return false;
    fill(last_[0], out);
    return true;
  }

  // Points out at the row's fields (they live as long as last_). The two
  // integers are parsed with from_chars, cheaper than libpqxx's as<>.
  static void fill(const pqxx::row& r, evdb_event& out) {
    const pqxx::field version = r[0], type = r[1], payload = r[2], time = r[3], rev = r[4];
    out.version = to_int64(version);
    out.type_name = type.c_str();
    out.type_name_len = type.size();
    out.payload = payload.c_str();
    out.payload_len = payload.size();
    out.time_us = to_int64(time);
    out.revision_vcs = rev.c_str();
    out.revision_vcs_len = rev.size();
  }

  static int64_t to_int64(const pqxx::field& f) { return parse_int64(f.c_str(), f.size()); }

  static int64_t parse_int64(const char* p, size_t n) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(p, p + n, v);
    if (ec != std::errc() || end != p + n)
      drv::fail(EVDB_INTERNAL,
                "the server sent a non-integer where a bigint was expected: " + std::string(p, n));
    return v;
  }

  // Ends the PostgreSQL transaction (aborting unless committed) and gives the
  // connection back. Idempotent.
  enum class Ending { Commit, Rollback };
  void finish(Ending ending) noexcept {
    if (!conn_) return;
    if (in_tx_ && ending == Ending::Rollback && healthy_) {
      try {
        if (read_only_) {
          // Not waited for: a read-only transaction holds nothing anyone
          // waits for, and its ROLLBACK cannot fail in a way that matters.
          tx_.reset();
          send_unread("ROLLBACK");
        } else {
          // Waited for: once rollback returns, the write lock is free (a
          // writer of this thread may take it with NOWAIT next, PG-8).
          tx_->exec("ROLLBACK");
        }
      } catch (...) {
        healthy_ = false;
      }
    }
    try {
      tx_.reset();
    } catch (...) {
      healthy_ = false;
    }
    last_.clear();
    db_.release(std::move(conn_), read_only_,
                healthy_ ? common::Health::Reusable : common::Health::Broken);
    hold_.release();  // the server released the lock with the transaction
  }

  PgDb& db_;
  std::unique_ptr<Connection> conn_;
  std::unique_ptr<pqxx::nontransaction> tx_;
  common::WriteLockTracker::Hold hold_;  // set while it holds the write lock
  bool in_tx_ = false;                   // BEGIN sent, no COMMIT/ROLLBACK yet
  bool read_only_;
  bool buffered_;                 // appends are buffered (read-write, evdb layout)
  int64_t head_ = 0;              // the head of this transaction's view (snapshot + own appends)
  std::vector<Buffered> buffer_;  // appends not sent yet, in order
  size_t buffered_bytes_ = 0;
  bool appended_ = false;
  bool wrote_ = false;  // appended or wrote a projection version
  CommitProof proof_;
  bool healthy_ = true;
  std::optional<drv::Error> failed_;
  pqxx::result last_;
};

}  // namespace

std::unique_ptr<drv::Tx> PgDb::begin(drv::Ctx& ctx, bool read_only) {
  // A pooled connection may have died since its last use (server restart):
  // BEGIN then fails with CONNECTION, the connection is dropped, and the
  // next one (eventually a new one) is tried. Nothing was done yet, so this
  // retry is invisible.
  for (int attempt = 0;; ++attempt) {
    ctx.check("beginning a transaction");
    auto tx = std::make_unique<PgTx>(*this, acquire(ctx, read_only), read_only);
    try {
      tx->start(ctx);
      return tx;
    } catch (const drv::Error& e) {
      if (e.code() != EVDB_CONNECTION || attempt >= cfg_.pool_max) throw;
    }
  }
}

// ---------------------------------------------------------------------------
// Open
// ---------------------------------------------------------------------------

namespace {

// What a schema holds.
enum class Found { Nothing, Evdb, Conductor, Other };

Found inspect(pqxx::transaction_base& t, const std::string& schema, std::string& detail) {
  pqxx::result r = t.exec_params(
      "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
      "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
      "WHERE n.nspname = $1 AND c.relname IN ('events', 'projection_versions') "
      "ORDER BY c.relname, a.attnum",
      schema);
  std::string events, projections;
  for (const auto& row : r) {
    std::string& into = row[0].as<std::string>() == "events" ? events : projections;
    into += row[1].as<std::string>() + " " + row[2].as<std::string>() + ", ";
  }
  if (events.empty() && projections.empty()) return Found::Nothing;
  detail = "events(" + events + ") projection_versions(" + projections + ")";
  const std::string pv = "id integer, version bigint, ";
  if (projections != pv) return Found::Other;
  if (events == "version bigint, type text, payload json, time_us bigint, vcs_revision text, ")
    return Found::Evdb;
  if (events ==
      "version bigint, type text, payload jsonb, time timestamp with time zone, "
      "vcs_revision text, ")
    return Found::Conductor;
  return Found::Other;
}

// The evdb layout's version, from the comment on its events table ("evdb
// event log, layout N"; 1.0 wrote 1), with commit_tokens present or not.
// Refuses a layout newer than this driver's (VER-6).
struct EvdbLayoutState {
  int version = 1;
  bool tokens = false;
};
EvdbLayoutState evdb_layout_state(pqxx::transaction_base& t, const std::string& quoted,
                                  const std::string& schema) {
  pqxx::result r = t.exec_params(
      "SELECT coalesce(obj_description(to_regclass($1), 'pg_class'), ''), "
      "to_regclass($2) IS NOT NULL",
      quoted + ".events", quoted + ".commit_tokens");
  EvdbLayoutState st;
  const std::string comment = r[0][0].as<std::string>();
  const std::string prefix = "evdb event log, layout ";
  if (comment.rfind(prefix, 0) == 0) {
    int v = 0;
    const char* p = comment.data() + prefix.size();
    auto [end, ec] = std::from_chars(p, comment.data() + comment.size(), v);
    if (ec == std::errc() && end == comment.data() + comment.size()) st.version = v;
  }
  if (st.version > kEvdbLayoutVersion)
    drv::fail(EVDB_UNSUPPORTED, "schema " + schema + " holds evdb layout " +
                                    std::to_string(st.version) + ", newer than the layout " +
                                    std::to_string(kEvdbLayoutVersion) +
                                    " this driver knows: use a newer evdb");
  st.tokens = r[0][1].as<bool>();
  return st;
}

const char* layout_name(Layout l) {
  return l == Layout::Evdb ? "evdb" : "conductor";
}

}  // namespace

std::unique_ptr<drv::Db> Traits::open(drv::Uri& uri, drv::Ctx& ctx) {
  Config cfg = parse_uri(uri);
  ctx.check("connecting");
  auto conn = connect_raw(cfg, ctx);
  const std::string quoted = conn->quote_name(cfg.schema);
  const Found want = cfg.layout == Layout::Evdb ? Found::Evdb : Found::Conductor;
  std::string channel;
  try {
    std::string detail;
    bool ready = false;
    {
      pqxx::read_transaction t(*conn);
      ready = inspect(t, cfg.schema, detail) == want;
      if (ready && cfg.layout == Layout::Evdb) {
        EvdbLayoutState st = evdb_layout_state(t, quoted, cfg.schema);
        ready = st.version == kEvdbLayoutVersion && st.tokens;
      }
      if (cfg.layout == Layout::Evdb)
        channel = t.exec_params1("SELECT 'evdb_' || md5($1)", cfg.schema)[0].as<std::string>();
      else
        channel = "event_inserted";
      t.commit();
    }
    if (!ready) {
      ctx.check("creating the layout");
      pqxx::work t(*conn);
      // Serialise concurrent openers of one schema ("evdb" + hash of name).
      t.exec_params("SELECT pg_advisory_xact_lock(1702257762, hashtext($1))", cfg.schema);
      Found found = inspect(t, cfg.schema, detail);
      if (found != want) {
        if (found != Found::Nothing)
          drv::fail(EVDB_INVALID_ARGUMENT,
                    "schema " + cfg.schema + " holds tables that are not in the " +
                        layout_name(cfg.layout) + " layout: " + detail +
                        (found == Found::Evdb || found == Found::Conductor
                             ? std::string(" (it is in the ") +
                                   (found == Found::Evdb ? "evdb" : "conductor") +
                                   " layout: set layout= accordingly)"
                             : std::string()));
        if (cfg.layout == Layout::Conductor && !cfg.create_layout)
          drv::fail(EVDB_NOT_FOUND, "schema " + cfg.schema +
                                        " has no Conductor layout (system.events, "
                                        "projection_versions); add create_layout=1 to create it");
        if (t.exec_params("SELECT 1 FROM pg_namespace WHERE nspname = $1", cfg.schema).empty())
          t.exec0("CREATE SCHEMA " + quoted);
        t.exec0(cfg.layout == Layout::Evdb ? evdb_layout_sql(quoted)
                                           : conductor_layout_sql(quoted));
      } else if (cfg.layout == Layout::Evdb) {
        // An evdb layout of an earlier version (1.0's): add what is missing.
        EvdbLayoutState st = evdb_layout_state(t, quoted, cfg.schema);
        if (st.version < kEvdbLayoutVersion || !st.tokens) t.exec0(evdb_layout_upgrade_sql(quoted));
      }
      t.commit();
    }
  } catch (const drv::Error&) {
    throw;
  } catch (...) {
    throw translate_current(("opening schema " + cfg.schema).c_str(), Appended::No, ctx,
                            cfg.password);
  }
  Statements st = make_statements(cfg.layout, quoted);
  auto db = std::make_unique<PgDb>(std::move(cfg), std::move(st), channel);
  db->adopt(std::move(conn));
  return db;
}

}  // namespace evdb::postgres

EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_postgres, evdb::postgres::Traits)
