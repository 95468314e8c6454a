package conductortest

import (
	"context"
	"errors"
	"testing"

	"evdb.dev/evdb"
	"evdb.dev/evdb/internal/conductortest/db"
)

// Conductor's view of an evdb store through the adapter: appends and reads
// with its Event type, its ErrVersionMismatch (also Conductor's interleaving),
// rollback of fn's error, the listener.
func TestAdapterAsConductorSeesIt(t *testing.T) {
	e, err := evdb.Open("memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var store db.DB = DB{e}
	var listener db.Listener = DB{e}
	ctx := context.Background()

	ready, got, done := make(chan struct{}), make(chan int64, 8), make(chan error, 1)
	lctx, cancel := context.WithCancel(ctx)
	go func() {
		done <- listener.ListenEventInserted(lctx, func() { close(ready) }, func(v int64) error { got <- v; return nil })
	}()
	<-ready

	err = store.TxRW(ctx, func(ctx context.Context, tx db.TxRW) error {
		h, err := tx.ReadSystemVersion(ctx)
		if err != nil {
			return err
		}
		// Another transaction commits at h meanwhile (memory: no lock held).
		if err := store.TxRW(ctx, func(ctx context.Context, tx2 db.TxRW) error {
			_, err := tx2.AppendEvent(ctx, h, db.Event{TypeName: "Other", Payload: "{}"})
			return err
		}); err != nil {
			t.Fatalf("the other transaction: %v", err)
		}
		_, err = tx.AppendEvent(ctx, h, db.Event{TypeName: "Mine", Payload: "{}"})
		return err
	})
	if !errors.Is(err, db.ErrVersionMismatch) {
		t.Fatalf("Conductor's interleaving = %v, want db.ErrVersionMismatch", err)
	}
	if v := <-got; v != 1 {
		t.Fatalf("listener delivered %d, want 1", v)
	}

	mine := errors.New("mine")
	if err := store.TxRW(ctx, func(ctx context.Context, tx db.TxRW) error {
		tx.AppendEvent(ctx, 1, db.Event{TypeName: "Dropped", Payload: "{}"})
		return mine
	}); err != mine {
		t.Fatalf("TxRW = %v, want fn's error unchanged", err)
	}

	err = store.TxReadOnly(ctx, func(ctx context.Context, tx db.TxReadOnly) error {
		buf := make([]db.Event, 4)
		n, err := tx.ReadEvents(ctx, 1, false, buf)
		if err != nil || n != 1 || buf[0].TypeName != "Other" || buf[0].Version != 1 {
			t.Errorf("ReadEvents = %d, %v, %+v", n, err, buf[:n])
		}
		if ev, err := tx.ReadEventAfterVersion(ctx, 0); err != nil || ev.TypeName != "Other" {
			t.Errorf("ReadEventAfterVersion(0) = %+v, %v", ev, err)
		}
		_, err = tx.ReadEventAtVersion(ctx, 2)
		return err
	})
	if !errors.Is(err, evdb.ErrNotFound) {
		t.Fatalf("ReadEventAtVersion(2) = %v, want not found", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("listen = %v", err)
	}
}
