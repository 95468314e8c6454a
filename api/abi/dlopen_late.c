/* dlopen_late.c — ctest abi.dlopen_without_static_tls (ABI-16): libevdb
 * opened with dlopen in a process that has no static TLS to spare for it
 * (run with GLIBC_TUNABLES=glibc.rtld.optional_static_tls=0), so that every
 * thread reaches libevdb's thread_locals through glibc's dynamic-TLS path,
 * the first access of each thread through its slow case. Four threads and
 * the main thread each begin and commit transactions on one "memory:" store.
 * On x86-64 this is the path of the TLS descriptor evdb_begin reads its
 * wrapper pool through (loader/api.cpp, current_pool()).
 *
 * Usage: abi_dlopen_late PATH-TO-LIBEVDB. Exit 0 when every call succeeded. */
#include <dlfcn.h>
#include <evdb/evdb.h>
#include <pthread.h>
#include <stdio.h>

typedef evdb_status (*open_fn)(const char*, evdb_ctx*, evdb_db**, evdb_error*);
typedef evdb_status (*begin_fn)(evdb_db*, evdb_ctx*, evdb_tx_kind, evdb_tx**, evdb_error*);
typedef evdb_status (*commit_fn)(evdb_tx*, evdb_ctx*, evdb_error*);
typedef void (*close_fn)(evdb_db*);

static begin_fn begin;
static commit_fn commit;
static evdb_db* db;

/* 100 empty transactions of both kinds; NULL when all succeeded. */
static void* run(void* arg) {
  int i;
  (void)arg;
  for (i = 0; i < 100; ++i) {
    evdb_tx* tx = NULL;
    evdb_tx_kind kind = i % 2 ? EVDB_TX_READ_ONLY : EVDB_TX_READ_WRITE;
    if (begin(db, NULL, kind, &tx, NULL) != EVDB_OK || tx == NULL) return "begin failed";
    if (commit(tx, NULL, NULL) != EVDB_OK) return "commit failed";
  }
  return NULL;
}

int main(int argc, char** argv) {
  pthread_t threads[4];
  const char* failed = NULL;
  void* lib;
  open_fn open;
  close_fn close;
  int i;
  if (argc != 2) {
    fprintf(stderr, "usage: %s PATH-TO-LIBEVDB\n", argv[0]);
    return 2;
  }
  lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen %s: %s\n", argv[1], dlerror());
    return 1;
  }
  open = (open_fn)dlsym(lib, "evdb_open");
  begin = (begin_fn)dlsym(lib, "evdb_begin");
  commit = (commit_fn)dlsym(lib, "evdb_commit");
  close = (close_fn)dlsym(lib, "evdb_close");
  if (!open || !begin || !commit || !close) {
    fprintf(stderr, "%s lacks an evdb_* function\n", argv[1]);
    return 1;
  }
  if (open("memory:", NULL, &db, NULL) != EVDB_OK) {
    fprintf(stderr, "evdb_open(\"memory:\") failed\n");
    return 1;
  }
  for (i = 0; i < 4; ++i)
    if (pthread_create(&threads[i], NULL, run, NULL) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  for (i = 0; i < 4; ++i) {
    void* r = NULL;
    pthread_join(threads[i], &r);
    if (r != NULL) failed = r;
  }
  if (failed == NULL) failed = run(NULL);
  close(db);
  if (failed != NULL) {
    fprintf(stderr, "%s\n", failed);
    return 1;
  }
  printf("libevdb opened late without static TLS: 500 transactions on 5 threads\n");
  return 0;
}
