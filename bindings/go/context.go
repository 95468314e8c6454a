package evdb

/*
#include <evdb/evdb.h>
*/
import "C"

import (
	"context"
	"errors"
	"time"
)

// boundCtx is an evdb_ctx that follows a Go context: a goroutine cancels it
// when ctx is done, and its deadline is ctx's. A context that can never end
// (context.Background) needs none: c is then nil, which evdb reads as "no
// cancellation, no deadline", and no goroutine runs.
type boundCtx struct {
	ctx  context.Context
	c    *C.evdb_ctx
	stop chan struct{}
	done chan struct{}
}

// bind makes b the evdb context for ctx. It fails (without touching C) when
// ctx has already ended. The caller calls release once no call uses it.
func (b *boundCtx) bind(ctx context.Context) error {
	b.ctx = ctx
	if ctx.Done() == nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	b.c = C.evdb_ctx_new()
	if b.c == nil {
		return &Error{Status: StatusInternal, Message: "evdb_ctx_new: out of memory"}
	}
	if dl, ok := ctx.Deadline(); ok {
		// Rounded up, so the Go context (which cancels) ends first or together.
		ms := (time.Until(dl) + time.Millisecond - 1) / time.Millisecond
		if ms < 0 {
			ms = 0
		}
		C.evdb_ctx_set_timeout_ms(b.c, C.int64_t(ms))
	}
	b.stop, b.done = make(chan struct{}), make(chan struct{})
	go func(c *C.evdb_ctx, done <-chan struct{}) {
		defer close(b.done)
		select {
		case <-done:
			C.evdb_ctx_cancel(c)
		case <-b.stop:
		}
	}(b.c, ctx.Done())
	return nil
}

// release stops the goroutine and frees the evdb context.
func (b *boundCtx) release() {
	if b == nil || b.c == nil {
		return
	}
	close(b.stop)
	<-b.done
	C.evdb_ctx_free(b.c)
	b.c = nil
}

// sameAs: a call under ctx may use b (ctx ends exactly when b's does: the
// same context, or one derived from it by WithValue).
func (b *boundCtx) sameAs(ctx context.Context) bool {
	if b.ctx.Done() != ctx.Done() {
		return false
	}
	d1, ok1 := b.ctx.Deadline()
	d2, ok2 := ctx.Deadline()
	return ok1 == ok2 && d1.Equal(d2)
}

// failed turns a failed call into its error; when the Go context has ended,
// the status says how it ended (its goroutine cancels the evdb context also
// when the Go deadline passed first).
func failed(ctx context.Context, st C.evdb_status, e *cError) error {
	err := takeError(st, e)
	var ee *Error
	if errors.As(err, &ee) && (ee.Status == StatusCanceled || ee.Status == StatusDeadlineExceeded) && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			ee.Status = StatusDeadlineExceeded
		} else {
			ee.Status = StatusCanceled
		}
	}
	return err
}
