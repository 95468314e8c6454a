"""Finding libevdb, opening stores, and the exception classes (no driver
parameter: these run once)."""

import os
import subprocess
import sys

import pytest

import evdb


def run_child(code, **env):
    full = os.environ.copy()
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, timeout=120)


def test_missing_library_gives_a_clear_error():
    r = run_child("import evdb\ntry:\n evdb.open('memory:')\nexcept evdb.LibraryNotFound as e:\n print(e)\n",
                  EVDB_LIBRARY="/nonexistent/libevdb.so.1")
    assert r.returncode == 0, r.stderr
    assert "/nonexistent/libevdb.so.1 (EVDB_LIBRARY): no such file" in r.stdout
    assert "set EVDB_LIBRARY" in r.stdout


def test_import_works_without_the_library():
    r = run_child("import evdb; print(evdb.VersionMismatch.status)", EVDB_LIBRARY="/nonexistent/x.so")
    assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr


def test_not_libevdb_is_refused(tmp_path):
    # Any other shared library: it loads, but has no evdb functions.
    import ctypes.util
    libc = ctypes.util.find_library("m") or "libm.so.6"
    r = run_child("import evdb\ntry:\n evdb.open('memory:')\nexcept evdb.LibraryNotFound as e:\n print(e)\n",
                  EVDB_LIBRARY=libc)
    assert "not libevdb 1.x" in r.stdout, r.stdout + r.stderr


def test_unknown_scheme_and_bad_uri():
    with pytest.raises(evdb.DriverNotFound) as raised:
        evdb.open("nosuchdriver://x")
    assert "nosuchdriver" in str(raised.value)
    with pytest.raises(evdb.InvalidArgument):
        evdb.open("memory:x?unknown_parameter=1")
    with pytest.raises(TypeError):
        evdb.open(b"memory:")


def test_exception_classes():
    classes = [evdb.VersionMismatch, evdb.NotFound, evdb.Conflict, evdb.ReadOnly, evdb.InvalidArgument,
               evdb.Canceled, evdb.DeadlineExceeded, evdb.ConnectionFailed, evdb.Unsupported,
               evdb.DriverNotFound, evdb.DriverAbiMismatch, evdb.InternalError, evdb.CommitInDoubt]
    assert [c.status for c in classes] == list(range(1, 14))
    assert all(issubclass(c, evdb.Error) for c in classes + [evdb.LibraryNotFound])
    assert [c for c in classes if c("m").retryable] == [evdb.VersionMismatch, evdb.Conflict]
    assert evdb.NotFound.status_name == "EVDB_NOT_FOUND"
    assert evdb.CommitInDoubt.status_name == "EVDB_COMMIT_IN_DOUBT"


def test_context_timeout_argument():
    with pytest.raises(ValueError):
        evdb.Context(timeout=-1)
    ctx = evdb.Context(timeout=0)
    assert isinstance(ctx.error, evdb.DeadlineExceeded)
    assert evdb.Context().error is None


def test_library_version():
    assert evdb.library_version().startswith("1.")


def test_private_memory_store_and_driver_name():
    with evdb.open("memory:") as db:
        assert db.driver_name == "memory"
        db.ping()
    assert db.closed
