"""The C ABI of libevdb as ctypes sees it: finding and loading the library,
the structs, the callback types and every prototype, in one module.

Nothing here is public: evdb/__init__.py builds the Python API on top. When
api/evdb.h changes, this is the only file that changes with it.
"""

from __future__ import annotations

import ctypes
import os
import struct
import sys
import sysconfig
import threading
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char_p,
    c_int,
    c_int32,
    c_int64,
    c_size_t,
    c_uint32,
    c_uint64,
    c_void_p,
)

# The library's file name carries the ABI major version this module speaks.
ABI_MAJOR = 1
SONAME = f"libevdb.so.{ABI_MAJOR}"

# ---- status codes (api/evdb.h "Status codes") --------------------------------
OK = 0
VERSION_MISMATCH = 1
NOT_FOUND = 2
CONFLICT = 3
READ_ONLY = 4
INVALID_ARGUMENT = 5
CANCELED = 6
DEADLINE_EXCEEDED = 7
CONNECTION = 8
UNSUPPORTED = 9
DRIVER_NOT_FOUND = 10
DRIVER_ABI_MISMATCH = 11
INTERNAL = 12
COMMIT_IN_DOUBT = 13  # since libevdb 1.1

# evdb_status and evdb_tx_kind: 32-bit integers on every platform evdb builds on.
status_t = c_int32
tx_kind_t = c_int32
TX_READ_ONLY = 0
TX_READ_WRITE = 1

# ---- capabilities (EVDB_CAP_*) --------------------------------------------------
CAPABILITIES = {
    "listener": 1 << 0,
    "durable": 1 << 1,
    "cross-process": 1 << 2,
    "gapless": 1 << 3,
    "byte-exact-payload": 1 << 4,
    "listener-reconnect": 1 << 5,
}


# ---- structs ----------------------------------------------------------------------
class Error(Structure):
    """evdb_error. Create with new_error() (EVDB_ERROR_INIT)."""


_release_fn = CFUNCTYPE(None, POINTER(Error))
Error._fields_ = [
    ("struct_size", c_uint32),
    ("code", status_t),
    ("message", c_void_p),  # char*, freed by evdb_error_release
    ("release", _release_fn),
    ("private_data", c_void_p),
]


def new_error() -> Error:
    """An empty evdb_error (EVDB_ERROR_INIT)."""
    e = Error()
    e.struct_size = _ERROR_SIZE
    return e


class Event(Structure):
    """evdb_event. Pointers are raw addresses: strings are read with
    ctypes.string_at(ptr, len) while they are valid (until the next call on
    the transaction)."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("version", c_int64),
        ("time_us", c_int64),
        ("type_name", c_void_p),
        ("type_name_len", c_size_t),
        ("payload", c_void_p),
        ("payload_len", c_size_t),
        ("revision_vcs", c_void_p),
        ("revision_vcs_len", c_size_t),
    ]


class EventIn(Structure):
    """evdb_event as append_event takes it: the same layout as Event, with
    the strings as c_char_p so that assigning bytes points at them (and the
    struct keeps them alive) without a cast per field."""

    _fields_ = [
        ("struct_size", c_uint32),
        ("version", c_int64),
        ("time_us", c_int64),
        ("type_name", c_char_p),
        ("type_name_len", c_size_t),
        ("payload", c_char_p),
        ("payload_len", c_size_t),
        ("revision_vcs", c_char_p),
        ("revision_vcs_len", c_size_t),
    ]


def new_event_in(type_name: bytes, payload: bytes, revision_vcs: bytes, time_us: int) -> EventIn:
    """An evdb_event for append_event (EVDB_EVENT_INIT, then the fields)."""
    return EventIn(_EVENT_SIZE, 0, time_us, type_name, len(type_name), payload, len(payload),
                   revision_vcs, len(revision_vcs))


def new_event() -> Event:
    """An empty evdb_event (EVDB_EVENT_INIT)."""
    e = Event()
    e.struct_size = _EVENT_SIZE
    return e


def new_event_array(n: int):
    """An array of n empty evdb_event for evdb_read_events, which steps it
    by the struct_size of its first element."""
    buf = (Event * n)()
    for e in buf:
        e.struct_size = _EVENT_SIZE
    return buf


_ERROR_SIZE = ctypes.sizeof(Error)
_EVENT_SIZE = ctypes.sizeof(Event)

# evdb_event as raw bytes, for reading many at once without a ctypes object
# per element: (struct_size, version, time_us, type_name, type_name_len,
# payload, payload_len, revision_vcs, revision_vcs_len).
_EVENT_ROW = struct.Struct("=I4xqqQQQQQQ")
assert _EVENT_ROW.size == _EVENT_SIZE == ctypes.sizeof(EventIn) and Event.version.offset == 8 and Event.revision_vcs_len.offset == 64

_memory_at = ctypes.pythonapi.PyMemoryView_FromMemory
_memory_at.restype = ctypes.py_object
_memory_at.argtypes = [c_void_p, ctypes.c_ssize_t, c_int]
_PYBUF_READ = 0x100


def event_fields(address: int, n: int):
    """The fields of the n evdb_event at `address` as tuples (version,
    time_us, type_name, payload, revision_vcs), the strings as memoryview
    slices of the library's memory: decode them before the next call on the
    transaction. One read-only view spans every string of the batch (only
    the slices are ever read), instead of one ctypes.string_at per string."""
    rows = list(_EVENT_ROW.iter_unpack(ctypes.string_at(address, n * _EVENT_SIZE)))
    lo = min(min(r[3], r[5], r[7] if r[8] else r[3]) for r in rows)
    hi = max(max(r[3] + r[4], r[5] + r[6], r[7] + r[8]) for r in rows)
    mv = _memory_at(lo, hi - lo, _PYBUF_READ)
    return [(r[1], r[2], mv[r[3] - lo:r[3] - lo + r[4]], mv[r[5] - lo:r[5] - lo + r[6]],
             mv[r[7] - lo:r[7] - lo + r[8]] if r[8] else b"") for r in rows]


# ---- callback types -------------------------------------------------------------
on_ready_fn = CFUNCTYPE(status_t, c_void_p, POINTER(Error))
on_inserted_fn = CFUNCTYPE(status_t, c_void_p, c_int64, POINTER(Error))

# Opaque handles.
db_p = c_void_p
tx_p = c_void_p
ctx_p = c_void_p

# name: (restype, argtypes)
_PROTOTYPES = {
    "evdb_version_number": (c_uint32, []),
    "evdb_version": (c_char_p, []),
    "evdb_status_name": (c_char_p, [status_t]),
    "evdb_status_is_retryable": (c_int, [status_t]),
    "evdb_error_release": (None, [POINTER(Error)]),
    "evdb_error_set": (None, [POINTER(Error), status_t, c_char_p]),
    "evdb_ctx_new": (ctx_p, []),
    "evdb_ctx_free": (None, [ctx_p]),
    "evdb_ctx_cancel": (None, [ctx_p]),
    "evdb_ctx_set_timeout_ms": (None, [ctx_p, c_int64]),
    "evdb_ctx_status": (status_t, [ctx_p]),
    "evdb_open": (status_t, [c_char_p, ctx_p, POINTER(db_p), POINTER(Error)]),
    "evdb_close": (None, [db_p]),
    "evdb_db_capabilities": (c_uint64, [db_p]),
    "evdb_ping": (status_t, [db_p, ctx_p, POINTER(Error)]),
    "evdb_db_driver_name": (c_char_p, [db_p]),
    "evdb_begin": (status_t, [db_p, ctx_p, tx_kind_t, POINTER(tx_p), POINTER(Error)]),
    "evdb_commit": (status_t, [tx_p, ctx_p, POINTER(Error)]),
    "evdb_rollback": (None, [tx_p]),
    "evdb_tx_get_kind": (tx_kind_t, [tx_p]),
    "evdb_read_system_version": (status_t, [tx_p, ctx_p, POINTER(c_int64), POINTER(Error)]),
    "evdb_read_event_at": (status_t, [tx_p, ctx_p, c_int64, POINTER(Event), POINTER(Error)]),
    "evdb_read_event_after": (status_t, [tx_p, ctx_p, c_int64, POINTER(Event), POINTER(Error)]),
    "evdb_read_events": (
        status_t,
        [tx_p, ctx_p, c_int64, c_int, POINTER(Event), c_size_t, POINTER(c_size_t), POINTER(Error)],
    ),
    "evdb_read_projection_version": (
        status_t,
        [tx_p, ctx_p, c_int32, POINTER(c_int64), POINTER(Error)],
    ),
    "evdb_append_event": (
        status_t,
        [tx_p, ctx_p, c_int64, POINTER(EventIn), POINTER(c_int64), POINTER(Error)],
    ),
    "evdb_init_projection_version": (
        status_t,
        [tx_p, ctx_p, c_int32, POINTER(c_int64), POINTER(Error)],
    ),
    "evdb_set_projection_version": (status_t, [tx_p, ctx_p, c_int32, c_int64, POINTER(Error)]),
    "evdb_listen": (
        status_t,
        [db_p, ctx_p, on_ready_fn, on_inserted_fn, c_void_p, POINTER(Error)],
    ),
    "evdb_driver_search_path": (c_void_p, []),
    "evdb_string_free": (None, [c_void_p]),
}


# ---- finding the library -----------------------------------------------------------
class LibraryNotFound(Exception):
    """Raised by load() with every place it tried; evdb/__init__.py turns it
    into evdb.LibraryNotFound."""


def candidates() -> list[tuple[str, str]]:
    """Where load() looks for libevdb, in order, as (path or name, origin).

    EVDB_LIBRARY, when set, is the only candidate. Otherwise: the prefix this
    Python runs from (a venv or `--prefix` install next to evdb's own
    `cmake --install --prefix`), the dynamic linker's own search
    (LD_LIBRARY_PATH, the ldconfig cache: /usr/lib/<triplet> for a /usr
    install), and CMake's default prefix /usr/local (found even when
    ldconfig has not been run after installing)."""
    env = os.environ.get("EVDB_LIBRARY")
    if env:
        return [(env, "EVDB_LIBRARY")]
    out: list[tuple[str, str]] = []
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    libdirs = ["lib", "lib64"] + ([os.path.join("lib", multiarch)] if multiarch else [])
    seen = set()
    for prefix in (sys.prefix, sys.base_prefix):
        for d in libdirs:
            path = os.path.join(prefix, d, SONAME)
            if path not in seen:
                seen.add(path)
                out.append((path, f"Python prefix {prefix}"))
    out.append((SONAME, "dynamic linker search (LD_LIBRARY_PATH, ldconfig cache)"))
    for d in libdirs:
        path = os.path.join("/usr/local", d, SONAME)
        if path not in seen:
            seen.add(path)
            out.append((path, "CMake's default install prefix"))
    return out


def _try_load(path: str) -> ctypes.CDLL:
    lib = ctypes.CDLL(path)
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise OSError(f"it has no function {name}: not libevdb 1.x") from None
        fn.restype = restype
        fn.argtypes = argtypes
    version = lib.evdb_version_number()
    if version // 10000 != ABI_MAJOR:
        raise OSError(f"it is evdb {lib.evdb_version().decode()}; this package speaks evdb {ABI_MAJOR}.x")
    return lib


_lock = threading.Lock()
_lib: ctypes.CDLL | None = None


def load() -> ctypes.CDLL:
    """The loaded libevdb (loaded on first use, then cached). Raises
    LibraryNotFound naming every place tried and why each failed."""
    global _lib
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        problems = []
        for path, origin in candidates():
            # A bare soname goes to the dynamic linker; a path must exist
            # (saves a confusing "cannot open shared object" per missing path).
            if os.sep in path and not os.path.exists(path):
                problems.append(f"  {path} ({origin}): no such file")
                continue
            try:
                _lib = _try_load(path)
                return _lib
            except OSError as e:
                problems.append(f"  {path} ({origin}): {e}")
        raise LibraryNotFound(
            f"evdb: cannot load the evdb library {SONAME}; tried:\n"
            + "\n".join(problems)
            + "\nset EVDB_LIBRARY to the path of libevdb.so.1 (e.g. build/lib/libevdb.so.1 in a"
            " build tree), or install evdb (cmake --install) into /usr/local or this Python's prefix"
        )
