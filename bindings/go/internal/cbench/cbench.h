/* The C side of the binding benchmark: the same loops as bench_test.go's Go
 * side, written against evdb.h directly, so the difference is the binding. */
#ifndef EVDB_GO_CBENCH_H
#define EVDB_GO_CBENCH_H

#include <stdint.h>

#include <evdb/evdb.h>

/* Each function returns EVDB_OK, or a failure status with *message set to a
 * malloc'ed copy of the error's message (or NULL). */

/* Opens uri into *out. */
evdb_status cbench_open(const char* uri, evdb_db** out, char** message);

/* n read-write transactions on db, each appending one event at *head (then
 * incremented) and committing. */
evdb_status cbench_append_one(evdb_db* db, int64_t* head, int64_t n, char** message);

/* In one read-only transaction, n calls of evdb_read_events(at 1, 1000
 * events) into a buffer of 1000; *read = events returned by the last call. */
evdb_status cbench_read_events(evdb_db* db, int64_t n, int64_t* read, char** message);

#endif
