"""Projection versions: init (idempotent, never resets), set, read."""

import pytest

import evdb


def test_projection_lifecycle(db):
    with db.tx_read_only() as tx, pytest.raises(evdb.NotFound):
        tx.read_projection_version(1)
    with db.tx_rw() as tx:
        with pytest.raises(evdb.NotFound):
            tx.set_projection_version(1, 3)
        assert tx.init_projection_version(1) == 0
        tx.set_projection_version(1, 5)
        assert tx.read_projection_version(1) == 5
    with db.tx_rw() as tx:
        assert tx.init_projection_version(1) == 5, "init never resets"
        tx.set_projection_version(1, 2)  # backwards too
    with db.tx_read_only() as tx:
        assert tx.read_projection_version(1) == 2
        with pytest.raises(evdb.NotFound):
            tx.read_projection_version(2)


def test_projection_rejects_negative_version_and_rolls_back(db):
    with db.tx_rw() as tx:
        tx.init_projection_version(3)
        with pytest.raises(evdb.InvalidArgument):
            tx.set_projection_version(3, -1)
    with pytest.raises(RuntimeError):
        with db.tx_rw() as tx:
            tx.set_projection_version(3, 9)
            raise RuntimeError("roll back")
    with db.tx_read_only() as tx:
        assert tx.read_projection_version(3) == 0


def test_projections_are_shared_between_handles(db, uri, opened):
    with db.tx_rw() as tx:
        tx.init_projection_version(4)
        tx.set_projection_version(4, 7)
    with opened(uri).tx_read_only() as tx:
        assert tx.read_projection_version(4) == 7
