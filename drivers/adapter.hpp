// adapter.hpp — builds the C driver table (driver.h) from a C++ driver class.
//
// Internal to evdb's own drivers (not installed). A driver writes:
//   * a class derived from evdb::drv::Db (a store handle) and one derived from
//     evdb::drv::Tx (a transaction), throwing evdb::drv::Error on failure;
//   * a traits struct with: static constexpr name, version, capabilities, a
//     static `const char* const schemes[]` (NULL-terminated), and
//     `static std::unique_ptr<evdb::drv::Db> open(evdb::drv::Uri&,
//     evdb::drv::Ctx&)` (it takes parameters out of the Uri as it reads them);
//   * EVDB_DRIVER_DEFINE_ENTRY(evdb_driver_entry_NAME, Traits) in its library
//     and EVDB_DRIVER_EXPORT(evdb_driver_entry_NAME) in the file that is only
//     compiled into the shared object.
// The adapter catches every exception, turns it into a status and a message
// prefixed with "<driver>: <operation>: ", and never lets one cross the ABI.
#pragma once

#include <evdb/driver.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace evdb::drv {

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

// A failure with a status code. The message says what went wrong; the adapter
// adds the driver name and operation in front. Never put a password in it.
class Error : public std::exception {
 public:
  Error(evdb_status code, std::string message) : code_(code), message_(std::move(message)) {}
  evdb_status code() const noexcept { return code_; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  evdb_status code_;
  std::string message_;
};

// Thrown (only) by ListenSink::ready and ::inserted when the application's
// callback asked to stop; the adapter returns the callback's status and
// leaves its error as the callback filled it. Not an Error: a listener's
// reconnect loop (which catches Error) never takes it for a lost connection.
class CallbackStop : public std::exception {
 public:
  explicit CallbackStop(evdb_status code) : code_(code) {}
  evdb_status code() const noexcept { return code_; }
  const char* what() const noexcept override { return "listener callback stopped"; }

 private:
  evdb_status code_;
};

[[noreturn]] inline void fail(evdb_status code, std::string message) {
  throw Error(code, std::move(message));
}

// Fills a C error with a heap copy of `message` and this header's release.
inline void set_error(evdb_error* err, evdb_status code, std::string_view message) {
  if (err == nullptr) return;
  if (err->release != nullptr) err->release(err);
  // struct_size is the caller's: only the 1.0 fields are written.
  err->code = code;
  err->message = nullptr;
  err->release = nullptr;
  err->private_data = nullptr;
  char* copy = static_cast<char*>(std::malloc(message.size() + 1));
  if (copy == nullptr) return;
  std::memcpy(copy, message.data(), message.size());
  copy[message.size()] = '\0';
  err->message = copy;
  err->release = [](evdb_error* e) {
    std::free(e->message);
    e->message = nullptr;
    e->release = nullptr;
  };
}

// ---------------------------------------------------------------------------
// Contexts
// ---------------------------------------------------------------------------

// A view of the caller's context through the host's services. Cheap to copy.
class Ctx {
 public:
  Ctx(evdb_ctx* raw, const evdb_host_api* host) : raw_(raw), host_(host) {}

  evdb_ctx* raw() const { return raw_; }
  // EVDB_OK, EVDB_CANCELED or EVDB_DEADLINE_EXCEEDED.
  evdb_status status() const { return (raw_ && host_) ? host_->ctx_status(raw_) : EVDB_OK; }
  // Throws Error(CANCELED / DEADLINE_EXCEEDED) once the context is done.
  // Always inlined, the message built out of line: a caller passing a text
  // chosen at run time (`read_only ? "…" : "…"`) then measures it only on
  // failure. Left to the compiler, whether this was inlined changed with
  // unrelated code in the same file, and with it a strlen on every call.
#if defined(__GNUC__)
  [[gnu::always_inline]]
#endif
  void
  check(std::string_view doing) const {
    if (evdb_status s = status(); s != EVDB_OK) [[unlikely]]
      ended(s, doing);
  }
  // Microseconds before the deadline; -1 none; 0 passed.
  int64_t remaining_us() const {
    return (raw_ && host_) ? host_->ctx_remaining_us(raw_) : -1;
  }
  // Readable once cancelled; -1 for no context.
  int cancel_fd() const {
    return (raw_ && host_) ? host_->ctx_cancel_fd(raw_) : -1;
  }
  // Sleeps up to timeout_us, less if the context ends; returns status().
  evdb_status sleep_us(int64_t timeout_us) const;
  // Milliseconds to pass to poll(): min(cap_ms, time left), -1 for "forever"
  // only when cap_ms is -1 and there is no deadline.
  int poll_timeout_ms(int cap_ms) const {
    int64_t rem = remaining_us();
    if (rem < 0) return cap_ms;
    int64_t ms = (rem + 999) / 1000;
    if (cap_ms >= 0 && ms > cap_ms) ms = cap_ms;
    return static_cast<int>(ms);
  }

 private:
  // check() failed: throws its Error.
#if defined(__GNUC__)
  [[gnu::cold, gnu::noinline]]
#endif
  [[noreturn]] static void
  ended(evdb_status s, std::string_view doing) {
    fail(s, std::string(s == EVDB_CANCELED ? "canceled" : "deadline exceeded") + " while " +
                std::string(doing));
  }

  evdb_ctx* raw_;
  const evdb_host_api* host_;
};

// ---------------------------------------------------------------------------
// URIs
// ---------------------------------------------------------------------------

// The parsed URI with helpers to take parameters one by one; whatever is left
// when the driver calls reject_unknown() is an error.
class Uri {
 public:
  explicit Uri(const evdb_uri& u) : u_(u) {
    for (size_t i = 0; i < u.param_count; ++i)
      pending_.emplace_back(u.params[i].key, u.params[i].value);
  }
  const evdb_uri& raw() const { return u_; }
  std::string_view scheme() const { return u_.scheme; }
  std::string_view redacted() const { return u_.redacted; }
  std::string_view path() const { return u_.path; }
  std::string_view host() const { return u_.host; }
  int port() const { return u_.port; }
  std::string_view user() const { return u_.user; }
  std::string_view password() const { return u_.password; }
  bool has_authority() const { return u_.has_authority != 0; }

  // Removes parameter `key` and returns its (last) value, if present.
  std::optional<std::string> take(std::string_view key) {
    std::optional<std::string> v;
    for (auto it = pending_.begin(); it != pending_.end();) {
      if (it->first == key) {
        v = it->second;
        it = pending_.erase(it);
      } else {
        ++it;
      }
    }
    return v;
  }
  // Takes an integer parameter in [min, max]; INVALID_ARGUMENT otherwise.
  std::optional<int64_t> take_int(std::string_view key, int64_t min, int64_t max) {
    auto v = take(key);
    if (!v) return std::nullopt;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size() || n < min || n > max)
      fail(EVDB_INVALID_ARGUMENT, "parameter " + std::string(key) + "=" + *v +
                                      " is not an integer in [" + std::to_string(min) + ", " +
                                      std::to_string(max) + "]");
    return n;
  }
  // Parameters not taken yet, in order.
  const std::vector<std::pair<std::string, std::string>>& remaining() const { return pending_; }
  // Throws INVALID_ARGUMENT naming every parameter not taken, and the ones
  // that are known, when any is left.
  void reject_unknown(std::string_view known) const {
    if (pending_.empty()) return;
    std::string names;
    for (auto& [k, v] : pending_) names += (names.empty() ? "" : ", ") + k;
    fail(EVDB_INVALID_ARGUMENT, "unknown URI parameter(s) " + names + " in " +
                                    std::string(u_.redacted) + " (known: " + std::string(known) +
                                    ")");
  }

 private:
  const evdb_uri& u_;
  std::vector<std::pair<std::string, std::string>> pending_;
};

// ---------------------------------------------------------------------------
// The classes a driver implements
// ---------------------------------------------------------------------------

// A transaction. Destroyed right after commit() or rollback(); rollback() is
// called for every transaction not committed. Used by one thread at a time.
// Strings put into evdb_event outputs must stay valid until the next call on
// this transaction or its destruction.
class Tx {
 public:
  virtual ~Tx() = default;
  virtual int64_t read_system_version(Ctx& ctx) = 0;
  // false when there is no such event.
  virtual bool read_event_at(Ctx& ctx, int64_t version, evdb_event& out) = 0;
  virtual bool read_event_after(Ctx& ctx, int64_t version, evdb_event& out) = 0;
  virtual size_t read_events(Ctx& ctx, int64_t at, bool reverse, evdb_event* buf, size_t n) = 0;
  virtual std::optional<int64_t> read_projection_version(Ctx& ctx, int32_t id) = 0;
  // Only called on read-write transactions (the host checks). Throw
  // Error(EVDB_VERSION_MISMATCH, …) when the head is not `assumed`.
  virtual int64_t append_event(Ctx& ctx, int64_t assumed, const evdb_event& event) = 0;
  virtual int64_t init_projection_version(Ctx& ctx, int32_t id) = 0;
  // Throw Error(EVDB_NOT_FOUND, …) when never initialised.
  virtual void set_projection_version(Ctx& ctx, int32_t id, int64_t version) = 0;
  virtual void commit(Ctx& ctx) = 0;
  virtual void rollback() noexcept = 0;
};

// What a listener reports to. ready() and inserted() throw CallbackStop when
// the application asked to stop: let it propagate out of Db::listen.
class ListenSink {
 public:
  ListenSink(evdb_on_ready_fn on_ready, evdb_on_inserted_fn on_inserted, void* user,
             evdb_error* err)
      : on_ready_(on_ready), on_inserted_(on_inserted), user_(user), err_(err) {}
  void ready() {
    if (ready_called_) return;
    ready_called_ = true;
    if (on_ready_ == nullptr) return;
    evdb_status s = on_ready_(user_, err_);
    if (s != EVDB_OK) throw CallbackStop(s);
  }
  void inserted(int64_t version) {
    evdb_status s = on_inserted_(user_, version, err_);
    if (s != EVDB_OK) throw CallbackStop(s);
  }

 private:
  evdb_on_ready_fn on_ready_;
  evdb_on_inserted_fn on_inserted_;
  void* user_;
  evdb_error* err_;
  bool ready_called_ = false;
};

// A store handle. Thread-safe: begin and listen may be called from many
// threads at once.
class Db {
 public:
  virtual ~Db() = default;
  virtual uint64_t capabilities() const = 0;
  virtual std::unique_ptr<Tx> begin(Ctx& ctx, bool read_only) = 0;
  // Checks the store is reachable. Default: a read-only transaction that
  // reads the head. Networked drivers may override with a cheaper round trip.
  virtual void ping(Ctx& ctx) {
    auto tx = begin(ctx, true);
    tx->read_system_version(ctx);
    tx->rollback();
  }
  // Blocks delivering versions until ctx ends (throw the ctx error) or the
  // sink throws. Only called when capabilities() has EVDB_CAP_LISTENER.
  virtual void listen(Ctx& ctx, ListenSink& sink) {
    (void)ctx;
    (void)sink;
    fail(EVDB_UNSUPPORTED, "this driver has no listener");
  }
};

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

namespace detail {

// One host per process; every driver in the process is given the same one.
inline std::atomic<const evdb_host_api*>& host_slot() {
  static std::atomic<const evdb_host_api*> h{nullptr};
  return h;
}

// The status of the exception being handled, its message (prefixed with
// "<driver>: <op>: ") put into err. Called from the catch (...) of an entry,
// it rethrows to tell the kinds apart: the entries keep one small handler
// each and no frame for strings, and this runs only on failure
// (docs/benchmarks.md, "Validation without a DOM").
template <class Traits>
#if defined(__GNUC__)
[[gnu::cold, gnu::noinline]]
#endif
evdb_status
current_error(const char* op, evdb_error* err) noexcept {
  try {
    throw;
  } catch (const CallbackStop& s) {
    return s.code();
  } catch (const Error& e) {
    set_error(err, e.code(), std::string(Traits::name) + ": " + op + ": " + e.what());
    return e.code();
  } catch (const std::bad_alloc&) {
    set_error(err, EVDB_INTERNAL, std::string(Traits::name) + ": " + op + ": out of memory");
    return EVDB_INTERNAL;
  } catch (const std::exception& e) {
    set_error(err, EVDB_INTERNAL, std::string(Traits::name) + ": " + op + ": " + e.what());
    return EVDB_INTERNAL;
  } catch (...) {
    set_error(err, EVDB_INTERNAL, std::string(Traits::name) + ": " + op + ": unknown exception");
    return EVDB_INTERNAL;
  }
}

// Runs body, turning any exception into a status (current_error).
template <class Traits>
#if defined(__GNUC__)
[[gnu::always_inline]]
#endif
inline evdb_status
guard(const char* op, evdb_error* err, auto&& body) noexcept {
  try {
    body();
    return EVDB_OK;
  } catch (...) {
    return current_error<Traits>(op, err);
  }
}

inline Db* db_of(evdb_driver_db* d) {
  return reinterpret_cast<Db*>(d);
}
inline Tx* tx_of(evdb_driver_tx* t) {
  return reinterpret_cast<Tx*>(t);
}
inline Ctx ctx_of(evdb_ctx* c) {
  return Ctx(c, host_slot().load(std::memory_order_acquire));
}

// Fills the host's event `out` through fill(evdb_event&) -> bool: straight
// into it when its layout is this driver's, else through a local event of
// which only the fields both layouts share are copied. out keeps its
// struct_size (a driver may assign a whole evdb_event).
template <class Fill>
bool fill_event(evdb_event* out, Fill&& fill) {
  const uint32_t size = out->struct_size;
  if (size == sizeof(evdb_event)) {
    bool found = fill(*out);
    out->struct_size = size;
    return found;
  }
  evdb_event mine = EVDB_EVENT_INIT;
  bool found = fill(mine);
  if (found) std::memcpy(static_cast<void*>(out), &mine, std::min<size_t>(size, sizeof mine));
  out->struct_size = size;
  return found;
}

// Fills the host's array `buf` (stepped by buf[0].struct_size) through
// fill(evdb_event*, n) -> count, the same way.
template <class Fill>
size_t fill_events(evdb_event* buf, size_t n, Fill&& fill) {
  if (n == 0) return 0;
  const uint32_t step = buf->struct_size;
  if (step == sizeof(evdb_event)) {
    size_t got = fill(buf, n);
    for (size_t i = 0; i < got; ++i) buf[i].struct_size = step;
    return got;
  }
  std::vector<evdb_event> mine(n, evdb_event EVDB_EVENT_INIT);
  size_t got = fill(mine.data(), n);
  for (size_t i = 0; i < got; ++i) {
    evdb_event* dst = EVDB_EVENT_AT(buf, i);
    std::memcpy(static_cast<void*>(dst), &mine[i], std::min<size_t>(step, sizeof(evdb_event)));
    dst->struct_size = step;
  }
  return got;
}

template <class Traits>
const evdb_driver* build_table() {
  static const evdb_driver table = [] {
    evdb_driver t{};
    t.struct_size = sizeof(evdb_driver);
    t.abi_version = EVDB_DRIVER_ABI_VERSION;
    t.name = Traits::name;
    t.version = Traits::version;
    t.schemes = Traits::schemes;
    t.capabilities = Traits::capabilities;
    t.open = [](const evdb_uri* uri, evdb_ctx* c, evdb_driver_db** out,
                evdb_error* err) -> evdb_status {
      return guard<Traits>("open", err, [&] {
        Ctx ctx = ctx_of(c);
        Uri u(*uri);
        std::unique_ptr<Db> db = Traits::open(u, ctx);
        *out = reinterpret_cast<evdb_driver_db*>(db.release());
      });
    };
    t.close = [](evdb_driver_db* d) { delete db_of(d); };
    t.db_capabilities = [](evdb_driver_db* d) -> uint64_t { return db_of(d)->capabilities(); };
    // begin and commit, the entries of every transaction, name the
    // operation and end the transaction only on failure.
    t.begin = [](evdb_driver_db* d, evdb_ctx* c, evdb_tx_kind kind, evdb_driver_tx** out,
                 evdb_error* err) noexcept -> evdb_status {
      try {
        Ctx ctx = ctx_of(c);
        *out = reinterpret_cast<evdb_driver_tx*>(
            db_of(d)->begin(ctx, kind == EVDB_TX_READ_ONLY).release());
        return EVDB_OK;
      } catch (...) {
        return current_error<Traits>(
            kind == EVDB_TX_READ_ONLY ? "begin read-only" : "begin read-write", err);
      }
    };
    t.commit = [](evdb_driver_tx* x, evdb_ctx* c, evdb_error* err) noexcept -> evdb_status {
      Tx* tx = tx_of(x);
      try {
        Ctx ctx = ctx_of(c);
        tx->commit(ctx);
      } catch (...) {
        evdb_status s = current_error<Traits>("commit", err);
        tx->rollback();
        delete tx;
        return s;
      }
      delete tx;
      return EVDB_OK;
    };
    t.rollback = [](evdb_driver_tx* x) {
      std::unique_ptr<Tx> tx(tx_of(x));
      tx->rollback();
    };
    t.read_system_version = [](evdb_driver_tx* x, evdb_ctx* c, int64_t* out,
                               evdb_error* err) -> evdb_status {
      return guard<Traits>("read_system_version", err, [&] {
        Ctx ctx = ctx_of(c);
        *out = tx_of(x)->read_system_version(ctx);
      });
    };
    t.read_event_at = [](evdb_driver_tx* x, evdb_ctx* c, int64_t v, evdb_event* out,
                         evdb_error* err) -> evdb_status {
      return guard<Traits>("read_event_at", err, [&] {
        Ctx ctx = ctx_of(c);
        if (!fill_event(out, [&](evdb_event& e) { return tx_of(x)->read_event_at(ctx, v, e); }))
          fail(EVDB_NOT_FOUND, "no event at version " + std::to_string(v));
      });
    };
    t.read_event_after = [](evdb_driver_tx* x, evdb_ctx* c, int64_t v, evdb_event* out,
                            evdb_error* err) -> evdb_status {
      return guard<Traits>("read_event_after", err, [&] {
        Ctx ctx = ctx_of(c);
        if (!fill_event(out, [&](evdb_event& e) { return tx_of(x)->read_event_after(ctx, v, e); }))
          fail(EVDB_NOT_FOUND, "no event after version " + std::to_string(v));
      });
    };
    t.read_events = [](evdb_driver_tx* x, evdb_ctx* c, int64_t at, int reverse, evdb_event* buf,
                       size_t n, size_t* n_out, evdb_error* err) -> evdb_status {
      *n_out = 0;
      return guard<Traits>("read_events", err, [&] {
        Ctx ctx = ctx_of(c);
        *n_out = fill_events(buf, n, [&](evdb_event* b, size_t k) {
          return tx_of(x)->read_events(ctx, at, reverse != 0, b, k);
        });
      });
    };
    t.read_projection_version = [](evdb_driver_tx* x, evdb_ctx* c, int32_t id, int64_t* out,
                                   evdb_error* err) -> evdb_status {
      return guard<Traits>("read_projection_version", err, [&] {
        Ctx ctx = ctx_of(c);
        auto v = tx_of(x)->read_projection_version(ctx, id);
        if (!v) fail(EVDB_NOT_FOUND, "projection " + std::to_string(id) + " was never initialised");
        *out = *v;
      });
    };
    t.append_event = [](evdb_driver_tx* x, evdb_ctx* c, int64_t assumed, const evdb_event* ev,
                        int64_t* nv, evdb_error* err) -> evdb_status {
      return guard<Traits>("append_event", err, [&] {
        Ctx ctx = ctx_of(c);
        *nv = tx_of(x)->append_event(ctx, assumed, *ev);
      });
    };
    t.init_projection_version = [](evdb_driver_tx* x, evdb_ctx* c, int32_t id, int64_t* out,
                                   evdb_error* err) -> evdb_status {
      return guard<Traits>("init_projection_version", err, [&] {
        Ctx ctx = ctx_of(c);
        *out = tx_of(x)->init_projection_version(ctx, id);
      });
    };
    t.set_projection_version = [](evdb_driver_tx* x, evdb_ctx* c, int32_t id, int64_t v,
                                  evdb_error* err) -> evdb_status {
      return guard<Traits>("set_projection_version", err, [&] {
        Ctx ctx = ctx_of(c);
        tx_of(x)->set_projection_version(ctx, id, v);
      });
    };
    if constexpr ((Traits::capabilities & EVDB_CAP_LISTENER) != 0) {
      t.listen = [](evdb_driver_db* d, evdb_ctx* c, evdb_on_ready_fn on_ready,
                    evdb_on_inserted_fn on_inserted, void* user, evdb_error* err) -> evdb_status {
        return guard<Traits>("listen", err, [&] {
          Ctx ctx = ctx_of(c);
          ListenSink sink(on_ready, on_inserted, user, err);
          db_of(d)->listen(ctx, sink);
        });
      };
    } else {
      t.listen = nullptr;
    }
    t.ping = [](evdb_driver_db* d, evdb_ctx* c, evdb_error* err) -> evdb_status {
      return guard<Traits>("ping", err, [&] {
        Ctx ctx = ctx_of(c);
        db_of(d)->ping(ctx);
      });
    };
    return t;
  }();
  return &table;
}

}  // namespace detail

inline evdb_status Ctx::sleep_us(int64_t timeout_us) const {
  if (raw_ && host_) return host_->ctx_sleep(raw_, timeout_us);
  struct timespec ts {
    static_cast<time_t>(timeout_us / 1000000), static_cast<long>((timeout_us % 1000000) * 1000)
  };
  while (nanosleep(&ts, &ts) != 0) {
  }
  return EVDB_OK;
}

// The host services given at entry (NULL before the first entry call).
inline const evdb_host_api* host() {
  return detail::host_slot().load(std::memory_order_acquire);
}

}  // namespace evdb::drv

// Defines `extern "C" const evdb_driver* FN(uint32_t, const evdb_host_api*)`
// returning the table of Traits. FN must be unique per driver
// (evdb_driver_entry_<name>) so drivers can be linked into one process.
#define EVDB_DRIVER_DEFINE_ENTRY(FN, Traits)                                   \
  extern "C" EVDB_API const evdb_driver* FN(uint32_t host_abi_version,         \
                                            const evdb_host_api* host_api) {   \
    (void)host_abi_version;                                                    \
    if (host_api != nullptr) ::evdb::drv::detail::host_slot().store(host_api); \
    return ::evdb::drv::detail::build_table<Traits>();                         \
  }

// Exports the generic entry point of a driver shared object, forwarding to FN.
#define EVDB_DRIVER_EXPORT(FN)                                                              \
  extern "C" EVDB_API const evdb_driver* evdb_driver_entry(uint32_t host_abi_version,       \
                                                           const evdb_host_api* host_api) { \
    return FN(host_abi_version, host_api);                                                  \
  }
