package evdb

/*
#include <stdlib.h>
#include <evdb/evdb.h>
*/
import "C"

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// DB is an open store (evdb.h's evdb_db). Its methods may be called from any
// number of goroutines at once; many transactions may be open on it at the
// same time.
type DB struct {
	// mu is held shared by every call in progress (a transaction for as long
	// as its function runs, a listen until it returns) and exclusively by Close.
	mu sync.RWMutex
	c  *C.evdb_db
}

// Open opens the store named by uri; the scheme picks the driver ("memory:",
// "sqlite:///path", "postgres://…", "redis://…"). See OpenContext.
func Open(uri string) (*DB, error) { return OpenContext(context.Background(), uri) }

// OpenContext is Open with a context that bounds connecting to a server.
// Errors (errors.Is): ErrInvalidArgument (malformed URI, unknown parameter),
// ErrDriverNotFound (the message lists every place searched),
// ErrDriverABIMismatch, ErrConnection, and the context's.
func OpenContext(ctx context.Context, uri string) (*DB, error) {
	var b boundCtx
	if err := b.bind(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))
	var e cError
	initError(&e)
	db := &DB{}
	if st := C.evdb_open(curi, b.c, &db.c, &e); st != C.EVDB_OK {
		return nil, failed(ctx, st, &e)
	}
	return db, nil
}

// Close closes the store. It fails (and closes nothing) while a transaction
// function or a listen is still running on it; closing twice is a no-op.
func (db *DB) Close() error {
	if !db.mu.TryLock() {
		return &Error{Status: StatusInvalidArgument, Message: "Close: a transaction or listen is still running on this DB"}
	}
	defer db.mu.Unlock()
	C.evdb_close(db.c)
	db.c = nil
	return nil
}

// enter marks a call in progress; it fails on a closed DB.
func (db *DB) enter() error {
	db.mu.RLock()
	if db.c == nil {
		db.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (db *DB) leave() { db.mu.RUnlock() }

// enterWith is enter, then binds b to ctx; on success the caller ends with
// exitWith(b).
func (db *DB) enterWith(ctx context.Context, b *boundCtx) error {
	if err := db.enter(); err != nil {
		return err
	}
	if err := b.bind(ctx); err != nil {
		db.leave()
		return err
	}
	return nil
}

func (db *DB) exitWith(b *boundCtx) {
	b.release()
	db.leave()
}

// DriverName is the name of the driver serving the store ("sqlite", …).
func (db *DB) DriverName() string {
	if err := db.enter(); err != nil {
		return ""
	}
	defer db.leave()
	return C.GoString(C.evdb_db_driver_name(db.c))
}

// Capabilities are the store's EVDB_CAP_* flags (evdb.h).
func (db *DB) Capabilities() uint64 {
	if err := db.enter(); err != nil {
		return 0
	}
	defer db.leave()
	return uint64(C.evdb_db_capabilities(db.c))
}

// Ping checks that the store is reachable: ErrConnection when it is not.
func (db *DB) Ping(ctx context.Context) error {
	var b boundCtx
	if err := db.enterWith(ctx, &b); err != nil {
		return err
	}
	defer db.exitWith(&b)
	var e cError
	initError(&e)
	if st := C.evdb_ping(db.c, b.c, &e); st != C.EVDB_OK {
		return failed(ctx, st, &e)
	}
	return nil
}

// TxReadOnly runs fn in a read-only transaction (one consistent snapshot;
// writes fail with ErrReadOnly) and commits it when fn returns nil. When fn
// returns an error, the transaction is rolled back and that error is
// returned unchanged; when fn panics, it is rolled back and the panic goes
// on. tx is valid only while fn runs. Errors besides fn's: those of
// beginning and committing (ErrConnection, ErrConflict, the context's, …).
func (db *DB) TxReadOnly(ctx context.Context, fn func(ctx context.Context, tx TxReadOnly) error) error {
	return db.run(ctx, C.EVDB_TX_READ_ONLY, func(ctx context.Context, t *Tx) error { return fn(ctx, t) })
}

// TxRW is TxReadOnly with a read-write transaction: serializable among
// read-write transactions, it sees its own writes. Its commit fails with
// ErrVersionMismatch when it appended and lost a race, ErrConflict when it
// did not append and lost one; nothing of it is applied then.
func (db *DB) TxRW(ctx context.Context, fn func(ctx context.Context, tx TxRW) error) error {
	return db.run(ctx, C.EVDB_TX_READ_WRITE, func(ctx context.Context, t *Tx) error { return fn(ctx, t) })
}

func (db *DB) run(ctx context.Context, kind C.evdb_tx_kind, fn func(context.Context, *Tx) error) error {
	t := &Tx{}
	if err := db.enterWith(ctx, &t.bound); err != nil {
		return err
	}
	defer db.exitWith(&t.bound)
	t.s = scratchPool.Get().(*scratch)
	// The transaction's calls stay on this OS thread, and no other
	// goroutine's run on it meanwhile: drivers tell a thread's own open
	// transaction from another's by thread (sqlite fails a second writer on
	// the thread holding the write lock, as waiting would deadlock), while Go
	// would otherwise run a goroutine waiting inside fn and another one
	// beginning a transaction on the same thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	initError(&t.s.err)
	if st := C.evdb_begin(db.c, t.bound.c, kind, &t.s.tx, &t.s.err); st != C.EVDB_OK {
		err := failed(ctx, st, &t.s.err)
		scratchPool.Put(t.s)
		return err
	}
	t.c = t.s.tx
	// Rolls back when fn returns an error or panics (the panic then goes on).
	defer t.end(false)
	if err := fn(ctx, t); err != nil {
		return err
	}
	return t.end(true)
}
