// Package cbench runs the binding benchmark's loops in C, for the Go
// benchmark to compare against (bench_test.go; docs/benchmarks.md).
package cbench

/*
#cgo LDFLAGS: -levdb
#include <stdlib.h>
#include "cbench.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// DB is a store opened by C.
type DB struct{ c *C.evdb_db }

func fail(st C.evdb_status, msg *C.char) error {
	text := C.GoString(C.evdb_status_name(st))
	if msg != nil {
		text += ": " + C.GoString(msg)
		C.free(unsafe.Pointer(msg))
	}
	return errors.New(text)
}

// Open opens uri with evdb_open.
func Open(uri string) (*DB, error) {
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))
	var msg *C.char
	db := new(DB)
	if st := C.cbench_open(curi, &db.c, &msg); st != C.EVDB_OK {
		return nil, fail(st, msg)
	}
	return db, nil
}

// Close closes the store.
func (db *DB) Close() { C.evdb_close(db.c) }

// AppendOne runs n one-append transactions, appending at head onwards, and
// gives the new head.
func (db *DB) AppendOne(head int64, n int) (int64, error) {
	var msg *C.char
	h := C.int64_t(head)
	if st := C.cbench_append_one(db.c, &h, C.int64_t(n), &msg); st != C.EVDB_OK {
		return int64(h), fail(st, msg)
	}
	return int64(h), nil
}

// ReadEvents runs n calls of evdb_read_events(at 1, 1000 events) in one
// read-only transaction and gives the count of the last.
func (db *DB) ReadEvents(n int) (int, error) {
	var msg *C.char
	var read C.int64_t
	if st := C.cbench_read_events(db.c, C.int64_t(n), &read, &msg); st != C.EVDB_OK {
		return 0, fail(st, msg)
	}
	return int(read), nil
}
