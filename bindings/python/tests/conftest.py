"""Fixtures: a fresh store per test on each driver under test.

Drivers: memory and sqlite always; postgres and redis when their URIs are in
the environment (ctest passes them, with the servers the project's fixtures
start). A URI template holds `{unique}`, replaced by a fresh id per store:

    EVDB_TEST_POSTGRES_URI='postgres://evdb@127.0.0.1:15432/evdb?passfile=...&schema=py_{unique}'
    EVDB_TEST_REDIS_URI='redis://evdb:pw@127.0.0.1:16379?prefix=py{unique}'

`--driver NAME` (repeatable) picks drivers explicitly; a driver asked for
without its URI is an error, never a silent skip.
"""

import itertools
import os
import uuid

import pytest

import evdb

_ENV = {"postgres": "EVDB_TEST_POSTGRES_URI", "redis": "EVDB_TEST_REDIS_URI"}
_counter = itertools.count()


def pytest_addoption(parser):
    parser.addoption("--driver", action="append", default=[],
                     help="driver to test (memory, sqlite, postgres, redis); repeatable")


def _drivers(config):
    asked = config.getoption("driver")
    if not asked:
        return ["memory", "sqlite"] + [d for d, var in _ENV.items() if os.environ.get(var)]
    for d in asked:
        if d not in ("memory", "sqlite", *_ENV):
            raise pytest.UsageError(f"--driver {d}: unknown driver")
        if d in _ENV and not os.environ.get(_ENV[d]):
            raise pytest.UsageError(f"--driver {d} needs {_ENV[d]} (a URI template with {{unique}})")
    return asked


def pytest_generate_tests(metafunc):
    if "driver" in metafunc.fixturenames:
        metafunc.parametrize("driver", _drivers(metafunc.config))


def _unique():
    return f"{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def uri(driver, tmp_path):
    """A URI naming a fresh, empty store (every handle opened on it shares it)."""
    if driver == "memory":
        return f"memory:py-{_unique()}"
    if driver == "sqlite":
        return f"sqlite://{tmp_path}/{_unique()}.db"
    return os.environ[_ENV[driver]].replace("{unique}", _unique())


@pytest.fixture
def opened():
    """Opens stores and closes them all at the end of the test."""
    dbs = []

    def open_(uri):
        db = evdb.open(uri)
        dbs.append(db)
        return db

    yield open_
    for db in dbs:
        db.close()


@pytest.fixture
def db(uri, opened):
    return opened(uri)
