package evdb

/*
#include <evdb/evdb.h>
*/
import "C"

import (
	"context"
	"errors"
	"runtime/cgo"
)

// ListenEventInserted calls onEventInserted with the version of every event
// committed after the subscription is active, in version order, until ctx
// ends or onEventInserted returns an error. onReady (may be nil) is called
// once, when the subscription is active: every event committed after it
// returns is delivered. Both run on the calling goroutine, which blocks.
//
// It returns onEventInserted's error unchanged, or an error that matches
// context.Canceled / context.DeadlineExceeded when ctx ended, or
// ErrConnection when the store stayed unreachable longer than the driver's
// reconnect limit. A panic in either callback ends the listen and goes on in
// the caller. Conductor's db.Listener.
func (db *DB) ListenEventInserted(ctx context.Context, onReady func(), onEventInserted func(version int64) error) error {
	var b boundCtx
	if err := db.enterWith(ctx, &b); err != nil {
		return err
	}
	defer db.exitWith(&b)
	s := &listenState{onReady: onReady, onInserted: onEventInserted}
	h := cgo.NewHandle(s)
	defer h.Delete()
	var e cError
	initError(&e)
	st := listen(db.c, b.c, h, &e)
	if s.panicked {
		C.evdb_error_release(&e)
		panic(s.panicValue)
	}
	if s.err != nil {
		C.evdb_error_release(&e)
		return s.err
	}
	if st != C.EVDB_OK {
		return failed(ctx, st, &e)
	}
	return nil
}

// listenState is what the C callbacks reach through their cgo.Handle.
type listenState struct {
	onReady    func()
	onInserted func(version int64) error
	err        error // onInserted's error
	panicked   bool
	panicValue any
}

// ready runs onReady; a panic is kept for the caller and ends the listen.
func (s *listenState) ready() (st Status, msg string) {
	if s.onReady == nil {
		return StatusOK, ""
	}
	defer s.recover(&st, &msg)
	s.onReady()
	return StatusOK, ""
}

// inserted runs onInserted; an error or panic is kept and ends the listen.
func (s *listenState) inserted(version int64) (st Status, msg string) {
	defer s.recover(&st, &msg)
	if err := s.onInserted(version); err != nil {
		s.err = err
		var ee *Error
		if errors.As(err, &ee) && ee.Status != StatusOK {
			return ee.Status, err.Error()
		}
		return StatusInternal, err.Error()
	}
	return StatusOK, ""
}

// recover keeps a callback's panic; the error status ends evdb_listen at once.
func (s *listenState) recover(st *Status, msg *string) {
	if v := recover(); v != nil {
		s.panicked, s.panicValue = true, v
		*st, *msg = StatusInternal, "a Go callback panicked"
	}
}
