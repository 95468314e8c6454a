// pg_internal.hpp — the PostgreSQL driver's classes, shared by its sources
// (pg_driver.cpp: store, pool, transactions; pg_listener.cpp: listen).
#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "common/pool.hpp"
#include "common/write_lock.hpp"
#include "pg_driver.hpp"

namespace evdb::postgres {

// libpqxx connection policy that connects without blocking: libpq's
// PQconnectStart/PQconnectPoll, waiting with poll() on the socket and the
// cancel fd of the context given to connect_raw(), bounded by the context's
// deadline and by the conninfo's connect_timeout (which libpq itself ignores
// for non-blocking connects). A cancelled or expired context ends the attempt
// with CANCELED / DEADLINE_EXCEEDED at once.
class CtxConnect final : public pqxx::connectionpolicy {
 public:
  explicit CtxConnect(const std::string& opts) : pqxx::connectionpolicy(opts) {}
  handle do_startconnect(handle orig) override;
};

// Every connection the driver opens (pool, listener, open): a libpqxx
// connection that also gives its libpq handle, for what libpqxx 6 cannot do
// (pipeline mode: PgTx's commit; a reply read later: the read-only commit).
// Constructed by connect_raw() only. Not thread-safe (one user at a time, as
// every libpqxx connection; the Canceller only calls cancel_query()).
class Connection final : public pqxx::basic_connection_base<CtxConnect> {
 public:
  // Connects (CtxConnect); throws what libpqxx throws.
  explicit Connection(const std::string& opts);

  // libpq's handle (owned by libpqxx; valid while this object lives; the
  // driver inhibits reactivation, so it never changes).
  PGconn* raw() const noexcept { return raw_; }

  // The answer of one query was sent for and not read (a read-only
  // transaction's COMMIT, see PgTx::commit): the next user reads it first
  // (drain_unread()).
  void expect_unread_reply() noexcept { unread_ = true; }
  // Reads and drops every answer not read yet. Throws
  // pqxx::broken_connection when the connection is lost.
  void drain_unread();

  // The statements PgTx prepares itself (in its pipelines, not through
  // libpqxx), and whether this connection has them.
  enum class Prepared : unsigned { Head = 1, Insert = 2 };
  bool has_prepared(Prepared p) const noexcept { return (prepared_ & unsigned(p)) != 0; }
  void set_prepared(Prepared p) noexcept { prepared_ |= unsigned(p); }

  // Left in an unknown state (a pipeline cut short): never reused.
  bool broken() const noexcept { return broken_; }
  void set_broken() noexcept { broken_ = true; }

 private:
  PGconn* raw_ = nullptr;
  bool unread_ = false;
  bool broken_ = false;
  unsigned prepared_ = 0;
};

// Names of the prepared statements every connection of a store has.
namespace stmt {
inline constexpr const char* kHead = "evdb_head";
inline constexpr const char* kAt = "evdb_at";
inline constexpr const char* kAfter = "evdb_after";
inline constexpr const char* kAsc = "evdb_asc";
inline constexpr const char* kDesc = "evdb_desc";
inline constexpr const char* kAppend = "evdb_append";
// Prepared by PgTx in its pipelines, not by libpqxx: the head at begin
// (Statements::head), and (evdb layout) the INSERT of a buffered append
// (Statements::insert).
inline constexpr const char* kBeginHead = "evdb_begin_head";
inline constexpr const char* kInsert = "evdb_insert";
inline constexpr const char* kProjGet = "evdb_proj_get";
inline constexpr const char* kProjInit = "evdb_proj_init";
inline constexpr const char* kProjSet = "evdb_proj_set";
inline constexpr const char* kVersionsAfter = "evdb_versions_after";
}  // namespace stmt

// The SQL of each prepared statement for a layout and a quoted schema.
struct Statements {
  std::vector<std::pair<std::string, std::string>> all;  // name, SQL
  // What begins a transaction (PgTx::start sends them, then `head`, in one
  // round trip): a read-only one,
  std::string ro_begin;
  // a read-write one, which then takes the write lock (the events table in
  // EXCLUSIVE mode) before the snapshot …
  std::string rw_begin;
  std::string lock;
  // … unless another transaction of this thread holds it: it takes it at
  // its first write, without waiting.
  std::string lock_nowait;
  // Quoted names of the events table and (evdb layout) the commit tokens.
  std::string events_table;
  std::string tokens_table;
  // The head (one row, one bigint): the statement that takes the snapshot.
  std::string head;
  // evdb layout: the INSERT of a buffered append, with the version the
  // client decided ($1 version, $2 type, $3 payload, $4 time_us or 0 for
  // now, $5 revision); empty in the Conductor layout.
  std::string insert;
};
Statements make_statements(Layout layout, const std::string& quoted_schema);

// Whether the failed operation's transaction had appended an event: a lost
// race is then VERSION_MISMATCH, else CONFLICT.
enum class Appended { No, Yes };

// Turns the exception being handled (call only inside a catch block) into a
// drv::Error: conflicts become VERSION_MISMATCH when `appended` is Yes,
// CONFLICT otherwise; lost connections CONNECTION; a cancelled statement the
// context's status. `doing` says what was attempted; the password is
// scrubbed from every message.
drv::Error translate_current(const char* doing, Appended appended, const drv::Ctx& ctx,
                             const std::string& password);

// Interrupts running statements when their context is cancelled or its
// deadline passes: one thread per store poll()s the cancel fds of the
// watched contexts (and sleeps until the nearest deadline), then asks the
// server to cancel the statement (PQcancel via libpqxx's cancel_query). The
// statement then fails with SQLSTATE 57014, which translate_current() turns
// into the context's status. Statements run without a context are not
// watched and cost nothing.
class Canceller {
 public:
  Canceller() = default;
  ~Canceller();
  Canceller(const Canceller&) = delete;
  Canceller& operator=(const Canceller&) = delete;

  // While a Watch lives, conn's statement is cancelled when ctx ends.
  // fired() tells whether a cancel request was sent: the connection should
  // then not be reused (a late request could hit its next statement).
  class Watch {
   public:
    Watch() = default;
    Watch(Canceller* c, uint64_t id) : c_(c), id_(id) {}
    Watch(Watch&& o) noexcept : c_(o.c_), id_(o.id_) { o.c_ = nullptr; }
    Watch& operator=(Watch&&) = delete;
    ~Watch() { end(); }
    // Stops watching; true when a cancel request was sent.
    bool end() noexcept;

   private:
    Canceller* c_ = nullptr;
    uint64_t id_ = 0;
  };

  // Starts watching (no-op for a context that can neither be cancelled nor
  // expire).
  Watch watch(Connection& conn, const drv::Ctx& ctx);

 private:
  struct Entry {
    Connection* conn;
    drv::Ctx ctx;
    int fd;
    int64_t deadline_ms;  // steady clock, -1 = none
    bool fired;
  };
  void loop();
  void wake();
  std::mutex mu_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_ = 1;
  int pipe_[2] = {-1, -1};
  bool stop_ = false;
  std::thread thread_;
};

// A store handle: configuration, prepared SQL, and the connection pool.
class PgDb final : public drv::Db {
 public:
  PgDb(Config cfg, Statements stmts, std::string channel);
  ~PgDb() override;

  uint64_t capabilities() const override;
  std::unique_ptr<drv::Tx> begin(drv::Ctx& ctx, bool read_only) override;
  void listen(drv::Ctx& ctx, drv::ListenSink& sink) override;

  // A new connection with the store's statements prepared; CONNECTION on
  // failure (message without password). `read_only` connections go where
  // read_only_on says (the read-write ones' hosts when it is primary).
  std::unique_ptr<Connection> connect(const drv::Ctx& ctx, bool read_only) const;
  // Prepares the store's statements on conn and puts it in the (read-write)
  // pool.
  void adopt(std::unique_ptr<Connection> conn);
  // Prepares the store's statements on conn (throws libpqxx's errors).
  void prepare(Connection& conn) const;
  // A connection from the pool of read-write or read-only transactions (the
  // same one unless read_only_on is set; waits while pool_max are in use).
  std::unique_ptr<Connection> acquire(drv::Ctx& ctx, bool read_only);
  // Gives a connection back to the pool it came from; a closed one (or one
  // whose user found it Broken) is dropped instead.
  void release(std::unique_ptr<Connection> conn, bool read_only, common::Health health) noexcept;

  const Config& config() const { return cfg_; }
  // True on every 1000th call: the committing transaction then also deletes
  // old commit tokens (pg_commit_outcome.cpp). Thread-safe.
  bool token_prune_due() { return commits_.fetch_add(1, std::memory_order_relaxed) % 1000 == 999; }
  Canceller& canceller() { return canceller_; }
  const Statements& statements() const { return stmts_; }
  // Which transaction of this process holds the store's write lock; shared
  // by the handles opened with the same connection string and schema.
  common::WriteLockTracker& write_lock() { return *write_lock_; }

 private:
  Config cfg_;
  Statements stmts_;
  std::string channel_;
  std::shared_ptr<common::WriteLockTracker> write_lock_;
  common::Pool<Connection> pool_;
  // read_only_on=standby|prefer-standby: the read-only transactions' pool,
  // connected with ro_cfg_ (the URI's, with that target_session_attrs).
  Config ro_cfg_;
  std::unique_ptr<common::Pool<Connection>> ro_pool_;
  std::atomic<uint64_t> commits_{0};
  Canceller canceller_;  // destroyed first: its thread uses no pool state
};

// Opens a plain connection to conninfo (no statements prepared), interrupted
// by ctx (see CtxConnect). CONNECTION on failure (message without password),
// CANCELED / DEADLINE_EXCEEDED when ctx ends first.
std::unique_ptr<Connection> connect_raw(const Config& cfg, const drv::Ctx& ctx);

// ---------------------------------------------------------------------------
// Commits whose connection was lost while COMMIT was in flight
// (pg_commit_outcome.cpp; docs/contract.md OP-15, PG-5)
// ---------------------------------------------------------------------------

// What a transaction that wrote leaves behind, to be recognised by after a
// lost COMMIT.
struct CommitProof {
  // evdb layout: the UUID its COMMIT's round trip inserted into
  // commit_tokens ("" when it wrote nothing).
  std::string token;
  // Conductor layout (no token table: its schema is never altered): the
  // versions its appends got.
  std::vector<int64_t> versions;
};

// A fresh random token (UUID version 4, as text). Thread-safe.
std::string new_commit_token();

// What a transaction that wrote sends before COMMIT in the evdb layout, in
// the commit's pipeline (one round trip): the token's INSERT; with `prune`,
// also the deletion of tokens older than a day (a lost commit is resolved
// within commit_resolve_timeout_ms, at most an hour). One statement each.
std::vector<std::string> commit_token_statements(const Statements& st, const std::string& token,
                                                 bool prune);

// Called by PgTx::commit, and only there, once the connection was lost while
// its COMMIT was in flight (`lost` is that error): reconnects (libpq tries
// the URI's hosts, so it reaches the new primary after a failover), waits
// for the table lock every writer holds until it ends (so the lost
// transaction has ended on that server), and looks for the proof. Returns
// when the transaction was applied; throws drv::Error(CONNECTION) saying it
// was not applied (a definite failure); throws COMMIT_IN_DOUBT when it cannot
// tell before ctx ends or commit_resolve_timeout_ms passes, or (conductor
// layout) when rows are at its versions but cannot be told apart from
// another writer's.
void resolve_lost_commit(PgDb& db, const drv::Ctx& ctx, const CommitProof& proof,
                         const drv::Error& lost);

}  // namespace evdb::postgres
