// Package conductortest compiles and tests the adapter of docs/bindings.md
// ("Using it as Conductor's db.DB"): the same code, with the stand-in db
// package in place of Conductor's.
package conductortest

import (
	"context"
	"errors"
	"fmt"

	"evdb.dev/evdb"
	"evdb.dev/evdb/internal/conductortest/db"
)

// ---- the adapter, as in docs/bindings.md ----

// DB is an *evdb.DB as Conductor's db.DB and db.Listener (whose method
// ListenEventInserted *evdb.DB has as is).
type DB struct{ *evdb.DB }

func (d DB) TxReadOnly(ctx context.Context, fn func(context.Context, db.TxReadOnly) error) error {
	return conductorErr(d.DB.TxReadOnly(ctx, func(ctx context.Context, tx evdb.TxReadOnly) error {
		return fn(ctx, Tx{tx.(evdb.TxRW)}) // the object behind it is an *evdb.Tx
	}))
}

func (d DB) TxRW(ctx context.Context, fn func(context.Context, db.TxRW) error) error {
	return conductorErr(d.DB.TxRW(ctx, func(ctx context.Context, tx evdb.TxRW) error { return fn(ctx, Tx{tx}) }))
}

// Tx converts Event (same fields, another package) and ErrVersionMismatch.
type Tx struct{ evdb.TxRW }

func (t Tx) ReadEventAtVersion(ctx context.Context, v int64) (db.Event, error) {
	e, err := t.TxRW.ReadEventAtVersion(ctx, v)
	return db.Event(e), err
}

func (t Tx) ReadEventAfterVersion(ctx context.Context, v int64) (db.Event, error) {
	e, err := t.TxRW.ReadEventAfterVersion(ctx, v)
	return db.Event(e), err
}

func (t Tx) ReadEvents(ctx context.Context, at int64, reverse bool, buf []db.Event) (int, error) {
	evs := make([]evdb.Event, len(buf))
	n, err := t.TxRW.ReadEvents(ctx, at, reverse, evs)
	for i := range evs[:n] {
		buf[i] = db.Event(evs[i])
	}
	return n, err
}

func (t Tx) AppendEvent(ctx context.Context, assumed int64, e db.Event) (int64, error) {
	v, err := t.TxRW.AppendEvent(ctx, assumed, evdb.Event(e))
	return v, conductorErr(err)
}

// conductorErr makes evdb's version mismatch Conductor's (errors.Is).
func conductorErr(err error) error {
	if errors.Is(err, evdb.ErrVersionMismatch) && !errors.Is(err, db.ErrVersionMismatch) {
		return fmt.Errorf("%w: %v", db.ErrVersionMismatch, err)
	}
	return err
}

var (
	_ db.DB       = DB{}
	_ db.Listener = DB{}
)
