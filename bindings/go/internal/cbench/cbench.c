#include "cbench.h"

#include <stdlib.h>
#include <string.h>

/* The benchmark's event, the same bytes as benchEvent in bench_test.go. */
static const char kType[] = "OrderPlaced";
static const char kPayload[] =
    "{\"order\":\"A-1042\",\"customer\":\"c-77\",\"amount\":129.5,\"currency\":\"EUR\"}";
static const char kRevision[] = "3f9c2ab";

/* Hands err's message to the caller and releases err. */
static evdb_status fail(evdb_status st, evdb_error* err, char** message) {
  *message = err->message != NULL ? strdup(err->message) : NULL;
  evdb_error_release(err);
  return st;
}

evdb_status cbench_open(const char* uri, evdb_db** out, char** message) {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status st = evdb_open(uri, NULL, out, &err);
  return st == EVDB_OK ? st : fail(st, &err, message);
}

static evdb_status append_one(evdb_db* db, int64_t* head, int64_t n, evdb_error* err) {
  evdb_event ev = EVDB_EVENT_INIT;
  ev.type_name = kType;
  ev.type_name_len = sizeof kType - 1;
  ev.payload = kPayload;
  ev.payload_len = sizeof kPayload - 1;
  ev.revision_vcs = kRevision;
  ev.revision_vcs_len = sizeof kRevision - 1;
  for (int64_t i = 0; i < n; ++i) {
    evdb_tx* tx = NULL;
    evdb_status st = evdb_begin(db, NULL, EVDB_TX_READ_WRITE, &tx, err);
    if (st != EVDB_OK) return st;
    st = evdb_append_event(tx, NULL, *head, &ev, NULL, err);
    if (st != EVDB_OK) {
      evdb_rollback(tx);
      return st;
    }
    st = evdb_commit(tx, NULL, err);
    if (st != EVDB_OK) return st;
    ++*head;
  }
  return EVDB_OK;
}

evdb_status cbench_append_one(evdb_db* db, int64_t* head, int64_t n, char** message) {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status st = append_one(db, head, n, &err);
  return st == EVDB_OK ? st : fail(st, &err, message);
}

static evdb_status read_events(evdb_db* db, int64_t n, int64_t* read, evdb_error* err) {
  enum { kBatch = 1000 };
  evdb_event* buf = malloc(kBatch * sizeof *buf);
  if (buf == NULL) return EVDB_INTERNAL;
  evdb_event empty = EVDB_EVENT_INIT;
  for (size_t i = 0; i < kBatch; ++i) buf[i] = empty;
  evdb_tx* tx = NULL;
  evdb_status st = evdb_begin(db, NULL, EVDB_TX_READ_ONLY, &tx, err);
  for (int64_t i = 0; st == EVDB_OK && i < n; ++i) {
    size_t got = 0;
    st = evdb_read_events(tx, NULL, 1, 0, buf, kBatch, &got, err);
    *read = (int64_t)got;
  }
  if (tx != NULL) evdb_rollback(tx);
  free(buf);
  return st;
}

evdb_status cbench_read_events(evdb_db* db, int64_t n, int64_t* read, char** message) {
  evdb_error err = EVDB_ERROR_INIT;
  evdb_status st = read_events(db, n, read, &err);
  return st == EVDB_OK ? st : fail(st, &err, message);
}
