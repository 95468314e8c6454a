// api.cpp — the application C API (evdb.h): open/close, transactions, reads,
// writes. Checks every argument, then dispatches to the driver's table.
#include <evdb/driver.h>

#include <new>
#include <string>

#include "context.hpp"
#include "errors.hpp"
#include "handles.hpp"
#include "registry.hpp"
#include "uri.hpp"
#include "validate.hpp"

using evdb::loader::Driver;
using evdb::loader::fail;

namespace {

evdb_status null_arg(evdb_error* err, const char* op, const char* what) {
  return fail(err, EVDB_INVALID_ARGUMENT, std::string(op) + ": " + what + " is NULL");
}

evdb_status negative(evdb_error* err, const char* op, const char* what, int64_t v) {
  return fail(
      err, EVDB_INVALID_ARGUMENT,
      std::string(op) + ": " + what + " must not be negative (got " + std::to_string(v) + ")");
}

// Fails a write on a read-only transaction.
evdb_status check_writable(evdb_tx* tx, evdb_error* err, const char* op) {
  if (tx->kind != EVDB_TX_READ_WRITE)
    return fail(err, EVDB_READ_ONLY,
                std::string(op) + ": the transaction is read-only; use a read-write transaction");
  return EVDB_OK;
}

evdb_status check_ctx(evdb_ctx* ctx, evdb_error* err, const char* op) {
  if (ctx == nullptr) return EVDB_OK;
  evdb_status s = evdb_ctx_status(ctx);
  if (s != EVDB_OK)
    return fail(err, s,
                std::string(op) + ": " +
                    (s == EVDB_CANCELED ? "the context was cancelled" : "the deadline passed"));
  return EVDB_OK;
}

evdb_status run_tx(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx_fn fn, void* user,
                   evdb_error* err, const char* op) {
  if (fn == nullptr) return null_arg(err, op, "fn");
  evdb_tx* tx = nullptr;
  evdb_status s = evdb_begin(db, ctx, kind, &tx, err);
  if (s != EVDB_OK) return s;
  s = fn(tx, user, err);
  if (s != EVDB_OK) {
    evdb_rollback(tx);
    return s;
  }
  return evdb_commit(tx, ctx, err);
}

// evdb_tx wrappers are small and made once per transaction: a few freed ones
// are kept per thread so that a short transaction costs no allocation.
class TxCache {
 public:
  ~TxCache() {
    for (int i = 0; i < n_; ++i) delete items_[i];
  }
  evdb_tx* make(evdb_db* db, evdb_tx_kind kind) {
    evdb_tx* tx = n_ > 0 ? items_[--n_] : new (std::nothrow) evdb_tx;
    if (tx != nullptr) *tx = evdb_tx{db, nullptr, kind};
    return tx;
  }
  void drop(evdb_tx* tx) {
    if (n_ < kMax)
      items_[n_++] = tx;
    else
      delete tx;
  }

 private:
  static constexpr int kMax = 16;
  evdb_tx* items_[kMax] = {};
  int n_ = 0;
};

// initial-exec: one instruction to reach it instead of a __tls_get_addr call
// per transaction (libevdb is a normal dependency, not dlopen'ed late).
thread_local TxCache tx_cache __attribute__((tls_model("initial-exec")));

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
  auto* db = new (std::nothrow) evdb_db{d, h, 0};
  if (db == nullptr) {
    d->table.close(h);
    return fail(err, EVDB_INTERNAL, "open: out of memory");
  }
  db->capabilities = d->table.db_capabilities ? d->table.db_capabilities(h) : d->table.capabilities;
  *out = db;
  return EVDB_OK;
}

void evdb_close(evdb_db* db) {
  if (db == nullptr) return;
  db->driver->table.close(db->handle);
  delete db;
}

uint64_t evdb_db_capabilities(const evdb_db* db) {
  return db ? db->capabilities : 0;
}

evdb_status evdb_ping(evdb_db* db, evdb_ctx* ctx, evdb_error* err) {
  if (db == nullptr) return null_arg(err, "ping", "db");
  if (evdb_status s = check_ctx(ctx, err, "ping"); s != EVDB_OK) return s;
  const evdb_driver& t = db->driver->table;
  if (!EVDB_DRIVER_HAS(&t, ping) || t.ping == nullptr)
    return fail(err, EVDB_UNSUPPORTED,
                std::string("ping: driver ") + t.name + " (table of " + std::to_string(t.size) +
                    " bytes) has no ping entry");
  return t.ping(db->handle, ctx, err);
}

const char* evdb_db_driver_name(const evdb_db* db) {
  return db ? db->driver->table.name : "";
}

evdb_status evdb_begin(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
                       evdb_error* err) {
  if (out == nullptr) return null_arg(err, "begin", "out");
  *out = nullptr;
  if (db == nullptr) return null_arg(err, "begin", "db");
  if (kind != EVDB_TX_READ_ONLY && kind != EVDB_TX_READ_WRITE)
    return fail(err, EVDB_INVALID_ARGUMENT,
                "begin: unknown transaction kind " + std::to_string(kind));
  if (evdb_status s = check_ctx(ctx, err, "begin"); s != EVDB_OK) return s;
  evdb_tx* tx = tx_cache.make(db, kind);
  if (tx == nullptr) return fail(err, EVDB_INTERNAL, "begin: out of memory");
  evdb_status s =
      db->driver->table.begin(db->handle, ctx, kind == EVDB_TX_READ_ONLY ? 1 : 0, &tx->handle, err);
  if (s != EVDB_OK) {
    tx_cache.drop(tx);
    return s;
  }
  *out = tx;
  return EVDB_OK;
}

evdb_status evdb_commit(evdb_tx* tx, evdb_ctx* ctx, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "commit", "tx");
  const evdb_driver& t = tx->db->driver->table;
  evdb_status s = check_ctx(ctx, err, "commit");
  if (s != EVDB_OK) {
    t.rollback(tx->handle);  // nothing applied
  } else {
    s = t.commit(tx->handle, ctx, err);
  }
  tx_cache.drop(tx);
  return s;
}

void evdb_rollback(evdb_tx* tx) {
  if (tx == nullptr) return;
  tx->db->driver->table.rollback(tx->handle);
  tx_cache.drop(tx);
}

evdb_tx_kind evdb_tx_get_kind(const evdb_tx* tx) {
  return tx ? tx->kind : EVDB_TX_READ_ONLY;
}

evdb_status evdb_tx_read_only(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user,
                              evdb_error* err) {
  return run_tx(db, ctx, EVDB_TX_READ_ONLY, fn, user, err, "tx_read_only");
}

evdb_status evdb_tx_rw(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user, evdb_error* err) {
  return run_tx(db, ctx, EVDB_TX_READ_WRITE, fn, user, err, "tx_rw");
}

evdb_status evdb_read_system_version(evdb_tx* tx, evdb_ctx* ctx, int64_t* out, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_system_version", "tx");
  if (out == nullptr) return null_arg(err, "read_system_version", "out");
  return tx->db->driver->table.read_system_version(tx->handle, ctx, out, err);
}

evdb_status evdb_read_event_at(evdb_tx* tx, evdb_ctx* ctx, int64_t version, evdb_event* out,
                               evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_event_at", "tx");
  if (out == nullptr) return null_arg(err, "read_event_at", "out");
  if (version < 0) return negative(err, "read_event_at", "version", version);
  if (version == 0)
    return fail(err, EVDB_NOT_FOUND, "read_event_at: there is no event at version 0");
  return tx->db->driver->table.read_event_at(tx->handle, ctx, version, out, err);
}

evdb_status evdb_read_event_after(evdb_tx* tx, evdb_ctx* ctx, int64_t version, evdb_event* out,
                                  evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_event_after", "tx");
  if (out == nullptr) return null_arg(err, "read_event_after", "out");
  if (version < 0) return negative(err, "read_event_after", "version", version);
  return tx->db->driver->table.read_event_after(tx->handle, ctx, version, out, err);
}

evdb_status evdb_read_events(evdb_tx* tx, evdb_ctx* ctx, int64_t at, int reverse, evdb_event* buf,
                             size_t n, size_t* n_out, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_events", "tx");
  if (n_out == nullptr) return null_arg(err, "read_events", "n_out");
  *n_out = 0;
  if (at < 0) return negative(err, "read_events", "at", at);
  if (n == 0) return EVDB_OK;
  if (buf == nullptr) return null_arg(err, "read_events", "buf (with n > 0)");
  return tx->db->driver->table.read_events(tx->handle, ctx, at, reverse, buf, n, n_out, err);
}

evdb_status evdb_read_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t* out,
                                         evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "read_projection_version", "tx");
  if (out == nullptr) return null_arg(err, "read_projection_version", "out");
  return tx->db->driver->table.read_projection_version(tx->handle, ctx, id, out, err);
}

evdb_status evdb_append_event(evdb_tx* tx, evdb_ctx* ctx, int64_t assumed_version,
                              const evdb_event* event, int64_t* new_version, evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "append_event", "tx");
  if (event == nullptr) return null_arg(err, "append_event", "event");
  if (evdb_status s = check_writable(tx, err, "append_event"); s != EVDB_OK) return s;
  if (assumed_version < 0) return negative(err, "append_event", "assumed_version", assumed_version);
  if (std::string why = evdb::loader::check_event(*event); !why.empty())
    return fail(err, EVDB_INVALID_ARGUMENT, "append_event: " + why);
  int64_t nv = 0;
  evdb_event copy = *event;
  if (copy.revision_vcs == nullptr) copy.revision_vcs = "";
  evdb_status s =
      tx->db->driver->table.append_event(tx->handle, ctx, assumed_version, &copy, &nv, err);
  if (s == EVDB_OK && new_version != nullptr) *new_version = nv;
  return s;
}

evdb_status evdb_init_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t* out,
                                         evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "init_projection_version", "tx");
  if (evdb_status s = check_writable(tx, err, "init_projection_version"); s != EVDB_OK) return s;
  int64_t v = 0;
  evdb_status s = tx->db->driver->table.init_projection_version(tx->handle, ctx, id, &v, err);
  if (s == EVDB_OK && out != nullptr) *out = v;
  return s;
}

evdb_status evdb_set_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id, int64_t version,
                                        evdb_error* err) {
  if (tx == nullptr) return null_arg(err, "set_projection_version", "tx");
  if (evdb_status s = check_writable(tx, err, "set_projection_version"); s != EVDB_OK) return s;
  if (version < 0) return negative(err, "set_projection_version", "version", version);
  return tx->db->driver->table.set_projection_version(tx->handle, ctx, id, version, err);
}

}  // extern "C"
