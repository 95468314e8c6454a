/*
 * clog_store.c — the append-only store file of the "clog" example driver:
 * encoding, checksums, locking, catching up with other processes, commits.
 * See clog_store.h for the file format and the locking rules.
 */
#define _DEFAULT_SOURCE /* flock, pread, pwrite, fdatasync, strdup */

#include "clog_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CLOG_FILE_MAGIC "EVDBCLOG"
#define CLOG_FORMAT 1u
#define CLOG_HEADER_SIZE 16u
#define CLOG_BATCH_MAGIC 0x48435442u /* "BTCH" read little-endian */
#define CLOG_BATCH_HEAD 16u
#define CLOG_EVENT_HEAD 20u /* i64 time + 3 x u32 lengths */
#define CLOG_PROJ_SIZE 12u  /* i32 id + i64 version */

/* ---------------------------------------------------------------------------
 * Host, errors, contexts
 * ------------------------------------------------------------------------- */

static _Atomic(const evdb_host_api*) g_host;

const evdb_host_api* clog_host(void) {
  return atomic_load(&g_host);
}

void clog_set_host(const evdb_host_api* host) {
  if (host != NULL) atomic_store(&g_host, host);
}

static void free_message(evdb_error* e) {
  free(e->message);
  e->message = NULL;
  e->release = NULL;
}

evdb_status clog_fail(evdb_error* err, evdb_status code, const char* fmt, ...) {
  va_list ap;
  int n;
  char* msg;
  if (err == NULL) return code;
  if (err->release != NULL) err->release(err);
  err->code = code;
  err->message = NULL;
  err->release = NULL;
  err->private_data = NULL;
  va_start(ap, fmt);
  n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return code;
  msg = malloc((size_t)n + 1);
  if (msg == NULL) return code; /* out of memory: the code still tells */
  va_start(ap, fmt);
  vsnprintf(msg, (size_t)n + 1, fmt, ap);
  va_end(ap);
  err->message = msg;
  err->release = free_message;
  return code;
}

evdb_status clog_check_ctx(evdb_ctx* ctx, const char* op, evdb_error* err) {
  const evdb_host_api* host = clog_host();
  evdb_status s;
  if (ctx == NULL || host == NULL) return EVDB_OK;
  s = host->ctx_status(ctx);
  if (s == EVDB_OK) return EVDB_OK;
  return clog_fail(err, s, CLOG_NAME ": %s: %s", op,
                   s == EVDB_CANCELED ? "the context was cancelled" : "the deadline passed");
}

/* Waits about a millisecond, less when the context ends first. */
static void pause_briefly(evdb_ctx* ctx) {
  const evdb_host_api* host = clog_host();
  struct timespec ts = {0, 1000000};
  if (ctx != NULL && host != NULL) {
    host->ctx_sleep(ctx, 1000);
    return;
  }
  nanosleep(&ts, NULL);
}

/* Locks store->file_mu in 5 ms slices, giving up when the context ends, so a
 * cancelled caller never stays stuck behind another thread's long wait. */
static evdb_status lock_file_mu(clog_store* s, evdb_ctx* ctx, const char* op, evdb_error* err) {
  for (;;) {
    struct timespec until;
    int rc;
    evdb_status st;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 5000000;
    if (until.tv_nsec >= 1000000000) {
      until.tv_sec += 1;
      until.tv_nsec -= 1000000000;
    }
    rc = pthread_mutex_timedlock(&s->file_mu, &until);
    if (rc == 0) return EVDB_OK;
    if (rc != ETIMEDOUT)
      return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: cannot lock the store: %s", op,
                       strerror(rc));
    st = clog_check_ctx(ctx, op, err);
    if (st != EVDB_OK) return st;
  }
}

/* Takes the file lock (LOCK_SH or LOCK_EX) without blocking in the kernel,
 * retrying every millisecond until the context ends. Caller holds file_mu. */
static evdb_status lock_file(clog_store* s, int how, evdb_ctx* ctx, const char* op,
                             evdb_error* err) {
  for (;;) {
    evdb_status st;
    if (flock(s->fd, how | LOCK_NB) == 0) return EVDB_OK;
    if (errno != EWOULDBLOCK && errno != EINTR)
      return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot lock %s: %s", op, s->path,
                       strerror(errno));
    st = clog_check_ctx(ctx, op, err);
    if (st != EVDB_OK) return st;
    pause_briefly(ctx);
  }
}

static void unlock_file(clog_store* s) {
  flock(s->fd, LOCK_UN);
}

/* ---------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------- */

static void put32(unsigned char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
static uint64_t get64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

static uint64_t fnv1a64(const unsigned char* p, size_t n) {
  uint64_t h = UINT64_C(14695981039346656037);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

/* Reads exactly n bytes at off; returns the bytes read (< n at end of file)
 * or -1 on error. */
static ssize_t pread_full(int fd, unsigned char* buf, size_t n, uint64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  return (ssize_t)got;
}

static int pwrite_full(int fd, const unsigned char* buf, size_t n, uint64_t off) {
  size_t put = 0;
  while (put < n) {
    ssize_t w = pwrite(fd, buf + put, n - put, (off_t)(off + put));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    put += (size_t)w;
  }
  return 0;
}

/* ---------------------------------------------------------------------------
 * Records and projections
 * ------------------------------------------------------------------------- */

int clog_rec_init(clog_rec* rec, int64_t time_us, const char* type, uint32_t type_len,
                  const char* payload, uint32_t payload_len, const char* rev, uint32_t rev_len) {
  size_t total = (size_t)type_len + payload_len + rev_len + 3;
  char* t = malloc(total);
  if (t == NULL) return -1;
  memcpy(t, type, type_len);
  t[type_len] = '\0';
  memcpy(t + type_len + 1, payload, payload_len);
  t[type_len + 1 + payload_len] = '\0';
  if (rev_len > 0) memcpy(t + type_len + payload_len + 2, rev, rev_len);
  t[total - 1] = '\0';
  rec->time_us = time_us;
  rec->text = t;
  rec->type_len = type_len;
  rec->payload_len = payload_len;
  rec->rev_len = rev_len;
  return 0;
}

void clog_rec_to_event(const clog_rec* rec, int64_t version, evdb_event* out) {
  out->version = version;
  out->time_us = rec->time_us;
  out->type_name = rec->text;
  out->type_name_len = rec->type_len;
  out->payload = rec->text + rec->type_len + 1;
  out->payload_len = rec->payload_len;
  out->revision_vcs = rec->text + rec->type_len + rec->payload_len + 2;
  out->revision_vcs_len = rec->rev_len;
}

static size_t projs_lower_bound(const clog_projs* p, int32_t id) {
  size_t lo = 0, hi = p->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (p->items[mid].id < id)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

clog_proj* clog_projs_find(const clog_projs* p, int32_t id) {
  size_t i = projs_lower_bound(p, id);
  return (i < p->n && p->items[i].id == id) ? &p->items[i] : NULL;
}

static int projs_reserve(clog_projs* p, size_t more) {
  size_t need = p->n + more, cap;
  clog_proj* items;
  if (need <= p->cap) return 0;
  cap = p->cap ? p->cap * 2 : 8;
  while (cap < need) cap *= 2;
  items = realloc(p->items, cap * sizeof *items);
  if (items == NULL) return -1;
  p->items = items;
  p->cap = cap;
  return 0;
}

clog_proj* clog_projs_insert(clog_projs* p, int32_t id, int64_t version) {
  size_t i;
  if (projs_reserve(p, 1) != 0) return NULL;
  i = projs_lower_bound(p, id);
  memmove(&p->items[i + 1], &p->items[i], (p->n - i) * sizeof *p->items);
  p->items[i].id = id;
  p->items[i].version = version;
  p->items[i].touched = 0;
  ++p->n;
  return &p->items[i];
}

void clog_projs_free(clog_projs* p) {
  free(p->items);
  p->items = NULL;
  p->n = p->cap = 0;
}

/* Sets id to version in the store's table; capacity must have been reserved
 * (projs_reserve), so this cannot fail. */
static void projs_set(clog_projs* p, int32_t id, int64_t version) {
  clog_proj* e = clog_projs_find(p, id);
  if (e == NULL) e = clog_projs_insert(p, id, version);
  e->version = version;
}

/* ---------------------------------------------------------------------------
 * Batches
 * ------------------------------------------------------------------------- */

typedef struct batch {
  clog_rec* recs;
  uint32_t n_recs;
  clog_proj* projs;
  uint32_t n_projs;
} batch;

static void batch_free(batch* b) {
  for (uint32_t i = 0; i < b->n_recs; ++i) free(b->recs[i].text);
  free(b->recs);
  free(b->projs);
  memset(b, 0, sizeof *b);
}

enum { PARSE_OK = 0, PARSE_MALFORMED = -1, PARSE_NO_MEMORY = -2 };

/* Decodes a batch body whose checksum matched. */
static int parse_body(const unsigned char* body, uint32_t len, batch* out) {
  uint32_t pos = 8, n_events, n_projs;
  memset(out, 0, sizeof *out);
  if (len < 8) return PARSE_MALFORMED;
  n_events = get32(body);
  n_projs = get32(body + 4);
  /* Every event takes at least CLOG_EVENT_HEAD bytes: refuse absurd counts
   * before allocating for them. */
  if (n_events > len / CLOG_EVENT_HEAD || n_projs > len / CLOG_PROJ_SIZE) return PARSE_MALFORMED;
  out->recs = calloc(n_events ? n_events : 1, sizeof *out->recs);
  out->projs = calloc(n_projs ? n_projs : 1, sizeof *out->projs);
  if (out->recs == NULL || out->projs == NULL) {
    batch_free(out);
    return PARSE_NO_MEMORY;
  }
  for (uint32_t i = 0; i < n_events; ++i) {
    uint32_t tl, pl, rl;
    uint64_t need;
    const char* t;
    if (len - pos < CLOG_EVENT_HEAD) goto malformed;
    tl = get32(body + pos + 8);
    pl = get32(body + pos + 12);
    rl = get32(body + pos + 16);
    need = (uint64_t)CLOG_EVENT_HEAD + tl + pl + rl;
    if (need > len - pos) goto malformed;
    t = (const char*)body + pos + CLOG_EVENT_HEAD;
    if (clog_rec_init(&out->recs[i], (int64_t)get64(body + pos), t, tl, t + tl, pl, t + tl + pl,
                      rl) != 0) {
      batch_free(out);
      return PARSE_NO_MEMORY;
    }
    out->n_recs = i + 1;
    pos += (uint32_t)need;
  }
  for (uint32_t i = 0; i < n_projs; ++i) {
    if (len - pos < CLOG_PROJ_SIZE) goto malformed;
    out->projs[i].id = (int32_t)get32(body + pos);
    out->projs[i].version = (int64_t)get64(body + pos + 4);
    out->n_projs = i + 1;
    pos += CLOG_PROJ_SIZE;
  }
  if (pos != len) goto malformed;
  return PARSE_OK;
malformed:
  batch_free(out);
  return PARSE_MALFORMED;
}

/* Grows the record array for `more` records. Caller holds data_lock for
 * writing. */
static int recs_reserve(clog_store* s, int64_t more) {
  int64_t need = s->n_recs + more, cap;
  clog_rec* recs;
  if (need <= s->cap_recs) return 0;
  cap = s->cap_recs ? s->cap_recs * 2 : 64;
  while (cap < need) cap *= 2;
  recs = realloc(s->recs, (size_t)cap * sizeof *recs);
  if (recs == NULL) return -1;
  s->recs = recs;
  s->cap_recs = cap;
  return 0;
}

/* Publishes a decoded batch (its texts move to the store). Caller holds
 * file_mu. Returns 0, or -1 when out of memory (nothing published). */
static int apply_batch(clog_store* s, batch* b, uint64_t new_end) {
  pthread_rwlock_wrlock(&s->data_lock);
  if (recs_reserve(s, b->n_recs) != 0 || projs_reserve(&s->projs, b->n_projs) != 0) {
    pthread_rwlock_unlock(&s->data_lock);
    return -1;
  }
  if (b->n_recs > 0) {
    memcpy(s->recs + s->n_recs, b->recs, b->n_recs * sizeof *b->recs);
    s->n_recs += b->n_recs;
  }
  for (uint32_t i = 0; i < b->n_projs; ++i)
    projs_set(&s->projs, b->projs[i].id, b->projs[i].version);
  s->end = new_end;
  pthread_rwlock_unlock(&s->data_lock);
  b->n_recs = 0; /* the texts belong to the store now */
  batch_free(b);
  return 0;
}

/* Reads the batches other processes appended past s->end and publishes them.
 * Caller holds file_mu and the file lock (LOCK_SH, or LOCK_EX when
 * `writer`). An incomplete batch at the very end is what a crash in the
 * middle of a commit leaves: it was never acknowledged, readers ignore it and
 * a writer cuts it off. A complete batch with a bad checksum is damage: it is
 * reported, and nothing after it is trusted. */
static evdb_status catch_up(clog_store* s, int writer, const char* op, evdb_error* err) {
  struct stat st;
  uint64_t size, end = s->end, len, pos = 0;
  unsigned char* buf;
  ssize_t got;
  evdb_status result = EVDB_OK;
  if (fstat(s->fd, &st) != 0)
    return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot stat %s: %s", op, s->path,
                     strerror(errno));
  size = (uint64_t)st.st_size;
  if (size == end) return EVDB_OK;
  if (size < end)
    return clog_fail(err, EVDB_INTERNAL,
                     CLOG_NAME
                     ": %s: the store file %s shrank from %llu to %llu bytes: "
                     "something other than clog changed it",
                     op, s->path, (unsigned long long)end, (unsigned long long)size);
  len = size - end;
  if (len > SIZE_MAX) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: file too large", op);
  buf = malloc((size_t)len);
  if (buf == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
  got = pread_full(s->fd, buf, (size_t)len, end);
  if (got < 0) {
    result = clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot read %s: %s", op, s->path,
                       strerror(errno));
    goto out;
  }
  len = (uint64_t)got;
  while (len - pos >= CLOG_BATCH_HEAD) {
    const unsigned char* h = buf + pos;
    uint32_t body_len = get32(h + 4);
    batch b;
    int rc;
    if (get32(h) != CLOG_BATCH_MAGIC) {
      result = clog_fail(err, EVDB_INTERNAL,
                         CLOG_NAME
                         ": %s: the store file %s is damaged at offset %llu "
                         "(no batch header); the events before it are intact",
                         op, s->path, (unsigned long long)(end + pos));
      goto out;
    }
    if (body_len > len - pos - CLOG_BATCH_HEAD) break; /* incomplete: a torn tail */
    if (fnv1a64(h + CLOG_BATCH_HEAD, body_len) != get64(h + 8)) {
      result = clog_fail(err, EVDB_INTERNAL,
                         CLOG_NAME
                         ": %s: the store file %s is damaged at offset %llu "
                         "(checksum mismatch); the events before it are intact",
                         op, s->path, (unsigned long long)(end + pos));
      goto out;
    }
    rc = parse_body(h + CLOG_BATCH_HEAD, body_len, &b);
    if (rc == PARSE_MALFORMED) {
      result = clog_fail(err, EVDB_INTERNAL,
                         CLOG_NAME
                         ": %s: the store file %s is damaged at offset %llu "
                         "(malformed batch); the events before it are intact",
                         op, s->path, (unsigned long long)(end + pos));
      goto out;
    }
    if (rc == PARSE_NO_MEMORY || apply_batch(s, &b, end + pos + CLOG_BATCH_HEAD + body_len) != 0) {
      if (rc == PARSE_OK) batch_free(&b);
      result = clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
      goto out;
    }
    pos += CLOG_BATCH_HEAD + body_len;
  }
  if (pos < len && writer && ftruncate(s->fd, (off_t)s->end) != 0)
    result = clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot cut the torn tail of %s: %s",
                       op, s->path, strerror(errno));
out:
  free(buf);
  return result;
}

/* ---------------------------------------------------------------------------
 * The process-wide registry of open stores
 * ------------------------------------------------------------------------- */

static pthread_mutex_t g_registry_mu = PTHREAD_MUTEX_INITIALIZER;
static clog_store* g_stores;

static void store_free(clog_store* s) {
  for (int64_t i = 0; i < s->n_recs; ++i) free(s->recs[i].text);
  free(s->recs);
  clog_projs_free(&s->projs);
  if (s->fd >= 0) close(s->fd);
  pthread_mutex_destroy(&s->file_mu);
  pthread_rwlock_destroy(&s->data_lock);
  free(s->path);
  free(s);
}

/* Checks (or, for a new empty file, writes) the file header, then reads the
 * whole log. Caller holds the exclusive file lock. */
static evdb_status load_file(clog_store* s, const char* op, evdb_error* err) {
  unsigned char h[CLOG_HEADER_SIZE], want[CLOG_HEADER_SIZE];
  struct stat st;
  ssize_t got;
  memcpy(want, CLOG_FILE_MAGIC, 8);
  put32(want + 8, CLOG_FORMAT);
  put32(want + 12, 0);
  if (fstat(s->fd, &st) != 0)
    return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot stat %s: %s", op, s->path,
                     strerror(errno));
  got = pread_full(s->fd, h, sizeof h, 0);
  if (got < 0)
    return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot read %s: %s", op, s->path,
                     strerror(errno));
  if ((size_t)got < sizeof h) {
    /* A new file, or one whose creation was cut short: (re)write the header,
     * but never over bytes that are not the start of one. */
    if (memcmp(h, want, (size_t)got) != 0)
      return clog_fail(err, EVDB_INVALID_ARGUMENT,
                       CLOG_NAME ": %s: %s is not a clog store (it does not start with \"%s\")", op,
                       s->path, CLOG_FILE_MAGIC);
    if (ftruncate(s->fd, 0) != 0 || pwrite_full(s->fd, want, sizeof want, 0) != 0 ||
        fdatasync(s->fd) != 0)
      return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot initialise %s: %s", op,
                       s->path, strerror(errno));
  } else if (memcmp(h, want, 8) != 0) {
    return clog_fail(err, EVDB_INVALID_ARGUMENT,
                     CLOG_NAME ": %s: %s is not a clog store (it does not start with \"%s\")", op,
                     s->path, CLOG_FILE_MAGIC);
  } else if (get32(h + 8) != CLOG_FORMAT) {
    return clog_fail(err, EVDB_UNSUPPORTED,
                     CLOG_NAME ": %s: %s has file format %u; this driver reads format %u", op,
                     s->path, get32(h + 8), CLOG_FORMAT);
  }
  s->end = CLOG_HEADER_SIZE;
  return catch_up(s, 1, op, err);
}

evdb_status clog_store_acquire(const char* path, evdb_ctx* ctx, clog_store** out, evdb_error* err) {
  const char* op = "open";
  struct stat st;
  clog_store* s;
  evdb_status r;
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    int e = errno;
    return clog_fail(err, e == EISDIR ? EVDB_INVALID_ARGUMENT : EVDB_CONNECTION,
                     CLOG_NAME ": %s: cannot open the store file %s: %s", op, path, strerror(e));
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return clog_fail(err, EVDB_INVALID_ARGUMENT, CLOG_NAME ": %s: %s is not a regular file", op,
                     path);
  }
  pthread_mutex_lock(&g_registry_mu);
  for (s = g_stores; s != NULL; s = s->next) {
    if (s->dev == st.st_dev && s->ino == st.st_ino) {
      ++s->refs;
      pthread_mutex_unlock(&g_registry_mu);
      close(fd); /* flock locks live on s->fd's description: closing fd drops none */
      *out = s;
      return EVDB_OK;
    }
  }
  s = calloc(1, sizeof *s);
  if (s == NULL || (s->path = strdup(path)) == NULL) {
    pthread_mutex_unlock(&g_registry_mu);
    free(s);
    close(fd);
    return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
  }
  s->fd = fd;
  s->dev = st.st_dev;
  s->ino = st.st_ino;
  s->refs = 1;
  pthread_mutex_init(&s->file_mu, NULL);
  pthread_rwlock_init(&s->data_lock, NULL);
  r = lock_file(s, LOCK_EX, ctx, op, err);
  if (r == EVDB_OK) {
    r = load_file(s, op, err);
    unlock_file(s);
  }
  if (r != EVDB_OK) {
    pthread_mutex_unlock(&g_registry_mu);
    store_free(s);
    return r;
  }
  s->next = g_stores;
  g_stores = s;
  pthread_mutex_unlock(&g_registry_mu);
  *out = s;
  return EVDB_OK;
}

void clog_store_release(clog_store* store) {
  clog_store** p;
  int last = 0;
  pthread_mutex_lock(&g_registry_mu);
  if (--store->refs == 0) {
    for (p = &g_stores; *p != NULL; p = &(*p)->next) {
      if (*p == store) {
        *p = store->next;
        break;
      }
    }
    last = 1;
  }
  pthread_mutex_unlock(&g_registry_mu);
  if (last) store_free(store);
}

/* ---------------------------------------------------------------------------
 * Reads
 * ------------------------------------------------------------------------- */

evdb_status clog_store_refresh(clog_store* s, evdb_ctx* ctx, const char* op, evdb_error* err) {
  struct stat st;
  uint64_t end;
  evdb_status r;
  if (fstat(s->fd, &st) != 0)
    return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": %s: cannot stat %s: %s", op, s->path,
                     strerror(errno));
  pthread_rwlock_rdlock(&s->data_lock);
  end = s->end;
  pthread_rwlock_unlock(&s->data_lock);
  if ((uint64_t)st.st_size == end) return EVDB_OK; /* nothing new: the common case */
  r = lock_file_mu(s, ctx, op, err);
  if (r != EVDB_OK) return r;
  r = lock_file(s, LOCK_SH, ctx, op, err);
  if (r == EVDB_OK) {
    r = catch_up(s, 0, op, err);
    unlock_file(s);
  }
  pthread_mutex_unlock(&s->file_mu);
  return r;
}

evdb_status clog_store_ping(clog_store* s, evdb_ctx* ctx, evdb_error* err) {
  struct stat st;
  if (fstat(s->fd, &st) != 0)
    return clog_fail(err, EVDB_CONNECTION, CLOG_NAME ": ping: cannot stat %s: %s", s->path,
                     strerror(errno));
  if (st.st_nlink == 0)
    return clog_fail(err, EVDB_CONNECTION,
                     CLOG_NAME ": ping: the store file %s was deleted while open", s->path);
  return clog_store_refresh(s, ctx, "ping", err);
}

evdb_status clog_store_snapshot(clog_store* s, int64_t* head, uint64_t* end, clog_projs* projs,
                                evdb_error* err) {
  evdb_status r = EVDB_OK;
  memset(projs, 0, sizeof *projs);
  pthread_rwlock_rdlock(&s->data_lock);
  *head = s->n_recs;
  *end = s->end;
  if (s->projs.n > 0) {
    projs->items = malloc(s->projs.n * sizeof *projs->items);
    if (projs->items == NULL) {
      r = clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": begin: out of memory");
    } else {
      memcpy(projs->items, s->projs.items, s->projs.n * sizeof *projs->items);
      projs->n = projs->cap = s->projs.n;
    }
  }
  pthread_rwlock_unlock(&s->data_lock);
  return r;
}

void clog_store_get(clog_store* s, int64_t version, evdb_event* out) {
  clog_rec rec;
  pthread_rwlock_rdlock(&s->data_lock);
  rec = s->recs[version - 1];
  pthread_rwlock_unlock(&s->data_lock);
  clog_rec_to_event(&rec, version, out);
}

/* ---------------------------------------------------------------------------
 * Commit
 * ------------------------------------------------------------------------- */

evdb_status clog_store_commit(clog_store* s, evdb_ctx* ctx, int64_t base_head, uint64_t base_end,
                              clog_rec* events, int64_t n_events, const clog_projs* projs, int sync,
                              evdb_error* err) {
  const char* op = "commit";
  uint64_t body_len = 8;
  size_t n_touched = 0, pos;
  unsigned char* buf;
  evdb_status r;
  uint64_t new_end;

  /* Encode first, outside every lock. */
  for (int64_t i = 0; i < n_events; ++i)
    body_len +=
        CLOG_EVENT_HEAD + (uint64_t)events[i].type_len + events[i].payload_len + events[i].rev_len;
  for (size_t i = 0; i < projs->n; ++i) n_touched += projs->items[i].touched != 0;
  body_len += (uint64_t)n_touched * CLOG_PROJ_SIZE;
  if (body_len > UINT32_MAX || (uint64_t)n_events > UINT32_MAX)
    return clog_fail(err, EVDB_INVALID_ARGUMENT,
                     CLOG_NAME
                     ": %s: the transaction is too large (%llu bytes; a batch holds at "
                     "most 4 GiB)",
                     op, (unsigned long long)body_len);
  buf = malloc(CLOG_BATCH_HEAD + (size_t)body_len);
  if (buf == NULL) return clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
  pos = CLOG_BATCH_HEAD;
  put32(buf + pos, (uint32_t)n_events);
  put32(buf + pos + 4, (uint32_t)n_touched);
  pos += 8;
  for (int64_t i = 0; i < n_events; ++i) {
    const clog_rec* e = &events[i];
    put64(buf + pos, (uint64_t)e->time_us);
    put32(buf + pos + 8, e->type_len);
    put32(buf + pos + 12, e->payload_len);
    put32(buf + pos + 16, e->rev_len);
    pos += CLOG_EVENT_HEAD;
    memcpy(buf + pos, e->text, e->type_len);
    pos += e->type_len;
    memcpy(buf + pos, e->text + e->type_len + 1, e->payload_len);
    pos += e->payload_len;
    memcpy(buf + pos, e->text + e->type_len + e->payload_len + 2, e->rev_len);
    pos += e->rev_len;
  }
  for (size_t i = 0; i < projs->n; ++i) {
    if (!projs->items[i].touched) continue;
    put32(buf + pos, (uint32_t)projs->items[i].id);
    put64(buf + pos + 4, (uint64_t)projs->items[i].version);
    pos += CLOG_PROJ_SIZE;
  }
  put32(buf, CLOG_BATCH_MAGIC);
  put32(buf + 4, (uint32_t)body_len);
  put64(buf + 8, fnv1a64(buf + CLOG_BATCH_HEAD, (size_t)body_len));

  r = lock_file_mu(s, ctx, op, err);
  if (r != EVDB_OK) {
    free(buf);
    return r;
  }
  r = lock_file(s, LOCK_EX, ctx, op, err);
  if (r != EVDB_OK) goto unlock_mu;
  r = catch_up(s, 1, op, err);
  if (r != EVDB_OK) goto unlock_all;

  /* Validation: first committer wins. The transaction saw the state at
   * base_end; if anything was committed since, it loses as a whole. */
  if (s->end != base_end) {
    r = clog_fail(err, n_events > 0 ? EVDB_VERSION_MISMATCH : EVDB_CONFLICT,
                  CLOG_NAME
                  ": %s: another transaction committed first (the head moved from "
                  "%lld to %lld); nothing was written, retry the transaction",
                  op, (long long)base_head, (long long)s->n_recs);
    goto unlock_all;
  }
  /* Room in memory first, so that publishing after the write cannot fail. */
  pthread_rwlock_wrlock(&s->data_lock);
  if (recs_reserve(s, n_events) != 0 || projs_reserve(&s->projs, n_touched) != 0) {
    pthread_rwlock_unlock(&s->data_lock);
    r = clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: out of memory", op);
    goto unlock_all;
  }
  pthread_rwlock_unlock(&s->data_lock);

  new_end = s->end + CLOG_BATCH_HEAD + body_len;
  if (pwrite_full(s->fd, buf, CLOG_BATCH_HEAD + (size_t)body_len, s->end) != 0 ||
      (sync && fdatasync(s->fd) != 0)) {
    int e = errno;
    /* Take back what may have reached the file; nobody else can have seen it
     * (readers need the lock we hold). */
    if (ftruncate(s->fd, (off_t)s->end) != 0) { /* the next writer cuts it */
    }
    r = clog_fail(err, EVDB_INTERNAL, CLOG_NAME ": %s: cannot write %s: %s; nothing was committed",
                  op, s->path, strerror(e));
    goto unlock_all;
  }

  pthread_rwlock_wrlock(&s->data_lock);
  if (n_events > 0) {
    memcpy(s->recs + s->n_recs, events, (size_t)n_events * sizeof *events);
    s->n_recs += n_events;
  }
  for (size_t i = 0; i < projs->n; ++i)
    if (projs->items[i].touched) projs_set(&s->projs, projs->items[i].id, projs->items[i].version);
  s->end = new_end;
  pthread_rwlock_unlock(&s->data_lock);

unlock_all:
  unlock_file(s);
unlock_mu:
  pthread_mutex_unlock(&s->file_mu);
  free(buf);
  return r;
}
