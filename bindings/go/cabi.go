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

// initError makes e EVDB_ERROR_INIT (in Go, to spare a cgo call).
func initError(e *cError) { *e = cError{struct_size: C.sizeof_evdb_error} }

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

// cBytes views n bytes of C memory (valid until the next call on the tx).
func cBytes(p *C.char, n C.size_t) []byte {
	if n == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))
}

// goEvents copies n C events into out. Their strings are carved out of a few
// shared allocations (small enough for the allocator's per-thread caches; a
// string kept alive keeps its chunk alive), and a type name or revision equal
// to the previous event's shares its string.
func goEvents(evs []cEvent, out []Event) {
	var chunk []byte
	// A string over chunk's bytes: chunk is only appended to, never overwritten.
	str := func(b []byte) string {
		if len(b) > cap(chunk)-len(chunk) {
			size := 8 << 10
			if len(b) > size {
				size = len(b)
			}
			chunk = make([]byte, 0, size)
		}
		start := len(chunk)
		chunk = append(chunk, b...)
		whole := chunk[:len(chunk):len(chunk)]
		return (*(*string)(unsafe.Pointer(&whole)))[start:]
	}
	var typeName, revision string
	for i := range evs {
		e, o := &evs[i], &out[i]
		if t := cBytes(e.type_name, e.type_name_len); i == 0 || string(t) != typeName {
			typeName = str(t)
		}
		if r := cBytes(e.revision_vcs, e.revision_vcs_len); i == 0 || string(r) != revision {
			revision = str(r)
		}
		o.Version = int64(e.version)
		o.Payload = str(cBytes(e.payload, e.payload_len))
		o.TypeName = typeName
		o.Time = time.UnixMicro(int64(e.time_us)).UTC()
		o.RevisionVCS = revision
	}
}

// stringData is the address of s's bytes, for handing them to C for the
// duration of one call (they hold no Go pointers, so cgo allows it).
func stringData(s string) *C.char {
	return (*C.char)(*(*unsafe.Pointer)(unsafe.Pointer(&s)))
}

func appendEvent(tx *C.evdb_tx, ctx *C.evdb_ctx, assumed int64, ev Event, out *C.int64_t, e *cError) C.evdb_status {
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

// cEvents is a transaction's buffer for evdb_read_events, in C memory: cgo
// would otherwise scan a Go buffer of pointer-holding structs on every call.
type cEvents struct {
	p   *cEvent
	cap int
}

// get gives a buffer of n events (nil when n is 0 or out of memory).
func (b *cEvents) get(n int) []cEvent {
	if n > b.cap {
		b.free()
		b.p = (*cEvent)(C.calloc(C.size_t(n), C.sizeof_evdb_event))
		if b.p != nil {
			b.cap = n
		}
	}
	if b.p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice(b.p, n)
}

func (b *cEvents) free() {
	C.free(unsafe.Pointer(b.p))
	b.p, b.cap = nil, 0
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
func goOnReady(h C.uintptr_t, e *C.evdb_error) C.evdb_status {
	st, msg := cgo.Handle(h).Value().(*listenState).ready()
	return callbackResult(st, msg, e)
}

//export goOnInserted
func goOnInserted(h C.uintptr_t, version C.int64_t, e *C.evdb_error) C.evdb_status {
	st, msg := cgo.Handle(h).Value().(*listenState).inserted(int64(version))
	return callbackResult(st, msg, e)
}

// callbackResult gives a callback's status to libevdb, with its message.
func callbackResult(st Status, msg string, e *C.evdb_error) C.evdb_status {
	if st != StatusOK {
		cmsg := C.CString(msg)
		C.evdb_error_set(e, C.evdb_status(st), cmsg)
		C.free(unsafe.Pointer(cmsg))
	}
	return C.evdb_status(st)
}
