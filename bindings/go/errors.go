package evdb

/*
#include <evdb/evdb.h>
*/
import "C"

import (
	"context"
	"errors"
)

// Status is an evdb status code (evdb.h's evdb_status; docs/contract.md §3).
type Status int32

// The status codes of evdb.h, same values.
const (
	StatusOK                Status = C.EVDB_OK
	StatusVersionMismatch   Status = C.EVDB_VERSION_MISMATCH
	StatusNotFound          Status = C.EVDB_NOT_FOUND
	StatusConflict          Status = C.EVDB_CONFLICT
	StatusReadOnly          Status = C.EVDB_READ_ONLY
	StatusInvalidArgument   Status = C.EVDB_INVALID_ARGUMENT
	StatusCanceled          Status = C.EVDB_CANCELED
	StatusDeadlineExceeded  Status = C.EVDB_DEADLINE_EXCEEDED
	StatusConnection        Status = C.EVDB_CONNECTION
	StatusUnsupported       Status = C.EVDB_UNSUPPORTED
	StatusDriverNotFound    Status = C.EVDB_DRIVER_NOT_FOUND
	StatusDriverABIMismatch Status = C.EVDB_DRIVER_ABI_MISMATCH
	StatusInternal          Status = C.EVDB_INTERNAL
	// StatusCommitInDoubt (since 1.1): the commit's outcome is unknown; read
	// the log before appending again. Not retryable.
	StatusCommitInDoubt Status = C.EVDB_COMMIT_IN_DOUBT
)

// String is the constant's name in evdb.h ("EVDB_NOT_FOUND").
func (s Status) String() string { return C.GoString(C.evdb_status_name(C.evdb_status(s))) }

// Retryable reports whether the whole transaction may be retried
// (EVDB_VERSION_MISMATCH and EVDB_CONFLICT).
func (s Status) Retryable() bool { return C.evdb_status_is_retryable(C.evdb_status(s)) != 0 }

// Error is every error this package returns for a failed evdb call: the
// status and the library's message (which names the driver and the operation
// and never holds a password). Match it with errors.Is against the sentinels
// below (or context.Canceled / context.DeadlineExceeded), or errors.As to
// read the Status.
type Error struct {
	Status  Status
	Message string
}

func newError(s Status, msg string) *Error {
	if s == StatusVersionMismatch && msg == "" {
		return ErrVersionMismatch
	}
	return &Error{Status: s, Message: msg}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return "evdb: " + e.Status.String()
	}
	return "evdb: " + e.Status.String() + ": " + e.Message
}

// Is makes errors.Is(err, ErrNotFound) etc. compare statuses, and maps the
// context statuses onto the context package's errors.
func (e *Error) Is(target error) bool {
	switch target {
	case context.Canceled:
		return e.Status == StatusCanceled
	case context.DeadlineExceeded:
		return e.Status == StatusDeadlineExceeded
	}
	var t *Error
	return errors.As(target, &t) && t.Message == "" && t.Status == e.Status
}

// Sentinels, one per status: errors.Is(err, evdb.ErrVersionMismatch).
var (
	// ErrVersionMismatch: AppendEvent's assumed version was not the head
	// (also returned by the commit of a transaction that lost a race).
	ErrVersionMismatch   = &Error{Status: StatusVersionMismatch}
	ErrNotFound          = &Error{Status: StatusNotFound}
	ErrConflict          = &Error{Status: StatusConflict}
	ErrReadOnly          = &Error{Status: StatusReadOnly}
	ErrInvalidArgument   = &Error{Status: StatusInvalidArgument}
	ErrCanceled          = &Error{Status: StatusCanceled}
	ErrDeadlineExceeded  = &Error{Status: StatusDeadlineExceeded}
	ErrConnection        = &Error{Status: StatusConnection}
	ErrUnsupported       = &Error{Status: StatusUnsupported}
	ErrDriverNotFound    = &Error{Status: StatusDriverNotFound}
	ErrDriverABIMismatch = &Error{Status: StatusDriverABIMismatch}
	ErrInternal          = &Error{Status: StatusInternal}
	ErrCommitInDoubt     = &Error{Status: StatusCommitInDoubt}
)

// ErrClosed is returned by every method of a closed DB, and ErrTxDone by a
// transaction's methods once its function has returned. Both have the status
// EVDB_INVALID_ARGUMENT (misuse) and match ErrInvalidArgument too.
var (
	ErrClosed = &Error{Status: StatusInvalidArgument, Message: "the DB is closed"}
	ErrTxDone = &Error{Status: StatusInvalidArgument, Message: "the transaction has ended (its function returned)"}
)

// ctxError is the error for a Go context that ended before a call started.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &Error{Status: StatusDeadlineExceeded, Message: "the context's deadline passed"}
	}
	return &Error{Status: StatusCanceled, Message: "the context was cancelled"}
}
