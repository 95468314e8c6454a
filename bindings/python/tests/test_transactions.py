"""Transactions: commit on a normal exit, rollback on an exception, the
version check on append (also Conductor's interleaving), read-only
transactions, and the handle's bookkeeping of open transactions."""

import gc

import pytest

import evdb


def append(db, n=1, type_name="Thing"):
    with db.tx_rw() as tx:
        head = tx.read_system_version()
        for _ in range(n):
            head = tx.append_event(head, type_name=type_name, payload="{}")
    return head


def head(db):
    with db.tx_read_only() as tx:
        return tx.read_system_version()


def test_with_block_commits_on_normal_exit(db):
    with db.tx_rw() as tx:
        assert tx.append_event(0, type_name="Opened", payload='{"a":1}') == 1
        assert tx.append_event(1, type_name="Opened", payload='{"a":2}') == 2
    assert tx.ended
    assert head(db) == 2


def test_exception_rolls_back_and_propagates_unchanged(db):
    append(db)

    class Boom(Exception):
        pass

    boom = Boom("business rule")
    with pytest.raises(Boom) as raised:
        with db.tx_rw() as tx:
            tx.append_event(1, type_name="Lost", payload="{}")
            tx.init_projection_version(7)
            raise boom
    assert raised.value is boom
    assert tx.ended
    assert head(db) == 1, "a rolled-back append must leave no event"
    with db.tx_read_only() as ro, pytest.raises(evdb.NotFound):
        ro.read_projection_version(7)


def test_evdb_error_inside_block_rolls_back_everything(db):
    with pytest.raises(evdb.VersionMismatch):
        with db.tx_rw() as tx:
            tx.append_event(0, type_name="First", payload="{}")
            tx.append_event(0, type_name="Stale", payload="{}")  # head is 1 now
    assert head(db) == 0, "nothing of a failed transaction is applied"


def test_explicit_commit_and_rollback(db):
    tx = db.tx_rw()
    tx.append_event(0, type_name="Gone", payload="{}")
    tx.rollback()
    tx.rollback()  # a no-op once ended
    assert head(db) == 0
    tx = db.tx_rw()
    tx.append_event(0, type_name="Kept", payload="{}")
    tx.commit()
    assert head(db) == 1
    with pytest.raises(evdb.InvalidArgument, match="already ended"):
        tx.commit()
    with pytest.raises(evdb.InvalidArgument, match="already ended"):
        tx.read_system_version()


def test_stale_assumed_version_mismatches_and_appends_nothing(db):
    append(db, 2)
    with pytest.raises(evdb.VersionMismatch) as raised:
        with db.tx_rw() as tx:
            tx.append_event(1, type_name="Stale", payload="{}")
    e = raised.value
    assert e.retryable and e.status == 1 and e.status_name == "EVDB_VERSION_MISMATCH"
    assert isinstance(e, evdb.Error)
    assert "assumed" in str(e) or "version" in str(e)
    assert head(db) == 2


def test_conductor_interleaving_read_head_then_other_commits(db, uri, opened):
    """Conductor's race: A reads head 0, B appends and commits, A appends at 0
    and must get VersionMismatch (at the append or at the commit). B begins
    first so that on SQLite, whose writers take the lock at begin, A is the
    one working on a snapshot; every driver must reject A."""
    other = opened(uri)
    b = other.tx_rw()
    with pytest.raises(evdb.VersionMismatch):
        with db.tx_rw() as a:
            assert a.read_system_version() == 0
            b.append_event(b.read_system_version(), type_name="B", payload="{}")
            b.commit()
            a.append_event(0, type_name="A", payload="{}")
    with db.tx_read_only() as tx:
        assert [e.type_name for e in tx.read_events(1, 10)] == ["B"]


def test_conductor_interleaving_read_only_read_then_append(db, uri, opened):
    """The example's shape: read the head in a read-only transaction, another
    handle commits, then append at the stale head: VersionMismatch."""
    with db.tx_read_only() as ro:
        seen = ro.read_system_version()
    append(opened(uri), type_name="Other")
    with pytest.raises(evdb.VersionMismatch):
        with db.tx_rw() as tx:
            tx.append_event(seen, type_name="Mine", payload="{}")
    assert head(db) == 1


def test_read_only_transaction_rejects_writes(db):
    with db.tx_read_only() as tx:
        assert tx.kind == "read_only"
        with pytest.raises(evdb.ReadOnly):
            tx.append_event(0, type_name="No", payload="{}")
        with pytest.raises(evdb.ReadOnly):
            tx.init_projection_version(1)
    assert head(db) == 0


def test_read_only_does_not_see_uncommitted_appends(db):
    with db.tx_rw() as rw:
        rw.append_event(0, type_name="Pending", payload="{}")
        assert head(db) == 0
    assert head(db) == 1


def test_close_refuses_while_a_transaction_is_open(uri):
    db = evdb.open(uri)
    tx = db.tx_rw()
    with pytest.raises(evdb.InvalidArgument, match="still open"):
        db.close()
    tx.rollback()
    db.close()
    assert db.closed
    with pytest.raises(evdb.InvalidArgument, match="closed"):
        db.tx_read_only()


def test_forgotten_transaction_is_rolled_back_when_collected(db):
    tx = db.tx_rw()
    tx.append_event(0, type_name="Forgotten", payload="{}")
    del tx
    gc.collect()
    assert head(db) == 0
    append(db)  # the write lock (SQLite) was released with it
    assert head(db) == 1


def test_canceled_context_fails_begin(db):
    ctx = evdb.Context()
    ctx.cancel()
    assert isinstance(ctx.error, evdb.Canceled)
    with pytest.raises(evdb.Canceled):
        db.tx_rw(ctx)
