"""The listener: order, cancel from another thread, timeout, callbacks and
the exceptions they raise, Ctrl-C, and that no listening thread is left."""

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import evdb
from evdb import _core


def listen_threads():
    return [t for t in threading.enumerate() if t.name == "evdb-listen"]


def append_each(db, n, first_head=0):
    head = first_head
    for _ in range(n):
        with db.tx_rw() as tx:
            head = tx.append_event(head, type_name="E", payload="{}")
    return head


def take(listener, n):
    out = []
    for v in listener:
        out.append(v)
        if len(out) == n:
            break
    return out


def test_versions_arrive_in_order_and_rollbacks_are_silent(db, uri, opened):
    writer = opened(uri)
    with db.listen() as listener:
        assert listener.wait_ready(30)
        append_each(writer, 3)
        with pytest.raises(RuntimeError):
            with writer.tx_rw() as tx:
                tx.append_event(3, type_name="RolledBack", payload="{}")
                raise RuntimeError("no")
        with writer.tx_rw() as tx:  # two events in one commit
            tx.append_event(3, type_name="E", payload="{}")
            tx.append_event(4, type_name="E", payload="{}")
        assert take(listener, 5) == [1, 2, 3, 4, 5]
    assert not listen_threads()


def test_cancel_from_another_thread_ends_the_loop(db):
    listener = db.listen()
    assert listener.wait_ready(30)
    append_each(db, 2)
    got = []
    for v in listener:
        got.append(v)
        if len(got) == 2:
            threading.Thread(target=listener.cancel).start()
    assert got == [1, 2]
    assert isinstance(listener.stopped_by, evdb.Canceled)
    assert not listen_threads()


def test_user_context_cancel_and_timeout(db):
    ctx = evdb.Context()
    listener = db.listen(ctx)
    assert listener.wait_ready(30)
    threading.Thread(target=ctx.cancel).start()
    assert list(listener) == []
    assert isinstance(listener.stopped_by, evdb.Canceled)

    listener = db.listen(timeout=0.2)
    assert list(listener) == []
    assert isinstance(listener.stopped_by, evdb.DeadlineExceeded)
    with pytest.raises(TypeError):
        db.listen(evdb.Context(), timeout=1)


def test_listen_event_inserted_calls_back_in_order_on_the_calling_thread(db):
    calls = []
    caller = threading.current_thread()

    def on_ready():
        calls.append("ready")
        append_each(db, 3)

    def on_inserted(version):
        assert threading.current_thread() is caller
        calls.append(version)
        if version == 3:
            ctx.cancel()

    ctx = evdb.Context()
    db.listen_event_inserted(on_inserted, on_ready=on_ready, ctx=ctx)
    assert calls == ["ready", 1, 2, 3]
    assert not listen_threads()


def test_exception_in_on_inserted_is_reraised_and_ends_the_listen(db):
    class Stop(Exception):
        pass

    stop = Stop("from the callback")

    def on_inserted(version):
        raise stop

    with pytest.raises(Stop) as raised:
        db.listen_event_inserted(on_inserted, on_ready=lambda: append_each(db, 2))
    assert raised.value is stop
    assert not listen_threads()


def test_exception_in_on_ready_is_reraised(db):
    def on_ready():
        raise ValueError("not ready")

    with pytest.raises(ValueError, match="not ready"):
        db.listen_event_inserted(lambda v: None, on_ready=on_ready, timeout=30)
    assert not listen_threads()


@pytest.mark.parametrize("callback", ["on_ready", "on_inserted"])
def test_exception_inside_the_c_callback_is_carried_back(db, monkeypatch, callback):
    """What a CFUNCTYPE callback itself raises (here: handing the event over
    to the iterating thread fails) ends evdb_listen with an error status and
    is re-raised by the iteration, not printed and lost by ctypes."""
    real_put = _core._Session.put

    def put(self, item):
        if (item is _core._READY) == (callback == "on_ready") and item is not _core._END:
            raise LookupError("hand-over failed")
        return real_put(self, item)

    monkeypatch.setattr(_core._Session, "put", put)
    listener = db.listen(timeout=60)
    listener.wait_ready(30)
    if callback == "on_inserted":
        append_each(db, 1)
    with pytest.raises(LookupError, match="hand-over failed"):
        list(listener)
    assert listener.stopped_by is None
    assert not listen_threads()


def test_break_then_close_and_db_close_end_the_thread(db, uri):
    listener = db.listen()
    assert listener.wait_ready(30)
    append_each(db, 2)
    assert take(listener, 1) == [1]
    listener.close()
    assert not listen_threads()

    other = evdb.open(uri)
    listener = other.listen()
    assert listener.wait_ready(30)
    other.close()  # cancels and waits for the listener
    assert not listen_threads()
    assert list(listener) == []


def test_abandoned_listener_stops_when_collected(db):
    listener = db.listen()
    assert listener.wait_ready(30)
    thread = listen_threads()[0]
    del listener
    thread.join(30)
    assert not thread.is_alive()


# The child listens in one of the two forms the documentation recommends and
# is interrupted while it waits or while it runs the loop body.
_CTRL_C_CHILD = textwrap.dedent("""
    import sys, threading
    import evdb
    db = evdb.open(sys.argv[1])

    def commit_one():  # on_ready: the subscription is active
        with db.tx_rw() as tx:
            tx.append_event(0, type_name="E", payload="{}")

    def body(version):
        print("version", version, flush=True)
        while sys.argv[2] == "body":  # Ctrl-C lands in the loop body
            pass

    try:
        if sys.argv[3] == "with":
            with db.listen(on_ready=commit_one) as listener:
                for version in listener:
                    body(version)
        else:
            for version in db.listen(on_ready=commit_one):
                body(version)
    except KeyboardInterrupt:
        left = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        db.close()
        print("interrupted; threads left:", left, flush=True)
        sys.exit(0)
    print("loop ended without KeyboardInterrupt", flush=True)
    sys.exit(1)
""")


@pytest.mark.parametrize("where", ["waiting", "body"])
@pytest.mark.parametrize("form", ["bare", "with"])
def test_ctrl_c_ends_the_loop_cleanly(uri, form, where):
    child = subprocess.Popen([sys.executable, "-c", _CTRL_C_CHILD, uri, where, form], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert child.stdout.readline().strip() == "version 1"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "interrupted; threads left: []" in out
