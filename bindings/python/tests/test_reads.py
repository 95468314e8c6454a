"""Reads and the Event values they return; appends' argument checks."""

import datetime as dt
import json

import pytest

import evdb

UTC = dt.timezone.utc


def fill(db, n):
    with db.tx_rw() as tx:
        for i in range(n):
            tx.append_event(i, type_name=f"T{i + 1}", payload=json.dumps({"i": i + 1}))


def test_empty_store(db):
    with db.tx_read_only() as tx:
        assert tx.read_system_version() == 0
        assert tx.read_events(1, 10) == []
        with pytest.raises(evdb.NotFound):
            tx.read_event_at(1)
        with pytest.raises(evdb.NotFound):
            tx.read_event_after(0)


def test_event_round_trip(db):
    when = dt.datetime(2024, 5, 17, 12, 30, 45, 123456, tzinfo=UTC)
    payload = '{"name":"Zoë ✓","n":[1,2.5,null]}'
    with db.tx_rw() as tx:
        v = tx.append_event(0, type_name="Ünïcode", payload=payload, time=when, revision_vcs="3f9c2ab")
    with db.tx_read_only() as tx:
        e = tx.read_event_at(v)
    assert isinstance(e, evdb.Event)
    assert (e.version, e.type_name, e.revision_vcs) == (1, "Ünïcode", "3f9c2ab")
    assert e.time == when and e.time_us == 1715949045123456
    assert e.json() == {"name": "Zoë ✓", "n": [1, 2.5, None]}
    if "byte-exact-payload" in db.capabilities:
        assert e.payload == payload


def test_time_defaults_to_now(db):
    before = dt.datetime.now(UTC) - dt.timedelta(minutes=5)
    with db.tx_rw() as tx:
        tx.append_event(0, type_name="Now", payload="{}")
    with db.tx_read_only() as tx:
        e = tx.read_event_at(1)
    assert e.time > before and e.revision_vcs == ""


def test_append_an_event_read_from_elsewhere(db, opened, tmp_path):
    fill(db, 2)
    copy = opened(f"sqlite://{tmp_path}/copy.db")
    with db.tx_read_only() as src, copy.tx_rw() as dst:
        for e in src.iter_events():
            dst.append_event(e.version - 1, e)
    with copy.tx_read_only() as tx, db.tx_read_only() as orig:
        assert tx.read_events(1, 10) == orig.read_events(1, 10)


def test_read_event_at_and_after(db):
    fill(db, 3)
    with db.tx_read_only() as tx:
        assert tx.read_event_at(2).type_name == "T2"
        assert tx.read_event_after(0).version == 1
        assert tx.read_event_after(2).version == 3
        for bad in (0, 4):
            with pytest.raises(evdb.NotFound):
                tx.read_event_at(bad)
        with pytest.raises(evdb.NotFound):
            tx.read_event_after(3)
        with pytest.raises(evdb.InvalidArgument):
            tx.read_event_at(-1)


def test_read_events_ascending_descending_and_limits(db):
    fill(db, 5)
    with db.tx_read_only() as tx:
        assert [e.version for e in tx.read_events(2, 2)] == [2, 3]
        assert [e.version for e in tx.read_events(4, 10)] == [4, 5]
        assert [e.version for e in tx.read_events(4, 10, reverse=True)] == [4, 3, 2, 1]
        assert [e.version for e in tx.read_events(99, 2, reverse=True)] == [5, 4]
        assert tx.read_events(6, 10) == []
        assert tx.read_events(1, 0) == []
        assert [e.json()["i"] for e in tx.read_events(1, 5)] == [1, 2, 3, 4, 5]
        with pytest.raises(evdb.InvalidArgument):
            tx.read_events(-1, 5)


def test_iter_events_pages_through_the_log(db):
    fill(db, 7)
    with db.tx_read_only() as tx:
        assert [e.version for e in tx.iter_events(page=3)] == list(range(1, 8))
        assert [e.version for e in tx.iter_events(after=5, page=2)] == [6, 7]


def test_bad_appends_are_rejected_and_write_nothing(db):
    with db.tx_rw() as tx:
        with pytest.raises(evdb.InvalidArgument):
            tx.append_event(0, type_name="", payload="{}")
        with pytest.raises(evdb.InvalidArgument):
            tx.append_event(0, type_name="T", payload="{not json")
        with pytest.raises(evdb.InvalidArgument):
            tx.append_event(-1, type_name="T", payload="{}")
        with pytest.raises(evdb.InvalidArgument, match="naive"):
            tx.append_event(0, type_name="T", payload="{}", time=dt.datetime(2024, 1, 1))
        with pytest.raises(evdb.InvalidArgument, match="UTF-8"):
            tx.append_event(0, type_name="\ud800", payload="{}")
        with pytest.raises(TypeError):
            tx.append_event(0, type_name="T", payload={"a": 1})
        with pytest.raises(TypeError):
            tx.append_event(0, type_name="T")
    with db.tx_read_only() as tx:
        assert tx.read_system_version() == 0
