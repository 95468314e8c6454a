"""The exceptions of the evdb package: one class per evdb status, all under
evdb.Error, and the one function that turns a failed C call into one."""

from __future__ import annotations

import ctypes

from . import _capi


class Error(Exception):
    """Base of every exception this package raises for an evdb failure.

    `status` is the C status code (evdb_status; None for LibraryNotFound),
    `status_name` its constant name ("EVDB_NOT_FOUND"), str(error) the
    library's message (it names the driver and the operation, never a
    password)."""

    status: int | None = None
    status_name = "EVDB_UNKNOWN_STATUS"

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message

    @property
    def retryable(self) -> bool:
        """True for VersionMismatch and Conflict: the whole transaction may be
        retried (after reading the state again)."""
        return self.status in (_capi.VERSION_MISMATCH, _capi.CONFLICT)


def _status_class(name: str, code: int, doc: str) -> type[Error]:
    return type(name, (Error,), {"status": code, "status_name": "EVDB_" + _NAMES[code], "__doc__": doc})


_NAMES = {
    _capi.VERSION_MISMATCH: "VERSION_MISMATCH",
    _capi.NOT_FOUND: "NOT_FOUND",
    _capi.CONFLICT: "CONFLICT",
    _capi.READ_ONLY: "READ_ONLY",
    _capi.INVALID_ARGUMENT: "INVALID_ARGUMENT",
    _capi.CANCELED: "CANCELED",
    _capi.DEADLINE_EXCEEDED: "DEADLINE_EXCEEDED",
    _capi.CONNECTION: "CONNECTION",
    _capi.UNSUPPORTED: "UNSUPPORTED",
    _capi.DRIVER_NOT_FOUND: "DRIVER_NOT_FOUND",
    _capi.DRIVER_ABI_MISMATCH: "DRIVER_ABI_MISMATCH",
    _capi.INTERNAL: "INTERNAL",
    _capi.COMMIT_IN_DOUBT: "COMMIT_IN_DOUBT",
}

VersionMismatch = _status_class(
    "VersionMismatch", _capi.VERSION_MISMATCH,
    "append_event (or the commit of a transaction that appended): the head was not the assumed version.")
NotFound = _status_class("NotFound", _capi.NOT_FOUND, "The event or projection asked for does not exist.")
Conflict = _status_class(
    "Conflict", _capi.CONFLICT, "A read-write transaction that did not append lost to a concurrent writer.")
ReadOnly = _status_class("ReadOnly", _capi.READ_ONLY, "A write in a read-only transaction.")
InvalidArgument = _status_class(
    "InvalidArgument", _capi.INVALID_ARGUMENT,
    "A bad argument (empty type name, payload not JSON, negative version, a transaction already ended...).")
Canceled = _status_class("Canceled", _capi.CANCELED, "The context was cancelled.")
DeadlineExceeded = _status_class("DeadlineExceeded", _capi.DEADLINE_EXCEEDED, "The context's deadline passed.")
ConnectionFailed = _status_class(
    "ConnectionFailed", _capi.CONNECTION, "The backend could not be reached or the connection was lost.")
Unsupported = _status_class("Unsupported", _capi.UNSUPPORTED, "The driver does not support the operation or option.")
DriverNotFound = _status_class(
    "DriverNotFound", _capi.DRIVER_NOT_FOUND, "No driver serves the URI's scheme (the message lists where it looked).")
DriverAbiMismatch = _status_class(
    "DriverAbiMismatch", _capi.DRIVER_ABI_MISMATCH, "A driver was found but speaks an ABI libevdb cannot use.")
InternalError = _status_class("InternalError", _capi.INTERNAL, "Anything else: a bug, a backend error with no better code.")
CommitInDoubt = _status_class(
    "CommitInDoubt", _capi.COMMIT_IN_DOUBT,
    "The commit's outcome is unknown (connection lost during COMMIT); read the log before appending again.")


class LibraryNotFound(Error):
    """libevdb itself could not be loaded; the message lists every place tried."""


_BY_STATUS = {cls.status: cls for cls in (
    VersionMismatch, NotFound, Conflict, ReadOnly, InvalidArgument, Canceled, DeadlineExceeded,
    ConnectionFailed, Unsupported, DriverNotFound, DriverAbiMismatch, InternalError, CommitInDoubt)}


def error_for(status: int, message: str) -> Error:
    """The exception for `status` (an unknown code gives the base class, with
    the code kept in .status)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        e = Error(message, status)
        return e
    return cls(message)


def from_c(lib, status: int, err: _capi.Error, what: str) -> Error:
    """The exception for a failed call: the library's message from `err`
    (then released), or `what` and the status name when it gave none."""
    if err.message:
        message = ctypes.string_at(err.message).decode("utf-8", "replace")
    else:
        message = f"evdb: {what}: {lib.evdb_status_name(status).decode()}"
    lib.evdb_error_release(ctypes.byref(err))
    return error_for(status, message)
