// Package db stands in for Conductor's db package in the adapter's test: the
// interfaces, Event and ErrVersionMismatch with the signatures Conductor
// declares (and issue 14 lists), so adapter.go compiles as it would in a
// program that imports Conductor.
package db

import (
	"context"
	"errors"
	"time"
)

var ErrVersionMismatch = errors.New("version mismatch")

type Event struct {
	Version     int64
	Payload     string
	TypeName    string
	Time        time.Time
	RevisionVCS string
}

type Reader interface {
	ReadEventAtVersion(ctx context.Context, version int64) (Event, error)
	ReadEventAfterVersion(ctx context.Context, afterVersion int64) (Event, error)
	ReadSystemVersion(ctx context.Context) (version int64, err error)
	ReadProjectionVersion(ctx context.Context, id int32) (version int64, err error)
	ReadEvents(ctx context.Context, atVersion int64, reverse bool, buffer []Event) (read int, err error)
}

type Writer interface {
	InitProjectionVersion(ctx context.Context, id int32) (version int64, err error)
	SetProjectionVersion(ctx context.Context, id int32, version int64) error
	AppendEvent(ctx context.Context, assumedVersion int64, event Event) (version int64, err error)
}

type TxRW interface {
	Reader
	Writer
}

type TxReadOnly interface {
	Reader
}

type Listener interface {
	ListenEventInserted(ctx context.Context, onReady func(), onEventInserted func(version int64) error) error
}

type DB interface {
	TxReadOnly(ctx context.Context, fn func(ctx context.Context, tx TxReadOnly) error) error
	TxRW(ctx context.Context, fn func(ctx context.Context, tx TxRW) error) error
}
