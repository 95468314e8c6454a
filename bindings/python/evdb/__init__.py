"""evdb for Python: the evdb event log over libevdb's C ABI (ctypes).

    import evdb
    db = evdb.open("sqlite:///tmp/x.db")
    with db.tx_rw() as tx:                      # commits, or rolls back on an exception
        head = tx.read_system_version()
        tx.append_event(head, type_name="AccountOpened", payload='{"account":"alice"}')
    with db.tx_read_only() as tx:
        for event in tx.iter_events():
            print(event.version, event.type_name, event.json())
    for version in db.listen(timeout=5):         # new commits, until the timeout
        print("committed", version)

libevdb is found through EVDB_LIBRARY, this Python's prefix, the dynamic
linker, then /usr/local (see docs/bindings.md (Python)).
"""

from ._core import DB, Context, Event, Listener, Tx, library_version, open
from ._errors import (
    Canceled,
    CommitInDoubt,
    Conflict,
    ConnectionFailed,
    DeadlineExceeded,
    DriverAbiMismatch,
    DriverNotFound,
    Error,
    InternalError,
    InvalidArgument,
    LibraryNotFound,
    NotFound,
    ReadOnly,
    Unsupported,
    VersionMismatch,
)

__version__ = "1.1.0"

__all__ = [
    "open", "library_version", "DB", "Tx", "Event", "Context", "Listener",
    "Error", "VersionMismatch", "NotFound", "Conflict", "ReadOnly", "InvalidArgument", "Canceled",
    "DeadlineExceeded", "ConnectionFailed", "Unsupported", "DriverNotFound", "DriverAbiMismatch",
    "InternalError", "CommitInDoubt", "LibraryNotFound",
]
