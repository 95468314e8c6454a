/* test_driver.c — a tiny driver in plain C used only by the loader tests.
 *
 * Compiled several times with different macros to get drivers that are good,
 * broken in one precise way, older or newer than the host:
 *   TD_SCHEME        scheme it serves (string), TD_ALIAS an optional second one
 *   TD_NAME          driver name (string), TD_VERSION version text
 *   TD_ENTRY         name of the entry function (default evdb_driver_entry)
 *   TD_ABI           abi_version it claims (default EVDB_DRIVER_ABI_VERSION)
 *   TD_TABLE_SIZE    size it claims (default: its whole table)
 *   TD_NULL_TABLE    entry returns NULL
 *   TD_NO_OPEN       table lacks open
 *   TD_LONGER        table has fields after the ones this host knows
 *   TD_CLAIM_LISTENER claims EVDB_CAP_LISTENER without a listen entry
 *   TD_FRESH_TABLE   entry returns a new table on every call
 *   TD_NEXT          built "from newer headers" (api/abi/next/evdb_next.h):
 *                    uses the host service now_us and writes the event field
 *                    causation_id only when the host's structs have them,
 *                    and answers read_projection_version(1313) with the
 *                    newer status EVDB_NEXT_STATUS
 * Its store: one process-wide log guarded by a mutex; a read-write
 * transaction buffers its appends and applies them at commit when the head is
 * still what it assumed. It has no listener (the host polls). */
#include <evdb/driver.h>

#ifdef TD_NEXT
#include "evdb_next.h"
#endif

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifndef TD_ENTRY
#define TD_ENTRY evdb_driver_entry
#endif
#ifndef TD_ABI
#define TD_ABI EVDB_DRIVER_ABI_VERSION
#endif
#ifndef TD_VERSION
#define TD_VERSION "1.0-test"
#endif

typedef struct td_event {
  int64_t time_us;
  char *type, *payload, *rev;
} td_event;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static td_event* g_log;
static int64_t g_head, g_cap;
static long g_append_calls;
static int g_fail_begin;
static const evdb_host_api* g_host;

#ifdef TD_NEXT
static int g_host_has_now;
/* Whether the host given at entry had the newer service now_us. */
EVDB_API int td_next_host_has_now(void) {
  return g_host_has_now;
}
#endif

/* Number of append_event calls the driver saw (tests check validation). */
EVDB_API long td_append_calls(void) {
  long n;
  pthread_mutex_lock(&g_mu);
  n = g_append_calls;
  pthread_mutex_unlock(&g_mu);
  return n;
}

/* While `fail` is non-zero, begin fails with EVDB_CONNECTION (tests of a
 * failing driver begin). */
EVDB_API void td_fail_begin(int fail) {
  pthread_mutex_lock(&g_mu);
  g_fail_begin = fail;
  pthread_mutex_unlock(&g_mu);
}

typedef struct td_tx {
  int read_only;
  int64_t base;      /* head at begin */
  int64_t assumed;   /* head assumed by the first append, -1 none */
  td_event* pending; /* appended, not committed */
  int64_t n_pending, cap_pending;
} td_tx;

static void free_msg(evdb_error* e) {
  free(e->message);
  e->message = NULL;
  e->release = NULL;
}

static evdb_status fail(evdb_error* err, evdb_status code, const char* msg) {
  size_t n = strlen(msg);
  if (err == NULL) return code;
  if (err->release) err->release(err);
  err->code = code;
  err->message = malloc(n + 1);
  err->release = free_msg;
  if (err->message) memcpy(err->message, msg, n + 1);
  return code;
}

static char* dup_n(const char* s, size_t n) {
  char* d = malloc(n + 1);
  if (n) memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void free_event(td_event* e) {
  free(e->type);
  free(e->payload);
  free(e->rev);
}

static evdb_status td_open(const evdb_uri* uri, evdb_ctx* ctx, evdb_driver_db** out,
                           evdb_error* err) {
  (void)ctx;
  if (uri->param_count > 0)
    return fail(err, EVDB_INVALID_ARGUMENT, TD_NAME ": open: unknown URI parameter");
  *out = (evdb_driver_db*)malloc(1);
  return EVDB_OK;
}
static void td_close(evdb_driver_db* db) {
  free(db);
}
static uint64_t td_caps(evdb_driver_db* db) {
  (void)db;
  return EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD;
}

static evdb_status td_begin(evdb_driver_db* db, evdb_ctx* ctx, evdb_tx_kind kind,
                            evdb_driver_tx** out, evdb_error* err) {
  td_tx* tx;
  int fail_now;
  (void)db;
  (void)ctx;
  pthread_mutex_lock(&g_mu);
  fail_now = g_fail_begin;
  pthread_mutex_unlock(&g_mu);
  if (fail_now) return fail(err, EVDB_CONNECTION, "begin refused (td_fail_begin)");
  tx = calloc(1, sizeof *tx);
  tx->read_only = kind == EVDB_TX_READ_ONLY;
  tx->assumed = -1;
  pthread_mutex_lock(&g_mu);
  tx->base = g_head;
  pthread_mutex_unlock(&g_mu);
  *out = (evdb_driver_tx*)tx;
  return EVDB_OK;
}

static void td_free_tx(td_tx* tx) {
  int64_t i;
  for (i = 0; i < tx->n_pending; ++i) free_event(&tx->pending[i]);
  free(tx->pending);
  free(tx);
}

static evdb_status td_commit(evdb_driver_tx* t, evdb_ctx* ctx, evdb_error* err) {
  td_tx* tx = (td_tx*)t;
  evdb_status s = EVDB_OK;
  (void)ctx;
  pthread_mutex_lock(&g_mu);
  if (tx->n_pending > 0) {
    if (g_head != tx->assumed) {
      s = fail(err, EVDB_VERSION_MISMATCH, TD_NAME ": commit: head moved");
    } else {
      if (g_head + tx->n_pending > g_cap) {
        g_cap = (g_head + tx->n_pending) * 2;
        g_log = realloc(g_log, (size_t)g_cap * sizeof *g_log);
      }
      memcpy(g_log + g_head, tx->pending, (size_t)tx->n_pending * sizeof *g_log);
      g_head += tx->n_pending;
      tx->n_pending = 0;
    }
  }
  pthread_mutex_unlock(&g_mu);
  td_free_tx(tx);
  return s;
}
static void td_rollback(evdb_driver_tx* t) {
  td_free_tx((td_tx*)t);
}

static int64_t td_view_head(td_tx* tx) {
  return tx->base + tx->n_pending;
}

static int td_get(td_tx* tx, int64_t v, evdb_event* out) {
  td_event* e;
  if (v < 1 || v > td_view_head(tx)) return 0;
  pthread_mutex_lock(&g_mu);
  e = v > tx->base ? &tx->pending[v - tx->base - 1] : &g_log[v - 1];
  out->version = v;
  out->time_us = e->time_us;
  out->type_name = e->type;
  out->type_name_len = strlen(e->type);
  out->payload = e->payload;
  out->payload_len = strlen(e->payload);
  out->revision_vcs = e->rev;
  out->revision_vcs_len = strlen(e->rev);
#ifdef TD_NEXT
  /* A field added after 1.0: written only when the host's event has it. */
  if (EVDB_STRUCT_HAS((evdb_event_next*)out, evdb_event_next, causation_id)) {
    ((evdb_event_next*)out)->causation_id = "cause";
    ((evdb_event_next*)out)->causation_id_len = 5;
  }
#endif
  pthread_mutex_unlock(&g_mu);
  return 1;
}

static evdb_status td_sysver(evdb_driver_tx* t, evdb_ctx* c, int64_t* out, evdb_error* err) {
  (void)c;
  (void)err;
  *out = td_view_head((td_tx*)t);
  return EVDB_OK;
}
static evdb_status td_at(evdb_driver_tx* t, evdb_ctx* c, int64_t v, evdb_event* out,
                         evdb_error* err) {
  (void)c;
  return td_get((td_tx*)t, v, out) ? EVDB_OK : fail(err, EVDB_NOT_FOUND, TD_NAME ": no such event");
}
static evdb_status td_after(evdb_driver_tx* t, evdb_ctx* c, int64_t v, evdb_event* out,
                            evdb_error* err) {
  (void)c;
  return td_get((td_tx*)t, v + 1, out) ? EVDB_OK
                                       : fail(err, EVDB_NOT_FOUND, TD_NAME ": no event after");
}
static evdb_status td_events(evdb_driver_tx* t, evdb_ctx* c, int64_t at, int reverse,
                             evdb_event* buf, size_t n, size_t* n_out, evdb_error* err) {
  td_tx* tx = (td_tx*)t;
  int64_t head = td_view_head(tx), v;
  size_t k = 0;
  (void)c;
  (void)err;
  if (reverse) {
    for (v = at > head ? head : at; v >= 1 && k < n; --v) td_get(tx, v, EVDB_EVENT_AT(buf, k++));
  } else {
    for (v = at < 1 ? 1 : at; v <= head && k < n; ++v) td_get(tx, v, EVDB_EVENT_AT(buf, k++));
  }
  *n_out = k;
  return EVDB_OK;
}
static evdb_status td_proj(evdb_driver_tx* t, evdb_ctx* c, int32_t id, int64_t* out,
                           evdb_error* err) {
  (void)t;
  (void)c;
  (void)id;
  (void)out;
#ifdef TD_NEXT
  if (id == 1313) return fail(err, EVDB_NEXT_STATUS, TD_NAME ": a status newer than the host");
#endif
  return fail(err, EVDB_NOT_FOUND, TD_NAME ": no projections here");
}
static evdb_status td_append(evdb_driver_tx* t, evdb_ctx* c, int64_t assumed, const evdb_event* e,
                             int64_t* nv, evdb_error* err) {
  td_tx* tx = (td_tx*)t;
  td_event* p;
  (void)c;
  pthread_mutex_lock(&g_mu);
  ++g_append_calls;
  pthread_mutex_unlock(&g_mu);
  if (assumed != td_view_head(tx))
    return fail(err, EVDB_VERSION_MISMATCH, TD_NAME ": version mismatch");
  if (tx->assumed < 0) tx->assumed = assumed;
  if (tx->n_pending == tx->cap_pending) {
    tx->cap_pending = tx->cap_pending ? tx->cap_pending * 2 : 8;
    tx->pending = realloc(tx->pending, (size_t)tx->cap_pending * sizeof *tx->pending);
  }
  p = &tx->pending[tx->n_pending++];
  p->time_us = e->time_us;
  p->type = dup_n(e->type_name, e->type_name_len);
  p->payload = dup_n(e->payload, e->payload_len);
  p->rev = dup_n(e->revision_vcs, e->revision_vcs_len);
  *nv = assumed + 1;
  return EVDB_OK;
}
static evdb_status td_init(evdb_driver_tx* t, evdb_ctx* c, int32_t id, int64_t* out,
                           evdb_error* err) {
  (void)t;
  (void)c;
  (void)id;
  (void)out;
  return fail(err, EVDB_UNSUPPORTED, TD_NAME ": no projections here");
}
static evdb_status td_set(evdb_driver_tx* t, evdb_ctx* c, int32_t id, int64_t v, evdb_error* err) {
  (void)t;
  (void)c;
  (void)id;
  (void)v;
  return fail(err, EVDB_UNSUPPORTED, TD_NAME ": no projections here");
}

static evdb_status td_ping(evdb_driver_db* db, evdb_ctx* c, evdb_error* err) {
  (void)db;
  (void)c;
  (void)err;
  return EVDB_OK;
}

static const char* const td_schemes[] = {TD_SCHEME,
#ifdef TD_ALIAS
                                         TD_ALIAS,
#endif
                                         NULL};

/* A table from a newer ABI: the known fields, then ones this host ignores. */
typedef struct td_table {
  evdb_driver known;
#ifdef TD_LONGER
  evdb_status (*future_entry)(void);
  uint64_t future_flags;
#endif
} td_table;

static evdb_status td_future(void) {
  return EVDB_OK;
}

static td_table g_table;

EVDB_API const evdb_driver* TD_ENTRY(uint32_t host_abi, const evdb_host_api* host) {
  evdb_driver* t = &g_table.known;
  (void)host_abi;
  (void)td_future;
  g_host = host;
#ifdef TD_NEXT
  /* A host service added after 1.0: used only when the host has it. */
  g_host_has_now =
      host != NULL && EVDB_STRUCT_HAS((const evdb_host_api_next*)host, evdb_host_api_next, now_us);
#endif
#ifdef TD_NULL_TABLE
  return NULL;
#endif
  t->struct_size = sizeof g_table;
#ifdef TD_TABLE_SIZE
  t->struct_size = TD_TABLE_SIZE;
#endif
  t->abi_version = TD_ABI;
  t->name = TD_NAME;
  t->version = TD_VERSION;
  t->schemes = td_schemes;
  t->capabilities = EVDB_CAP_GAPLESS | EVDB_CAP_BYTE_EXACT_PAYLOAD;
#ifdef TD_CLAIM_LISTENER
  t->capabilities |= EVDB_CAP_LISTENER;
#endif
  t->open = td_open;
#ifdef TD_NO_OPEN
  t->open = NULL;
#endif
  t->close = td_close;
  t->db_capabilities = td_caps;
  t->begin = td_begin;
  t->commit = td_commit;
  t->rollback = td_rollback;
  t->read_system_version = td_sysver;
  t->read_event_at = td_at;
  t->read_event_after = td_after;
  t->read_events = td_events;
  t->read_projection_version = td_proj;
  t->append_event = td_append;
  t->init_projection_version = td_init;
  t->set_projection_version = td_set;
  t->listen = NULL;
  t->ping = td_ping;
#ifdef TD_LONGER
  g_table.future_entry = td_future;
  g_table.future_flags = ~(uint64_t)0;
#endif
#ifdef TD_FRESH_TABLE
  {
    /* Two calls in a row return two different tables (static copies, so
     * nothing leaks). */
    static td_table copies[2];
    static int next;
    td_table* fresh = &copies[next];
    next = 1 - next;
    *fresh = g_table;
    return &fresh->known;
  }
#endif
  return t;
}
