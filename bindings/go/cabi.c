/* cabi.c: see cabi.h. */
#include "cabi.h"

#include "_cgo_export.h"

static void evdbgo_event_init(evdb_event* ev) {
  evdb_event empty = EVDB_EVENT_INIT;
  *ev = empty;
}

evdb_status evdbgo_append(evdb_tx* tx, evdb_ctx* ctx, int64_t assumed, int64_t time_us,
                          const char* type_name, size_t type_name_len, const char* payload,
                          size_t payload_len, const char* revision_vcs, size_t revision_vcs_len,
                          int64_t* new_version, evdb_error* err) {
  evdb_event ev;
  evdbgo_event_init(&ev);
  ev.time_us = time_us;
  ev.type_name = type_name;
  ev.type_name_len = type_name_len;
  ev.payload = payload;
  ev.payload_len = payload_len;
  ev.revision_vcs = revision_vcs;
  ev.revision_vcs_len = revision_vcs_len;
  return evdb_append_event(tx, ctx, assumed, &ev, new_version, err);
}

evdb_status evdbgo_read_event(evdb_tx* tx, evdb_ctx* ctx, int64_t version, int after,
                              evdb_event* out, evdb_error* err) {
  evdbgo_event_init(out);
  return after ? evdb_read_event_after(tx, ctx, version, out, err)
               : evdb_read_event_at(tx, ctx, version, out, err);
}

evdb_status evdbgo_read_events(evdb_tx* tx, evdb_ctx* ctx, int64_t at, int reverse, evdb_event* buf,
                               size_t n, size_t* n_out, evdb_error* err) {
  for (size_t i = 0; i < n; ++i) evdbgo_event_init(&buf[i]);
  return evdb_read_events(tx, ctx, at, reverse, buf, n, n_out, err);
}

static evdb_status on_ready(void* user, evdb_error* err) {
  return goOnReady((uintptr_t)user, err);
}

static evdb_status on_inserted(void* user, int64_t version, evdb_error* err) {
  return goOnInserted((uintptr_t)user, version, err);
}

evdb_status evdbgo_listen(evdb_db* db, evdb_ctx* ctx, uintptr_t handle, evdb_error* err) {
  return evdb_listen(db, ctx, on_ready, on_inserted, (void*)handle, err);
}
