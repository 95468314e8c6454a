/*
 * driver.h — the evdb driver ABI (C).
 *
 * What a driver shared object exports, and what the host (libevdb) gives it.
 * Read docs/driver-guide.md for a walk-through. Summary:
 *
 *  1. A driver file is named libevdb_driver_<name>.so and exports one C
 *     function, EVDB_DRIVER_ENTRY_SYMBOL ("evdb_driver_entry"), of type
 *     evdb_driver_entry_fn.
 *  2. The host calls it once, with the highest ABI version it speaks and a
 *     table of host services (contexts). The driver returns a pointer to its
 *     function table, which must stay valid for the life of the process. The
 *     table starts with its size in bytes and the ABI version the driver
 *     speaks. The host refuses tables of an ABI it cannot speak (both versions
 *     are named in its error) or smaller than EVDB_DRIVER_TABLE_MIN_SIZE.
 *     The ABI version is the major one: every 1.x host and driver speaks 1;
 *     what 1.x adds is found by size, never by version.
 *  3. Structs only grow, by appending fields at the end (the rule of evdb.h,
 *     "Growing structs"). The host reads a table entry only when struct_size
 *     says it is there (EVDB_DRIVER_HAS); the driver uses a host service only
 *     when EVDB_HOST_HAS says it is there, and writes an event field added
 *     after 1.0 only when EVDB_STRUCT_HAS(e, evdb_event, field). Events the
 *     host hands out for filling carry the host's struct_size; arrays of them
 *     are stepped with EVDB_EVENT_AT. A missing optional entry is filled once,
 *     at load, with the host's own: a stub answering EVDB_UNSUPPORTED (ping),
 *     the host's polling listener (listen), the table's capabilities
 *     (db_capabilities). A driver whose table is longer
 *     than the host knows works: the host ignores the tail.
 *  4. No C++ exception crosses the boundary. Every function reports failure by
 *     its return status and, when err is non-NULL, fills err (code = status,
 *     message allocated by the driver, release = the driver's free function).
 *  5. The host validates every argument before calling the driver (non-NULL
 *     pointers, non-empty UTF-8 type name, JSON payload, non-negative
 *     versions, read-write transaction for writes), so drivers may rely on it.
 *  6. Ownership: handles (db, tx) are created by the driver and freed by it
 *     in close/commit/rollback. Strings in evdb_event results belong to the
 *     driver and must stay valid and NUL-terminated until the next call on
 *     the same transaction or its end.
 *  7. Threads: db functions may be called from many threads at once; a tx is
 *     used by one thread at a time; listen runs on the caller's thread and
 *     may run on many threads at once.
 */
#ifndef EVDB_DRIVER_H
#define EVDB_DRIVER_H

#include "evdb.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The ABI version this header describes. */
#define EVDB_DRIVER_ABI_VERSION 1u

/** Name of the exported entry point. */
#define EVDB_DRIVER_ENTRY_SYMBOL "evdb_driver_entry"

/* ---------------------------------------------------------------------------
 * Host services given to the driver.
 * ------------------------------------------------------------------------- */
typedef struct evdb_host_api {
  /** sizeof(evdb_host_api) as the host built it; use a field only when
   *  EVDB_HOST_HAS(host, field). */
  uint32_t struct_size;
  /** The highest ABI version the host speaks. */
  uint32_t abi_version;

  /** EVDB_OK, EVDB_CANCELED or EVDB_DEADLINE_EXCEEDED. NULL ctx: EVDB_OK. */
  evdb_status (*ctx_status)(const evdb_ctx* ctx);
  /** Microseconds left before the deadline: -1 when there is none (or ctx is
   *  NULL), 0 when it has passed. */
  int64_t (*ctx_remaining_us)(const evdb_ctx* ctx);
  /** A file descriptor that becomes readable (POLLIN) when the context is
   *  cancelled, for poll()ing together with sockets; -1 for a NULL ctx. It
   *  does not fire at the deadline: use ctx_remaining_us as poll's timeout.
   *  Owned by the context; never read from or close it. */
  int (*ctx_cancel_fd)(evdb_ctx* ctx);
  /** Blocks until the context is cancelled, its deadline passes, or
   *  `timeout_us` (>= 0) elapses; returns ctx_status afterwards. */
  evdb_status (*ctx_sleep)(evdb_ctx* ctx, int64_t timeout_us);
  /* ---- services added in 1.x are appended here -------------------------- */
} evdb_host_api;

/** True when host services `h` (its struct_size read) contain field `f`. */
#define EVDB_HOST_HAS(h, f) EVDB_STRUCT_HAS(h, evdb_host_api, f)

/* ---------------------------------------------------------------------------
 * The driver table.
 * ------------------------------------------------------------------------- */

/** A URI query parameter, percent-decoded. */
typedef struct evdb_uri_param {
  const char* key;
  const char* value; /**< "" for a key without '=' */
} evdb_uri_param;

/** A connection URI parsed by the host (RFC 3986, uriparser). Every string
 *  is NUL-terminated, percent-decoded, never NULL ("" when absent), and lives
 *  until the driver's open returns (copy what you keep). */
typedef struct evdb_uri {
  /** sizeof(evdb_uri) as the host built it; read a field added after 1.0
   *  only when EVDB_STRUCT_HAS(uri, evdb_uri, field). */
  uint32_t struct_size;
  /** The URI exactly as given (may contain a password: never print it). */
  const char* text;
  /** The URI with any password replaced by "***": use it in messages. */
  const char* redacted;
  /** Lower-case scheme, without ':'. */
  const char* scheme;
  /** Non-zero when the URI has an authority ("//…"). */
  int has_authority;
  const char* user;
  const char* password;
  /** The host ("" when absent). An authority naming several hosts, as
   *  libpq's multi-host URIs do ("h1:5432,h2:5433", "[::1],h2:5433"), gives
   *  the whole list as written (percent-decoded), each entry with its own
   *  port, and port 0; since 1.1 (1.0 refused a list whose entries other
   *  than the last had a port, and split the last entry's port off). A
   *  driver that serves one host refuses a host containing ','. */
  const char* host;
  /** Port number, or 0 when absent (or when host is a list). */
  int port;
  /** The path: "/a/b" when absolute, "a/b" when relative ("memory:NAME" gives
   *  "NAME", "sqlite:///tmp/x.db" gives "/tmp/x.db"). */
  const char* path;
  /** The query parameters in order (keys may repeat). */
  const evdb_uri_param* params;
  size_t param_count;
  /* ---- fields added in 1.x are appended here ---------------------------- */
} evdb_uri;

/** Opaque driver-side handles. */
typedef struct evdb_driver_db evdb_driver_db;
typedef struct evdb_driver_tx evdb_driver_tx;

typedef struct evdb_driver {
  /* ---- ABI 1 header: present in every table ---------------------------- */
  /** sizeof the table as the driver built it. */
  uint32_t struct_size;
  /** The ABI version the driver speaks (EVDB_DRIVER_ABI_VERSION it was built
   *  with). */
  uint32_t abi_version;
  /** Driver name ("memory"), its version text, and a NULL-terminated list of
   *  lower-case schemes it serves. Static strings. */
  const char* name;
  const char* version;
  const char* const* schemes;
  /** EVDB_CAP_* the driver offers in general. */
  uint64_t capabilities;

  /* ---- ABI 1 functions -------------------------------------------------- */
  /** Opens the store named by uri; *out is freed by close. Unknown URI
   *  parameters must be refused with EVDB_INVALID_ARGUMENT. */
  evdb_status (*open)(const evdb_uri* uri, evdb_ctx* ctx, evdb_driver_db** out, evdb_error* err);
  /** Frees db. No transaction or listen is running on it. */
  void (*close)(evdb_driver_db* db);
  /** The EVDB_CAP_* of this store (may be fewer than the driver's). May be
   *  NULL: every store then has `capabilities`. */
  uint64_t (*db_capabilities)(evdb_driver_db* db);

  /** Begins a transaction of `kind` (EVDB_TX_READ_ONLY or
   *  EVDB_TX_READ_WRITE, checked by the host); *out is freed by commit or
   *  rollback. */
  evdb_status (*begin)(evdb_driver_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_driver_tx** out,
                       evdb_error* err);
  /** Commits and frees tx, whatever the outcome. */
  evdb_status (*commit)(evdb_driver_tx* tx, evdb_ctx* ctx, evdb_error* err);
  /** Rolls back and frees tx. */
  void (*rollback)(evdb_driver_tx* tx);

  /** Reads, with the semantics of the same-named functions in evdb.h. The
   *  events to fill carry the host's struct_size (write only what it covers);
   *  read_events steps buf with EVDB_EVENT_AT. */
  evdb_status (*read_system_version)(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t* out,
                                     evdb_error* err);
  evdb_status (*read_event_at)(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t version, evdb_event* out,
                               evdb_error* err);
  evdb_status (*read_event_after)(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t version,
                                  evdb_event* out, evdb_error* err);
  evdb_status (*read_events)(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t at, int reverse,
                             evdb_event* buf, size_t n, size_t* n_out, evdb_error* err);
  evdb_status (*read_projection_version)(evdb_driver_tx* tx, evdb_ctx* ctx, int32_t id,
                                         int64_t* out, evdb_error* err);

  /** Writes; only ever called on read-write transactions. */
  evdb_status (*append_event)(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t assumed_version,
                              const evdb_event* event, int64_t* new_version, evdb_error* err);
  evdb_status (*init_projection_version)(evdb_driver_tx* tx, evdb_ctx* ctx, int32_t id,
                                         int64_t* out, evdb_error* err);
  evdb_status (*set_projection_version)(evdb_driver_tx* tx, evdb_ctx* ctx, int32_t id,
                                        int64_t version, evdb_error* err);

  /** The driver's listener (may be NULL when the driver lacks
   *  EVDB_CAP_LISTENER: the host then polls). Semantics of evdb_listen: call
   *  on_ready once the subscription is active and return its status at once
   *  when it is not EVDB_OK (never retry it as a lost connection), likewise
   *  for on_inserted. */
  evdb_status (*listen)(evdb_driver_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                        evdb_on_inserted_fn on_inserted, void* user, evdb_error* err);

  /* ---- ABI 1, optional entries appended later (a table may stop before
   *      them, or hold NULL: the host fills them with its own at load) ---- */
  /** Checks that the store is reachable and usable (a round trip to the
   *  server for networked drivers). Semantics of evdb_ping. */
  evdb_status (*ping)(evdb_driver_db* db, evdb_ctx* ctx, evdb_error* err);
  /* ---- later fields are appended here ----------------------------------- */
} evdb_driver;

/** The smallest table the host accepts: the ABI 1 header and functions up to
 *  and including set_projection_version, every one of them non-NULL except
 *  db_capabilities (NULL: every store has the table's capabilities). */
#define EVDB_DRIVER_TABLE_MIN_SIZE                            \
  ((uint32_t)(offsetof(evdb_driver, set_projection_version) + \
              sizeof(((evdb_driver*)0)->set_projection_version)))

/** True when table `t` (its size field read) contains field `f`. */
#define EVDB_DRIVER_HAS(t, f) EVDB_STRUCT_HAS(t, evdb_driver, f)

/** The entry point. `host_abi_version` is the highest ABI the host speaks;
 *  `host` lives for the life of the process. Returns the driver's table
 *  (static, never freed) or NULL when the driver cannot work at all. A driver
 *  that speaks several ABI versions returns the table of the highest one
 *  <= host_abi_version; otherwise it returns its own and the host decides. */
typedef const evdb_driver* (*evdb_driver_entry_fn)(uint32_t host_abi_version,
                                                   const evdb_host_api* host);

/** Registers a driver linked into the process (static builds, tests) by its
 *  entry point: it then serves its schemes ahead of any driver file, exactly
 *  as if it had been loaded. Registering the same entry twice is a no-op.
 *  Errors: those of evdb_driver_load_file for a bad table. Thread-safe. */
EVDB_API evdb_status evdb_register_driver(evdb_driver_entry_fn entry, evdb_error* err);

#ifdef __cplusplus
}
#endif

#endif /* EVDB_DRIVER_H */
