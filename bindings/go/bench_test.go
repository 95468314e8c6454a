package evdb_test

import (
	"context"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"evdb.dev/evdb"
	"evdb.dev/evdb/internal/cbench"
)

// The binding's cost per call: the same work through Go and through C
// (internal/cbench, the same loops against evdb.h) on the same kind of store.
// Results: docs/benchmarks.md, "Go binding". Besides Go's ns/op (wall time),
// each case reports cpu-ns/op: the process's CPU time (user + system, every
// thread, so also the Go garbage collector's) per operation, which a loaded
// machine disturbs less.

// benchEvent is the bytes of cbench.c's event; the zero Time means "now".
var benchEvent = evdb.Event{
	TypeName:    "OrderPlaced",
	Payload:     `{"order":"A-1042","customer":"c-77","amount":129.5,"currency":"EUR"}`,
	RevisionVCS: "3f9c2ab",
}

// cpuClock measures the process's CPU time from start() to stop(b).
type cpuClock struct{ t0 time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (c *cpuClock) start(b *testing.B) {
	b.ResetTimer()
	c.t0 = cpuTime()
}

func (c *cpuClock) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c.t0)/float64(b.N), "cpu-ns/op")
}

// storeURI is a fresh store of the kind name.
func storeURI(b *testing.B, name string) string {
	if name == "sqlite" {
		return "sqlite://" + filepath.Join(b.TempDir(), "bench.db") + "?synchronous=normal"
	}
	return "memory:"
}

func openGo(b *testing.B, name string) *evdb.DB {
	db, err := evdb.Open(storeURI(b, name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

func openC(b *testing.B, name string) *cbench.DB {
	db, err := cbench.Open(storeURI(b, name))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	return db
}

func BenchmarkAppendOne(b *testing.B) {
	for _, name := range []string{"memory", "sqlite"} {
		b.Run(name+"/go", func(b *testing.B) {
			db := openGo(b, name)
			ctx := context.Background()
			var clock cpuClock
			clock.start(b)
			for head := int64(0); head < int64(b.N); head++ {
				err := db.TxRW(ctx, func(ctx context.Context, tx evdb.TxRW) error {
					_, err := tx.AppendEvent(ctx, head, benchEvent)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			clock.stop(b)
		})
		b.Run(name+"/c", func(b *testing.B) {
			db := openC(b, name)
			var clock cpuClock
			clock.start(b)
			if _, err := db.AppendOne(0, b.N); err != nil {
				b.Fatal(err)
			}
			clock.stop(b)
		})
	}
}

// BenchmarkReadEvents1000: one call reading 1000 events (at 1, ascending)
// from a log of 1000 in an open read-only transaction. The Go side also
// copies every string into Go memory, which the C side (pointers into the
// driver's storage) does not.
func BenchmarkReadEvents1000(b *testing.B) {
	for _, name := range []string{"memory", "sqlite"} {
		b.Run(name+"/go", func(b *testing.B) {
			db := openGo(b, name)
			ctx := context.Background()
			fill(b, db)
			buf := make([]evdb.Event, 1000)
			err := db.TxReadOnly(ctx, func(ctx context.Context, tx evdb.TxReadOnly) error {
				var clock cpuClock
				clock.start(b)
				for i := 0; i < b.N; i++ {
					if n, err := tx.ReadEvents(ctx, 1, false, buf); err != nil || n != 1000 {
						b.Fatalf("ReadEvents = %d, %v", n, err)
					}
				}
				clock.stop(b)
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		})
		b.Run(name+"/c", func(b *testing.B) {
			db := openC(b, name)
			if _, err := db.AppendOne(0, 1000); err != nil {
				b.Fatal(err)
			}
			var clock cpuClock
			clock.start(b)
			if n, err := db.ReadEvents(b.N); err != nil || n != 1000 {
				b.Fatalf("ReadEvents = %d, %v", n, err)
			}
			clock.stop(b)
		})
	}
}

// fill appends 1000 events in one transaction.
func fill(b *testing.B, db *evdb.DB) {
	err := db.TxRW(context.Background(), func(ctx context.Context, tx evdb.TxRW) error {
		for v := int64(0); v < 1000; v++ {
			if _, err := tx.AppendEvent(ctx, v, benchEvent); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
