// Package evdb is the Go binding of evdb, an event log over many storage
// backends chosen by connection URI ("memory:", "sqlite:///path",
// "postgres://…", "redis://…"). It calls libevdb's C API (evdb.h) through cgo
// and offers the method sets of Conductor's db package: DB.TxReadOnly,
// DB.TxRW, DB.ListenEventInserted, Reader, Writer, Event and
// ErrVersionMismatch.
//
// Building: cgo needs evdb.h (as <evdb/evdb.h>) and libevdb. For an
// installed evdb, CGO_CFLAGS=$(pkg-config --cflags evdb) and
// CGO_LDFLAGS=$(pkg-config --libs evdb); for a build tree,
// CGO_CFLAGS=-I<build>/include and CGO_LDFLAGS="-L<build>/lib
// -Wl,-rpath,<build>/lib". Drivers are found as by libevdb itself (the
// evdb/drivers folder beside libevdb, EVDB_DRIVER_PATH).
//
// Contexts: a context that can end (cancel, deadline) gets an evdb context
// that follows it, so cancelling it interrupts a blocked call (a lock wait, a
// network round trip, a listen). context.Background costs nothing.
//
// Errors are *Error values carrying the evdb status and message; compare
// with errors.Is against the Err* sentinels, context.Canceled and
// context.DeadlineExceeded. See docs/bindings.md in the evdb repository.
package evdb
