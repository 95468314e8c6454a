package evdb

// This file, cabi.h and cabi.c are the only places that know the layout of
// evdb.h's structs and the signatures of its callbacks.

/*
#cgo LDFLAGS: -levdb
#include <stdlib.h>
#include "cabi.h"
*/
import "C"

import (
	"runtime/cgo"
	"time"
	"unsafe"
)

// cError is an evdb_error owned by Go memory (it holds only C pointers).
type cError = C.evdb_error

// cEvent is one evdb_event filled by a read.
type cEvent = C.evdb_event

func initError(e *cError) { C.evdbgo_error_init(e) }

// takeError turns a failed call's status and error into a Go error and
// releases the C message. ok is EVDB_OK's value.
func takeError(st C.evdb_status, e *cError) error {
	msg := ""
	if e.message != nil {
		msg = C.GoString(e.message)
	}
	C.evdb_error_release(e)
	return newError(Status(st), msg)
}

// goEvent copies a C event into Go strings (they must outlive the next call).
func goEvent(e *cEvent) Event {
	return Event{
		Version:     int64(e.version),
		Payload:     C.GoStringN(e.payload, C.int(e.payload_len)),
		TypeName:    C.GoStringN(e.type_name, C.int(e.type_name_len)),
		Time:        time.UnixMicro(int64(e.time_us)).UTC(),
		RevisionVCS: C.GoStringN(e.revision_vcs, C.int(e.revision_vcs_len)),
	}
}

// stringData is the address of s's bytes, for handing them to C for the
// duration of one call (they hold no Go pointers, so cgo allows it).
func stringData(s string) *C.char {
	return (*C.char)(*(*unsafe.Pointer)(unsafe.Pointer(&s)))
}

func appendEvent(tx *C.evdb_tx, ctx *C.evdb_ctx, assumed int64, ev *Event, out *C.int64_t, e *cError) C.evdb_status {
	var us int64
	if !ev.Time.IsZero() {
		us = ev.Time.UnixMicro()
	}
	return C.evdbgo_append(tx, ctx, C.int64_t(assumed), C.int64_t(us),
		stringData(ev.TypeName), C.size_t(len(ev.TypeName)),
		stringData(ev.Payload), C.size_t(len(ev.Payload)),
		stringData(ev.RevisionVCS), C.size_t(len(ev.RevisionVCS)), out, e)
}

func readEvent(tx *C.evdb_tx, ctx *C.evdb_ctx, version int64, after bool, out *cEvent, e *cError) C.evdb_status {
	return C.evdbgo_read_event(tx, ctx, C.int64_t(version), boolInt(after), out, e)
}

func boolInt(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func readEvents(tx *C.evdb_tx, ctx *C.evdb_ctx, at int64, reverse bool, buf []cEvent, nOut *C.size_t, e *cError) C.evdb_status {
	var p *cEvent
	if len(buf) > 0 {
		p = &buf[0]
	}
	return C.evdbgo_read_events(tx, ctx, C.int64_t(at), boolInt(reverse), p, C.size_t(len(buf)), nOut, e)
}

func listen(db *C.evdb_db, ctx *C.evdb_ctx, h cgo.Handle, e *cError) C.evdb_status {
	return C.evdbgo_listen(db, ctx, C.uintptr_t(h), e)
}

//export goOnReady
func goOnReady(h C.uintptr_t) C.evdb_status {
	return C.evdb_status(cgo.Handle(h).Value().(*listenState).ready())
}

//export goOnInserted
func goOnInserted(h C.uintptr_t, version C.int64_t, e *C.evdb_error) C.evdb_status {
	st, msg := cgo.Handle(h).Value().(*listenState).inserted(int64(version))
	if st != StatusOK {
		cmsg := C.CString(msg)
		C.evdb_error_set(e, C.evdb_status(st), cmsg)
		C.free(unsafe.Pointer(cmsg))
	}
	return C.evdb_status(st)
}
