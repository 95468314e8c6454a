/* probe_driver.c — a driver for the runner's own tests (scheme "cfprobe"). Its
 * open always fails with EVDB_CONNECTION and a message that quotes the
 * (redacted) URI it received, so a test can see the runner's {unique}
 * substitution and --driver loading without a working store. Every other
 * entry returns EVDB_UNSUPPORTED (never reached: open never succeeds). */
#include <evdb/driver.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void probe_release(evdb_error* e) {
  free(e->message);
  e->message = NULL;
  e->release = NULL;
}

static evdb_status probe_fail(evdb_error* err, evdb_status code, const char* msg) {
  if (err == NULL) return code;
  if (err->release != NULL) err->release(err);
  err->code = code;
  err->message = (char*)malloc(strlen(msg) + 1);
  if (err->message != NULL) strcpy(err->message, msg);
  err->release = probe_release;
  err->private_data = NULL;
  return code;
}

static evdb_status probe_open(const evdb_uri* uri, evdb_ctx* ctx, evdb_driver_db** out,
                              evdb_error* err) {
  char msg[1024];
  (void)ctx;
  *out = NULL;
  snprintf(msg, sizeof msg, "cfprobe: open: this test driver opens nothing (uri %s)",
           uri->redacted);
  return probe_fail(err, EVDB_CONNECTION, msg);
}

static void probe_close(evdb_driver_db* db) {
  (void)db;
}
static uint64_t probe_caps(evdb_driver_db* db) {
  (void)db;
  return 0;
}
static evdb_status probe_begin(evdb_driver_db* db, evdb_ctx* ctx, evdb_tx_kind ro,
                               evdb_driver_tx** out, evdb_error* err) {
  (void)db, (void)ctx, (void)ro, (void)out;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: begin: unsupported");
}
static evdb_status probe_commit(evdb_driver_tx* tx, evdb_ctx* ctx, evdb_error* err) {
  (void)tx, (void)ctx;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: commit: unsupported");
}
static void probe_rollback(evdb_driver_tx* tx) {
  (void)tx;
}
static evdb_status probe_head(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t* out, evdb_error* err) {
  (void)tx, (void)ctx, (void)out;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: read: unsupported");
}
static evdb_status probe_read(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t v, evdb_event* out,
                              evdb_error* err) {
  (void)tx, (void)ctx, (void)v, (void)out;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: read: unsupported");
}
static evdb_status probe_read_events(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t at, int rev,
                                     evdb_event* buf, size_t n, size_t* n_out, evdb_error* err) {
  (void)tx, (void)ctx, (void)at, (void)rev, (void)buf, (void)n, (void)n_out;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: read: unsupported");
}
static evdb_status probe_proj(evdb_driver_tx* tx, evdb_ctx* ctx, int32_t id, int64_t* out,
                              evdb_error* err) {
  (void)tx, (void)ctx, (void)id, (void)out;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: projection: unsupported");
}
static evdb_status probe_append(evdb_driver_tx* tx, evdb_ctx* ctx, int64_t assumed,
                                const evdb_event* e, int64_t* nv, evdb_error* err) {
  (void)tx, (void)ctx, (void)assumed, (void)e, (void)nv;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: append: unsupported");
}
static evdb_status probe_set(evdb_driver_tx* tx, evdb_ctx* ctx, int32_t id, int64_t v,
                             evdb_error* err) {
  (void)tx, (void)ctx, (void)id, (void)v;
  return probe_fail(err, EVDB_UNSUPPORTED, "cfprobe: projection: unsupported");
}

static const char* const probe_schemes[] = {"cfprobe", NULL};

static const evdb_driver probe_table = {
    .struct_size = sizeof(evdb_driver),
    .abi_version = EVDB_DRIVER_ABI_VERSION,
    .name = "cfprobe",
    .version = "0.0.1",
    .schemes = probe_schemes,
    .capabilities = 0,
    .open = probe_open,
    .close = probe_close,
    .db_capabilities = probe_caps,
    .begin = probe_begin,
    .commit = probe_commit,
    .rollback = probe_rollback,
    .read_system_version = probe_head,
    .read_event_at = probe_read,
    .read_event_after = probe_read,
    .read_events = probe_read_events,
    .read_projection_version = probe_proj,
    .append_event = probe_append,
    .init_projection_version = probe_proj,
    .set_projection_version = probe_set,
};

__attribute__((visibility("default"))) const evdb_driver* evdb_driver_entry(
    uint32_t host_abi_version, const evdb_host_api* host) {
  (void)host_abi_version, (void)host;
  return &probe_table;
}
