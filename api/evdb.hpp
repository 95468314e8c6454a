// evdb.hpp — the evdb C++ API: a thin, header-only layer over evdb.h.
//
// It reads like Conductor's Go interfaces (DB, Reader, Writer, Listener):
//
//   evdb::DB db = evdb::DB::open("sqlite:///tmp/app.db");
//   db.tx_rw([&](evdb::TxRW& tx) {
//     int64_t head = tx.read_system_version();
//     tx.append_event(head, {.type_name = "UserCreated", .payload = R"({"id":1})"});
//   });
//
// Errors: every failure throws a subclass of evdb::Error, one per status code
// (evdb::VersionMismatch, evdb::NotFound, …), so callers catch by type and
// never parse messages. A transaction body may also *return* an evdb::Status
// to roll back deliberately; tx_rw/tx_read_only then return that same Status.
//
// Threads: a DB may be shared by any number of threads; a transaction object
// is used by the thread running its body. A Context may be cancelled from any
// thread. A Subscription runs its listener on a thread of its own.
//
// Contexts: a `Context*` argument is optional (nullptr: no cancellation, no
// deadline); a `Context&` is required (listen, which only a context ends).
// The caller owns the Context, which must outlive the call.
//
// Everything here is inline over evdb.h: nothing of it is part of libevdb's
// binary interface, so it may grow in any 1.x release.
#pragma once

#include <evdb/evdb.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace evdb {

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

// Base of every exception this header throws. code() is the C status.
class Error : public std::runtime_error {
 public:
  Error(evdb_status code, const std::string& message) : std::runtime_error(message), code_(code) {}
  evdb_status code() const noexcept { return code_; }
  // True for VersionMismatch and Conflict: retry the whole transaction.
  bool retryable() const noexcept { return evdb_status_is_retryable(code_) != 0; }

 private:
  evdb_status code_;
};

#define EVDB_HPP_ERROR_CLASS(NAME, CODE)                                \
  class NAME : public Error {                                           \
   public:                                                              \
    static constexpr evdb_status kCode = CODE;                          \
    explicit NAME(const std::string& message) : Error(CODE, message) {} \
  };
// The head was not the assumed version (append or commit).
EVDB_HPP_ERROR_CLASS(VersionMismatch, EVDB_VERSION_MISMATCH)
// No such event / projection.
EVDB_HPP_ERROR_CLASS(NotFound, EVDB_NOT_FOUND)
// A read-write transaction without appends lost to a concurrent writer.
EVDB_HPP_ERROR_CLASS(Conflict, EVDB_CONFLICT)
// A write on a read-only transaction (only reachable through the C API).
EVDB_HPP_ERROR_CLASS(ReadOnly, EVDB_READ_ONLY)
EVDB_HPP_ERROR_CLASS(InvalidArgument, EVDB_INVALID_ARGUMENT)
EVDB_HPP_ERROR_CLASS(Canceled, EVDB_CANCELED)
EVDB_HPP_ERROR_CLASS(DeadlineExceeded, EVDB_DEADLINE_EXCEEDED)
EVDB_HPP_ERROR_CLASS(ConnectionError, EVDB_CONNECTION)
EVDB_HPP_ERROR_CLASS(Unsupported, EVDB_UNSUPPORTED)
EVDB_HPP_ERROR_CLASS(DriverNotFound, EVDB_DRIVER_NOT_FOUND)
EVDB_HPP_ERROR_CLASS(DriverAbiMismatch, EVDB_DRIVER_ABI_MISMATCH)
EVDB_HPP_ERROR_CLASS(InternalError, EVDB_INTERNAL)
// Since 1.1: the commit's outcome is unknown (the connection was lost while
// COMMIT was in flight and could not be resolved in time). Not retryable.
EVDB_HPP_ERROR_CLASS(CommitInDoubt, EVDB_COMMIT_IN_DOUBT)
#undef EVDB_HPP_ERROR_CLASS

// Throws the Error subclass that matches `code`.
[[noreturn]] inline void throw_error(evdb_status code, const std::string& message) {
  switch (code) {
    case EVDB_VERSION_MISMATCH:
      throw VersionMismatch(message);
    case EVDB_NOT_FOUND:
      throw NotFound(message);
    case EVDB_CONFLICT:
      throw Conflict(message);
    case EVDB_READ_ONLY:
      throw ReadOnly(message);
    case EVDB_INVALID_ARGUMENT:
      throw InvalidArgument(message);
    case EVDB_CANCELED:
      throw Canceled(message);
    case EVDB_DEADLINE_EXCEEDED:
      throw DeadlineExceeded(message);
    case EVDB_CONNECTION:
      throw ConnectionError(message);
    case EVDB_UNSUPPORTED:
      throw Unsupported(message);
    case EVDB_DRIVER_NOT_FOUND:
      throw DriverNotFound(message);
    case EVDB_DRIVER_ABI_MISMATCH:
      throw DriverAbiMismatch(message);
    case EVDB_INTERNAL:
      throw InternalError(message);
    case EVDB_COMMIT_IN_DOUBT:
      throw CommitInDoubt(message);
    default:  // a status added after these headers: keep its code
      throw Error(code, message);
  }
}

// A status value: OK or a code with a message. What a transaction body or a
// listener callback returns to stop deliberately.
class Status {
 public:
  Status() = default;  // OK
  Status(evdb_status code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok_status() { return Status(); }
  // A Status carrying an exception's code and message.
  static Status from(const Error& e) { return Status(e.code(), e.what()); }

  bool ok() const noexcept { return code_ == EVDB_OK; }
  evdb_status code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // True when the code is that of error class E: s.is<evdb::NotFound>().
  template <class E>
  bool is() const noexcept {
    return code_ == E::kCode;
  }
  // Throws the matching Error subclass; does nothing when OK.
  void throw_if_error() const {
    if (!ok()) throw_error(code_, message_);
  }

 private:
  evdb_status code_ = EVDB_OK;
  std::string message_;
};

namespace detail {
// Takes ownership of a filled C error and throws it.
[[noreturn]] inline void throw_c(evdb_status s, evdb_error& err) {
  std::string msg = err.message ? err.message : evdb_status_name(s);
  evdb_error_release(&err);
  throw_error(s, msg);
}
inline void check(evdb_status s, evdb_error& err) {
  if (s != EVDB_OK) throw_c(s, err);
}
inline Status to_status(evdb_status s, evdb_error& err) {
  if (s == EVDB_OK) return Status();
  Status st(s, err.message ? err.message : evdb_status_name(s));
  evdb_error_release(&err);
  return st;
}
// Runs a C++ callback for the C API: returns its Status (void: OK) as a C
// status with err filled; an exception is kept in `thrown` and ends the call
// (EVDB_CANCELED), to be rethrown by the caller once the C call returns.
template <class F>
evdb_status call_back(std::exception_ptr& thrown, evdb_error* err, F&& fn) noexcept {
  if (thrown) return EVDB_CANCELED;
  try {
    if constexpr (std::is_same_v<std::invoke_result_t<F&>, Status>) {
      Status r = fn();
      if (!r.ok()) evdb_error_set(err, r.code(), r.message().c_str());
      return r.code();
    } else {
      fn();
      return EVDB_OK;
    }
  } catch (...) {
    thrown = std::current_exception();
    evdb_error_set(err, EVDB_CANCELED, "listener callback threw");
    return EVDB_CANCELED;
  }
}
}  // namespace detail

// ---------------------------------------------------------------------------
// Context
// ---------------------------------------------------------------------------

// Cancellation and deadline for blocking calls. Owns an evdb_ctx. Must
// outlive every call it is passed to. cancel() may be called from any thread.
class Context {
 public:
  Context() : raw_(evdb_ctx_new()) {
    if (raw_ == nullptr) throw std::bad_alloc();
  }
  explicit Context(std::chrono::milliseconds timeout) : Context() { set_timeout(timeout); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  Context(Context&& o) noexcept : raw_(std::exchange(o.raw_, nullptr)) {}
  Context& operator=(Context&& o) noexcept {
    if (this != &o) {
      evdb_ctx_free(raw_);
      raw_ = std::exchange(o.raw_, nullptr);
    }
    return *this;
  }
  ~Context() { evdb_ctx_free(raw_); }

  void cancel() { evdb_ctx_cancel(raw_); }
  // Deadline `timeout` from now; a negative value removes it.
  void set_timeout(std::chrono::milliseconds timeout) {
    evdb_ctx_set_timeout_ms(raw_, static_cast<int64_t>(timeout.count()));
  }
  // EVDB_OK, EVDB_CANCELED or EVDB_DEADLINE_EXCEEDED.
  evdb_status status() const { return evdb_ctx_status(raw_); }
  evdb_ctx* raw() const { return raw_; }

 private:
  evdb_ctx* raw_;
};

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

// An event, owning its strings. For append, version is ignored and time_us = 0
// means "now".
struct Event {
  int64_t version = 0;
  int64_t time_us = 0;
  std::string type_name{};
  std::string payload{};
  std::string revision_vcs{};

  static Event from_c(const evdb_event& e) {
    return Event{e.version, e.time_us, std::string(e.type_name, e.type_name_len),
                 std::string(e.payload, e.payload_len),
                 std::string(e.revision_vcs ? e.revision_vcs : "", e.revision_vcs_len)};
  }
  bool operator==(const Event&) const = default;
};

enum class Direction { Ascending, Descending };

// ---------------------------------------------------------------------------
// Transactions
// ---------------------------------------------------------------------------

// A read-only transaction: reads only (Conductor's Reader). Valid only inside
// the body it is given to.
class TxRO {
 public:
  TxRO(const TxRO&) = delete;
  TxRO& operator=(const TxRO&) = delete;

  // Version of the last event; 0 for an empty log.
  int64_t read_system_version() {
    int64_t v = 0;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_read_system_version(tx_, ctx_, &v, &err), err);
    return v;
  }
  // The event at `version`; throws NotFound.
  Event read_event_at(int64_t version) { return read_one(version, false); }
  // The event with the smallest version > `version`; throws NotFound.
  Event read_event_after(int64_t version) { return read_one(version, true); }
  // The event at `version`, or nullopt when there is none.
  std::optional<Event> find_event_at(int64_t version) {
    try {
      return read_one(version, false);
    } catch (const NotFound&) {
      return std::nullopt;
    }
  }
  // Up to `limit` events from `at` inclusive, ascending (version >= at) or
  // descending (version <= at).
  std::vector<Event> read_events(int64_t at, size_t limit, Direction dir = Direction::Ascending) {
    std::vector<Event> out;
    std::vector<evdb_event> buf(limit < 256 ? limit : 256, evdb_event EVDB_EVENT_INIT);
    while (out.size() < limit) {
      size_t want = std::min(buf.size(), limit - out.size());
      size_t got = 0;
      evdb_error err = EVDB_ERROR_INIT;
      detail::check(evdb_read_events(tx_, ctx_, at, dir == Direction::Descending, buf.data(), want,
                                     &got, &err),
                    err);
      for (size_t i = 0; i < got; ++i) out.push_back(Event::from_c(buf[i]));
      if (got < want) break;
      int64_t last = buf[got - 1].version;
      if (dir == Direction::Ascending) {
        at = last + 1;
      } else {
        if (last <= 1) break;
        at = last - 1;
      }
    }
    return out;
  }
  // Projection version; throws NotFound when never initialised.
  int64_t read_projection_version(int32_t id) {
    int64_t v = 0;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_read_projection_version(tx_, ctx_, id, &v, &err), err);
    return v;
  }
  // The underlying C handle (valid for the body's duration).
  evdb_tx* raw() const { return tx_; }

 protected:
  TxRO(evdb_tx* tx, evdb_ctx* ctx) : tx_(tx), ctx_(ctx) {}
  friend class DB;
  Event read_one(int64_t version, bool after) {
    evdb_event e = EVDB_EVENT_INIT;
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = after ? evdb_read_event_after(tx_, ctx_, version, &e, &err)
                          : evdb_read_event_at(tx_, ctx_, version, &e, &err);
    detail::check(s, err);
    return Event::from_c(e);
  }
  evdb_tx* tx_;
  evdb_ctx* ctx_;
};

// A read-write transaction: reads and writes (Conductor's Reader + Writer).
class TxRW : public TxRO {
 public:
  // Appends iff the head is `assumed_version`; returns the new version.
  // Throws VersionMismatch otherwise (nothing appended), InvalidArgument for
  // bad input.
  int64_t append_event(int64_t assumed_version, const Event& event) {
    evdb_event e = EVDB_EVENT_INIT;
    e.time_us = event.time_us;
    e.type_name = event.type_name.data();
    e.type_name_len = event.type_name.size();
    e.payload = event.payload.data();
    e.payload_len = event.payload.size();
    e.revision_vcs = event.revision_vcs.data();
    e.revision_vcs_len = event.revision_vcs.size();
    int64_t nv = 0;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_append_event(tx_, ctx_, assumed_version, &e, &nv, &err), err);
    return nv;
  }
  // Creates projection `id` at 0 if absent; returns its version.
  int64_t init_projection_version(int32_t id) {
    int64_t v = 0;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_init_projection_version(tx_, ctx_, id, &v, &err), err);
    return v;
  }
  // Sets projection `id`; throws NotFound if never initialised.
  void set_projection_version(int32_t id, int64_t version) {
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_set_projection_version(tx_, ctx_, id, version, &err), err);
  }

 private:
  TxRW(evdb_tx* tx, evdb_ctx* ctx) : TxRO(tx, ctx) {}
  friend class DB;
};

// ---------------------------------------------------------------------------
// DB
// ---------------------------------------------------------------------------

// A store handle (Conductor's DB). Movable, closes on destruction. Every
// transaction and listen must have ended before it is destroyed.
class DB {
 public:
  // Opens `uri` (see evdb_open). Throws DriverNotFound, InvalidArgument,
  // ConnectionError, …
  static DB open(const std::string& uri, Context* ctx = nullptr) {
    evdb_db* db = nullptr;
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_open(uri.c_str(), ctx ? ctx->raw() : nullptr, &db, &err), err);
    return DB(db);
  }
  DB(DB&& o) noexcept : db_(std::exchange(o.db_, nullptr)) {}
  DB& operator=(DB&& o) noexcept {
    if (this != &o) {
      evdb_close(db_);
      db_ = std::exchange(o.db_, nullptr);
    }
    return *this;
  }
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  ~DB() { evdb_close(db_); }

  // Runs fn(TxRO&) in a read-only transaction. fn may return void, a value,
  // or a Status. A non-OK Status rolls back and is returned unchanged; an
  // exception rolls back and is rethrown; otherwise the transaction commits
  // (commit errors throw, or come back as Status when fn returns Status) and
  // fn's value is returned.
  template <class F>
  auto tx_read_only(F&& fn, Context* ctx = nullptr) {
    return run<TxRO>(EVDB_TX_READ_ONLY, std::forward<F>(fn), ctx);
  }
  // Same with a read-write transaction and fn(TxRW&).
  template <class F>
  auto tx_rw(F&& fn, Context* ctx = nullptr) {
    return run<TxRW>(EVDB_TX_READ_WRITE, std::forward<F>(fn), ctx);
  }

  // Blocks delivering new versions (Conductor's Listener) until ctx is
  // cancelled (returns Status Canceled), its deadline passes, a callback
  // returns a non-OK Status (returned) or the connection is lost for good.
  // on_ready() is called once when the subscription is active; on_inserted
  // once per new version. Each is `void(…)` or `Status(…)`. An exception from
  // either callback ends listen at once (no further callback runs) and is
  // rethrown here. Runs the callbacks on the calling thread.
  template <class Ready, class Inserted>
  Status listen(Context& ctx, Ready&& on_ready, Inserted&& on_inserted) {
    struct State {
      Ready& ready;
      Inserted& inserted;
      std::exception_ptr thrown;
    } st{on_ready, on_inserted, nullptr};
    auto ready_tramp = [](void* u, evdb_error* err) -> evdb_status {
      auto* s = static_cast<State*>(u);
      return detail::call_back(s->thrown, err, [&] { return s->ready(); });
    };
    auto ins_tramp = [](void* u, int64_t v, evdb_error* err) -> evdb_status {
      auto* s = static_cast<State*>(u);
      return detail::call_back(s->thrown, err, [&] { return s->inserted(v); });
    };
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_listen(db_, ctx.raw(), ready_tramp, ins_tramp, &st, &err);
    if (st.thrown) {
      evdb_error_release(&err);
      std::rethrow_exception(st.thrown);
    }
    return detail::to_status(s, err);
  }

  // Checks the store is reachable; throws ConnectionError, Unsupported, …
  void ping(Context* ctx = nullptr) {
    evdb_error err = EVDB_ERROR_INIT;
    detail::check(evdb_ping(db_, ctx ? ctx->raw() : nullptr, &err), err);
  }
  uint64_t capabilities() const { return evdb_db_capabilities(db_); }
  bool has(uint64_t cap) const { return (capabilities() & cap) == cap; }
  std::string driver_name() const { return evdb_db_driver_name(db_); }
  evdb_db* raw() const { return db_; }

 private:
  explicit DB(evdb_db* db) : db_(db) {}

  template <class Tx, class F>
  auto run(evdb_tx_kind kind, F&& fn, Context* ctx) {
    using R = std::invoke_result_t<F&, Tx&>;
    evdb_ctx* c = ctx ? ctx->raw() : nullptr;
    evdb_tx* raw = nullptr;
    evdb_error err = EVDB_ERROR_INIT;
    evdb_status s = evdb_begin(db_, c, kind, &raw, &err);
    if constexpr (std::is_same_v<R, Status>) {
      if (s != EVDB_OK) return detail::to_status(s, err);
    } else {
      detail::check(s, err);
    }
    Tx tx(raw, c);
    auto commit = [&] { return evdb_commit(raw, c, &err); };
    if constexpr (std::is_void_v<R>) {
      try {
        fn(tx);
      } catch (...) {
        evdb_rollback(raw);
        throw;
      }
      detail::check(commit(), err);
    } else if constexpr (std::is_same_v<R, Status>) {
      Status r;
      try {
        r = fn(tx);
      } catch (...) {
        evdb_rollback(raw);
        throw;
      }
      if (!r.ok()) {
        evdb_rollback(raw);
        return r;
      }
      return detail::to_status(commit(), err);
    } else {
      std::optional<R> r;
      try {
        r.emplace(fn(tx));
      } catch (...) {
        evdb_rollback(raw);
        throw;
      }
      detail::check(commit(), err);
      return std::move(*r);
    }
  }

  evdb_db* db_;
};

// ---------------------------------------------------------------------------
// Subscription: a listener on its own thread
// ---------------------------------------------------------------------------

// Listens to `db` on a thread of its own for as long as it lives:
//
//   evdb::Subscription sub(db, [&](int64_t v) { queue.push(v); });
//   ... // every event committed from here on reaches the callback
//   // ~Subscription cancels the listener and joins its thread
//
// The constructor returns once the subscription is active (on_ready), so
// every event committed afterwards is delivered; it throws the error when
// listen fails before (DriverNotFound, ConnectionError, …). on_inserted is
// `void(int64_t)` or `Status(int64_t)` and runs on the subscription's thread;
// a non-OK Status or an exception ends the listener (see stop()). `db` must
// outlive the Subscription. Not copyable or movable (hold it in a
// std::optional or std::unique_ptr to move it around).
class Subscription {
 public:
  template <class Inserted>
  Subscription(DB& db, Inserted on_inserted) : st_(std::make_unique<State>()) {
    State* st = st_.get();
    st->thread = std::thread([st, &db, fn = std::move(on_inserted)]() mutable {
      Status result;
      std::exception_ptr thrown;
      try {
        result = db.listen(
            st->ctx,
            [st] {
              std::lock_guard lock(st->mu);
              st->ready = true;
              st->cv.notify_all();
            },
            fn);
      } catch (...) {
        thrown = std::current_exception();
      }
      std::lock_guard lock(st->mu);
      st->result = std::move(result);
      st->thrown = thrown;
      st->ended = true;
      st->cv.notify_all();
    });
    std::unique_lock lock(st->mu);
    st->cv.wait(lock, [st] { return st->ready || st->ended; });
    if (!st->ready) {
      lock.unlock();
      Status failed = stop();  // joins; rethrows an exception from listen
      failed.throw_if_error();
    }
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() {
    try {
      stop();
    } catch (...) {  // an exception nobody asked for with stop(): dropped
    }
  }

  // Cancels the listener and joins its thread (idempotent). Returns how the
  // listener ended: Canceled when this stopped it, else the error that ended
  // it first (a Status returned by on_inserted, ConnectionError, …).
  // Rethrows, once, an exception thrown by on_inserted.
  Status stop() {
    st_->ctx.cancel();
    if (st_->thread.joinable()) st_->thread.join();
    if (st_->thrown) std::rethrow_exception(std::exchange(st_->thrown, nullptr));
    return st_->result;
  }
  // True once the listener has ended (stopped, or ended by an error).
  bool ended() const {
    std::lock_guard lock(st_->mu);
    return st_->ended;
  }

 private:
  struct State {
    Context ctx;
    std::mutex mu;
    std::condition_variable cv;
    bool ready = false;
    bool ended = false;
    Status result;
    std::exception_ptr thrown;
    std::thread thread;
  };
  std::unique_ptr<State> st_;
};

}  // namespace evdb
