"""The Python API over libevdb: contexts, stores, transactions, events and
the listener. See docs/bindings.md (Python); the semantics are those of the C
API (docs/contract.md §2), which this module only wraps."""

from __future__ import annotations

import ctypes
import datetime as _dt
import json
import queue
import threading
import weakref
from ctypes import byref, c_int64, c_size_t, string_at
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from . import _capi
from ._errors import Error, InvalidArgument, from_c

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_US = _dt.timedelta(microseconds=1)


def _lib():
    # Loaded on first use, so `import evdb` works (and says nothing) without
    # the library; the first real call raises evdb.LibraryNotFound.
    try:
        return _capi.load()
    except _capi.LibraryNotFound as e:
        from ._errors import LibraryNotFound

        raise LibraryNotFound(str(e)) from None


def _check(lib, status: int, err: _capi.Error, what: str) -> None:
    if status != _capi.OK:
        raise from_c(lib, status, err, what)


def _utf8(value: str, what: str, op: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"evdb: {op}: {what} must be str, not {type(value).__name__}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidArgument(f"evdb: {op}: {what} is not valid UTF-8 text ({e})") from None


def library_version() -> str:
    """The version of the libevdb in use ("1.1.0")."""
    return _lib().evdb_version().decode()


# ---- contexts -----------------------------------------------------------------------
class Context:
    """Cancellation and a deadline for the calls it is passed to (evdb_ctx).

    `cancel()` and `set_timeout()` may be called from any thread while a call
    using the context blocks in another; the call then raises Canceled or
    DeadlineExceeded (a listener simply ends). Freed when garbage collected,
    which cannot happen while a call still uses it."""

    def __init__(self, timeout: float | None = None):
        lib = _lib()
        self._lib = lib
        self._ptr = lib.evdb_ctx_new()
        if not self._ptr:
            raise MemoryError("evdb: evdb_ctx_new failed")
        self._finalizer = weakref.finalize(self, lib.evdb_ctx_free, self._ptr)
        if timeout is not None:
            self.set_timeout(timeout)

    def cancel(self) -> None:
        """Cancels every call using this context (promptly; a listener within
        100 ms). Idempotent."""
        self._lib.evdb_ctx_cancel(self._ptr)

    def set_timeout(self, seconds: float | None) -> None:
        """Sets the deadline to `seconds` from now (None removes it)."""
        if seconds is None:
            ms = -1
        else:
            if seconds < 0:
                raise ValueError(f"evdb: Context.set_timeout: negative timeout {seconds}")
            ms = int(seconds * 1000)
        self._lib.evdb_ctx_set_timeout_ms(self._ptr, ms)

    @property
    def error(self) -> Error | None:
        """None while live; a Canceled or DeadlineExceeded instance once not."""
        status = self._lib.evdb_ctx_status(self._ptr)
        if status == _capi.OK:
            return None
        from ._errors import error_for

        return error_for(status, f"evdb: context: {self._lib.evdb_status_name(status).decode()}")


def _ctx_ptr(ctx: Context | None):
    if ctx is None:
        return None
    if not isinstance(ctx, Context):
        raise TypeError(f"evdb: ctx must be an evdb.Context or None, not {type(ctx).__name__}")
    return ctx._ptr


# ---- events -------------------------------------------------------------------------
@dataclass(slots=True)
class Event:
    """One event of the log, as read (strings are copies: they stay valid).
    Not frozen: building a frozen dataclass costs several times more, and a
    read of 1000 events makes 1000 of them.

    `time_us` is microseconds since the Unix epoch (UTC); `time` gives it as
    an aware datetime. `payload` is the JSON text; `json()` parses it."""

    version: int
    type_name: str
    payload: str
    time_us: int = 0
    revision_vcs: str = ""

    @property
    def time(self) -> _dt.datetime:
        return _EPOCH + _dt.timedelta(microseconds=self.time_us)

    def json(self) -> Any:
        """The payload parsed with json.loads."""
        return json.loads(self.payload)


def _from_c(address: int, n: int) -> list[Event]:
    return [Event(version, str(type_name, "utf-8"), str(payload, "utf-8"), time_us, str(rev, "utf-8"))
            for version, time_us, type_name, payload, rev in _capi.event_fields(address, n)]


def _time_us(time: _dt.datetime | None) -> int:
    if time is None:
        return 0
    if not isinstance(time, _dt.datetime):
        raise TypeError(f"evdb: append_event: time must be a datetime or None, not {type(time).__name__}")
    if time.tzinfo is None:
        raise InvalidArgument("evdb: append_event: time is a naive datetime; give it a timezone (e.g. UTC)")
    return (time - _EPOCH) // _US


# ---- transactions --------------------------------------------------------------------
def _end_tx(lib, ptr, db: DB) -> None:
    # Finalizer of a transaction never ended by its owner (see Tx.__init__).
    lib.evdb_rollback(ptr)
    db._tx_ended()


class Tx:
    """A transaction (evdb_tx), made by DB.tx_read_only() / DB.tx_rw().

    As a context manager it commits when the block ends normally and rolls
    back when it ends with an exception (which then propagates unchanged);
    commit() / rollback() end it explicitly. A transaction forgotten without
    either is rolled back when garbage collected. Every method uses the
    context the transaction was made with. One thread at a time."""

    __slots__ = ("_lib", "_ptr", "_ctx", "_ctx_p", "_db", "_buf", "_finalizer", "kind", "__weakref__")

    def __init__(self, db: DB, kind: int, ctx: Context | None):
        lib = db._lib
        self._lib = lib
        self._db = db
        self._ctx = ctx  # referenced: freed only after the transaction
        self._ctx_p = _ctx_ptr(ctx)
        self._buf = None
        self.kind = "read_write" if kind == _capi.TX_READ_WRITE else "read_only"
        ptr = _capi.tx_p()
        err = _capi.new_error()
        db._tx_begun()
        status = lib.evdb_begin(db._handle(), self._ctx_p, kind, byref(ptr), byref(err))
        if status != _capi.OK:
            db._tx_ended()
            raise from_c(lib, status, err, "begin")
        self._ptr = ptr.value
        self._finalizer = weakref.finalize(self, _end_tx, lib, self._ptr, db)

    def __enter__(self) -> Tx:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if self._ptr is None:  # ended inside the block
            return False
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def _live(self, op: str):
        if self._ptr is None:
            raise InvalidArgument(f"evdb: {op}: the transaction has already ended (committed or rolled back)")
        return self._ptr

    def _detach(self):
        ptr = self._live("commit")
        self._ptr = None
        self._finalizer.detach()
        return ptr

    def commit(self) -> None:
        """Commits. Raises VersionMismatch (it appended and lost a race),
        Conflict (it did not append and lost a race), ConnectionFailed, ...;
        on any error nothing of the transaction was applied. The transaction
        has ended either way."""
        lib = self._lib
        ptr = self._detach()
        err = _capi.new_error()
        try:
            _check(lib, lib.evdb_commit(ptr, self._ctx_p, byref(err)), err, "commit")
        finally:
            self._db._tx_ended()

    def rollback(self) -> None:
        """Rolls back: nothing of the transaction remains. Never fails; does
        nothing when the transaction has already ended."""
        if self._ptr is None:
            return
        ptr = self._ptr
        self._ptr = None
        self._finalizer.detach()
        self._lib.evdb_rollback(ptr)
        self._db._tx_ended()

    @property
    def ended(self) -> bool:
        return self._ptr is None

    # -- reads --
    def read_system_version(self) -> int:
        """The version of the last event this transaction sees; 0 when empty."""
        lib = self._lib
        out = c_int64()
        err = _capi.new_error()
        _check(lib, lib.evdb_read_system_version(self._live("read_system_version"), self._ctx_p,
                                                 byref(out), byref(err)), err, "read_system_version")
        return out.value

    def read_event_at(self, version: int) -> Event:
        """The event with this version; NotFound for 0 and past the head."""
        return self._read_one(self._lib.evdb_read_event_at, version, "read_event_at")

    def read_event_after(self, version: int) -> Event:
        """The first event with a version greater than `version`; NotFound
        when there is none."""
        return self._read_one(self._lib.evdb_read_event_after, version, "read_event_after")

    def _read_one(self, fn, version: int, op: str) -> Event:
        out = _capi.new_event()
        err = _capi.new_error()
        _check(self._lib, fn(self._live(op), self._ctx_p, version, byref(out), byref(err)), err, op)
        return _from_c(ctypes.addressof(out), 1)[0]

    def read_events(self, at: int, limit: int, *, reverse: bool = False) -> list[Event]:
        """Up to `limit` events from version `at` inclusive: ascending, or
        descending with reverse=True (`at` past the head then starts at the
        head)."""
        if limit < 0:
            raise InvalidArgument(f"evdb: read_events: negative limit {limit}")
        if limit == 0:
            return []
        buf = self._buf
        if buf is None or len(buf) < limit:
            buf = self._buf = _capi.new_event_array(limit)
        lib = self._lib
        n = c_size_t()
        err = _capi.new_error()
        _check(lib, lib.evdb_read_events(self._live("read_events"), self._ctx_p, at, 1 if reverse else 0,
                                         buf, limit, byref(n), byref(err)), err, "read_events")
        return _from_c(ctypes.addressof(buf), n.value) if n.value else []

    def iter_events(self, after: int = 0, *, page: int = 256) -> Iterator[Event]:
        """Every event with a version greater than `after`, ascending, read
        `page` at a time."""
        at = after + 1
        while True:
            batch = self.read_events(at, page)
            yield from batch
            if len(batch) < page:
                return
            at = batch[-1].version + 1

    def read_projection_version(self, projection_id: int) -> int:
        """The version of projection `projection_id`; NotFound if never
        initialised."""
        lib = self._lib
        out = c_int64()
        err = _capi.new_error()
        _check(lib, lib.evdb_read_projection_version(self._live("read_projection_version"), self._ctx_p,
                                                     projection_id, byref(out), byref(err)),
               err, "read_projection_version")
        return out.value

    # -- writes (read-write transactions; ReadOnly otherwise) --
    def append_event(self, assumed_version: int, event: Event | None = None, *,
                     type_name: str | None = None, payload: str | None = None,
                     time: _dt.datetime | None = None, revision_vcs: str | None = None) -> int:
        """Appends an event if the head is `assumed_version`; returns its
        version (assumed_version + 1). Give either an Event (its version is
        ignored; its time_us is kept, 0 = now) or type_name and payload (JSON
        text) with optional time (an aware datetime; None = now) and
        revision_vcs. Raises VersionMismatch (nothing appended),
        InvalidArgument (empty type name, payload not JSON...), ReadOnly."""
        if event is not None:
            if type_name is not None or payload is not None or time is not None or revision_vcs is not None:
                raise TypeError("evdb: append_event: give an Event or keyword fields, not both")
            type_b = _utf8(event.type_name, "type_name", "append_event")
            payload_b = _utf8(event.payload, "payload", "append_event")
            rev_b = _utf8(event.revision_vcs, "revision_vcs", "append_event")
            time_us = event.time_us
        else:
            if type_name is None or payload is None:
                raise TypeError("evdb: append_event: type_name and payload are required")
            type_b = _utf8(type_name, "type_name", "append_event")
            payload_b = _utf8(payload, "payload", "append_event")
            rev_b = _utf8(revision_vcs or "", "revision_vcs", "append_event")
            time_us = _time_us(time)
        e = _capi.new_event_in(type_b, payload_b, rev_b, time_us)
        lib = self._lib
        out = c_int64()
        err = _capi.new_error()
        _check(lib, lib.evdb_append_event(self._live("append_event"), self._ctx_p, assumed_version,
                                          byref(e), byref(out), byref(err)), err, "append_event")
        return out.value

    def init_projection_version(self, projection_id: int) -> int:
        """Creates projection `projection_id` at version 0 if absent; returns
        its current version. Never resets."""
        lib = self._lib
        out = c_int64()
        err = _capi.new_error()
        _check(lib, lib.evdb_init_projection_version(self._live("init_projection_version"), self._ctx_p,
                                                     projection_id, byref(out), byref(err)),
               err, "init_projection_version")
        return out.value

    def set_projection_version(self, projection_id: int, version: int) -> None:
        """Sets projection `projection_id` to `version` (backwards too);
        NotFound if never initialised."""
        lib = self._lib
        err = _capi.new_error()
        _check(lib, lib.evdb_set_projection_version(self._live("set_projection_version"), self._ctx_p,
                                                    projection_id, version, byref(err)),
               err, "set_projection_version")


# ---- stores -------------------------------------------------------------------------
def open(uri: str, ctx: Context | None = None) -> DB:  # noqa: A001 (evdb.open, as the issue asks)
    """Opens the store named by `uri`; the scheme picks the driver
    ("memory:", "sqlite:///path", "postgres://...", "redis://..."). Raises
    DriverNotFound, InvalidArgument, ConnectionFailed, ... and
    LibraryNotFound when libevdb itself cannot be loaded."""
    lib = _lib()
    uri_b = _utf8(uri, "uri", "open")
    ptr = _capi.db_p()
    err = _capi.new_error()
    _check(lib, lib.evdb_open(uri_b, _ctx_ptr(ctx), byref(ptr), byref(err)), err, "open")
    return DB(lib, ptr.value)


class DB:
    """An open store (evdb_db), made by evdb.open(). Usable from any number
    of threads at once. close() (or the end of a `with` block) closes it;
    an open transaction makes close() fail, running listeners are cancelled
    and waited for."""

    def __init__(self, lib, ptr):
        self._lib = lib
        self._ptr = ptr
        self._lock = threading.Lock()
        self._open_txs = 0
        self._listeners: set[_Session] = set()
        self._finalizer = weakref.finalize(self, lib.evdb_close, ptr)

    def __enter__(self) -> DB:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    def _handle(self):
        ptr = self._ptr
        if ptr is None:
            raise InvalidArgument("evdb: the store has been closed")
        return ptr

    def _tx_begun(self) -> None:
        with self._lock:
            self._handle()
            self._open_txs += 1

    def _tx_ended(self) -> None:
        with self._lock:
            self._open_txs -= 1

    def close(self) -> None:
        """Closes the store. Raises InvalidArgument while a transaction is
        open on it; cancels and waits for its listeners. Idempotent."""
        with self._lock:
            if self._ptr is None:
                return
            if self._open_txs:
                raise InvalidArgument(
                    f"evdb: close: {self._open_txs} transaction(s) still open on this store; "
                    "commit or roll them back first")
            listeners = list(self._listeners)
        for listener in listeners:
            listener.close()
        with self._lock:
            self._ptr = None
        self._finalizer()

    @property
    def closed(self) -> bool:
        return self._ptr is None

    @property
    def driver_name(self) -> str:
        return self._lib.evdb_db_driver_name(self._handle()).decode()

    @property
    def capabilities(self) -> frozenset[str]:
        """The store's capabilities by name ("listener", "durable", ...)."""
        bits = self._lib.evdb_db_capabilities(self._handle())
        return frozenset(name for name, bit in _capi.CAPABILITIES.items() if bits & bit)

    def ping(self, ctx: Context | None = None) -> None:
        """Checks that the store is reachable; raises ConnectionFailed, ..."""
        err = _capi.new_error()
        _check(self._lib, self._lib.evdb_ping(self._handle(), _ctx_ptr(ctx), byref(err)), err, "ping")

    def tx_read_only(self, ctx: Context | None = None) -> Tx:
        """Begins a read-only transaction (one consistent snapshot)."""
        return Tx(self, _capi.TX_READ_ONLY, ctx)

    def tx_rw(self, ctx: Context | None = None) -> Tx:
        """Begins a read-write transaction (serializable among writers)."""
        return Tx(self, _capi.TX_READ_WRITE, ctx)

    def listen(self, ctx: Context | None = None, *, timeout: float | None = None,
               on_ready: Callable[[], None] | None = None) -> Listener:
        """Starts listening for committed events; iterate the result for their
        versions, in order. See Listener."""
        return Listener(self, ctx, timeout, on_ready)

    def listen_event_inserted(self, on_inserted: Callable[[int], None], *,
                              on_ready: Callable[[], None] | None = None,
                              ctx: Context | None = None, timeout: float | None = None) -> None:
        """Conductor's ListenEventInserted: calls on_ready() once the
        subscription is active, then on_inserted(version) for every event
        committed after it, in order, on the calling thread, until `ctx` is
        cancelled or its deadline (or `timeout`) passes. An exception raised
        by a callback ends the listen and is re-raised here."""
        with self.listen(ctx, timeout=timeout, on_ready=on_ready) as versions:
            for version in versions:
                on_inserted(version)


# ---- the listener ----------------------------------------------------------------------
_READY = object()
_END = object()
# How many versions may wait for the consumer before the listening thread
# waits too (bounds memory when the consumer is slow).
_QUEUE_SIZE = 1024


class _Session:
    """What the listening thread shares with the consumer. Kept apart from
    Listener so that the thread does not keep the Listener alive: an
    abandoned Listener (a `break` out of the loop) is collected, and its
    finalizer ends the session."""

    def __init__(self, db: DB, ctx: Context):
        self.lib = db._lib
        self.db = db
        self.ctx = ctx
        self.queue: queue.Queue = queue.Queue(_QUEUE_SIZE)
        self.ready = threading.Event()
        self.settled = threading.Event()  # ready, or ended before it
        self.closing = False
        self.failure: BaseException | None = None
        self.stopped_by: Error | None = None
        # The callbacks must outlive the C call: held here, and the thread
        # holds the session.
        self.c_ready = _capi.on_ready_fn(self._on_ready)
        self.c_inserted = _capi.on_inserted_fn(self._on_inserted)
        self.thread = threading.Thread(target=self._run, name="evdb-listen", daemon=True)

    # -- on the listening thread --
    def _run(self) -> None:
        lib = self.lib
        err = _capi.new_error()
        try:
            status = lib.evdb_listen(self.db._handle(), self.ctx._ptr, self.c_ready, self.c_inserted, None,
                                     byref(err))
            if status == _capi.OK:
                lib.evdb_error_release(byref(err))
            else:
                e = from_c(lib, status, err, "listen")
                if self.failure is not None or self.closing:
                    pass  # the cause is already known, or nobody is listening any more
                elif status in (_capi.CANCELED, _capi.DEADLINE_EXCEEDED):
                    self.stopped_by = e
                else:
                    self.failure = e
        except BaseException as e:  # noqa: BLE001 (carried to the consumer)
            self.failure = self.failure or e
        finally:
            with self.db._lock:
                self.db._listeners.discard(self)
            self.settled.set()
            if not self.put(_END):
                # Closed (by Listener.close or DB.close): wake a consumer
                # still blocked in get(); a full queue wakes it anyway.
                try:
                    self.queue.put_nowait(_END)
                except queue.Full:
                    pass

    def put(self, item) -> bool:
        # Waits while the queue is full, but never once the consumer is gone.
        while not self.closing:
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _on_ready(self, _user, err) -> int:
        try:
            self.ready.set()
            self.settled.set()
            return _capi.OK if self.put(_READY) else _capi.CANCELED
        except BaseException as e:  # noqa: BLE001
            return self._carry(e, err)

    def _on_inserted(self, _user, version: int, err) -> int:
        try:
            return _capi.OK if self.put(version) else _capi.CANCELED
        except BaseException as e:  # noqa: BLE001
            return self._carry(e, err)

    def _carry(self, e: BaseException, err) -> int:
        # An exception must not unwind into C (ctypes would print it and
        # return 0 = EVDB_OK): it is kept for the consumer, and the error
        # status ends evdb_listen at once.
        self.failure = self.failure or e
        self.lib.evdb_error_set(err, _capi.INTERNAL, f"python callback raised {type(e).__name__}".encode())
        return _capi.INTERNAL

    # -- from any thread --
    def join(self) -> None:
        # The thread ends within ~100 ms of the cancel; a second Ctrl-C
        # meanwhile must not leave it running against a closing store.
        interrupted = None
        while self.thread.is_alive():
            try:
                self.thread.join()
            except KeyboardInterrupt as e:
                interrupted = e
        if interrupted is not None:
            raise interrupted

    def close(self) -> None:
        self.closing = True
        self.ctx.cancel()
        self.join()

    @staticmethod
    def abandon(session: _Session) -> None:
        # Finalizer of a Listener nobody closed (a `for v in db.listen()` left
        # by break or an exception, or the interpreter exiting): stop the
        # thread and wait for it, unless the collection runs on that thread.
        session.closing = True
        session.ctx.cancel()
        if threading.current_thread() is not session.thread:
            session.join()


class Listener:
    """Versions of newly committed events, in order, as an iterator:

        for version in db.listen(ctx):
            ...

    evdb_listen runs on a thread of its own and hands versions to the
    iterating thread through a bounded queue. Iteration ends normally when
    the context is cancelled (ctx.cancel() or Listener.cancel(), from any
    thread) or its deadline passes (`timeout` seconds); `stopped_by` then
    holds the Canceled or DeadlineExceeded. Any other failure is raised from
    the iteration, as is an exception raised by on_ready (called on the
    iterating thread, before the first version).

    Ending early (break, an exception in the loop body, Ctrl-C) closes the
    listener: close() cancels the context and waits for the thread. A
    `with` block does it; so does the loop itself when the listener is not
    kept in a variable (`for v in db.listen():` drops the last reference as
    it ends, and the finalizer closes it), and KeyboardInterrupt while
    waiting for a version closes it before propagating. The context passed in is cancelled when the listener is
    closed: give a listener a context of its own.

    wait_ready() blocks until the subscription is active: every event
    committed after it returns is delivered."""

    def __init__(self, db: DB, ctx: Context | None, timeout: float | None, on_ready):
        if ctx is not None and timeout is not None:
            raise TypeError("evdb: listen: give ctx or timeout, not both (set the timeout on ctx)")
        self._on_ready = on_ready
        self._done = False
        s = self._s = _Session(db, ctx if ctx is not None else Context(timeout))
        with db._lock:
            db._handle()
            db._listeners.add(s)
        s.thread.start()
        self._finalizer = weakref.finalize(self, _Session.abandon, s)

    @property
    def stopped_by(self) -> Error | None:
        """Canceled or DeadlineExceeded once the context ended the listen."""
        return self._s.stopped_by

    def __iter__(self) -> Listener:
        return self

    def __next__(self) -> int:
        s = self._s
        while not self._done and not s.closing:
            try:
                item = s.queue.get()
                if item is _READY:
                    if self._on_ready is not None:
                        self._on_ready()
                    continue
            except BaseException:
                self.close()  # KeyboardInterrupt while waiting, or on_ready raised
                raise
            if item is not _END and not s.closing:
                return item
            self._done = True
            self._finalizer.detach()
            s.join()
            if s.failure is not None:
                failure, s.failure = s.failure, None
                raise failure
        raise StopIteration

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once the subscription is active; False when `timeout` seconds
        passed first or the listen ended before (its failure, if any, is
        raised by the iteration)."""
        self._s.settled.wait(timeout)
        return self._s.ready.is_set()

    def cancel(self) -> None:
        """Ends the listen, from any thread: the iteration ends normally
        after the versions already delivered."""
        self._s.ctx.cancel()

    def close(self) -> None:
        """Cancels the listen and waits for its thread; versions not yet taken
        are dropped. Idempotent."""
        self._done = True
        self._finalizer.detach()
        self._s.close()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False
