/*
 * clog_driver.c — "clog", an evdb driver written in plain C11: the entry
 * point, the function table, store handles and transactions.
 *
 * URI:  clog:/path/to/store.clog  or  clog:///path/to/store.clog
 *       (clog:relative/path.clog is relative to the current directory)
 * Parameters: sync=full (default: fdatasync before a commit returns)
 *             sync=off  (no fdatasync: commits survive a crash of the
 *                        process but not of the machine)
 *
 * Capabilities: GAPLESS, BYTE_EXACT_PAYLOAD, DURABLE, CROSS_PROCESS. No
 * LISTENER: evdb_listen polls this driver through the host.
 *
 * The walk-through in docs/driver-guide.md explains every part of this file.
 */
#define _DEFAULT_SOURCE /* clock_gettime */

#include <evdb/driver.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clog_store.h"

#define CLOG_VERSION "1.0.0"
#define CLOG_CAPS \
  (EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD | EVDB_CAP_DURABLE | EVDB_CAP_CROSS_PROCESS)

/* A store handle (evdb_driver_db). */
typedef struct clog_db {
  clog_store* store;
  int sync;
} clog_db;

/* A transaction (evdb_driver_tx). It works on a snapshot taken at begin: the
 * head, the file offset naming that state, and a copy of the projections;
 * a read-write one adds its own appends (pending) and projection writes
 * (entries marked touched) on top, and publishes them at commit if nothing
 * was committed since its snapshot. */
typedef struct clog_tx {
  clog_db* db;
  int read_only;
  int64_t base_head;
  uint64_t base_end;
  clog_projs projs;
  int wrote_projection;
  clog_rec* pending;
  int64_t n_pending;
  int64_t cap_pending;
} clog_tx;

/* ---------------------------------------------------------------------------
 * Store handles
 * ------------------------------------------------------------------------- */

static evdb_status clog_open(const evdb_uri* uri, evdb_ctx* ctx, evdb_driver_db** out,
                             evdb_error* err) {
  int sync = 1;
  clog_db* db;
  clog_store* store;
  evdb_status r = clog_check_ctx(ctx, "open", err);
  if (r != EVDB_OK) return r;
  if (uri->has_authority && (uri->host[0] || uri->user[0] || uri->port != 0))
    return clog_fail(err, EVDB_INVALID_ARGUMENT,
                     CLOG_NAME
                     ": open: %s: a clog URI names a local file and has no host, "
                     "user or port (use clog:/path/to/store.clog)",
                     uri->redacted);
  if (uri->path[0] == '\0')
    return clog_fail(err, EVDB_INVALID_ARGUMENT,
                     CLOG_NAME ": open: %s names no file (use clog:/path/to/store.clog)",
                     uri->redacted);
  for (size_t i = 0; i < uri->param_count; ++i) {
    const evdb_uri_param* p = &uri->params[i];
    if (strcmp(p->key, "sync") == 0) {
      if (strcmp(p->value, "full") == 0) {
        sync = 1;
      } else if (strcmp(p->value, "off") == 0) {
        sync = 0;
      } else {
        return clog_fail(err, EVDB_INVALID_ARGUMENT,
                         CLOG_NAME ": open: sync=%s in %s: expected sync=full or sync=off",
                         p->value, uri->redacted);
      }
    } else {
      return clog_fail(err, EVDB_INVALID_ARGUMENT,
                       CLOG_NAME ": open: unknown URI parameter '%s' in %s (known: sync)", p->key,
                       uri->redacted);
    }
  }
  db = calloc(1, sizeof *db);
  if (db == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": open: out of memory");
  r = clog_store_acquire(uri->path, ctx, &store, err);
  if (r != EVDB_OK) {
    free(db);
    return r;
  }
  db->store = store;
  db->sync = sync;
  *out = (evdb_driver_db*)db;
  return EVDB_OK;
}

static void clog_close(evdb_driver_db* d) {
  clog_db* db = (clog_db*)d;
  if (db == NULL) return;
  clog_store_release(db->store);
  free(db);
}

static uint64_t clog_db_capabilities(evdb_driver_db* d) {
  (void)d;
  return CLOG_CAPS;
}

static evdb_status clog_ping(evdb_driver_db* d, evdb_ctx* ctx, evdb_error* err) {
  evdb_status r = clog_check_ctx(ctx, "ping", err);
  if (r != EVDB_OK) return r;
  return clog_store_ping(((clog_db*)d)->store, ctx, err);
}

/* ---------------------------------------------------------------------------
 * Transactions
 * ------------------------------------------------------------------------- */

static void tx_free(clog_tx* tx) {
  for (int64_t i = 0; i < tx->n_pending; ++i) free(tx->pending[i].text);
  free(tx->pending);
  clog_projs_free(&tx->projs);
  free(tx);
}

static evdb_status clog_begin(evdb_driver_db* d, evdb_ctx* ctx, evdb_tx_kind kind,
                              evdb_driver_tx** out, evdb_error* err) {
  clog_db* db = (clog_db*)d;
  const int read_only = kind == EVDB_TX_READ_ONLY;
  const char* op = read_only ? "begin read-only" : "begin read-write";
  clog_tx* tx;
  evdb_status r = clog_check_ctx(ctx, op, err);
  if (r != EVDB_OK) return r;
  r = clog_store_refresh(db->store, ctx, op, err); /* see other processes' commits */
  if (r != EVDB_OK) return r;
  tx = calloc(1, sizeof *tx);
  if (tx == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
  tx->db = db;
  tx->read_only = read_only;
  r = clog_store_snapshot(db->store, &tx->base_head, &tx->base_end, &tx->projs, err);
  if (r != EVDB_OK) {
    tx_free(tx);
    return r;
  }
  *out = (evdb_driver_tx*)tx;
  return EVDB_OK;
}

static evdb_status clog_commit(evdb_driver_tx* t, evdb_ctx* ctx, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  evdb_status r = clog_check_ctx(ctx, "commit", err);
  if (r == EVDB_OK && !tx->read_only && (tx->n_pending > 0 || tx->wrote_projection)) {
    r = clog_store_commit(tx->db->store, ctx, tx->base_head, tx->base_end, tx->pending,
                          tx->n_pending, &tx->projs, tx->db->sync, err);
    if (r == EVDB_OK) tx->n_pending = 0; /* their texts belong to the store now */
  }
  tx_free(tx);
  return r;
}

static void clog_rollback(evdb_driver_tx* t) {
  tx_free((clog_tx*)t);
}

/* ---------------------------------------------------------------------------
 * Reads
 * ------------------------------------------------------------------------- */

static int64_t view_head(const clog_tx* tx) {
  return tx->base_head + tx->n_pending;
}

/* Event v (1 <= v <= view_head) as this transaction sees it. Committed
 * events' strings live as long as the store; pending ones as long as tx:
 * both outlive "the next call on this transaction", as the ABI asks. */
static void tx_get(clog_tx* tx, int64_t v, evdb_event* out) {
  if (v <= tx->base_head)
    clog_store_get(tx->db->store, v, out);
  else
    clog_rec_to_event(&tx->pending[v - tx->base_head - 1], v, out);
}

static evdb_status clog_read_system_version(evdb_driver_tx* t, evdb_ctx* ctx, int64_t* out,
                                            evdb_error* err) {
  (void)ctx;
  (void)err;
  *out = view_head((clog_tx*)t);
  return EVDB_OK;
}

static evdb_status clog_read_event_at(evdb_driver_tx* t, evdb_ctx* ctx, int64_t version,
                                      evdb_event* out, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  (void)ctx;
  if (version < 1 || version > view_head(tx))
    return clog_fail(err, EVDB_NOT_FOUND,
                     CLOG_NAME ": read_event_at: no event at version %lld (the head is %lld)",
                     (long long)version, (long long)view_head(tx));
  tx_get(tx, version, out);
  return EVDB_OK;
}

static evdb_status clog_read_event_after(evdb_driver_tx* t, evdb_ctx* ctx, int64_t version,
                                         evdb_event* out, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  (void)ctx;
  if (version >= view_head(tx)) /* also keeps version + 1 from overflowing */
    return clog_fail(err, EVDB_NOT_FOUND,
                     CLOG_NAME ": read_event_after: no event after version %lld (the head is %lld)",
                     (long long)version, (long long)view_head(tx));
  tx_get(tx, version < 0 ? 1 : version + 1, out);
  return EVDB_OK;
}

static evdb_status clog_read_events(evdb_driver_tx* t, evdb_ctx* ctx, int64_t at, int reverse,
                                    evdb_event* buf, size_t n, size_t* n_out, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  int64_t head = view_head(tx), v;
  size_t k = 0;
  (void)ctx;
  (void)err;
  /* buf's elements are the host's evdb_event, buf->struct_size bytes apart
   * (maybe more than this driver's sizeof): step with EVDB_EVENT_AT. Only 1.0
   * fields are written, which every valid event has. */
  if (reverse) {
    for (v = at > head ? head : at; v >= 1 && k < n; --v) tx_get(tx, v, EVDB_EVENT_AT(buf, k++));
  } else {
    for (v = at < 1 ? 1 : at; v <= head && k < n; ++v) tx_get(tx, v, EVDB_EVENT_AT(buf, k++));
  }
  *n_out = k;
  return EVDB_OK;
}

static evdb_status clog_read_projection_version(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id,
                                                int64_t* out, evdb_error* err) {
  clog_proj* p = clog_projs_find(&((clog_tx*)t)->projs, id);
  (void)ctx;
  if (p == NULL)
    return clog_fail(err, EVDB_NOT_FOUND,
                     CLOG_NAME ": read_projection_version: projection %d was never initialised",
                     (int)id);
  *out = p->version;
  return EVDB_OK;
}

/* ---------------------------------------------------------------------------
 * Writes
 * ------------------------------------------------------------------------- */

static evdb_status refuse_read_only(clog_tx* tx, const char* op, evdb_error* err) {
  if (!tx->read_only) return EVDB_OK;
  /* The host never calls a write on a read-only transaction; be safe anyway. */
  return clog_fail(err, EVDB_READ_ONLY, CLOG_NAME ": %s: the transaction is read-only", op);
}

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static evdb_status clog_append_event(evdb_driver_tx* t, evdb_ctx* ctx, int64_t assumed,
                                     const evdb_event* e, int64_t* new_version, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  const char* op = "append_event";
  evdb_status r = refuse_read_only(tx, op, err);
  (void)ctx;
  if (r != EVDB_OK) return r;
  if (assumed != view_head(tx))
    return clog_fail(err, EVDB_VERSION_MISMATCH,
                     CLOG_NAME ": %s: assumed version %lld but the head is %lld; nothing appended",
                     op, (long long)assumed, (long long)view_head(tx));
  if (e->type_name_len > UINT32_MAX || e->payload_len > UINT32_MAX ||
      e->revision_vcs_len > UINT32_MAX)
    return clog_fail(err, EVDB_INVALID_ARGUMENT,
                     CLOG_NAME ": %s: a type name, payload or revision longer than 4 GiB", op);
  if (tx->n_pending == tx->cap_pending) {
    int64_t cap = tx->cap_pending ? tx->cap_pending * 2 : 8;
    clog_rec* p = realloc(tx->pending, (size_t)cap * sizeof *p);
    if (p == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
    tx->pending = p;
    tx->cap_pending = cap;
  }
  if (clog_rec_init(&tx->pending[tx->n_pending], e->time_us == 0 ? now_us() : e->time_us,
                    e->type_name, (uint32_t)e->type_name_len, e->payload, (uint32_t)e->payload_len,
                    e->revision_vcs, (uint32_t)e->revision_vcs_len) != 0)
    return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
  ++tx->n_pending;
  *new_version = assumed + 1;
  return EVDB_OK;
}

static evdb_status clog_init_projection_version(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id,
                                                int64_t* out, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  const char* op = "init_projection_version";
  clog_proj* p;
  evdb_status r = refuse_read_only(tx, op, err);
  (void)ctx;
  if (r != EVDB_OK) return r;
  p = clog_projs_find(&tx->projs, id);
  if (p == NULL) {
    p = clog_projs_insert(&tx->projs, id, 0);
    if (p == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
    p->touched = 1;
    tx->wrote_projection = 1;
  }
  *out = p->version;
  return EVDB_OK;
}

static evdb_status clog_set_projection_version(evdb_driver_tx* t, evdb_ctx* ctx, int32_t id,
                                               int64_t version, evdb_error* err) {
  clog_tx* tx = (clog_tx*)t;
  const char* op = "set_projection_version";
  clog_proj* p;
  evdb_status r = refuse_read_only(tx, op, err);
  (void)ctx;
  if (r != EVDB_OK) return r;
  if (version < 0)
    return clog_fail(err, EVDB_INVALID_ARGUMENT, CLOG_NAME ": %s: version %lld is negative", op,
                     (long long)version);
  p = clog_projs_find(&tx->projs, id);
  if (p == NULL)
    return clog_fail(err, EVDB_NOT_FOUND, CLOG_NAME ": %s: projection %d was never initialised", op,
                     (int)id);
  p->version = version;
  p->touched = 1;
  tx->wrote_projection = 1;
  return EVDB_OK;
}

/* ---------------------------------------------------------------------------
 * The table and the entry point
 * ------------------------------------------------------------------------- */

static const char* const clog_schemes[] = {"clog", NULL};

/* Every field this driver knows, by name. `struct_size` tells the host how
 * much of the table exists: a host built from an older driver.h reads only
 * its prefix, a newer host treats the fields past it as absent. */
static const evdb_driver clog_table = {
    .struct_size = sizeof(evdb_driver),
    .abi_version = EVDB_DRIVER_ABI_VERSION,
    .name = CLOG_NAME,
    .version = CLOG_VERSION,
    .schemes = clog_schemes,
    .capabilities = CLOG_CAPS,
    .open = clog_open,
    .close = clog_close,
    .db_capabilities = clog_db_capabilities,
    .begin = clog_begin,
    .commit = clog_commit,
    .rollback = clog_rollback,
    .read_system_version = clog_read_system_version,
    .read_event_at = clog_read_event_at,
    .read_event_after = clog_read_event_after,
    .read_events = clog_read_events,
    .read_projection_version = clog_read_projection_version,
    .append_event = clog_append_event,
    .init_projection_version = clog_init_projection_version,
    .set_projection_version = clog_set_projection_version,
    .listen = NULL, /* no EVDB_CAP_LISTENER: the host polls */
    .ping = clog_ping,
};

/* The one exported symbol (EVDB_DRIVER_ENTRY_SYMBOL). This driver speaks ABI
 * 1 only; it returns that table whatever the host speaks and lets the host
 * decide (a host of ABI >= 1 reads it; the host refuses what it cannot
 * speak). The host services must contain everything of ABI 1: a host table
 * that stops short of ctx_sleep gets NULL (this driver cannot work). */
EVDB_API const evdb_driver* evdb_driver_entry(uint32_t host_abi_version,
                                              const evdb_host_api* host) {
  (void)host_abi_version;
  if (host != NULL) {
    if (!EVDB_HOST_HAS(host, ctx_sleep)) return NULL;
    clog_set_host(host);
  }
  return &clog_table;
}
