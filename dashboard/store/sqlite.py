"""The issuance log on a SQLite file: WAL mode, a small pool, and a watch on the file itself.

A log file deleted or replaced under a running desk would otherwise go
unnoticed: SQLite keeps writing through its open descriptors into a file no
path names any more, and links would be shown whose rows nobody can read.
So every borrow compares the path's file identity with the one opened: a
replaced file is reopened (and migrated), a deleted one refuses with a sentence.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from dashboard.store.connections import ConnectionPool, connect
from dashboard.store.errors import LogUnavailable, LogWriteError, cause
from dashboard.store.migrations import apply_migrations
from dashboard.store.sql import Db, Dialect, SqliteDb

__all__ = ["SqliteBackend"]

_POOL_SIZE = 8
#: How long opening the log waits for other processes that hold it busy (replicas starting at once).
OPEN_PATIENCE = 30.0


class SqliteBackend:
    """Connections to one SQLite file, with its identity checked before each use."""

    dialect: Dialect = "sqlite"
    reads_may_block = False  # WAL readers never wait for the writer
    errors: tuple[type[BaseException], ...] = (sqlite3.Error,)

    def __init__(self, path: str) -> None:
        self.path = path
        self.where = path
        self.write_advice = f"Check that {path} is writable and has free space"
        self.read_advice = f"Check that {path} exists and is readable"
        self._lock = threading.Lock()
        self._companions: dict[str, tuple[int, int]] = {}
        self._pool, self._identity = self._open()

    def loop_store(self) -> None:
        """None: the resolver reads and writes a local file on its event loop with the log's own calls."""
        return None

    def _open(self) -> tuple[ConnectionPool, tuple[int, int]]:
        deadline = time.monotonic() + OPEN_PATIENCE
        pause = 0.05
        while True:
            try:
                return self._open_once()
            except (sqlite3.Error, OSError) as exc:
                # Replicas starting while others write: switching to WAL takes the
                # file's exclusive lock, and SQLite answers a busy WAL index at once
                # rather than through the busy timeout. Waiting is the answer.
                if not _busy(exc) or time.monotonic() + pause > deadline:
                    raise self._open_error(exc) from exc
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _open_once(self) -> tuple[ConnectionPool, tuple[int, int]]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        first = connect(self.path)
        try:
            # WAL is a property of the file: set once, inherited by every later
            # connection (readers then never block the writer). Asking first
            # spares the exclusive lock when another process already set it.
            (mode,) = first.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                first.execute("PRAGMA journal_mode = WAL")
            apply_migrations(SqliteDb(first))
            identity = _identity(self.path)
        except BaseException:
            first.close()
            raise
        return ConnectionPool(self.path, size=_POOL_SIZE, first=first), identity

    def _open_error(self, exc: BaseException) -> LogWriteError:
        return LogWriteError(
            f"The issuance log could not be opened ({cause(exc)}): no link can be "
            f"issued. Check that {self.where} is writable and has free space, "
            "then try again."
        )

    @contextmanager
    def connection(self, *, writing: bool = False) -> Iterator[Db]:
        """Borrow a connection to the file the path names now (see the module's docstring)."""
        pool = self._current_pool(writing)
        with pool.connection() as conn:
            yield SqliteDb(conn)

    def _current_pool(self, writing: bool) -> ConnectionPool:
        try:
            now = _identity(self.path)
        except FileNotFoundError:
            raise LogUnavailable(
                f"The issuance log file {self.where} was deleted while the desk was running, so nothing can be "
                "recorded and no link is shown: restore the file, or restart the desk to start a new log, "
                "then try again."
            ) from None
        except OSError as exc:
            raise LogUnavailable(
                f"The issuance log file {self.where} cannot be reached ({cause(exc)}): no link is shown. "
                "Check the volume that holds it, then try again."
            ) from exc
        with self._lock:
            if now == self._identity or self._pool.closed:
                # A write may create the -wal and -shm files: their identities are
                # taken again then (a read, such as a click's lookup, costs one stat).
                if writing:
                    self._companions = _companions(self.path)
                return self._pool
            # Replaced (restored from a backup, moved aside). The path's -wal
            # and -shm still belong to the old file: opened with them, SQLite
            # would replay the old file's last transactions into the new one.
            # So the old connections close first, then those two files go.
            self._pool.retire()
            if self._pool.borrowed:
                raise LogUnavailable(
                    f"The issuance log file {self.where} was replaced while the desk was running and is "
                    "being reopened: nothing was recorded and no link is shown; try again in a moment."
                )
            for name, seen in self._companions.items():
                with suppress(OSError):
                    if _identity(name) == seen:
                        os.unlink(name)
            self._pool, self._identity = self._open()
            self._companions = _companions(self.path)
            return self._pool

    def close(self) -> None:
        with self._lock:
            self._pool.close()

    @property
    def closed(self) -> bool:
        return self._pool.closed


def _companions(path: str) -> dict[str, tuple[int, int]]:
    """The identities of the WAL and shared-memory files SQLite keeps beside ``path``."""
    found = {}
    for suffix in ("-wal", "-shm"):
        with suppress(OSError):
            found[path + suffix] = _identity(path + suffix)
    return found


def _busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" (SQLITE_BUSY): another process holds the file for a moment."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino
