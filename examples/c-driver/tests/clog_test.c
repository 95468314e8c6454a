/*
 * clog_test.c — the clog driver's own tests, in C, through libevdb: what the
 * conformance suite cannot know about this driver (its URI, its file format,
 * torn and damaged files, file locks, other processes, a deleted file).
 *
 * usage: clog_test DRIVER_FILE STORE_DIR
 * Exit status 0 when every check passed; each failed check is printed.
 */
#define _DEFAULT_SOURCE /* flock, mkdtemp */

#include <evdb/evdb.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int g_failures;
static int g_checks;
static const char* g_dir;
static int g_seq;

#define CHECK(cond, ...)                                                       \
  do {                                                                         \
    ++g_checks;                                                                \
    if (!(cond)) {                                                             \
      ++g_failures;                                                            \
      fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                            \
      fputc('\n', stderr);                                                     \
    }                                                                          \
  } while (0)

/* A fresh store file name in the test folder; *uri gets "clog:<path>". */
static void fresh_store(char* path, size_t n, char* uri, size_t un) {
  snprintf(path, n, "%s/t%ld_%d.clog", g_dir, (long)getpid(), ++g_seq);
  snprintf(uri, un, "clog:%s", path);
  unlink(path);
}

static evdb_db* open_ok(const char* uri) {
  evdb_db* db = NULL;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri, NULL, &db, &err);
  CHECK(s == EVDB_OK, "evdb_open(%s): %s: %s", uri, evdb_status_name(s),
        err.message ? err.message : "");
  evdb_error_release(&err);
  return s == EVDB_OK ? db : NULL;
}

static evdb_event ev(const char* type, const char* payload) {
  evdb_event e = EVDB_EVENT_INIT;
  e.type_name = type;
  e.type_name_len = strlen(type);
  e.payload = payload;
  e.payload_len = strlen(payload);
  e.revision_vcs = "rev-1";
  e.revision_vcs_len = 5;
  return e;
}

/* Appends one event at the current head in its own transaction. */
static evdb_status append_one(evdb_db* db, const char* type, const char* payload) {
  evdb_tx* tx = NULL;
  int64_t head = 0, nv = 0;
  evdb_event e = ev(type, payload);
  evdb_status s = evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &tx, NULL);
  if (s != EVDB_OK) return s;
  s = evdb_read_system_version(tx, NULL, &head, NULL);
  if (s == EVDB_OK) s = evdb_append_event(tx, NULL, head, &e, &nv, NULL);
  if (s != EVDB_OK) {
    evdb_rollback(tx);
    return s;
  }
  return evdb_commit(tx, NULL, NULL);
}

static int64_t head_of(evdb_db* db) {
  evdb_tx* tx = NULL;
  int64_t head = -1;
  if (evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, NULL) != EVDB_OK) return -1;
  evdb_read_system_version(tx, NULL, &head, NULL);
  evdb_rollback(tx);
  return head;
}

/* Expects evdb_open(uri) to fail with `code` and a message containing
 * `needle` (and never the word "secret"). */
static void expect_open_fails(const char* uri, evdb_status code, const char* needle) {
  evdb_db* db = NULL;
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status s = evdb_open(uri, NULL, &db, &err);
  CHECK(s == code, "evdb_open(%s) gave %s, expected %s (%s)", uri, evdb_status_name(s),
        evdb_status_name(code), err.message ? err.message : "");
  CHECK(err.message != NULL && strstr(err.message, needle) != NULL,
        "evdb_open(%s): message should contain '%s': %s", uri, needle,
        err.message ? err.message : "(none)");
  CHECK(err.message == NULL || strstr(err.message, "secret") == NULL, "a password leaked into: %s",
        err.message);
  if (s == EVDB_OK) evdb_close(db);
  evdb_error_release(&err);
}

static void test_uris(void) {
  char path[512], uri[600], bad[700];
  fresh_store(path, sizeof path, uri, sizeof uri);
  snprintf(bad, sizeof bad, "%s?colour=blue", uri);
  expect_open_fails(bad, EVDB_INVALID_ARGUMENT, "colour");
  snprintf(bad, sizeof bad, "%s?sync=sometimes", uri);
  expect_open_fails(bad, EVDB_INVALID_ARGUMENT, "sync=sometimes");
  snprintf(bad, sizeof bad, "clog://user:secret@somehost%s", path);
  expect_open_fails(bad, EVDB_INVALID_ARGUMENT, "no host");
  expect_open_fails("clog:", EVDB_INVALID_ARGUMENT, "names no file");
  snprintf(bad, sizeof bad, "clog:%s", g_dir);
  expect_open_fails(bad, EVDB_INVALID_ARGUMENT, g_dir);

  /* A file that is not a clog store is refused and left alone. */
  {
    FILE* f = fopen(path, "w");
    struct stat st;
    fputs("{\"this is\": \"not a clog store\"}\n", f);
    fclose(f);
    expect_open_fails(uri, EVDB_INVALID_ARGUMENT, "not a clog store");
    CHECK(stat(path, &st) == 0 && st.st_size == 32, "the foreign file was modified");
  }

  /* Both spellings of a path and both sync values open the same store. */
  {
    evdb_db *a, *b;
    fresh_store(path, sizeof path, uri, sizeof uri);
    snprintf(bad, sizeof bad, "clog://%s?sync=off", path);
    a = open_ok(uri);
    b = open_ok(bad);
    if (a && b) {
      CHECK(append_one(a, "A", "1") == EVDB_OK, "append through a");
      CHECK(append_one(b, "B", "2") == EVDB_OK, "append through b");
      CHECK(head_of(a) == 2 && head_of(b) == 2, "both handles see two events");
      CHECK(strcmp(evdb_db_driver_name(a), "clog") == 0, "driver name %s", evdb_db_driver_name(a));
    }
    evdb_close(a);
    evdb_close(b);
  }
}

static void test_reads_and_writes(void) {
  char path[512], uri[600];
  evdb_db* db;
  evdb_tx* tx = NULL;
  evdb_event e = ev("Opened", " { \"id\" : 1 ,\"x\":[1, 2.50] } "), out = EVDB_EVENT_INIT;
  evdb_event buf[8] = {EVDB_EVENT_INIT};
  int64_t nv = 0, v = 0;
  size_t n = 0;
  fresh_store(path, sizeof path, uri, sizeof uri);
  db = open_ok(uri);
  if (db == NULL) return;

  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &tx, NULL) == EVDB_OK, "begin");
  e.time_us = 1234567;
  CHECK(evdb_append_event(tx, NULL, 0, &e, &nv, NULL) == EVDB_OK && nv == 1, "append 1");
  CHECK(evdb_append_event(tx, NULL, 0, &e, &nv, NULL) == EVDB_VERSION_MISMATCH,
        "stale assumed version in the same transaction");
  e.time_us = 0;
  CHECK(evdb_append_event(tx, NULL, 1, &e, &nv, NULL) == EVDB_OK && nv == 2, "append 2");
  CHECK(evdb_read_event_at(tx, NULL, 2, &out, NULL) == EVDB_OK && out.version == 2,
        "a transaction reads its own appends");
  CHECK(evdb_init_projection_version(tx, NULL, 7, &v, NULL) == EVDB_OK && v == 0, "init");
  CHECK(evdb_set_projection_version(tx, NULL, 7, 2, NULL) == EVDB_OK, "set");
  CHECK(evdb_set_projection_version(tx, NULL, 8, 2, NULL) == EVDB_NOT_FOUND, "set uninitialised");
  CHECK(evdb_commit(tx, NULL, NULL) == EVDB_OK, "commit");

  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, NULL) == EVDB_OK, "begin ro");
  CHECK(evdb_read_event_at(tx, NULL, 1, &out, NULL) == EVDB_OK, "read 1");
  CHECK(out.time_us == 1234567, "time round-trips: %lld", (long long)out.time_us);
  CHECK(out.payload_len == e.payload_len && memcmp(out.payload, e.payload, e.payload_len) == 0 &&
            out.payload[out.payload_len] == '\0',
        "payload byte for byte, NUL-terminated: %s", out.payload);
  CHECK(strcmp(out.revision_vcs, "rev-1") == 0 && strcmp(out.type_name, "Opened") == 0,
        "type and revision");
  CHECK(evdb_read_event_at(tx, NULL, 2, &out, NULL) == EVDB_OK && out.time_us > 1600000000000000,
        "time 0 means now: %lld", (long long)out.time_us);
  CHECK(evdb_read_event_at(tx, NULL, 3, &out, NULL) == EVDB_NOT_FOUND, "past the head");
  CHECK(evdb_read_event_after(tx, NULL, 1, &out, NULL) == EVDB_OK && out.version == 2, "after 1");
  CHECK(evdb_read_event_after(tx, NULL, 2, &out, NULL) == EVDB_NOT_FOUND, "after the head");
  CHECK(evdb_read_events(tx, NULL, 9, 1, buf, 8, &n, NULL) == EVDB_OK && n == 2 &&
            buf[0].version == 2 && buf[1].version == 1,
        "descending from past the head");
  CHECK(evdb_read_projection_version(tx, NULL, 7, &v, NULL) == EVDB_OK && v == 2, "projection");
  CHECK(evdb_append_event(tx, NULL, 2, &e, &nv, NULL) == EVDB_READ_ONLY, "read-only");
  evdb_rollback(tx);
  evdb_close(db);

  /* Everything is still there after every handle closed. */
  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(head_of(db) == 2, "durable across reopen: head %lld", (long long)head_of(db));
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, NULL) == EVDB_OK, "begin ro");
  CHECK(evdb_read_projection_version(tx, NULL, 7, &v, NULL) == EVDB_OK && v == 2,
        "projection durable");
  CHECK(evdb_read_event_at(tx, NULL, 1, &out, NULL) == EVDB_OK &&
            strcmp(out.payload, e.payload) == 0 && out.time_us == 1234567,
        "event durable");
  evdb_rollback(tx);
  evdb_close(db);
}

static void test_isolation(void) {
  char path[512], uri[600];
  evdb_db* db;
  evdb_tx *ro = NULL, *a = NULL, *b = NULL, *c = NULL;
  evdb_event e = ev("T", "{}");
  int64_t v = 0, nv = 0;
  evdb_error err = EVDB_ERROR_INIT;
  fresh_store(path, sizeof path, uri, sizeof uri);
  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(append_one(db, "T", "1") == EVDB_OK, "first append");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &c, NULL) == EVDB_OK, "begin c");
  CHECK(evdb_init_projection_version(c, NULL, 1, &v, NULL) == EVDB_OK, "c inits");
  CHECK(evdb_commit(c, NULL, NULL) == EVDB_OK, "commit c");

  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &ro, NULL) == EVDB_OK, "begin ro");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &a, NULL) == EVDB_OK, "begin a");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &b, NULL) == EVDB_OK, "begin b");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &c, NULL) == EVDB_OK, "begin c");
  CHECK(evdb_append_event(a, NULL, 1, &e, &nv, NULL) == EVDB_OK, "a appends");
  CHECK(evdb_set_projection_version(a, NULL, 1, 5, NULL) == EVDB_OK, "a sets");
  CHECK(evdb_append_event(b, NULL, 1, &e, &nv, NULL) == EVDB_OK, "b appends");
  CHECK(evdb_set_projection_version(c, NULL, 1, 9, NULL) == EVDB_OK, "c sets");
  CHECK(evdb_commit(a, NULL, NULL) == EVDB_OK, "a wins");
  CHECK(evdb_commit(b, NULL, &err) == EVDB_VERSION_MISMATCH, "b appended and lost");
  CHECK(err.message && strncmp(err.message, "clog: commit: ", 14) == 0, "message: %s",
        err.message ? err.message : "(none)");
  CHECK(evdb_commit(c, NULL, &err) == EVDB_CONFLICT, "c only wrote a projection and lost");
  evdb_error_release(&err);

  CHECK(evdb_read_system_version(ro, NULL, &v, NULL) == EVDB_OK && v == 1,
        "the read-only snapshot still has head 1: %lld", (long long)v);
  CHECK(evdb_read_projection_version(ro, NULL, 1, &v, NULL) == EVDB_OK && v == 0,
        "the read-only snapshot still has projection 0: %lld", (long long)v);
  evdb_rollback(ro);
  CHECK(head_of(db) == 2, "one of two appends committed");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &ro, NULL) == EVDB_OK, "begin ro");
  CHECK(evdb_read_projection_version(ro, NULL, 1, &v, NULL) == EVDB_OK && v == 5,
        "a's projection write: %lld", (long long)v);
  evdb_rollback(ro);
  evdb_close(db);
}

/* Appends raw bytes to a closed store file. */
static void append_bytes(const char* path, const void* bytes, size_t n) {
  int fd = open(path, O_WRONLY | O_APPEND);
  CHECK(fd >= 0 && write(fd, bytes, n) == (ssize_t)n, "append raw bytes to %s", path);
  if (fd >= 0) close(fd);
}

static long file_size(const char* path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_torn_and_damaged_files(void) {
  char path[512], uri[600];
  evdb_db* db;
  long good_size;
  /* A batch header announcing 1000 bytes, then only 5: a commit cut short. */
  const unsigned char torn[] = {'B', 'T', 'C', 'H', 0xe8, 0x03, 0,   0,   1,   2,  3,
                                4,   5,   6,   7,   8,    'a',  'b', 'c', 'd', 'e'};
  fresh_store(path, sizeof path, uri, sizeof uri);
  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(append_one(db, "T", "1") == EVDB_OK, "append");
  evdb_close(db);
  good_size = file_size(path);
  append_bytes(path, torn, sizeof torn);

  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(head_of(db) == 1, "a torn tail is ignored: head %lld", (long long)head_of(db));
  CHECK(file_size(path) == good_size, "the writer that opened it cut the torn tail: %ld vs %ld",
        file_size(path), good_size);
  CHECK(append_one(db, "T", "2") == EVDB_OK, "appending after a torn tail works");
  CHECK(head_of(db) == 2, "head 2");
  evdb_close(db);

  /* One flipped byte inside the first batch: reported, never guessed at. */
  {
    int fd = open(path, O_RDWR);
    unsigned char byte = 0;
    evdb_error err = EVDB_ERROR_INIT;
    evdb_db* bad = NULL;
    evdb_status s;
    CHECK(fd >= 0 && pread(fd, &byte, 1, 40) == 1, "read a byte");
    byte ^= 0x20;
    CHECK(pwrite(fd, &byte, 1, 40) == 1, "flip a byte");
    close(fd);
    s = evdb_open(uri, NULL, &bad, &err);
    CHECK(s == EVDB_INTERNAL, "a damaged file gives EVDB_INTERNAL, got %s", evdb_status_name(s));
    CHECK(err.message && strstr(err.message, "damaged at offset 16"), "message: %s",
          err.message ? err.message : "(none)");
    if (s == EVDB_OK) evdb_close(bad);
    evdb_error_release(&err);
  }
}

static void test_file_lock_and_deadline(void) {
  char path[512], uri[600];
  evdb_db* db;
  evdb_tx* tx = NULL;
  evdb_ctx* ctx = evdb_ctx_new();
  evdb_event e = ev("T", "{}");
  int64_t nv;
  int fd;
  fresh_store(path, sizeof path, uri, sizeof uri);
  db = open_ok(uri);
  if (db == NULL) return;
  /* Another open file description holding the lock acts like another process
   * in the middle of a commit. */
  fd = open(path, O_RDWR);
  CHECK(fd >= 0 && flock(fd, LOCK_EX) == 0, "take the file lock");
  CHECK(evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &tx, NULL) == EVDB_OK, "begin needs no lock");
  CHECK(evdb_append_event(tx, NULL, 0, &e, &nv, NULL) == EVDB_OK, "append");
  evdb_ctx_set_timeout_ms(ctx, 100);
  CHECK(evdb_commit(tx, ctx, NULL) == EVDB_DEADLINE_EXCEEDED,
        "a commit waiting for the file lock ends at the deadline");
  flock(fd, LOCK_UN);
  close(fd);
  CHECK(head_of(db) == 0, "nothing was committed");
  CHECK(append_one(db, "T", "1") == EVDB_OK, "once the lock is free, commits go through");
  evdb_ctx_free(ctx);
  evdb_close(db);
}

static void test_processes(void) {
  char path[512], uri[600];
  enum { kChildren = 3, kEach = 40 };
  pid_t pids[kChildren];
  evdb_db* db;
  fresh_store(path, sizeof path, uri, sizeof uri);
  /* Fork before this process opens the store: each child gets its own file
   * description (a descriptor inherited through fork would share its lock). */
  for (int c = 0; c < kChildren; ++c) {
    pids[c] = fork();
    if (pids[c] == 0) {
      evdb_db* mine = NULL;
      char payload[64];
      if (evdb_open(uri, NULL, &mine, NULL) != EVDB_OK) _exit(3);
      for (int i = 0; i < kEach; ++i) {
        evdb_status s;
        snprintf(payload, sizeof payload, "{\"child\":%d,\"i\":%d}", c, i);
        do s = append_one(mine, "FromChild", payload);
        while (evdb_status_is_retryable(s));
        if (s != EVDB_OK) _exit(4);
      }
      evdb_close(mine);
      _exit(0);
    }
  }
  for (int c = 0; c < kChildren; ++c) {
    int status = 0;
    CHECK(pids[c] > 0 && waitpid(pids[c], &status, 0) == pids[c] && WIFEXITED(status) &&
              WEXITSTATUS(status) == 0,
          "child %d exit status %d", c, status);
  }
  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(head_of(db) == kChildren * kEach, "every child's append is there once: head %lld",
        (long long)head_of(db));
  {
    evdb_tx* tx = NULL;
    evdb_event out = EVDB_EVENT_INIT;
    int seen[kChildren] = {0}, ok = 1;
    CHECK(evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, NULL) == EVDB_OK, "begin");
    for (int64_t v = 1; v <= kChildren * kEach; ++v) {
      int c = -1, i = -1;
      if (evdb_read_event_at(tx, NULL, v, &out, NULL) != EVDB_OK ||
          sscanf(out.payload, "{\"child\":%d,\"i\":%d}", &c, &i) != 2 || c < 0 || c >= kChildren ||
          i != seen[c]++)
        ok = 0;
    }
    CHECK(ok, "each child's events are in its own order, none lost or doubled");
    evdb_rollback(tx);
  }
  evdb_close(db);
}

static void test_ping_deleted_file(void) {
  char path[512], uri[600];
  evdb_db* db;
  evdb_error err = EVDB_ERROR_INIT;
  fresh_store(path, sizeof path, uri, sizeof uri);
  db = open_ok(uri);
  if (db == NULL) return;
  CHECK(evdb_ping(db, NULL, NULL) == EVDB_OK, "ping");
  unlink(path);
  CHECK(evdb_ping(db, NULL, &err) == EVDB_CONNECTION, "ping a deleted store");
  CHECK(err.message && strstr(err.message, "deleted"), "message: %s",
        err.message ? err.message : "(none)");
  evdb_error_release(&err);
  evdb_close(db);
}

int main(int argc, char** argv) {
  evdb_error err = EVDB_ERROR_INIT;
  if (argc != 3) {
    fprintf(stderr, "usage: %s DRIVER_FILE STORE_DIR\n", argv[0]);
    return 2;
  }
  g_dir = argv[2];
  mkdir(g_dir, 0755);
  if (evdb_driver_load_file(argv[1], &err) != EVDB_OK) {
    fprintf(stderr, "cannot load %s: %s\n", argv[1], err.message ? err.message : "");
    evdb_error_release(&err);
    return 2;
  }
  test_uris();
  test_reads_and_writes();
  test_isolation();
  test_torn_and_damaged_files();
  test_file_lock_and_deadline();
  test_processes();
  test_ping_deleted_file();
  printf("clog_test: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
