package evdb

/*
#include <evdb/evdb.h>
*/
import "C"

import (
	"context"
	"sync"
	"time"
)

// Event is one event of the log (docs/contract.md §1), Conductor's db.Event.
type Event struct {
	// Version is the event's position in the log (1, 2, …); ignored by AppendEvent.
	Version int64
	// Payload is JSON text (any JSON value).
	Payload string
	// TypeName is the event type: non-empty UTF-8.
	TypeName string
	// Time is when the event was appended, to the microsecond, in UTC. The
	// zero Time on AppendEvent means "now" (the driver's clock).
	Time time.Time
	// RevisionVCS is the writer's version-control revision; may be empty.
	RevisionVCS string
}

// Reader is the read half of a transaction (Conductor's db.Reader).
type Reader interface {
	// ReadEventAtVersion gives the event at version; ErrNotFound for 0 and
	// past the head, ErrInvalidArgument for a negative version.
	ReadEventAtVersion(ctx context.Context, version int64) (Event, error)
	// ReadEventAfterVersion gives the first event after afterVersion;
	// ErrNotFound when there is none.
	ReadEventAfterVersion(ctx context.Context, afterVersion int64) (Event, error)
	// ReadSystemVersion gives the head: the last event's version, 0 when empty.
	ReadSystemVersion(ctx context.Context) (version int64, err error)
	// ReadProjectionVersion gives projection id's version; ErrNotFound if it
	// was never initialised.
	ReadProjectionVersion(ctx context.Context, id int32) (version int64, err error)
	// ReadEvents fills buffer with up to len(buffer) events from atVersion
	// inclusive, ascending (or descending when reverse), and says how many.
	ReadEvents(ctx context.Context, atVersion int64, reverse bool, buffer []Event) (read int, err error)
}

// Writer is the write half of a read-write transaction (Conductor's db.Writer).
type Writer interface {
	// InitProjectionVersion creates projection id at version 0 if absent and
	// gives its version; it never resets one.
	InitProjectionVersion(ctx context.Context, id int32) (version int64, err error)
	// SetProjectionVersion sets projection id to version; ErrNotFound if it
	// was never initialised.
	SetProjectionVersion(ctx context.Context, id int32, version int64) error
	// AppendEvent appends event iff the head is assumedVersion and gives its
	// version (assumedVersion+1); otherwise ErrVersionMismatch and nothing is
	// appended. ErrInvalidArgument for an empty or non-UTF-8 type, a payload
	// that is not JSON, a negative version or a time before 1970.
	AppendEvent(ctx context.Context, assumedVersion int64, event Event) (version int64, err error)
}

// TxRW is a read-write transaction (Conductor's db.TxRW).
type TxRW interface {
	Reader
	Writer
}

// TxReadOnly is a read-only transaction (Conductor's db.TxReadOnly).
type TxReadOnly interface {
	Reader
}

// Tx is the transaction handed to TxReadOnly's and TxRW's functions (as the
// interfaces above). Its methods serialise on a mutex, as an evdb_tx is used
// by one thread at a time; strings of the events it returns are Go copies.
type Tx struct {
	mu    sync.Mutex
	c     *C.evdb_tx // nil once ended
	bound boundCtx   // the evdb context of the transaction's own ctx
	// Scratch space for the C calls, kept so no call allocates it; in
	// allocations of their own, as cgo refuses a pointer into memory that
	// also holds Go pointers.
	s   *scratch
	evs cEvents
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

type scratch struct {
	err cError
	ev  cEvent
	i64 C.int64_t
	n   C.size_t
	tx  *C.evdb_tx
}

// call runs f on the transaction with the evdb context for ctx.
func (t *Tx) call(ctx context.Context, f func(c *C.evdb_ctx) C.evdb_status) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return ErrTxDone
	}
	b := &t.bound
	if !b.sameAs(ctx) {
		b = new(boundCtx)
		if err := b.bind(ctx); err != nil {
			return err
		}
		defer b.release()
	}
	if st := f(b.c); st != C.EVDB_OK {
		return failed(ctx, st, &t.s.err)
	}
	return nil
}

// end commits or rolls back; a no-op once ended.
func (t *Tx) end(commit bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return nil
	}
	c, s := t.c, t.s
	t.c, t.s = nil, nil
	defer scratchPool.Put(s)
	t.evs.free()
	if !commit {
		C.evdb_rollback(c)
		return nil
	}
	if st := C.evdb_commit(c, t.bound.c, &s.err); st != C.EVDB_OK {
		return failed(t.bound.ctx, st, &s.err)
	}
	return nil
}

// ReadEventAtVersion: see Reader (evdb_read_event_at).
func (t *Tx) ReadEventAtVersion(ctx context.Context, version int64) (Event, error) {
	return t.readEvent(ctx, version, false)
}

// ReadEventAfterVersion: see Reader (evdb_read_event_after).
func (t *Tx) ReadEventAfterVersion(ctx context.Context, afterVersion int64) (Event, error) {
	return t.readEvent(ctx, afterVersion, true)
}

// readEvent reads the event at (or the first after) version.
func (t *Tx) readEvent(ctx context.Context, version int64, after bool) (Event, error) {
	var ev Event
	err := t.call(ctx, func(c *C.evdb_ctx) C.evdb_status {
		st := readEvent(t.c, c, version, after, &t.s.ev, &t.s.err)
		if st == C.EVDB_OK {
			ev = goEvent(&t.s.ev)
		}
		return st
	})
	return ev, err
}

// callInt64 runs f, which fills out, and gives what it filled.
func (t *Tx) callInt64(ctx context.Context, f func(c *C.evdb_ctx, out *C.int64_t, e *cError) C.evdb_status) (int64, error) {
	var v int64
	err := t.call(ctx, func(c *C.evdb_ctx) C.evdb_status {
		st := f(c, &t.s.i64, &t.s.err)
		v = int64(t.s.i64)
		return st
	})
	return v, err
}

// ReadSystemVersion: see Reader (evdb_read_system_version).
func (t *Tx) ReadSystemVersion(ctx context.Context) (int64, error) {
	return t.callInt64(ctx, func(c *C.evdb_ctx, out *C.int64_t, e *cError) C.evdb_status {
		return C.evdb_read_system_version(t.c, c, out, e)
	})
}

// ReadProjectionVersion: see Reader (evdb_read_projection_version).
func (t *Tx) ReadProjectionVersion(ctx context.Context, id int32) (int64, error) {
	return t.callInt64(ctx, func(c *C.evdb_ctx, out *C.int64_t, e *cError) C.evdb_status {
		return C.evdb_read_projection_version(t.c, c, C.int32_t(id), out, e)
	})
}

// ReadEvents: see Reader (evdb_read_events). The events' strings are Go
// copies sharing a few allocations: keeping one keeps its chunk (8 KiB) alive.
func (t *Tx) ReadEvents(ctx context.Context, atVersion int64, reverse bool, buffer []Event) (int, error) {
	n := 0
	err := t.call(ctx, func(c *C.evdb_ctx) C.evdb_status {
		evs := t.evs.get(len(buffer))
		if len(evs) < len(buffer) {
			t.s.err.code = C.EVDB_INTERNAL
			return C.EVDB_INTERNAL // out of memory
		}
		st := readEvents(t.c, c, atVersion, reverse, evs, &t.s.n, &t.s.err)
		if st == C.EVDB_OK {
			n = int(t.s.n)
			goEvents(evs[:n], buffer)
		}
		return st
	})
	return n, err
}

// InitProjectionVersion: see Writer (evdb_init_projection_version).
func (t *Tx) InitProjectionVersion(ctx context.Context, id int32) (int64, error) {
	return t.callInt64(ctx, func(c *C.evdb_ctx, out *C.int64_t, e *cError) C.evdb_status {
		return C.evdb_init_projection_version(t.c, c, C.int32_t(id), out, e)
	})
}

// SetProjectionVersion: see Writer (evdb_set_projection_version).
func (t *Tx) SetProjectionVersion(ctx context.Context, id int32, version int64) error {
	return t.call(ctx, func(c *C.evdb_ctx) C.evdb_status {
		return C.evdb_set_projection_version(t.c, c, C.int32_t(id), C.int64_t(version), &t.s.err)
	})
}

// AppendEvent: see Writer (evdb_append_event). ErrReadOnly in a read-only
// transaction.
func (t *Tx) AppendEvent(ctx context.Context, assumedVersion int64, event Event) (int64, error) {
	return t.callInt64(ctx, func(c *C.evdb_ctx, out *C.int64_t, e *cError) C.evdb_status {
		return appendEvent(t.c, c, assumedVersion, event, out, e)
	})
}
