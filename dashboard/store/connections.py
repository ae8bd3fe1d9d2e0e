"""SQLite connections for the issuance log, shared safely between threads.

Streamlit runs every script rerun on a fresh thread and the stable-link
resolver runs under an ASGI server, so one connection per thread would leak a
connection per rerun. Instead a small pool lends a connection to one thread at
a time: readers proceed in parallel (WAL lets them), writers queue on SQLite's
own lock with a busy timeout, and ``close`` can close every connection ever
made.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["BUSY_TIMEOUT_MS", "ConnectionPool", "connect"]

BUSY_TIMEOUT_MS = 5000


def connect(path: str) -> sqlite3.Connection:
    """Open ``path`` configured for the log.

    ``isolation_level=None`` hands transaction control to the log (explicit
    ``BEGIN IMMEDIATE`` ... ``COMMIT``) instead of the sqlite3 module's implicit
    transactions. ``synchronous=FULL`` makes a COMMIT durable on power loss,
    not just on a crash, because the row is the only record of an issued link.
    """
    conn = sqlite3.connect(
        path,
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,  # the pool guarantees one thread at a time
    )
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


class ConnectionPool:
    """Lends each thread its own connection for the length of one operation."""

    def __init__(self, path: str, *, size: int, first: sqlite3.Connection | None = None) -> None:
        """``first``, if given, is an already open connection the pool adopts."""
        self._path = path
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = [] if first is None else [first]
        self._all: list[sqlite3.Connection] = list(self._idle)
        self._pid = os.getpid()
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """Borrow a connection; any transaction left open is rolled back."""
        with self._slots:
            conn = self._checkout()
            try:
                yield conn
            finally:
                self._checkin(conn)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def borrowed(self) -> int:
        """Connections lent out and not yet returned."""
        with self._lock:
            return len(self._all) - len(self._idle)

    def retire(self) -> None:
        """Close the idle connections now and each borrowed one when it comes back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._all = [c for c in self._all if c not in idle]
        for conn in idle:
            conn.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all, self._idle = self._all, [], []
        for conn in conns:
            conn.close()

    def _checkout(self) -> sqlite3.Connection:
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed database.")
            if os.getpid() != self._pid:
                # SQLite connections must not cross fork(): abandon (do not
                # close) the parent's and start afresh in the child.
                self._pid, self._idle, self._all = os.getpid(), [], []
            if self._idle:
                return self._idle.pop()
        conn = connect(self._path)
        with self._lock:
            self._all.append(conn)
        return conn

    def _checkin(self, conn: sqlite3.Connection) -> None:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # a broken connection is closed below anyway
                conn.rollback()
        with self._lock:
            if self._closed or conn not in self._all:
                conn.close()
            else:
                self._idle.append(conn)
