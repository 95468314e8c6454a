// api.cpp — the application C API (evdb.h): open/close, transactions, reads,
// writes. Checks every argument, then dispatches to the driver's table.
#include <evdb/driver.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "context.hpp"
#include "errors.hpp"
#include "handles.hpp"
#include "registry.hpp"
#include "uri.hpp"
#include "validate.hpp"

using evdb::loader::Driver;
using evdb::loader::fail;

namespace {

// Failures build their message out of line: the checks on the success path
// then cost a compare and a branch each, and the calls that pass them need
// no stack frame for strings (docs/benchmarks.md, "Validation without a DOM").
#if defined(__GNUC__)
#define EVDB_COLD [[gnu::cold, gnu::noinline]]
#define EVDB_NOINLINE [[gnu::noinline]]
#else
#define EVDB_COLD
#define EVDB_NOINLINE
#endif
#if defined(__GNUC__) && defined(__ELF__)
#define EVDB_HIDDEN [[gnu::visibility("hidden")]]
#else
#define EVDB_HIDDEN
#endif
// The thread's wrapper pool is read through a TLS descriptor written out in
// assembly (current_pool() below) on x86-64 ELF with GCC or clang.
#if defined(__GNUC__) && defined(__x86_64__) && defined(__ELF__) && !defined(__ILP32__)
#define EVDB_TLSDESC_ASM 1
#else
#define EVDB_TLSDESC_ASM 0
#endif

EVDB_COLD evdb_status null_arg(evdb_error* err, const char* op, const char* what) {
  return fail(err, EVDB_INVALID_ARGUMENT, std::string(op) + ": " + what + " is NULL");
}

EVDB_COLD evdb_status negative(evdb_error* err, const char* op, const char* what, int64_t v) {
  return fail(
      err, EVDB_INVALID_ARGUMENT,
      std::string(op) + ": " + what + " must not be negative (got " + std::to_string(v) + ")");
}

// Fails when an event the caller gives or hands out for filling is smaller
// than the 1.0 layout (not initialised with EVDB_EVENT_INIT).
EVDB_COLD evdb_status event_too_small(const evdb_event* e, evdb_error* err, const char* op,
                                      const char* what) {
  return fail(err, EVDB_INVALID_ARGUMENT,
              std::string(op) + ": " + what + "->struct_size is " + std::to_string(e->struct_size) +
                  ", less than the " + std::to_string(EVDB_EVENT_MIN_SIZE) +
                  " bytes of an evdb 1.0 event (initialise it with EVDB_EVENT_INIT)");
}

inline evdb_status check_event_size(const evdb_event* e, evdb_error* err, const char* op,
                                    const char* what) {
  return e->struct_size >= EVDB_EVENT_MIN_SIZE ? EVDB_OK : event_too_small(e, err, op, what);
}

// Copies the library's event `src` into the caller's `dst`: only the bytes
// both layouts share; dst keeps its struct_size.
void copy_event_out(const evdb_event& src, evdb_event* dst) {
  uint32_t size = dst->struct_size;
  std::memcpy(static_cast<void*>(dst), &src, std::min<size_t>(size, sizeof(evdb_event)));
  dst->struct_size = size;
}

// Runs a driver read into the caller's event: straight into it when its
// layout is the library's, else through a library-sized event.
template <class Read>
evdb_status read_into(evdb_event* out, Read&& read) {
  if (out->struct_size == sizeof(evdb_event)) {
    evdb_status s = read(out);
    out->struct_size = sizeof(evdb_event);  // a driver may have reset it
    return s;
  }
  evdb_event mine = EVDB_EVENT_INIT;
  evdb_status s = read(&mine);
  if (s == EVDB_OK) copy_event_out(mine, out);
  return s;
}

// Fails a write on a read-only transaction.
EVDB_COLD evdb_status read_only_tx(evdb_error* err, const char* op) {
  return fail(err, EVDB_READ_ONLY,
              std::string(op) + ": the transaction is read-only; use a read-write transaction");
}

inline evdb_status check_writable(evdb_tx* tx, evdb_error* err, const char* op) {
  return tx->kind == EVDB_TX_READ_WRITE ? EVDB_OK : read_only_tx(err, op);
}

EVDB_COLD evdb_status ctx_failed(evdb_status s, evdb_error* err, const char* op) {
  return fail(err, s,
              std::string(op) + ": " +
                  (s == EVDB_CANCELED ? "the context was cancelled" : "the deadline passed"));
}

// OP-26: the calls that begin or end work fail at once on an ended context.
// Inline: with no context it is one compare.
inline evdb_status check_ctx(evdb_ctx* ctx, evdb_error* err, const char* op) {
  evdb_status s = evdb::loader::ctx_status(ctx);
  return s == EVDB_OK ? EVDB_OK : ctx_failed(s, err, op);
}

EVDB_COLD evdb_status unknown_kind(evdb_error* err, evdb_tx_kind kind) {
  return fail(err, EVDB_INVALID_ARGUMENT,
              "begin: unknown transaction kind " + std::to_string(kind));
}

EVDB_COLD evdb_status invalid_event(evdb_error* err, const std::string& why) {
  return fail(err, EVDB_INVALID_ARGUMENT, "append_event: " + why);
}

EVDB_COLD evdb_status out_of_memory(evdb_error* err, const char* op) {
  return fail(err, EVDB_INTERNAL, std::string(op) + ": out of memory");
}

// ---- transaction wrappers ------------------------------------------------------
//
// Every transaction needs an evdb_tx (the driver's handle, its table and its
// kind). They come from per-thread pools so that a transaction costs no
// allocation and ending one costs no lookup of the thread (docs/decisions.md,
// "Transaction wrappers"):
//  * each thread that begins transactions owns one pool (TxPool) of kPoolSize
//    wrappers, found through one trivially destructible thread_local (the
//    default TLS model: libevdb may be dlopen'ed late, docs/contract.md
//    ABI-16); only that thread takes wrappers out of it;
//  * a wrapper in use has busy set; whoever ends the transaction, on any
//    thread (ABI-14), clears it with a release store and never touches the
//    pool: a plain store on x86, no atomic read-modify-write, no TLS lookup;
//    the owner's acquire load of busy orders that thread's last reads of the
//    wrapper before the owner's next writes;
//  * when its thread exits, a pool goes to a process-wide list (wrappers may
//    still be in use by transactions moved to other threads) and the next
//    thread without a pool takes it over: pools are never freed, there are
//    at most as many as threads that began transactions at the same time;
//  * a thread with all kPoolSize wrappers in use (or one exiting) gets a
//    wrapper of its own from the heap, deleted when its transaction ends.

struct TxPool {
  static constexpr int kPoolSize = 16;
  evdb_tx wrappers[kPoolSize];
  evdb_tx* hint = wrappers;     // where the owner looks first
  TxPool* next_free = nullptr;  // in the list of pools without a thread
};

}  // namespace

// The calling thread's pool; NULL before its first transaction and after its
// exit began. C linkage (hidden, not exported: loader/libevdb.map) so that
// current_pool() below can name it.
extern "C" {
EVDB_HIDDEN constinit thread_local TxPool* loader_tx_pool = nullptr;
}

namespace {

constinit thread_local bool tx_pool_gone = false;  // the thread is exiting

// Reads loader_tx_pool. On x86-64 ELF (GCC, clang) through a TLS descriptor
// written out here, instead of the __tls_get_addr call the compiler emits for
// the default (dlopen-safe, global-dynamic) model: for libevdb loaded at start
// or given static TLS by dlopen, the descriptor's function is two
// instructions, and the sequence changes no register but rax, so evdb_begin
// keeps its arguments in registers across it (docs/decisions.md, "Transaction
// wrappers"). Still dlopen-safe (ABI-16): a TLS descriptor is a general
// dynamic access resolved by the dynamic linker, no initial-exec relocation.
// Not -mtls-dialect=gnu2: with it the compiler assumes the descriptor call
// preserves every register but rax, which glibc before 2.40 breaks on the
// dynamic-TLS path (it does not save the vector registers: glibc bug 31372,
// Debian 12 has 2.36). Here the sequence declares those registers clobbered,
// and it realigns the stack and steps over the red zone, as a call needs (a
// debugger or profiler stopping inside its few instructions sees a wrong
// frame for evdb_begin; nothing can throw there).
inline TxPool* current_pool() noexcept {
#if EVDB_TLSDESC_ASM
  TxPool* p;
  asm volatile(
      "mov %%rsp, %%r11\n\t"
      "lea -128(%%rsp), %%rsp\n\t"
      "and $-16, %%rsp\n\t"
      "lea loader_tx_pool@TLSDESC(%%rip), %%rax\n\t"
      "call *loader_tx_pool@TLSCALL(%%rax)\n\t"
      "mov %%r11, %%rsp\n\t"
      "mov %%fs:(%%rax), %%rax"
      : "=a"(p)
      :
      : "r11", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#if defined(__AVX512F__)
        ,
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2", "k3", "k4", "k5", "k6",
        "k7"
#endif
  );
  return p;
#else
  return loader_tx_pool;
#endif
}

// Pools whose thread exited. std::mutex is constant-initialised: usable from
// thread_local destructors at exit.
constinit std::mutex free_pools_mu;
constinit TxPool* free_pools = nullptr;

struct TxPoolRelease {
  ~TxPoolRelease() {
    std::lock_guard lock(free_pools_mu);
    loader_tx_pool->next_free = free_pools;
    free_pools = loader_tx_pool;
    loader_tx_pool = nullptr;
    tx_pool_gone = true;
  }
};

// A wrapper from the heap (`pooled` false), for the cases the pool cannot
// serve. NULL when out of memory.
EVDB_COLD evdb_tx* heap_tx() {
  evdb_tx* tx = new (std::nothrow) evdb_tx;
  if (tx != nullptr) tx->pooled = false;
  return tx;
}

// Gives this thread a pool (a free one, else a new one), then a wrapper.
EVDB_COLD evdb_tx* first_tx() {
  if (tx_pool_gone) return heap_tx();
  TxPool* p = nullptr;
  {
    std::lock_guard lock(free_pools_mu);
    if (free_pools != nullptr) {
      p = free_pools;
      free_pools = p->next_free;
    }
  }
  if (p == nullptr) {
    p = new (std::nothrow) TxPool;
    if (p == nullptr) return heap_tx();
    for (evdb_tx& w : p->wrappers) w.pooled = true;
  }
  thread_local TxPoolRelease release;  // hands the pool on at thread exit
  (void)release;
  loader_tx_pool = p;
  for (int i = 0; i < TxPool::kPoolSize; ++i) {
    evdb_tx& w = p->wrappers[i];
    if (!w.busy.load(std::memory_order_acquire)) {
      w.busy.store(true, std::memory_order_relaxed);
      p->hint = &w;
      return &w;
    }
  }
  return heap_tx();
}

// The hinted wrapper was busy: the next free one, else one from the heap.
EVDB_COLD evdb_tx* scan_tx(TxPool* p) {
  const int at = static_cast<int>(p->hint - p->wrappers);
  for (int k = 1; k < TxPool::kPoolSize; ++k) {
    evdb_tx& w = p->wrappers[(at + k) % TxPool::kPoolSize];
    if (!w.busy.load(std::memory_order_acquire)) {
      w.busy.store(true, std::memory_order_relaxed);
      p->hint = &w;
      return &w;
    }
  }
  return heap_tx();
}

// A free wrapper for a transaction beginning on this thread, when the hinted
// one of its pool is not (out of line); NULL when out of memory. Its fields
// other than busy and pooled are the caller's to set.
EVDB_COLD evdb_tx* take_tx_slow() {
  TxPool* p = loader_tx_pool;
  return p == nullptr ? first_tx() : scan_tx(p);
}

// Ends the use of `tx` (on any thread). The caller read what it needs first.
inline void give_back_tx(evdb_tx* tx) {
  if (tx->pooled) [[likely]]
    tx->busy.store(false, std::memory_order_release);
  else
    delete tx;
}

// True when a context needs more than "not given": it may have ended (a
// cancel or a deadline, the clock read out of line). Two loads.
inline bool ctx_to_check(const evdb_ctx* ctx) {
  return ctx != nullptr && (ctx->canceled.load(std::memory_order_acquire) ||
                            ctx->deadline_ns.load(std::memory_order_acquire) != 0);
}

// evdb_begin after the driver's begin failed: the wrapper goes back.
EVDB_COLD evdb_status begin_failed(evdb_tx** out, evdb_status s) {
  give_back_tx(*out);
  *out = nullptr;
  return s;
}

// The driver's begin into the wrapper `tx` (taken, not yet filled). The
// driver writes its handle straight into the wrapper; across its call only
// `out` is kept, to undo on failure.
#if defined(__GNUC__)
[[gnu::always_inline]]
#endif
inline evdb_status
begin_into(evdb_tx* tx, evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
           evdb_error* err) {
  const evdb_driver* t = &db->driver->table;
  tx->table = t;
  tx->kind = kind;
  *out = tx;
  evdb_status s = t->begin(db->handle, ctx, kind, &tx->handle, err);
  if (s != EVDB_OK) [[unlikely]]
    return begin_failed(out, s);
  return EVDB_OK;
}

// begin_checked when the thread has no pool yet or its hinted wrapper is in
// use: a wrapper from take_tx_slow().
EVDB_COLD evdb_status begin_other_wrapper(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind,
                                          evdb_tx** out, evdb_error* err) {
  evdb_tx* tx = take_tx_slow();
  if (tx == nullptr) {
    *out = nullptr;
    return out_of_memory(err, "begin");
  }
  return begin_into(tx, db, ctx, kind, out, err);
}

// The body of evdb_begin once its arguments and context passed. The wrapper
// is taken first: current_pool() changes no argument register, and whatever
// needs a call goes to begin_other_wrapper() whole, so the only call here is
// the driver's begin.
#if defined(__GNUC__)
[[gnu::always_inline]]
#endif
inline evdb_status
begin_checked(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out, evdb_error* err) {
  TxPool* p = current_pool();
  if (p == nullptr) [[unlikely]]
    return begin_other_wrapper(db, ctx, kind, out, err);
  evdb_tx* tx = p->hint;
  if (tx->busy.load(std::memory_order_acquire)) [[unlikely]]
    return begin_other_wrapper(db, ctx, kind, out, err);
  tx->busy.store(true, std::memory_order_relaxed);
  return begin_into(tx, db, ctx, kind, out, err);
}

// evdb_begin with a bad argument or a context to check: says which, or
// checks the context (OP-26) and begins.
EVDB_COLD evdb_status begin_slow(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
                                 evdb_error* err) {
  if (out == nullptr) return null_arg(err, "begin", "out");
  *out = nullptr;
  if (db == nullptr) return null_arg(err, "begin", "db");
  if (kind != EVDB_TX_READ_ONLY && kind != EVDB_TX_READ_WRITE) return unknown_kind(err, kind);
  if (evdb_status s = check_ctx(ctx, err, "begin"); s != EVDB_OK) return s;
  return begin_checked(db, ctx, kind, out, err);
}

inline evdb_status begin_tx(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
                            evdb_error* err) {
  if (out == nullptr || db == nullptr ||
      static_cast<uint32_t>(kind) > uint32_t{EVDB_TX_READ_WRITE} || ctx_to_check(ctx)) [[unlikely]]
    return begin_slow(db, ctx, kind, out, err);
  return begin_checked(db, ctx, kind, out, err);
}

// evdb_commit with NULL, a context to check or a heap wrapper. The wrapper is
// given back before the driver runs: tx is invalid after commit whatever the
// outcome (ABI-10).
EVDB_COLD evdb_status commit_slow(evdb_tx* tx, evdb_ctx* ctx, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "commit", "tx");
  const evdb_driver* t = tx->table;
  evdb_driver_tx* h = tx->handle;
  give_back_tx(tx);
  if (evdb_status s = check_ctx(ctx, err, "commit"); s != EVDB_OK) {
    t->rollback(h);  // nothing applied (OP-26)
    return s;
  }
  return t->commit(h, ctx, err);
}

// The common case has no frame: the driver's commit ends the call.
inline evdb_status commit_tx(evdb_tx* tx, evdb_ctx* ctx, evdb_error* err) {
  if (tx == nullptr || ctx_to_check(ctx) || !tx->pooled) [[unlikely]]
    return commit_slow(tx, ctx, err);
  const evdb_driver* t = tx->table;
  evdb_driver_tx* h = tx->handle;
  tx->busy.store(false, std::memory_order_release);
  return t->commit(h, ctx, err);
}

inline void rollback_tx(evdb_tx* tx) {
  if (tx == nullptr) return;
  const evdb_driver* t = tx->table;
  evdb_driver_tx* h = tx->handle;
  give_back_tx(tx);
  t->rollback(h);
}

evdb_status run_tx(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx_fn fn, void* user,
                   evdb_error* err, const char* op) {
  if (fn == nullptr) return null_arg(err, op, "fn");
  evdb_tx* tx = nullptr;
  evdb_status s = begin_tx(db, ctx, kind, &tx, err);
  if (s != EVDB_OK) return s;
  s = fn(tx, user, err);
  if (s != EVDB_OK) {
    rollback_tx(tx);
    return s;
  }
  return commit_tx(tx, ctx, err);
}

}  // namespace

extern "C" {

evdb_status evdb_open(const char* uri, evdb_ctx* ctx, evdb_db** out, evdb_error* err) {
  if (out == nullptr) return null_arg(err, "open", "out");
  *out = nullptr;
  if (uri == nullptr) return null_arg(err, "open", "uri");
  if (evdb_status s = check_ctx(ctx, err, "open"); s != EVDB_OK) return s;
  evdb::loader::ParsedUri parsed;
  std::string why;
  if (!evdb::loader::ParsedUri::parse(uri, parsed, why))
    return fail(err, EVDB_INVALID_ARGUMENT, "open: " + why);
  evdb_status code = EVDB_OK;
  std::string message;
  const Driver* d = evdb::loader::find_driver(parsed.scheme(), code, message);
  if (d == nullptr) return fail(err, code, "open \"" + parsed.redacted() + "\": " + message);
  evdb_driver_db* h = nullptr;
  evdb_status s = d->table.open(&parsed.as_c(), ctx, &h, err);
  if (s != EVDB_OK) return s;
  if (h == nullptr)
    return fail(err, EVDB_INTERNAL,
                std::string("open: driver ") + d->table.name + " returned success but no handle");
  auto* db = new (std::nothrow) evdb_db;
  if (db == nullptr) {
    d->table.close(h);
    return fail(err, EVDB_INTERNAL, "open: out of memory");
  }
  db->driver = d;
  db->handle = h;
  db->capabilities = d->capabilities_of(*d, h);
  db->listen = (db->capabilities & EVDB_CAP_LISTENER) != 0 ? d->listen : evdb::loader::poll_listen;
  *out = db;
  return EVDB_OK;
}

void evdb_close(evdb_db* db) {
  if (db == nullptr) return;
  const Driver* d = db->driver;
  evdb_driver_db* h = db->handle;
  delete db;  // joins the threads of its listeners first (listen_hub.hpp)
  d->table.close(h);
}

uint64_t evdb_db_capabilities(const evdb_db* db) {
  return db ? db->capabilities : 0;
}

evdb_status evdb_ping(evdb_db* db, evdb_ctx* ctx, evdb_error* err) {
  if (db == nullptr) return null_arg(err, "ping", "db");
  if (evdb_status s = check_ctx(ctx, err, "ping"); s != EVDB_OK) return s;
  return db->driver->ping(db, ctx, err);
}

const char* evdb_db_driver_name(const evdb_db* db) {
  return db ? db->driver->table.name : "";
}

evdb_status evdb_begin(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
                       evdb_error* err) {
  return begin_tx(db, ctx, kind, out, err);
}

evdb_status evdb_commit(evdb_tx* tx, evdb_ctx* ctx, evdb_error* err) {
  return commit_tx(tx, ctx, err);
}

void evdb_rollback(evdb_tx* tx) {
  rollback_tx(tx);
}

evdb_tx_kind evdb_tx_get_kind(const evdb_tx* tx) {
  return tx ? tx->kind : EVDB_TX_READ_ONLY;
}

evdb_status evdb_tx_read_only(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user,
                              evdb_error* err) {
  return run_tx(db, ctx, EVDB_TX_READ_ONLY, fn, user, err, "tx_read_only");
}

evdb_status evdb_tx_read_write(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user,
                               evdb_error* err) {
  return run_tx(db, ctx, EVDB_TX_READ_WRITE, fn, user, err, "tx_read_write");
}

evdb_status evdb_read_system_version(evdb_tx* tx, evdb_ctx* ctx, int64_t* out, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_system_version", "tx");
  if (out == nullptr) return null_arg(err, "read_system_version", "out");
  return tx->table->read_system_version(tx->handle, ctx, out, err);
}

evdb_status evdb_read_event_at(evdb_tx* tx, evdb_ctx* ctx, int64_t version, evdb_event* out,
                               evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_event_at", "tx");
  if (out == nullptr) return null_arg(err, "read_event_at", "out");
  if (version < 0) return negative(err, "read_event_at", "version", version);
  if (evdb_status s = check_event_size(out, err, "read_event_at", "out"); s != EVDB_OK) return s;
  if (version == 0)
    return fail(err, EVDB_NOT_FOUND, "read_event_at: there is no event at version 0");
  return read_into(out, [&](evdb_event* e) {
    return tx->table->read_event_at(tx->handle, ctx, version, e, err);
  });
}

evdb_status evdb_read_event_after(evdb_tx* tx, evdb_ctx* ctx, int64_t version, evdb_event* out,
                                  evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_event_after", "tx");
  if (out == nullptr) return null_arg(err, "read_event_after", "out");
  if (version < 0) return negative(err, "read_event_after", "version", version);
  if (evdb_status s = check_event_size(out, err, "read_event_after", "out"); s != EVDB_OK) return s;
  return read_into(out, [&](evdb_event* e) {
    return tx->table->read_event_after(tx->handle, ctx, version, e, err);
  });
}

evdb_status evdb_read_events(evdb_tx* tx, evdb_ctx* ctx, int64_t at, int reverse, evdb_event* buf,
                             size_t n, size_t* n_out, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_events", "tx");
  if (n_out == nullptr) return null_arg(err, "read_events", "n_out");
  *n_out = 0;
  if (at < 0) return negative(err, "read_events", "at", at);
  if (n == 0) return EVDB_OK;
  if (buf == nullptr) return null_arg(err, "read_events", "buf (with n > 0)");
  if (evdb_status s = check_event_size(buf, err, "read_events", "buf"); s != EVDB_OK) return s;
  const evdb_driver& t = *tx->table;
  const uint32_t step = buf->struct_size;  // read once: a driver may overwrite it
  if (step == sizeof(evdb_event)) {
    evdb_status s = t.read_events(tx->handle, ctx, at, reverse, buf, n, n_out, err);
    for (size_t i = 0; i < *n_out; ++i) buf[i].struct_size = step;
    return s;
  }
  // The caller's layout differs (older or newer headers): read into the
  // library's layout, then copy field by field what both know.
  std::vector<evdb_event> mine(n, evdb_event EVDB_EVENT_INIT);
  evdb_status s = t.read_events(tx->handle, ctx, at, reverse, mine.data(), n, n_out, err);
  for (size_t i = 0; i < *n_out; ++i) {
    evdb_event* dst = reinterpret_cast<evdb_event*>(reinterpret_cast<char*>(buf) + i * step);
    dst->struct_size = step;
    copy_event_out(mine[i], dst);
  }
  return s;
}

evdb_status evdb_read_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t* out,
                                         evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_projection_version", "tx");
  if (out == nullptr) return null_arg(err, "read_projection_version", "out");
  return tx->table->read_projection_version(tx->handle, ctx, id, out, err);
}

evdb_status evdb_append_event(evdb_tx* tx, evdb_ctx* ctx, int64_t assumed_version,
                              const evdb_event* event, int64_t* new_version, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "append_event", "tx");
  if (event == nullptr) return null_arg(err, "append_event", "event");
  if (evdb_status s = check_writable(tx, err, "append_event"); s != EVDB_OK) return s;
  if (assumed_version < 0) return negative(err, "append_event", "assumed_version", assumed_version);
  if (evdb_status s = check_event_size(event, err, "append_event", "event"); s != EVDB_OK) return s;
  // The driver gets the library's layout: fields the caller's struct lacks
  // stay zero, fields past what the library knows are ignored, a NULL
  // revision becomes "". The caller's event is passed as it is when it
  // already is all that (the common case: no copy).
  const evdb_event* e = event;
  evdb_event copy;
  if (event->struct_size != sizeof(evdb_event) || event->revision_vcs == nullptr) {
    copy = EVDB_EVENT_INIT;
    std::memcpy(static_cast<void*>(&copy), event,
                std::min<size_t>(event->struct_size, sizeof(evdb_event)));
    copy.struct_size = sizeof(evdb_event);
    e = &copy;
  }
  if (std::string why = evdb::loader::check_event(*e); !why.empty()) return invalid_event(err, why);
  if (e->revision_vcs == nullptr) copy.revision_vcs = "";  // e is &copy (checked: length 0)
  int64_t nv = 0;
  evdb_status s = tx->table->append_event(tx->handle, ctx, assumed_version, e, &nv, err);
  if (s == EVDB_OK && new_version != nullptr) *new_version = nv;
  return s;
}

evdb_status evdb_init_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t* out,
                                         evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "init_projection_version", "tx");
  if (evdb_status s = check_writable(tx, err, "init_projection_version"); s != EVDB_OK) return s;
  int64_t v = 0;
  evdb_status s = tx->table->init_projection_version(tx->handle, ctx, id, &v, err);
  if (s == EVDB_OK && out != nullptr) *out = v;
  return s;
}

evdb_status evdb_set_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t version,
                                        evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "set_projection_version", "tx");
  if (evdb_status s = check_writable(tx, err, "set_projection_version"); s != EVDB_OK) return s;
  if (version < 0) return negative(err, "set_projection_version", "version", version);
  return tx->table->set_projection_version(tx->handle, ctx, id, version, err);
}

}  // extern "C"
