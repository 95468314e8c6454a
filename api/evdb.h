/*
 * evdb.h — the evdb application API (C).
 *
 * evdb gives an event-sourced application one event log over many storage
 * backends. A store is opened by a connection URI whose scheme picks the
 * driver ("memory:", "sqlite:", "postgres://", "redis://", or a third-party
 * scheme). This header is all an application needs; driver authors also read
 * driver.h.
 *
 * Conventions (they apply to every function below unless it says otherwise):
 *
 *  - Status: functions return an evdb_status. EVDB_OK (0) means success.
 *  - Errors: functions that can fail take a trailing `evdb_error *err`. It may
 *    be NULL (the message is then dropped). On failure, err->code equals the
 *    returned status and err->message holds a NUL-terminated message that
 *    names the driver and what was attempted and never contains a password.
 *    The caller owns the message and frees it with evdb_error_release(). An
 *    evdb_error must be initialised (EVDB_ERROR_INIT) before first use; a
 *    function that fills it releases what it held before. On success, err is
 *    left untouched.
 *  - Contexts: every call that may block takes an `evdb_ctx *ctx`, which may
 *    be NULL (no cancellation, no deadline). Cancelling a context interrupts
 *    waits inside the call (sockets, locks, listen) promptly; the call then
 *    fails with EVDB_CANCELED or EVDB_DEADLINE_EXCEEDED.
 *  - Threads: an evdb_db may be used from any number of threads at once; many
 *    transactions may be open on it at the same time. An evdb_tx is used by one
 *    thread at a time (it may move between threads between calls).
 *  - Input: arguments are validated by the library before any driver sees
 *    them: NULL pointers, empty or non-UTF-8 type names, payloads that are not
 *    JSON, negative versions all fail with EVDB_INVALID_ARGUMENT and write
 *    nothing.
 *  - Strings handed out by reads (evdb_event fields) are NUL-terminated and
 *    live until the next call on the same transaction or its end; copy what
 *    you keep.
 *  - Structs carry their own size and grow only at the end (see "Growing
 *    structs" below); always initialise them with their _INIT macro.
 *  - Callbacks (transaction bodies, listen's on_ready/on_inserted, list
 *    callbacks) run on the calling thread, report failure by their return
 *    status, and must not let a C++ exception or longjmp escape into the
 *    library.
 */
#ifndef EVDB_H
#define EVDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EVDB_API __attribute__((visibility("default")))
#else
#define EVDB_API
#endif

/* ---------------------------------------------------------------------------
 * Versions. The library keeps the ABI of every 1.x release: a program built
 * against 1.m runs with any 1.n library, n >= m. A program that calls a
 * function added in 1.n checks evdb_version_number() first when it may run
 * with an older library.
 * ------------------------------------------------------------------------- */
/** The version of these headers. */
#define EVDB_VERSION_MAJOR 1
#define EVDB_VERSION_MINOR 1
#define EVDB_VERSION_PATCH 0
/** major * 10000 + minor * 100 + patch, e.g. 10000 for 1.0.0. */
#define EVDB_VERSION_NUMBER \
  (EVDB_VERSION_MAJOR * 10000 + EVDB_VERSION_MINOR * 100 + EVDB_VERSION_PATCH)

/** The version of the library running (EVDB_VERSION_NUMBER it was built with),
 *  which may be newer than the headers the caller was built with. */
EVDB_API uint32_t evdb_version_number(void);

/** The same as text, "1.0.0"; a static string. */
EVDB_API const char* evdb_version(void);

/* ---------------------------------------------------------------------------
 * Growing structs (the ABI rule for every public struct, docs/abi.md).
 *
 * Every struct that crosses the boundary (evdb_event, evdb_error,
 * evdb_driver_info here; evdb_uri, evdb_host_api, evdb_driver in driver.h)
 * starts with `uint32_t struct_size`: sizeof the struct as its creator was
 * compiled. Whoever creates one sets it, with the struct's _INIT macro.
 *  - Structs grow only by appending fields; nothing is removed, reordered or
 *    retyped within 1.x. The smallest valid size is the 1.0 size
 *    (EVDB_EVENT_MIN_SIZE, …).
 *  - A reader uses a field only when struct_size covers it (EVDB_STRUCT_HAS);
 *    a writer writes only the fields that struct_size covers. So a newer
 *    library never writes past an older caller's struct, and an older library
 *    ignores the fields it does not know.
 *  - Arrays of structs (evdb_read_events) are stepped by the struct_size of
 *    their first element, not by the library's sizeof (EVDB_EVENT_AT).
 * ------------------------------------------------------------------------- */

/** True when struct `p` (of type `type`, its struct_size set) holds `field`. */
#define EVDB_STRUCT_HAS(p, type, field) \
  ((p)->struct_size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* ---------------------------------------------------------------------------
 * Status codes: a fixed-width integer, never a C enum (its size would be the
 * compiler's choice). Part of the ABI: new codes are appended, never
 * renumbered; a caller must expect codes it does not know (treat them as
 * errors, evdb_status_name gives "EVDB_UNKNOWN_STATUS").
 * ------------------------------------------------------------------------- */
typedef int32_t evdb_status;

#define EVDB_OK 0
/** append_event: the head was not the assumed version (also at commit). */
#define EVDB_VERSION_MISMATCH 1
/** The event or projection asked for does not exist. */
#define EVDB_NOT_FOUND 2
/** A read-write transaction lost to a concurrent writer without appending. */
#define EVDB_CONFLICT 3
/** A write was attempted in a read-only transaction. */
#define EVDB_READ_ONLY 4
/** An argument was invalid (NULL, empty type, bad JSON, negative version…). */
#define EVDB_INVALID_ARGUMENT 5
/** The context was cancelled. */
#define EVDB_CANCELED 6
/** The context's deadline passed. */
#define EVDB_DEADLINE_EXCEEDED 7
/** The backend could not be reached or the connection was lost. */
#define EVDB_CONNECTION 8
/** The driver or this build does not support the operation or option. */
#define EVDB_UNSUPPORTED 9
/** No driver was found for the URI's scheme. */
#define EVDB_DRIVER_NOT_FOUND 10
/** A driver was found but speaks an ABI this library cannot use. */
#define EVDB_DRIVER_ABI_MISMATCH 11
/** Anything else: a bug, a backend error with no better code. */
#define EVDB_INTERNAL 12
/** Since 1.1. A commit whose outcome could not be learned: the connection was
 *  lost while COMMIT was in flight and the driver could not find out, within
 *  the context's deadline, whether the transaction was applied. The events may
 *  or may not be in the log: read the log (e.g. the head, or a marker the
 *  events carry) before retrying. Not retryable blindly. */
#define EVDB_COMMIT_IN_DOUBT 13

/** Returns the constant name of a status ("EVDB_NOT_FOUND"); never NULL.
 *  Unknown values give "EVDB_UNKNOWN_STATUS". Thread-safe. */
EVDB_API const char* evdb_status_name(evdb_status status);

/** True (non-zero) for the statuses a caller may retry the whole transaction
 *  on: EVDB_VERSION_MISMATCH and EVDB_CONFLICT. */
EVDB_API int evdb_status_is_retryable(evdb_status status);

/* ---------------------------------------------------------------------------
 * Errors.
 * ------------------------------------------------------------------------- */
typedef struct evdb_error {
  /** sizeof(evdb_error) of the caller (EVDB_ERROR_INIT). The 1.0 fields below
   *  are always written; fields added later only when struct_size covers
   *  them. */
  uint32_t struct_size;
  /** Same value as the status the failing function returned. */
  evdb_status code;
  /** NUL-terminated message, or NULL. Owned by the error; see release. */
  char* message;
  /** Frees message (and private_data); set by whoever filled the error.
   *  Call it through evdb_error_release(), never directly. */
  void (*release)(struct evdb_error* error);
  /** Reserved for whoever filled the error. */
  void* private_data;
} evdb_error;

/** Initialiser for an empty error: `evdb_error err = EVDB_ERROR_INIT;` */
#define EVDB_ERROR_INIT \
  { (uint32_t)sizeof(evdb_error), EVDB_OK, NULL, NULL, NULL }

/** Frees the message held by err (if any) and resets it to empty (code
 *  EVDB_OK, message NULL; struct_size is kept). Safe on NULL and on an
 *  already empty error. */
EVDB_API void evdb_error_release(evdb_error* err);

/** Fills err with code and a copy of message (which may be NULL), releasing
 *  what err held. For callbacks that report an error to the library (listen's
 *  on_inserted, transaction functions). Does nothing when err is NULL. */
EVDB_API void evdb_error_set(evdb_error* err, evdb_status code, const char* message);

/* ---------------------------------------------------------------------------
 * Contexts: cancellation and deadlines.
 * ------------------------------------------------------------------------- */
typedef struct evdb_ctx evdb_ctx;

/** Creates a context with no deadline, not cancelled. Caller owns it and
 *  frees it with evdb_ctx_free() once no call uses it any more. Returns NULL
 *  only when out of memory. */
EVDB_API evdb_ctx* evdb_ctx_new(void);

/** Frees a context. The caller must make sure no call is still using it. */
EVDB_API void evdb_ctx_free(evdb_ctx* ctx);

/** Cancels the context: every call using it returns EVDB_CANCELED promptly
 *  (within 100 ms for listen). Idempotent; callable from any thread, also
 *  from a signal handler's helper thread; never blocks for long. */
EVDB_API void evdb_ctx_cancel(evdb_ctx* ctx);

/** Sets the deadline to `timeout_ms` milliseconds from now (monotonic clock);
 *  a negative value removes the deadline. Calls still running past it fail
 *  with EVDB_DEADLINE_EXCEEDED. Callable from any thread. */
EVDB_API void evdb_ctx_set_timeout_ms(evdb_ctx* ctx, int64_t timeout_ms);

/** EVDB_OK while the context is live, EVDB_CANCELED once cancelled,
 *  EVDB_DEADLINE_EXCEEDED once its deadline has passed. NULL gives EVDB_OK. */
EVDB_API evdb_status evdb_ctx_status(const evdb_ctx* ctx);

/* ---------------------------------------------------------------------------
 * Events.
 * ------------------------------------------------------------------------- */
typedef struct evdb_event {
  /** sizeof(evdb_event) of whoever made it (EVDB_EVENT_INIT); at least
   *  EVDB_EVENT_MIN_SIZE, else the call fails with EVDB_INVALID_ARGUMENT. */
  uint32_t struct_size;
  /** Position in the log, first = 1, gapless (unless the driver's
   *  capabilities lack EVDB_CAP_GAPLESS). Ignored by append_event. */
  int64_t version;
  /** Microseconds since the Unix epoch, UTC. On append, 0 means "now" (the
   *  driver's clock); any other value is stored as given and round-trips
   *  exactly. Must not be negative. */
  int64_t time_us;
  /** Event type: non-empty UTF-8, type_name_len bytes. */
  const char* type_name;
  size_t type_name_len;
  /** JSON text (any JSON value), payload_len bytes; returned byte for byte
   *  when the driver has EVDB_CAP_BYTE_EXACT_PAYLOAD. */
  const char* payload;
  size_t payload_len;
  /** VCS revision of the writer: UTF-8, may be empty (NULL with length 0 is
   *  accepted on input; output is never NULL). */
  const char* revision_vcs;
  size_t revision_vcs_len;
  /* ---- fields added in 1.x are appended here (read them only when
   *      EVDB_STRUCT_HAS(e, evdb_event, field)) ---------------------------- */
} evdb_event;

/** Initialiser: `evdb_event e = EVDB_EVENT_INIT;` (every field zero). */
#define EVDB_EVENT_INIT \
  { (uint32_t)sizeof(evdb_event), 0, 0, NULL, 0, NULL, 0, NULL, 0 }

/** The size of the 1.0 evdb_event, the smallest the library accepts. */
#define EVDB_EVENT_MIN_SIZE ((uint32_t)(offsetof(evdb_event, revision_vcs_len) + sizeof(size_t)))

/** Element i of an array of events whose first element's struct_size gives
 *  the step (the caller's sizeof(evdb_event)). */
#define EVDB_EVENT_AT(buf, i) \
  ((evdb_event*)(void*)((char*)(buf) + (size_t)(i) * (buf)->struct_size))

/* ---------------------------------------------------------------------------
 * Driver capabilities (also used in driver.h).
 * ------------------------------------------------------------------------- */
/** The driver has its own listener (otherwise evdb_listen polls). */
#define EVDB_CAP_LISTENER (UINT64_C(1) << 0)
/** Committed events survive closing every handle and reopening. */
#define EVDB_CAP_DURABLE (UINT64_C(1) << 1)
/** Several processes may open the same store at once. */
#define EVDB_CAP_CROSS_PROCESS (UINT64_C(1) << 2)
/** Versions are gapless: the n-th event has version n. */
#define EVDB_CAP_GAPLESS (UINT64_C(1) << 3)
/** Payloads come back byte for byte as appended. */
#define EVDB_CAP_BYTE_EXACT_PAYLOAD (UINT64_C(1) << 4)
/** The driver's own listener reconnects after a lost connection. */
#define EVDB_CAP_LISTENER_RECONNECT (UINT64_C(1) << 5)

/* ---------------------------------------------------------------------------
 * Databases.
 * ------------------------------------------------------------------------- */
typedef struct evdb_db evdb_db;

/** Opens the store named by `uri` (NUL-terminated). The scheme picks the
 *  driver: a driver registered in-process or loaded before, then the file
 *  libevdb_driver_<scheme>.so, then any driver file that claims the scheme,
 *  searched in EVDB_DRIVER_PATH (colon-separated absolute folders), the
 *  drivers folder beside libevdb, and the install prefix; never the current
 *  directory. On success *out holds a handle the caller owns and closes with
 *  evdb_close().
 *  Errors: EVDB_INVALID_ARGUMENT (NULL, malformed URI, unknown parameter),
 *  EVDB_DRIVER_NOT_FOUND (the message lists every place searched),
 *  EVDB_DRIVER_ABI_MISMATCH, EVDB_CONNECTION, EVDB_CANCELED, … from the driver.
 *  Thread-safe: any number of threads may open at once. */
EVDB_API evdb_status evdb_open(const char* uri, evdb_ctx* ctx, evdb_db** out, evdb_error* err);

/** Closes a handle. Every transaction and listen on it must have ended.
 *  Safe on NULL. The driver stays loaded for the life of the process. */
EVDB_API void evdb_close(evdb_db* db);

/** The capability flags (EVDB_CAP_*) of this store, which may depend on the
 *  URI (e.g. a Postgres layout). Thread-safe. */
EVDB_API uint64_t evdb_db_capabilities(const evdb_db* db);

/** Checks that the store is reachable and usable: a round trip to the server
 *  for networked drivers, a read for embedded ones. Errors: EVDB_CONNECTION,
 *  EVDB_CANCELED, EVDB_DEADLINE_EXCEEDED, EVDB_UNSUPPORTED when the driver's
 *  table predates this entry. Thread-safe. */
EVDB_API evdb_status evdb_ping(evdb_db* db, evdb_ctx* ctx, evdb_error* err);

/** The name of the driver serving this handle ("memory", "sqlite", …). The
 *  string lives as long as the process. */
EVDB_API const char* evdb_db_driver_name(const evdb_db* db);

/* ---------------------------------------------------------------------------
 * Transactions.
 * ------------------------------------------------------------------------- */
typedef struct evdb_tx evdb_tx;

/** The kind of a transaction: a fixed-width integer, never a C enum. */
typedef int32_t evdb_tx_kind;
/** Sees one consistent snapshot; every write fails with EVDB_READ_ONLY. */
#define EVDB_TX_READ_ONLY 0
/** Serializable among read-write transactions; sees its own writes. */
#define EVDB_TX_READ_WRITE 1

/** Begins a transaction of `kind` (EVDB_TX_READ_ONLY or EVDB_TX_READ_WRITE;
 *  any other value is EVDB_INVALID_ARGUMENT). On success *out is owned by the caller and ends with
 *  exactly one evdb_commit() or evdb_rollback().
 *  Errors: EVDB_INVALID_ARGUMENT, EVDB_CANCELED, EVDB_DEADLINE_EXCEEDED,
 *  EVDB_CONNECTION, driver errors. Thread-safe on db. */
EVDB_API evdb_status evdb_begin(evdb_db* db, evdb_ctx* ctx, evdb_tx_kind kind, evdb_tx** out,
                                evdb_error* err);

/** Commits and frees tx (tx is invalid afterwards, whatever the result).
 *  Errors: EVDB_VERSION_MISMATCH (the transaction appended and lost a race),
 *  EVDB_CONFLICT (it did not append and lost a race), EVDB_CONNECTION, …
 *  On any error nothing of the transaction was applied. */
EVDB_API evdb_status evdb_commit(evdb_tx* tx, evdb_ctx* ctx, evdb_error* err);

/** Rolls back and frees tx; leaves no trace (no event, no projection change,
 *  no notification). Safe on NULL. Never fails. */
EVDB_API void evdb_rollback(evdb_tx* tx);

/** The kind the transaction was begun with. */
EVDB_API evdb_tx_kind evdb_tx_get_kind(const evdb_tx* tx);

/** A transaction body for evdb_tx_read_only()/evdb_tx_read_write(). Return EVDB_OK to
 *  commit; any other status rolls back and is returned by the caller. To give
 *  a message, fill err with evdb_error_set(). The body must not commit or
 *  roll back tx itself. */
typedef evdb_status (*evdb_tx_fn)(evdb_tx* tx, void* user, evdb_error* err);

/** Begins a read-only transaction, runs fn, then commits when fn returns
 *  EVDB_OK; otherwise rolls back and returns fn's status and error unchanged.
 *  Errors: those of evdb_begin/evdb_commit, or fn's. */
EVDB_API evdb_status evdb_tx_read_only(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user,
                                       evdb_error* err);

/** Like evdb_tx_read_only(), with a read-write transaction. */
EVDB_API evdb_status evdb_tx_read_write(evdb_db* db, evdb_ctx* ctx, evdb_tx_fn fn, void* user,
                                        evdb_error* err);

/* ---------------------------------------------------------------------------
 * Reads (both kinds of transaction). In a read-write transaction a read may
 * also fail with EVDB_CONFLICT or EVDB_VERSION_MISMATCH on a backend that
 * detects serialization conflicts when reading (PostgreSQL): retry the whole
 * transaction (docs/contract.md OP-14). Reads in read-only transactions never
 * fail that way.
 * ------------------------------------------------------------------------- */

/** *out = version of the last event visible to tx; 0 when the log is empty. */
EVDB_API evdb_status evdb_read_system_version(evdb_tx* tx, evdb_ctx* ctx, int64_t* out,
                                              evdb_error* err);

/** *out = the event with version `version`. EVDB_NOT_FOUND for 0 and for
 *  versions past the head; EVDB_INVALID_ARGUMENT for negative versions and
 *  for an out->struct_size below EVDB_EVENT_MIN_SIZE (set it with
 *  EVDB_EVENT_INIT). Only the fields out->struct_size covers are written.
 *  Strings in *out live until the next call on tx or its end. */
EVDB_API evdb_status evdb_read_event_at(evdb_tx* tx, evdb_ctx* ctx, int64_t version,
                                        evdb_event* out, evdb_error* err);

/** *out = the event with the smallest version greater than `version`;
 *  EVDB_NOT_FOUND when there is none. Negative versions and a too small
 *  out->struct_size: EVDB_INVALID_ARGUMENT (as evdb_read_event_at). */
EVDB_API evdb_status evdb_read_event_after(evdb_tx* tx, evdb_ctx* ctx, int64_t version,
                                           evdb_event* out, evdb_error* err);

/** Fills buf with up to n events starting at `at` inclusive: ascending over
 *  version >= at, or (reverse != 0) descending over version <= at. `at` past
 *  the head gives 0 events ascending and starts at the head descending.
 *  n = 0 gives 0 events (buf may then be NULL). *n_out = events written.
 *  The elements of buf are buf[0].struct_size bytes apart (set it with
 *  EVDB_EVENT_INIT; below EVDB_EVENT_MIN_SIZE is EVDB_INVALID_ARGUMENT) and
 *  only the fields that size covers are written; every element written gets
 *  that struct_size. Strings live until the next call on tx or its end.
 *  at < 0 is invalid. */
EVDB_API evdb_status evdb_read_events(evdb_tx* tx, evdb_ctx* ctx, int64_t at, int reverse,
                                      evdb_event* buf, size_t n, size_t* n_out, evdb_error* err);

/** *out = the version of projection `id`; EVDB_NOT_FOUND if never
 *  initialised. */
EVDB_API evdb_status evdb_read_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id,
                                                  int64_t* out, evdb_error* err);

/* ---------------------------------------------------------------------------
 * Writes (read-write transactions; EVDB_READ_ONLY otherwise).
 * ------------------------------------------------------------------------- */

/** Appends `event` iff the head is `assumed_version` at this point of the
 *  transaction's serial order; *new_version (may be NULL) = assumed + 1.
 *  Otherwise EVDB_VERSION_MISMATCH and nothing is appended. event->version is
 *  ignored, and so are fields past what this library knows (an
 *  event->struct_size below EVDB_EVENT_MIN_SIZE is EVDB_INVALID_ARGUMENT). Appends in one
 * transaction chain (assumed, assumed+1, …). Errors: EVDB_INVALID_ARGUMENT (empty/non-UTF-8 type,
 * payload not JSON, negative assumed or time), EVDB_READ_ONLY, EVDB_VERSION_MISMATCH. */
EVDB_API evdb_status evdb_append_event(evdb_tx* tx, evdb_ctx* ctx, int64_t assumed_version,
                                       const evdb_event* event, int64_t* new_version,
                                       evdb_error* err);

/** Creates projection `id` at version 0 if absent; *out (may be NULL) = its
 *  current version. Idempotent, never resets. */
EVDB_API evdb_status evdb_init_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id,
                                                  int64_t* out, evdb_error* err);

/** Sets projection `id` to `version` (backwards too). EVDB_NOT_FOUND if never
 *  initialised; EVDB_INVALID_ARGUMENT if version < 0. */
EVDB_API evdb_status evdb_set_projection_version(evdb_tx* tx, evdb_ctx* ctx, int32_t id,
                                                 int64_t version, evdb_error* err);

/* ---------------------------------------------------------------------------
 * Listening for new events.
 * ------------------------------------------------------------------------- */

/** Called once, when the subscription is active: every event committed after
 *  it returns is delivered. Return EVDB_OK to go on; any other status ends
 *  evdb_listen() at once, which returns it (with the message set through
 *  evdb_error_set(err, …), if any) without delivering any event. Runs on the
 *  listening thread; must not close db. */
typedef evdb_status (*evdb_on_ready_fn)(void* user, evdb_error* err);

/** Called once per committed event, in version order, after commit. Return
 *  EVDB_OK to go on; any other status ends evdb_listen(), which returns it
 *  (with the message set through evdb_error_set(err, …), if any). Runs on the
 *  listening thread; must not close db. */
typedef evdb_status (*evdb_on_inserted_fn)(void* user, int64_t version, evdb_error* err);

/** Blocks, delivering new versions, until ctx is cancelled (EVDB_CANCELED,
 *  within 100 ms), its deadline passes (EVDB_DEADLINE_EXCEEDED), on_ready or
 *  on_inserted returns an error (that error), or the connection is lost for longer than
 *  the driver's reconnect limit (EVDB_CONNECTION). on_ready may be NULL.
 *  Uses the driver's listener when it has EVDB_CAP_LISTENER; otherwise polls
 *  read_system_version every 50 ms. Thread-safe: many listens may run at once
 *  on one db, each on its own thread; they share one subscription (one server
 *  connection), run by the library on a thread of its own from the first
 *  listen on db to the last, and each keeps its own on_ready, context and
 *  callback errors. A listen whose callbacks fall more than 4096 versions
 *  behind the others reads the missed ones from the log and catches up
 *  (docs/contract.md LSN-1 … LSN-4). */
EVDB_API evdb_status evdb_listen(evdb_db* db, evdb_ctx* ctx, evdb_on_ready_fn on_ready,
                                 evdb_on_inserted_fn on_inserted, void* user, evdb_error* err);

/* ---------------------------------------------------------------------------
 * Drivers.
 * ------------------------------------------------------------------------- */

/** Information about one driver, as listed by evdb_drivers_list(). Made by
 *  the library: read a field added after 1.0 only when
 *  EVDB_STRUCT_HAS(info, evdb_driver_info, field). */
typedef struct evdb_driver_info {
  /** sizeof(evdb_driver_info) of the library that made it. */
  uint32_t struct_size;
  /** Driver name, e.g. "sqlite". */
  const char* name;
  /** Driver's own version text. */
  const char* version;
  /** File the driver was loaded from; "(in-process)" for registered ones. */
  const char* file;
  /** NULL-terminated list of URI schemes the driver serves. */
  const char* const* schemes;
  /** ABI version the driver speaks. */
  uint32_t abi_version;
  /** EVDB_CAP_* the driver offers in general (a store may have fewer). */
  uint64_t capabilities;
  /* ---- fields added in 1.x are appended here ---------------------------- */
} evdb_driver_info;

/** Initialiser (for whoever makes one, e.g. a test double). */
#define EVDB_DRIVER_INFO_INIT \
  { (uint32_t)sizeof(evdb_driver_info), NULL, NULL, NULL, NULL, 0, 0 }

/** Called once per driver by evdb_drivers_list(); the pointers live for the
 *  life of the process. */
typedef void (*evdb_driver_info_fn)(void* user, const evdb_driver_info* info);

/** Loads every driver file found on the search path (see evdb_open) and calls
 *  fn for each usable driver, then reports files that could not be loaded
 *  through `problem` (may be NULL) with a message each. Returns EVDB_OK. */
EVDB_API evdb_status evdb_drivers_list(evdb_driver_info_fn fn, void* user,
                                       void (*problem)(void* user, const char* file,
                                                       const char* message));

/** The folders the loader searches, in order: absolute paths separated by
 *  '\n' (nothing else: no notes, no ignored entries), as a string the caller
 *  frees with evdb_string_free(). NULL only when out of memory. Thread-safe.
 *  EVDB_DRIVER_PATH is read with secure_getenv(): a setuid/setgid program
 *  ignores it. */
EVDB_API char* evdb_driver_search_path(void);

/** Called once per search-path entry by evdb_driver_search_path_notes():
 *  `folder` is the absolute folder, or NULL for an entry that is ignored;
 *  `note` says where the entry comes from ("EVDB_DRIVER_PATH", "beside
 *  libevdb", "install prefix") or why it is ignored. Both strings live only
 *  during the call. */
typedef void (*evdb_search_note_fn)(void* user, const char* folder, const char* note);

/** Calls fn for every entry of the search path, in order, with its note: the
 *  folders of evdb_driver_search_path() plus the entries that are ignored
 *  (relative EVDB_DRIVER_PATH entries; all of EVDB_DRIVER_PATH in a setuid
 *  program). For diagnostics (the evdb CLI prints them). Thread-safe. */
EVDB_API void evdb_driver_search_path_notes(evdb_search_note_fn fn, void* user);

/** Frees a string handed out by this library. Safe on NULL. */
EVDB_API void evdb_string_free(char* s);

/** Loads the driver in file `path` (absolute or relative to the current
 *  directory: the caller names it explicitly) and makes it serve its schemes,
 *  ahead of any driver found by search. Loading the same file twice is a
 *  no-op. Errors: EVDB_INVALID_ARGUMENT (NULL or empty path),
 *  EVDB_DRIVER_NOT_FOUND (no such file, not a shared object, no entry point),
 *  EVDB_DRIVER_ABI_MISMATCH (an ABI this library cannot speak, a table too
 *  small or missing required functions; both versions are in the message).
 *  Thread-safe. */
EVDB_API evdb_status evdb_driver_load_file(const char* path, evdb_error* err);

#ifdef __cplusplus
}
#endif

#endif /* EVDB_H */
