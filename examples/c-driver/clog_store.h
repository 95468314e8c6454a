/*
 * clog_store.h — the store behind the "clog" example driver: one append-only
 * file per store, shared by every handle of a process that opens it and by
 * every process (flock), with the whole log mirrored in memory.
 *
 * This header is internal to the driver (clog_driver.c builds the evdb table
 * on top of it); nothing here crosses the evdb ABI.
 *
 * File format (all integers little-endian):
 *   file header, 16 bytes: "EVDBCLOG" (8 bytes), u32 format (1), u32 zero.
 *   then batches, one per committed read-write transaction:
 *     u32 magic CLOG_BATCH_MAGIC, u32 body length, u64 FNV-1a-64 of the body,
 *     body: u32 n_events, u32 n_projections,
 *           n_events x (i64 time_us, u32 type_len, u32 payload_len,
 *                       u32 revision_len, the three texts without NULs),
 *           n_projections x (i32 id, i64 version)   -- final values, "set"
 *   Event versions are implicit: the n-th event of the file has version n.
 *
 * Locking: within the process, `file_mu` serialises everything that touches
 * the file lock (flock) and the file's tail; `data_lock` guards the in-memory
 * mirror. Across processes, a commit holds LOCK_EX from its validation to
 * after fdatasync; reading new batches holds LOCK_SH, so a batch becomes
 * visible only once it is durable. flock (not fcntl) locks belong to the open
 * file description, so closing a second descriptor of the same file never
 * drops a lock held through the first.
 */
#ifndef CLOG_STORE_H
#define CLOG_STORE_H

#include <evdb/driver.h>

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

/** Driver name: prefix of every error message. */
#define CLOG_NAME "clog"

/** One committed (or pending) event. `text` holds the type name, payload and
 *  revision, each NUL-terminated, back to back in one allocation; committed
 *  records are never changed or freed while the store lives. */
typedef struct clog_rec {
  int64_t time_us;
  char* text;
  uint32_t type_len;
  uint32_t payload_len;
  uint32_t rev_len;
} clog_rec;

/** A projection version. `touched` is used by transactions only (their own
 *  writes); the store ignores it. */
typedef struct clog_proj {
  int32_t id;
  int64_t version;
  int touched;
} clog_proj;

/** A sorted (by id) array of projections. */
typedef struct clog_projs {
  clog_proj* items;
  size_t n;
  size_t cap;
} clog_projs;

/** One store file, shared within the process (see clog_store_acquire). */
typedef struct clog_store {
  /* registry (guarded by the registry mutex) */
  dev_t dev;
  ino_t ino;
  int refs;
  struct clog_store* next;

  int fd;
  char* path;
  pthread_mutex_t file_mu;
  pthread_rwlock_t data_lock;

  /* guarded by data_lock */
  clog_rec* recs;
  int64_t n_recs;
  int64_t cap_recs;
  clog_projs projs;
  uint64_t end; /* file offset just past the last batch applied */
} clog_store;

/** The host services (NULL until the entry point ran). */
const evdb_host_api* clog_host(void);
void clog_set_host(const evdb_host_api* host);

/** Fills err (when non-NULL) with code and a printf-formatted message, which
 *  must already start with "clog: <operation>: ". Returns code. */
evdb_status clog_fail(evdb_error* err, evdb_status code, const char* fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/** EVDB_OK, or the context's CANCELED / DEADLINE_EXCEEDED with a message
 *  naming `op`. */
evdb_status clog_check_ctx(evdb_ctx* ctx, const char* op, evdb_error* err);

/** Opens (creating it when absent) the store file `path` and returns the
 *  process's shared store for it, with one more reference. `op` names the
 *  operation in messages. Errors: EVDB_CONNECTION (the file cannot be opened
 *  or locked), EVDB_INTERNAL (not a clog file, damaged), CANCELED. */
evdb_status clog_store_acquire(const char* path, evdb_ctx* ctx, clog_store** out, evdb_error* err);

/** Drops one reference; the last one closes the file and frees the store. */
void clog_store_release(clog_store* store);

/** Brings the in-memory mirror up to date with the file when other
 *  processes appended (a cheap fstat when nothing changed). */
evdb_status clog_store_refresh(clog_store* store, evdb_ctx* ctx, const char* op, evdb_error* err);

/** Copies the store's current state for a new transaction: its head, the
 *  file offset identifying the state, and the projections (a copy the caller
 *  frees with clog_projs_free). */
evdb_status clog_store_snapshot(clog_store* store, int64_t* head, uint64_t* end, clog_projs* projs,
                                evdb_error* err);

/** Copies committed event `version` (1 <= version <= a head seen before) into
 *  *out; the strings stay valid while the store lives. */
void clog_store_get(clog_store* store, int64_t version, evdb_event* out);

/** Checks that the store file is still usable (not deleted, readable) and
 *  refreshes the mirror. Errors: EVDB_CONNECTION, EVDB_INTERNAL. */
evdb_status clog_store_ping(clog_store* store, evdb_ctx* ctx, evdb_error* err);

/** Commits a read-write transaction that began on the state (base_head,
 *  base_end) (base_head only serves the message): appends
 *  `events` (ownership of their texts moves to the store on success) and
 *  sets the touched entries of `projs`. Fails when another transaction
 *  committed since base_end: EVDB_VERSION_MISMATCH when events is non-empty,
 *  EVDB_CONFLICT otherwise; nothing is written then. `sync` non-zero:
 *  fdatasync before returning. */
evdb_status clog_store_commit(clog_store* store, evdb_ctx* ctx, int64_t base_head,
                              uint64_t base_end, clog_rec* events, int64_t n_events,
                              const clog_projs* projs, int sync, evdb_error* err);

/** Sorted-array helpers for projections. */
clog_proj* clog_projs_find(const clog_projs* p, int32_t id);
/** Inserts {id, version}; returns the new entry or NULL when out of memory. */
clog_proj* clog_projs_insert(clog_projs* p, int32_t id, int64_t version);
void clog_projs_free(clog_projs* p);

/** Makes a record holding copies of the three texts (rev may be NULL when
 *  rev_len is 0). Returns 0, or -1 when out of memory. */
int clog_rec_init(clog_rec* rec, int64_t time_us, const char* type, uint32_t type_len,
                  const char* payload, uint32_t payload_len, const char* rev, uint32_t rev_len);

/** Fills *out from a record. */
void clog_rec_to_event(const clog_rec* rec, int64_t version, evdb_event* out);

#endif /* CLOG_STORE_H */
