/*
 * cabi.h: the C side of the Go binding. Everything that depends on the layout
 * of evdb.h's structs or on its callback signatures is here, in cabi.c and in
 * cabi.go, so an ABI change is adapted in these three files only.
 */
#ifndef EVDB_GO_CABI_H
#define EVDB_GO_CABI_H

#include <stddef.h>
#include <stdint.h>

#include <evdb/evdb.h>

/* evdb_append_event with the event's fields passed one by one, so that Go
 * passes its string bytes directly (a Go struct holding Go pointers may not
 * be handed to C) and the evdb_event is built on the C stack. */
evdb_status evdbgo_append(evdb_tx* tx, evdb_ctx* ctx, int64_t assumed, int64_t time_us,
                          const char* type_name, size_t type_name_len, const char* payload,
                          size_t payload_len, const char* revision_vcs, size_t revision_vcs_len,
                          int64_t* new_version, evdb_error* err);

/* evdb_read_event_at (after = 0) or evdb_read_event_after into *out. */
evdb_status evdbgo_read_event(evdb_tx* tx, evdb_ctx* ctx, int64_t version, int after,
                              evdb_event* out, evdb_error* err);

/* evdb_read_events into n elements of buf. */
evdb_status evdbgo_read_events(evdb_tx* tx, evdb_ctx* ctx, int64_t at, int reverse, evdb_event* buf,
                               size_t n, size_t* n_out, evdb_error* err);

/* evdb_listen with the Go callbacks (cabi.go's goOnReady and goOnInserted);
 * `handle` is the runtime/cgo.Handle of the listen's Go state, handed back to
 * them as the user pointer. */
evdb_status evdbgo_listen(evdb_db* db, evdb_ctx* ctx, uintptr_t handle, evdb_error* err);

#endif
