"""The issuance log: an append-only record of every link the desk issues.

The one rule that shapes this module: a link is recorded, and the record
committed, *before* the link is shown. If the write fails the caller gets a
``LogWriteError`` instead of a URL, so no link ever leaves the desk unaudited
and every "my link expired early" complaint has a row to explain it.

Storage is a SQLite file in WAL mode (readers never block the writer). The SQL
is kept portable (REAL epoch seconds, no SQLite date functions) so that a
PostgreSQL backend can later implement the same interface.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType

from dashboard.store.connections import ConnectionPool, connect
from dashboard.store.entries import (
    ENTRY_COLUMNS,
    LINK_COLUMNS,
    LogEntry,
    NewLink,
    entry_from_link,
    entry_from_row,
    link_params,
    to_epoch,
)
from dashboard.store.migrations import apply_migrations
from dashboard.store.stable import StableLinkQueries, StableSpec

__all__ = [
    "IssuanceLog",
    "LogEntry",
    "LogEntryNotFound",
    "LogError",
    "LogLocationError",
    "LogReadError",
    "LogWriteError",
    "NewLink",
]

MEMORY = ":memory:"
_POOL_SIZE = 8

_SELECT = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM links"
_INSERT = (
    f"INSERT INTO links ({', '.join(LINK_COLUMNS)}) VALUES ({', '.join('?' for _ in LINK_COLUMNS)})"
)


class LogError(RuntimeError):
    """The issuance log failed; the message is one sentence for the user."""


class LogWriteError(LogError):
    """Nothing was recorded, so no link may be shown; the message says what to do."""


class LogLocationError(LogError):
    """The configured log location cannot be used; the message says what to set instead."""


class LogReadError(LogError):
    """The log could not be read; the message says what to do."""


class LogEntryNotFound(LookupError):
    """No log entry has the id asked for."""


class IssuanceLog(StableLinkQueries):
    """The issuance log on a SQLite file (or ``":memory:"`` for tests).

    Safe to share between threads (Streamlit reruns, the ASGI resolver) and
    between processes on one file: every write is its own ``BEGIN IMMEDIATE``
    transaction, serialised by SQLite's lock with a 5 s busy timeout.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = os.fspath(path)
        memory = self._path == MEMORY
        try:
            if not memory:
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            first = connect(self._path)
            try:
                # WAL is a property of the file: set once here, inherited by every
                # later connection. Readers then never block the writer.
                first.execute("PRAGMA journal_mode = WAL")
                apply_migrations(first)
            except BaseException:
                first.close()
                raise
        except (sqlite3.Error, OSError) as exc:
            raise LogWriteError(
                f"The issuance log could not be opened ({_cause(exc)}): no link can be "
                f"issued. Check that {self._where} is writable and has free space, "
                "then try again."
            ) from exc
        # One connection is the whole of an in-memory database, so it is never
        # closed while the log is open and threads take turns with it.
        self._pool = ConnectionPool(self._path, size=1 if memory else _POOL_SIZE, first=first)

    @classmethod
    def open(cls, url_or_path: str) -> IssuanceLog:
        """Open the log named by a plain path, ``sqlite:///path`` or ``sqlite://``.

        As with SQLAlchemy URLs, ``sqlite:///data/log.sqlite3`` is relative and
        ``sqlite:////var/lib/log.sqlite3`` absolute; ``sqlite://`` is in memory.
        """
        scheme, sep, rest = url_or_path.partition("://")
        if not sep:
            return cls(url_or_path)
        scheme = scheme.lower()
        if scheme == "sqlite":
            if rest in ("", "/"):
                return cls(MEMORY)
            if not rest.startswith("/"):
                raise LogLocationError(
                    f"The log URL {url_or_path!r} has a host; write sqlite:///relative/path "
                    "or sqlite:////absolute/path."
                )
            return cls(rest[1:])
        if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
            raise LogLocationError(
                "A PostgreSQL issuance log is not available yet: unset DATABASE_URL "
                "or point it at a SQLite file (sqlite:///path/to/log.sqlite3)."
            )
        raise LogLocationError(
            f"The log location {url_or_path!r} is not supported: use a file path or "
            "a sqlite:/// URL."
        )

    @property
    def path(self) -> str:
        return self._path

    # --- writes --------------------------------------------------------------

    def record(self, link: NewLink) -> LogEntry:
        """Append ``link`` and return its entry once the row is committed.

        Call this before showing the URL to anyone: when it returns the row is
        durable, and when it raises nothing was stored and the URL must be
        thrown away.
        """
        params = link_params(link)
        with self._write() as conn:
            row = conn.execute(f"{_INSERT} RETURNING id", params).fetchone()
        return entry_from_link(int(row[0]), link)

    def record_many(self, links: Sequence[NewLink], stable: Sequence[StableSpec | None] | None = None) -> list[LogEntry]:
        """Append all ``links`` in one transaction: every row is stored, or none.

        One commit (one fsync) for the whole batch is what keeps issuing a few
        thousand links at once fast.  ``stable`` gives, per link, the stable-link
        row to write with it (its token hash is the link's fingerprint).
        """
        links = list(links)
        specs = list(stable) if stable is not None else [None] * len(links)
        if len(specs) != len(links):
            raise ValueError("record_many: one stable spec (or None) per link")
        rows = [link_params(link) for link in links]
        if not rows:
            return []
        with self._write() as conn:
            # BEGIN IMMEDIATE holds the write lock, so the rows above the
            # current maximum id are exactly the ones this batch inserts.
            (before,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM links").fetchone()
            conn.executemany(_INSERT, rows)
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT id FROM links WHERE id > ? ORDER BY id", (before,)
                ).fetchall()
            ]
            if len(ids) != len(rows):
                raise sqlite3.DatabaseError(f"expected {len(rows)} new rows, found {len(ids)}")
            if any(specs):
                self._insert_stable(
                    conn, ((i, link.fingerprint, spec) for i, link, spec in zip(ids, links, specs) if spec is not None)
                )
        return [entry_from_link(i, link) for i, link in zip(ids, links, strict=True)]

    def revoke(self, link_id: int, *, at: datetime, by: str) -> LogEntry:
        """Mark a link revoked; revoking again keeps the first time and person.

        The only change the log ever makes to a row, and it is one-way: the
        audit must show when a link first stopped working.
        """
        when = to_epoch(at)
        with self._write() as conn:
            conn.execute(
                "UPDATE links SET revoked_at = ?, revoked_by = ? "
                "WHERE id = ? AND revoked_at IS NULL",
                (when, by, link_id),
            )
            row = conn.execute(f"{_SELECT} WHERE id = ?", (link_id,)).fetchone()
            if row is None:
                raise LogEntryNotFound(f"No issued link has log id {link_id}.")
        return entry_from_row(row)

    # --- reads ---------------------------------------------------------------

    def get(self, link_id: int) -> LogEntry:
        rows = self._read(f"{_SELECT} WHERE id = ?", (link_id,))
        if not rows:
            raise LogEntryNotFound(f"No issued link has log id {link_id}.")
        return rows[0]

    def find_by_fingerprint(self, fingerprint: str) -> LogEntry | None:
        """The entry whose signature (or stable token) hashes to ``fingerprint``.

        Should two rows share one (the same URL recorded twice), the newest wins.
        """
        rows = self._read(
            f"{_SELECT} WHERE fingerprint = ? ORDER BY id DESC LIMIT 1", (fingerprint,)
        )
        return rows[0] if rows else None

    def find_by_ticket(self, ticket: str) -> list[LogEntry]:
        """Every link issued under ``ticket``, newest first."""
        return self._read(f"{_SELECT} WHERE ticket = ? ORDER BY issued_at DESC, id DESC", (ticket,))

    def recent(self, limit: int = 100) -> list[LogEntry]:
        """The ``limit`` most recently issued links, newest first."""
        if limit < 0:
            raise ValueError(f"limit must be zero or more, not {limit}.")
        return self._read(f"{_SELECT} ORDER BY issued_at DESC, id DESC LIMIT ?", (limit,))

    def live_entries(self, at: datetime, *, strategies: Sequence[str], since: datetime, limit: int = 10_000) -> list[LogEntry]:
        """Links of these strategies issued since ``since`` that still work at ``at`` (not revoked), newest first.

        Walks the (strategy, issued_at) index; ``since`` bounds the walk by the
        longest life a link of these strategies can have.
        """
        if not strategies:
            return []
        marks = ", ".join("?" for _ in strategies)
        found = self._read(
            f"{_SELECT} WHERE strategy IN ({marks}) AND issued_at >= ? "
            "AND COALESCE(effective_expires_at, nominal_expires_at) > ? ORDER BY issued_at DESC, id DESC LIMIT ?",
            (*strategies, to_epoch(since), to_epoch(at), limit),
        )
        return [e for e in found if e.revoked_at is None or e.revoked_at > at]

    def count(self) -> int:
        try:
            with self._pool.connection() as conn:
                (n,) = conn.execute("SELECT COUNT(*) FROM links").fetchone()
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc
        return int(n)

    # --- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``LogReadError``/``LogWriteError``."""
        self._pool.close()

    def __enter__(self) -> IssuanceLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"IssuanceLog({self._path!r})"

    # --- plumbing ------------------------------------------------------------

    @property
    def _where(self) -> str:
        return "the in-memory log" if self._path == MEMORY else self._path

    @contextmanager
    def _write(self, synchronous: str = "FULL") -> Iterator[sqlite3.Connection]:
        """One write transaction; any SQLite failure becomes a ``LogWriteError``.

        IMMEDIATE takes the write lock up front, so a writer waits its turn
        (busy timeout) instead of failing half way when another writer commits.
        """
        try:
            with self._pool.connection() as conn:
                if synchronous != "FULL":
                    conn.execute(f"PRAGMA synchronous = {synchronous}")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield conn
                    except BaseException:
                        conn.rollback()
                        raise
                    conn.execute("COMMIT")
                finally:
                    if synchronous != "FULL":
                        conn.execute("PRAGMA synchronous = FULL")
        except sqlite3.Error as exc:
            raise LogWriteError(
                f"The issuance log could not be written ({_cause(exc)}): no link was "
                f"issued. Check that {self._where} is writable and has free space, "
                "then try again."
            ) from exc

    def _read(self, sql: str, params: Sequence[object]) -> list[LogEntry]:
        try:
            with self._pool.connection() as conn:
                rows = conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._read_error(exc) from exc
        return [entry_from_row(row) for row in rows]

    def _read_error(self, exc: sqlite3.Error) -> LogReadError:
        return LogReadError(
            f"The issuance log could not be read ({_cause(exc)}). Check that "
            f"{self._where} exists and is readable, then try again."
        )


def _cause(exc: BaseException) -> str:
    """SQLite's own short message (e.g. "database or disk is full"), one line."""
    text = " ".join(str(exc).split()).rstrip(".")
    if not text:
        text = type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."
