"""The issuance log's failures, each carrying one sentence for the user."""

from __future__ import annotations

__all__ = [
    "cause",
    "LogEntryNotFound",
    "LogError",
    "LogLocationError",
    "LogReadError",
    "LogUnavailable",
    "LogWriteError",
]


class LogError(RuntimeError):
    """The issuance log failed; the message is one sentence for the user."""


class LogWriteError(LogError):
    """Nothing was recorded, so no link may be shown; the message says what to do."""


class LogLocationError(LogError):
    """The configured log location cannot be used (bad input: exit 2); the message says what to set instead."""


class LogReadError(LogError):
    """The log could not be read; the message says what to do."""


class LogUnavailable(LogWriteError, LogReadError):
    """The log cannot be reached at all (file deleted, server down): neither read nor written."""


class LogEntryNotFound(LookupError):
    """No log entry has the id asked for."""


def cause(exc: BaseException) -> str:
    """The database's own short message (e.g. "database or disk is full"), on one line."""
    text = " ".join(str(exc).split()).rstrip(".")
    if not text:
        text = type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
