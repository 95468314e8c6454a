/* old_app.c — an application built against the frozen 1.0 headers
 * (api/abi/1.0/evdb/), run against the current libevdb and drivers (ctest
 * abi.old_app). Argument 1: the file of a driver also built against the 1.0
 * headers (scheme "told"). Every store it opens must behave as 1.0 promised:
 * events in and out (single and arrays, stepped by the 1.0 sizeof), errors,
 * the listener (on_ready's error ends it), driver listing, versions. */
#include <evdb/evdb.h>

#include <stdio.h>
#include <string.h>

static int failures;
#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      ++failures;                                             \
      fprintf(stderr, "%s:%d: FAILED: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                           \
      fputc('\n', stderr);                                    \
    }                                                         \
  } while (0)

static evdb_status ready_refuses(void* user, evdb_error* err) {
  ++*(int*)user;
  evdb_error_set(err, EVDB_CONFLICT, "old app: not now");
  return EVDB_CONFLICT;
}
static evdb_status count_inserted(void* user, int64_t v, evdb_error* err) {
  (void)v, (void)err;
  ++*(int*)user;
  return EVDB_OK;
}

static void exercise(const char* uri) {
  evdb_db* db = NULL;
  evdb_tx* tx = NULL;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_event e = EVDB_EVENT_INIT, out = EVDB_EVENT_INIT;
  /* An array with a guard after it: a library must write nothing past it. */
  struct {
    evdb_event buf[3];
    uint64_t guard;
  } arr;
  int64_t head = 0, v = 0;
  size_t n = 0, i;
  int ready = 0, inserted = 0;
  evdb_status s = evdb_open(uri, NULL, &db, &err);
  CHECK(s == EVDB_OK, "open %s: %s", uri, err.message ? err.message : "");
  if (s != EVDB_OK) {
    evdb_error_release(&err);
    return;
  }
  e.type_name = "Old";
  e.type_name_len = 3;
  e.payload = "{\"old\":true}";
  e.payload_len = strlen(e.payload);
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &tx, &err) == EVDB_OK, "begin %s", uri);
  CHECK(evdb_read_system_version(tx, NULL, &head, &err) == EVDB_OK, "head");
  for (i = 0; i < 3; ++i)
    CHECK(evdb_append_event(tx, NULL, head + (int64_t)i, &e, &v, &err) == EVDB_OK, "append: %s",
          err.message ? err.message : "");
  CHECK(evdb_commit(tx, NULL, &err) == EVDB_OK, "commit: %s", err.message ? err.message : "");

  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, &err) == EVDB_OK, "begin read-only");
  CHECK(evdb_read_event_at(tx, NULL, head + 1, &out, &err) == EVDB_OK, "read_event_at");
  CHECK(out.struct_size == sizeof(evdb_event), "struct_size kept: %u", (unsigned)out.struct_size);
  CHECK(out.version == head + 1 && out.payload_len == e.payload_len &&
            memcmp(out.payload, e.payload, e.payload_len) == 0,
        "read_event_at gives the event");
  memset(&arr, 0, sizeof arr);
  arr.buf[0].struct_size = sizeof(evdb_event);
  arr.guard = 0x6576646267756172u;
  CHECK(evdb_read_events(tx, NULL, head + 1, 0, arr.buf, 3, &n, &err) == EVDB_OK, "read_events");
  CHECK(n == 3, "read_events gives 3, got %zu", n);
  for (i = 0; i < n; ++i)
    CHECK(
        arr.buf[i].version == head + 1 + (int64_t)i && arr.buf[i].struct_size == sizeof(evdb_event),
        "element %zu stepped by the 1.0 sizeof", i);
  CHECK(arr.guard == 0x6576646267756172u, "nothing written past the caller's array");
  s = evdb_read_event_at(tx, NULL, head + 100, &out, &err);
  CHECK(s == EVDB_NOT_FOUND && err.code == EVDB_NOT_FOUND && err.message != NULL,
        "NOT_FOUND with a message");
  evdb_error_release(&err);
  CHECK(err.struct_size == sizeof(evdb_error) && err.message == NULL, "release keeps struct_size");
  evdb_rollback(tx);

  /* The deadline only bounds a library that would ignore on_ready's error. */
  evdb_ctx* ctx = evdb_ctx_new();
  evdb_ctx_set_timeout_ms(ctx, 10000);
  s = evdb_listen(db, ctx, ready_refuses, count_inserted, &ready, &err);
  evdb_ctx_free(ctx);
  CHECK(s == EVDB_CONFLICT && ready == 1 && inserted == 0, "on_ready's error ends listen (%s)",
        evdb_status_name(s));
  evdb_error_release(&err);
  evdb_close(db);
}

static void on_driver(void* user, const evdb_driver_info* info) {
  ++*(int*)user;
  CHECK(info->struct_size >= sizeof(evdb_driver_info), "driver_info struct_size %u",
        (unsigned)info->struct_size);
}

int main(int argc, char** argv) {
  evdb_error err = EVDB_ERROR_INIT;
  int drivers = 0;
  if (argc != 2) {
    fprintf(stderr, "usage: %s OLD_DRIVER_FILE\n", argv[0]);
    return 2;
  }
  CHECK(evdb_version_number() >= EVDB_VERSION_NUMBER, "library %u older than headers %u",
        (unsigned)evdb_version_number(), (unsigned)EVDB_VERSION_NUMBER);
  CHECK(evdb_driver_load_file(argv[1], &err) == EVDB_OK, "load %s: %s", argv[1],
        err.message ? err.message : "");
  evdb_error_release(&err);
  exercise("memory:old-app");
  exercise("told:");
  evdb_drivers_list(on_driver, &drivers, NULL);
  CHECK(drivers >= 2, "drivers listed: %d", drivers);
  if (failures == 0) printf("old_app: every 1.0 promise kept\n");
  return failures == 0 ? 0 : 1;
}
