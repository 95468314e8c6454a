package evdb_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"evdb.dev/evdb"
)

// Stores the tests run on: memory and sqlite always; postgres and redis when
// ctest (bindings/go/CMakeLists.txt) passes their URIs, in which "{unique}"
// becomes a fresh store name per test.
type backend struct {
	name string
	uri  func(t *testing.T) string
}

var unique atomic.Int64

func uniqueName() string {
	return fmt.Sprintf("go%d_%d", os.Getpid(), unique.Add(1))
}

func backends(t *testing.T) []backend {
	bs := []backend{
		{"memory", func(t *testing.T) string { return "memory:" }},
		{"sqlite", func(t *testing.T) string {
			return "sqlite://" + filepath.Join(t.TempDir(), "evdb.db")
		}},
	}
	for _, env := range []struct{ name, variable string }{
		{"postgres", "EVDB_GO_TEST_POSTGRES_URI"},
		{"redis", "EVDB_GO_TEST_REDIS_URI"},
	} {
		if tmpl := os.Getenv(env.variable); tmpl != "" {
			bs = append(bs, backend{env.name, func(t *testing.T) string {
				return strings.ReplaceAll(tmpl, "{unique}", uniqueName())
			}})
		} else {
			t.Logf("%s: skipped (%s not set; ctest sets it with the project's test server)", env.name, env.variable)
		}
	}
	return bs
}

// eachBackend runs f as a subtest on a fresh store of every backend.
func eachBackend(t *testing.T, f func(t *testing.T, uri string, db *evdb.DB)) {
	for _, b := range backends(t) {
		b := b
		t.Run(b.name, func(t *testing.T) {
			uri := b.uri(t)
			db, err := evdb.Open(uri)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() {
				if err := db.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			f(t, uri, db)
		})
	}
}

var bg = context.Background()

func ev(typ, payload string) evdb.Event {
	return evdb.Event{TypeName: typ, Payload: payload, RevisionVCS: "3f9c2ab"}
}

func appendAt(t *testing.T, db *evdb.DB, assumed int64, e evdb.Event) int64 {
	t.Helper()
	var v int64
	err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) (err error) {
		v, err = tx.AppendEvent(ctx, assumed, e)
		return err
	})
	if err != nil {
		t.Fatalf("AppendEvent(%d): %v", assumed, err)
	}
	return v
}

func head(t *testing.T, db *evdb.DB) int64 {
	t.Helper()
	var h int64
	err := db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) (err error) {
		h, err = tx.ReadSystemVersion(ctx)
		return err
	})
	if err != nil {
		t.Fatalf("ReadSystemVersion: %v", err)
	}
	return h
}

func TestOpenErrors(t *testing.T) {
	_, err := evdb.Open("nosuchscheme:x")
	if !errors.Is(err, evdb.ErrDriverNotFound) {
		t.Fatalf("Open(nosuchscheme:) = %v, want ErrDriverNotFound", err)
	}
	var ee *evdb.Error
	if !errors.As(err, &ee) || ee.Status != evdb.StatusDriverNotFound || ee.Message == "" {
		t.Fatalf("error %#v: want *evdb.Error with status EVDB_DRIVER_NOT_FOUND and a message", err)
	}
	if _, err := evdb.Open("memory:x?bogus=1"); !errors.Is(err, evdb.ErrInvalidArgument) {
		t.Fatalf("Open(unknown parameter) = %v, want ErrInvalidArgument", err)
	}
}

func TestAppendAndRead(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		when := time.Date(2024, 5, 17, 10, 30, 0, 123456000, time.UTC)
		first := evdb.Event{TypeName: "OrderPlaced", Payload: `{"id":1,"ü":"✓"}`, Time: when, RevisionVCS: "abc123"}
		if v := appendAt(t, db, 0, first); v != 1 {
			t.Fatalf("first append gave version %d, want 1", v)
		}
		before := time.Now().Add(-time.Minute)
		appendAt(t, db, 1, ev("OrderShipped", `[1,2]`))
		appendAt(t, db, 2, ev("OrderClosed", `null`))

		err := db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error {
			if h, err := tx.ReadSystemVersion(ctx); err != nil || h != 3 {
				t.Errorf("ReadSystemVersion = %d, %v; want 3", h, err)
			}
			got, err := tx.ReadEventAtVersion(ctx, 1)
			first.Version = 1
			if err != nil || got != first {
				t.Errorf("ReadEventAtVersion(1) = %+v, %v; want %+v", got, err, first)
			}
			// Strings are Go copies: a later read on the transaction keeps them.
			second, err := tx.ReadEventAfterVersion(ctx, 1)
			if err != nil || second.Version != 2 || second.TypeName != "OrderShipped" || second.Payload != `[1,2]` {
				t.Errorf("ReadEventAfterVersion(1) = %+v, %v", second, err)
			}
			if second.Time.Before(before) || second.Time.Location() != time.UTC {
				t.Errorf("a zero Time appends \"now\" (UTC); got %v", second.Time)
			}
			if got.Payload != first.Payload || got.TypeName != "OrderPlaced" {
				t.Errorf("event 1 changed after the next read: %+v", got)
			}
			if _, err := tx.ReadEventAtVersion(ctx, 0); !errors.Is(err, evdb.ErrNotFound) {
				t.Errorf("ReadEventAtVersion(0) = %v, want ErrNotFound", err)
			}
			if _, err := tx.ReadEventAtVersion(ctx, 4); !errors.Is(err, evdb.ErrNotFound) {
				t.Errorf("ReadEventAtVersion(past head) = %v, want ErrNotFound", err)
			}
			if _, err := tx.ReadEventAfterVersion(ctx, 3); !errors.Is(err, evdb.ErrNotFound) {
				t.Errorf("ReadEventAfterVersion(head) = %v, want ErrNotFound", err)
			}
			if _, err := tx.ReadEventAtVersion(ctx, -1); !errors.Is(err, evdb.ErrInvalidArgument) {
				t.Errorf("ReadEventAtVersion(-1) = %v, want ErrInvalidArgument", err)
			}
			buf := make([]evdb.Event, 10)
			n, err := tx.ReadEvents(ctx, 2, false, buf)
			if err != nil || n != 2 || buf[0].Version != 2 || buf[1].Version != 3 || buf[1].Payload != "null" {
				t.Errorf("ReadEvents(2, ascending) = %d, %v: %+v", n, err, buf[:n])
			}
			n, err = tx.ReadEvents(ctx, 99, true, buf[:2])
			if err != nil || n != 2 || buf[0].Version != 3 || buf[1].Version != 2 {
				t.Errorf("ReadEvents(past head, reverse, 2) = %d, %v: %+v", n, err, buf[:n])
			}
			if n, err := tx.ReadEvents(ctx, 4, false, buf); err != nil || n != 0 {
				t.Errorf("ReadEvents(past head, ascending) = %d, %v; want 0", n, err)
			}
			if n, err := tx.ReadEvents(ctx, 1, false, nil); err != nil || n != 0 {
				t.Errorf("ReadEvents(nil buffer) = %d, %v; want 0", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestInvalidEventsWriteNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		for _, e := range []evdb.Event{
			{TypeName: "", Payload: "{}"},
			{TypeName: "T", Payload: "{not json"},
			{TypeName: "T\xff", Payload: "{}"},
			{TypeName: "T", Payload: "{}", Time: time.Unix(-5, 0)},
		} {
			err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
				_, err := tx.AppendEvent(ctx, 0, e)
				return err
			})
			if !errors.Is(err, evdb.ErrInvalidArgument) {
				t.Errorf("AppendEvent(%+v) = %v, want ErrInvalidArgument", e, err)
			}
		}
		if h := head(t, db); h != 0 {
			t.Errorf("head %d after only invalid appends, want 0", h)
		}
	})
}

func TestVersionMismatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		appendAt(t, db, 0, ev("A", "{}"))
		for _, assumed := range []int64{0, 2} {
			err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
				_, err := tx.AppendEvent(ctx, assumed, ev("B", "{}"))
				return err
			})
			if !errors.Is(err, evdb.ErrVersionMismatch) {
				t.Errorf("AppendEvent(assumed %d, head 1) = %v, want ErrVersionMismatch", assumed, err)
			}
		}
		if h := head(t, db); h != 1 {
			t.Errorf("head %d after mismatches, want 1", h)
		}
	})
}

// Conductor's interleaving: a transaction reads head 0, another one appends
// at 0 and commits, then the first appends at 0. On stores whose read-write
// transactions do not block each other (memory, redis) the second commits
// first and the first loses; on stores that lock (sqlite, postgres) the
// second waits for the first and loses. Either way exactly one event is
// appended and the loser gets ErrVersionMismatch.
func TestVersionMismatchInterleaved(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		otherDone := make(chan error, 1)
		otherFirst := false
		err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
			h, err := tx.ReadSystemVersion(ctx)
			if err != nil || h != 0 {
				t.Fatalf("ReadSystemVersion = %d, %v", h, err)
			}
			go func() {
				otherDone <- db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
					_, err := tx.AppendEvent(ctx, 0, ev("Other", "{}"))
					return err
				})
			}()
			// Wait for the other transaction unless it blocks on ours.
			select {
			case err := <-otherDone:
				if err != nil {
					t.Fatalf("the other transaction, not blocked, failed: %v", err)
				}
				otherFirst = true
			case <-time.After(500 * time.Millisecond):
			}
			_, err = tx.AppendEvent(ctx, h, ev("First", "{}"))
			return err
		})
		if otherFirst {
			if !errors.Is(err, evdb.ErrVersionMismatch) {
				t.Fatalf("after another transaction appended at 0, the first's append/commit at 0 = %v, want ErrVersionMismatch", err)
			}
		} else {
			if err != nil {
				t.Fatalf("the first transaction (the other waited for it) failed: %v", err)
			}
			if other := <-otherDone; !errors.Is(other, evdb.ErrVersionMismatch) {
				t.Fatalf("the other transaction appended at 0 after the first committed: %v, want ErrVersionMismatch", other)
			}
		}
		if h := head(t, db); h != 1 {
			t.Fatalf("head = %d, want exactly one event", h)
		}
	})
}

func TestRollbackOnError(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		mine := errors.New("business rule says no")
		err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
			if _, err := tx.InitProjectionVersion(ctx, 7); err != nil {
				return err
			}
			if _, err := tx.AppendEvent(ctx, 0, ev("A", "{}")); err != nil {
				return err
			}
			return mine
		})
		if err != mine {
			t.Fatalf("TxRW returned %v, want fn's error unchanged", err)
		}
		checkUntouched(t, db)
	})
}

func TestRollbackOnPanic(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		type boom struct{ id int }
		var escaped *Tx
		recovered := func() (v any) {
			defer func() { v = recover() }()
			_ = db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
				escaped = &Tx{tx}
				tx.InitProjectionVersion(ctx, 7)
				tx.AppendEvent(ctx, 0, ev("A", "{}"))
				panic(boom{4711})
			})
			return nil
		}()
		if recovered != (boom{4711}) {
			t.Fatalf("recovered %v, want the body's panic value re-panicked", recovered)
		}
		checkUntouched(t, db)
		// The transaction ended: using it now fails cleanly.
		if _, err := escaped.ReadSystemVersion(bg); !errors.Is(err, evdb.ErrTxDone) {
			t.Errorf("a call on an ended transaction = %v, want ErrTxDone", err)
		}
		// Read-only too.
		recovered = func() (v any) {
			defer func() { v = recover() }()
			_ = db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error { panic("ro") })
			return nil
		}()
		if recovered != "ro" {
			t.Fatalf("read-only: recovered %v, want \"ro\"", recovered)
		}
	})
}

// Tx wraps a transaction kept past its function, for the test above.
type Tx struct{ evdb.TxRW }

func checkUntouched(t *testing.T, db *evdb.DB) {
	t.Helper()
	err := db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error {
		if h, err := tx.ReadSystemVersion(ctx); err != nil || h != 0 {
			t.Errorf("head after rollback = %d, %v; want 0", h, err)
		}
		if _, err := tx.ReadProjectionVersion(ctx, 7); !errors.Is(err, evdb.ErrNotFound) {
			t.Errorf("projection after rollback: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyRefusesWrites(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		err := db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error {
			// TxReadOnly's method set has no writes; the object behind it refuses them.
			_, err := tx.(evdb.TxRW).AppendEvent(ctx, 0, ev("A", "{}"))
			return err
		})
		if !errors.Is(err, evdb.ErrReadOnly) {
			t.Fatalf("append in a read-only transaction = %v, want ErrReadOnly", err)
		}
		if h := head(t, db); h != 0 {
			t.Fatalf("head %d, want 0", h)
		}
	})
}

func TestProjections(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
			if _, err := tx.ReadProjectionVersion(ctx, 1); !errors.Is(err, evdb.ErrNotFound) {
				t.Errorf("ReadProjectionVersion(never initialised) = %v, want ErrNotFound", err)
			}
			if err := tx.SetProjectionVersion(ctx, 1, 3); !errors.Is(err, evdb.ErrNotFound) {
				t.Errorf("SetProjectionVersion(never initialised) = %v, want ErrNotFound", err)
			}
			if v, err := tx.InitProjectionVersion(ctx, 1); err != nil || v != 0 {
				t.Errorf("InitProjectionVersion = %d, %v; want 0", v, err)
			}
			return tx.SetProjectionVersion(ctx, 1, 5)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
			if v, err := tx.InitProjectionVersion(ctx, 1); err != nil || v != 5 {
				t.Errorf("InitProjectionVersion again = %d, %v; want 5 (never resets)", v, err)
			}
			if err := tx.SetProjectionVersion(ctx, 1, -1); !errors.Is(err, evdb.ErrInvalidArgument) {
				t.Errorf("SetProjectionVersion(-1) = %v, want ErrInvalidArgument", err)
			}
			return tx.SetProjectionVersion(ctx, 1, 2) // backwards is allowed
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error {
			if v, err := tx.ReadProjectionVersion(ctx, 1); err != nil || v != 2 {
				t.Errorf("ReadProjectionVersion = %d, %v; want 2", v, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// listenInBackground starts a listen and returns once onReady has run.
func listenInBackground(t *testing.T, ctx context.Context, db *evdb.DB, onInserted func(int64) error) <-chan error {
	t.Helper()
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.ListenEventInserted(ctx, func() { close(ready) }, onInserted)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("ListenEventInserted ended before onReady: %v", err)
	}
	return done
}

func TestListenOrderAndCancel(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		got := make(chan int64, 100)
		done := listenInBackground(t, ctx, db, func(v int64) error { got <- v; return nil })
		for i := int64(0); i < 5; i++ {
			appendAt(t, db, i, ev("E", fmt.Sprintf(`{"i":%d}`, i)))
		}
		for want := int64(1); want <= 5; want++ {
			if v := <-got; v != want {
				t.Fatalf("listener delivered %d, want %d (version order)", v, want)
			}
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) || !errors.Is(err, evdb.ErrCanceled) {
			t.Fatalf("listen after cancel = %v, want context.Canceled", err)
		}
		// A listen on a context that already ended does not start.
		if err := db.ListenEventInserted(ctx, nil, func(int64) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Fatalf("listen on a cancelled context = %v", err)
		}
	})
}

func TestListenDeadline(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		ctx, cancel := context.WithTimeout(bg, 200*time.Millisecond)
		defer cancel()
		err := db.ListenEventInserted(ctx, nil, func(int64) error { return nil })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("listen past its deadline = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestListenCallbackErrorAndPanic(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		stop := errors.New("projection failed")
		done := listenInBackground(t, bg, db, func(v int64) error { return stop })
		appendAt(t, db, 0, ev("E", "{}"))
		if err := <-done; err != stop {
			t.Fatalf("listen = %v, want onEventInserted's error unchanged", err)
		}

		panics := make(chan any, 1)
		ready := make(chan struct{})
		go func() {
			defer func() { panics <- recover() }()
			_ = db.ListenEventInserted(bg, func() { close(ready) }, func(v int64) error { panic(fmt.Sprint("at ", v)) })
		}()
		<-ready
		appendAt(t, db, 1, ev("E", "{}"))
		if v := <-panics; v != "at 2" {
			t.Fatalf("recovered %v, want the callback's panic re-panicked by ListenEventInserted", v)
		}

		v := func() (v any) {
			defer func() { v = recover() }()
			_ = db.ListenEventInserted(bg, func() { panic("ready") }, func(int64) error { return nil })
			return nil
		}()
		if v != "ready" {
			t.Fatalf("recovered %v, want onReady's panic", v)
		}
	})
}

// A cancelled context interrupts a call blocked in the driver: on sqlite a
// second read-write transaction waits for the write lock.
func TestCancelInterruptsBlockedCall(t *testing.T) {
	uri := "sqlite://" + filepath.Join(t.TempDir(), "evdb.db") + "?busy_timeout_ms=600000"
	db, err := evdb.Open(uri)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(bg)
	blocked := make(chan error, 1)
	err = db.TxRW(bg, func(c context.Context, tx evdb.TxRW) error {
		go func() {
			blocked <- db.TxRW(ctx, func(context.Context, evdb.TxRW) error { return nil })
		}()
		time.Sleep(100 * time.Millisecond) // let it block; the outcome does not depend on it
		cancel()
		if err := <-blocked; !errors.Is(err, context.Canceled) {
			t.Errorf("blocked TxRW after cancel = %v, want context.Canceled", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCancelledContextFailsBeforeStarting(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		ctx, cancel := context.WithCancel(bg)
		cancel()
		called := false
		err := db.TxRW(ctx, func(context.Context, evdb.TxRW) error { called = true; return nil })
		if !errors.Is(err, context.Canceled) || called {
			t.Fatalf("TxRW(cancelled) = %v (fn called: %v), want context.Canceled without calling fn", err, called)
		}
		// A per-call context different from the transaction's is honoured too.
		err = db.TxReadOnly(bg, func(_ context.Context, tx evdb.TxReadOnly) error {
			_, err := tx.ReadSystemVersion(ctx)
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("read with a cancelled context = %v, want context.Canceled", err)
		}
	})
}

func TestConcurrentTransactions(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		const writers, each = 4, 10
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; {
					err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
						h, err := tx.ReadSystemVersion(ctx)
						if err != nil {
							return err
						}
						_, err = tx.AppendEvent(ctx, h, ev("E", "{}"))
						return err
					})
					var ee *evdb.Error
					switch {
					case err == nil:
						i++
					case errors.As(err, &ee) && ee.Status.Retryable():
					default:
						t.Errorf("TxRW: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if h := head(t, db); h != writers*each {
			t.Fatalf("head %d, want %d: every committed append counted once", h, writers*each)
		}
	})
}

func TestClose(t *testing.T) {
	db, err := evdb.Open("memory:")
	if err != nil {
		t.Fatal(err)
	}
	err = db.TxReadOnly(bg, func(context.Context, evdb.TxReadOnly) error {
		if err := db.Close(); !errors.Is(err, evdb.ErrInvalidArgument) {
			t.Errorf("Close during a transaction = %v, want an error", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := db.TxRW(bg, func(context.Context, evdb.TxRW) error { return nil }); !errors.Is(err, evdb.ErrClosed) {
		t.Fatalf("TxRW on a closed DB = %v, want ErrClosed", err)
	}
}

// ReadEvents copies every string (one allocation shared by many events): the
// events stay intact after later reads, and a payload longer than the copy's
// chunk, types that change from event to event and empty revisions survive.
func TestReadEventsCopies(t *testing.T) {
	eachBackend(t, func(t *testing.T, _ string, db *evdb.DB) {
		var want []evdb.Event
		err := db.TxRW(bg, func(ctx context.Context, tx evdb.TxRW) error {
			for i := 0; i < 40; i++ {
				e := evdb.Event{
					TypeName:    []string{"Opened", "Opened", "Moved", "Closed"}[i%4],
					Payload:     fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", (i*i*37)%20000)),
					RevisionVCS: []string{"", "r1", "r1", "r2"}[i%4],
					Time:        time.UnixMicro(int64(1_700_000_000_000_000 + i)).UTC(),
				}
				v, err := tx.AppendEvent(ctx, int64(i), e)
				if err != nil {
					return err
				}
				e.Version = v
				want = append(want, e)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.TxReadOnly(bg, func(ctx context.Context, tx evdb.TxReadOnly) error {
			first := make([]evdb.Event, 40)
			if n, err := tx.ReadEvents(ctx, 1, false, first); err != nil || n != 40 {
				t.Fatalf("ReadEvents = %d, %v", n, err)
			}
			again := make([]evdb.Event, 40)
			if n, err := tx.ReadEvents(ctx, 40, true, again); err != nil || n != 40 {
				t.Fatalf("ReadEvents(reverse) = %d, %v", n, err)
			}
			for i := range want {
				if first[i] != want[i] {
					t.Errorf("ascending event %d = %+v…, want %+v…", i, first[i].TypeName, want[i].TypeName)
				}
				if again[39-i] != want[i] {
					t.Errorf("descending event %d differs from what was appended", 39-i)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}
