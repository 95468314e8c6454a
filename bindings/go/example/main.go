// Command example is the core loop of evdb's example application
// (examples/bank, docs/example.md) in Go: commands read the state at the
// head, validate, append at that head and retry on ErrVersionMismatch; a
// listener keeps a projection version up to date. Usage: example [URI]
// (default memory:).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sync"

	"evdb.dev/evdb"
)

type transfer struct {
	From   string `json:"from,omitempty"`
	To     string `json:"to"` // AccountOpened: the account
	Amount int64  `json:"amount"`
}

var accounts = []string{"alice", "bob", "carol", "dave"}

const balancesProjection = 1

// balances replays the log up to the transaction's head.
func balances(ctx context.Context, tx evdb.TxReadOnly) (map[string]int64, int64, error) {
	b, buf, head := map[string]int64{}, make([]evdb.Event, 256), int64(0)
	for {
		n, err := tx.ReadEvents(ctx, head+1, false, buf)
		if err != nil || n == 0 {
			return b, head, err
		}
		for _, e := range buf[:n] {
			var t transfer
			if err := json.Unmarshal([]byte(e.Payload), &t); err != nil {
				return nil, 0, err
			}
			if t.From != "" {
				b[t.From] -= t.Amount
			}
			b[t.To] += t.Amount
			head = e.Version
		}
	}
}

// command is the optimistic loop: read, validate, append at the head read.
func command(ctx context.Context, db *evdb.DB, t transfer) (ok bool, retries int, err error) {
	for ; ; retries++ {
		var head int64
		err = db.TxReadOnly(ctx, func(ctx context.Context, tx evdb.TxReadOnly) error {
			b, h, err := balances(ctx, tx)
			head, ok = h, err == nil && b[t.From] >= t.Amount && t.From != t.To
			return err
		})
		if err != nil || !ok {
			return false, retries, err
		}
		payload, _ := json.Marshal(t)
		err = db.TxRW(ctx, func(ctx context.Context, tx evdb.TxRW) error {
			_, err := tx.AppendEvent(ctx, head, evdb.Event{TypeName: "MoneyTransferred", Payload: string(payload)})
			return err
		})
		if !errors.Is(err, evdb.ErrVersionMismatch) && !errors.Is(err, evdb.ErrConflict) {
			return err == nil, retries, err
		}
	}
}

func main() {
	uri := "memory:"
	if len(os.Args) > 1 {
		uri = os.Args[1]
	}
	if err := run(uri); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func run(uri string) error {
	db, err := evdb.Open(uri)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()

	// Open the accounts once (appends chain at the head read).
	err = db.TxRW(ctx, func(ctx context.Context, tx evdb.TxRW) error {
		if _, err := tx.InitProjectionVersion(ctx, balancesProjection); err != nil {
			return err
		}
		head, err := tx.ReadSystemVersion(ctx)
		for _, a := range accounts {
			if err != nil || head >= int64(len(accounts)) {
				return err
			}
			payload, _ := json.Marshal(transfer{To: a, Amount: 1000})
			head, err = tx.AppendEvent(ctx, head, evdb.Event{TypeName: "AccountOpened", Payload: string(payload)})
		}
		return err
	})
	if err != nil {
		return err
	}

	// The listener moves the projection's version to each new event.
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	ready, seen, listened := make(chan struct{}), make(chan int64, 1024), make(chan error, 1)
	go func() {
		listened <- db.ListenEventInserted(lctx, func() { close(ready) }, func(v int64) error {
			err := db.TxRW(lctx, func(ctx context.Context, tx evdb.TxRW) error {
				return tx.SetProjectionVersion(ctx, balancesProjection, v)
			})
			seen <- v
			return err
		})
	}()
	<-ready

	// Four goroutines of random transfers.
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed, rejected, retries := 0, 0, 0
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(r *rand.Rand) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				t := transfer{accounts[r.Intn(4)], accounts[r.Intn(4)], int64(r.Intn(400))}
				ok, n, err := command(ctx, db, t)
				mu.Lock()
				if err != nil {
					fmt.Fprintln(os.Stderr, "example: transfer:", err)
				} else if ok {
					committed++
				} else {
					rejected++
				}
				retries += n
				mu.Unlock()
			}
		}(rand.New(rand.NewSource(int64(w))))
	}
	wg.Wait()

	// Wait for the listener to reach the head, then check the invariants.
	var b map[string]int64
	var head int64
	if err := db.TxReadOnly(ctx, func(ctx context.Context, tx evdb.TxReadOnly) (err error) {
		b, head, err = balances(ctx, tx)
		return err
	}); err != nil {
		return err
	}
	for v := int64(0); v < head && committed > 0; {
		v = <-seen
	}
	stop()
	if err := <-listened; !errors.Is(err, context.Canceled) {
		return fmt.Errorf("listener: %w", err)
	}
	var projected int64
	if err := db.TxReadOnly(ctx, func(ctx context.Context, tx evdb.TxReadOnly) (err error) {
		projected, err = tx.ReadProjectionVersion(ctx, balancesProjection)
		return err
	}); err != nil {
		return err
	}
	if committed > 0 && projected != head {
		return fmt.Errorf("check failed: projection at %d, head %d", projected, head)
	}
	var total int64
	for _, a := range accounts {
		total += b[a]
		if b[a] < 0 {
			return fmt.Errorf("check failed: %s has %d", a, b[a])
		}
	}
	fmt.Printf("driver %s: %d transfers committed, %d rejected, %d retries after ErrVersionMismatch/ErrConflict\n",
		db.DriverName(), committed, rejected, retries)
	fmt.Printf("balances at version %d (projection at %d): alice %d  bob %d  carol %d  dave %d (total %d)\n",
		head, projected, b["alice"], b["bob"], b["carol"], b["dave"], total)
	if total != 1000*int64(len(accounts)) {
		return fmt.Errorf("check failed: total %d, want %d", total, 1000*len(accounts))
	}
	fmt.Println("check: OK, money conserved, no balance below 0")
	return nil
}
