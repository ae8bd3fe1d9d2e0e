"""The issuance log: an append-only record of every link the desk issues.

The one rule that shapes this module: a link is recorded, and the record
committed, *before* the link is shown. If the write fails the caller gets a
``LogWriteError`` instead of a URL, so no link ever leaves the desk unaudited
and every "my link expired early" complaint has a row to explain it. For the
same reason a location that keeps nothing is refused (`location.py`).

Storage is a SQLite file in WAL mode (readers never block the writer). The SQL
is portable (REAL epoch seconds, no date functions, see `sql.py`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dashboard.store import chain, rollup
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
from dashboard.store.errors import (
    LogEntryNotFound,
    LogError,
    LogLocationError,
    LogReadError,
    LogWriteError,
)
from dashboard.store.location import Location, parse_location
from dashboard.store.migrations import EVENT_INSERT
from dashboard.store.connections import BUSY_TIMEOUT_MS
from dashboard.store.sql import Backend, Db
from dashboard.store.errors import cause
from dashboard.store.sqlite import SqliteBackend
from dashboard.store.stable import StableLinkQueries, StableSpec

if TYPE_CHECKING:
    from dashboard.store.postgres_async import AsyncClickStore

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

_SELECT = f"SELECT {', '.join(ENTRY_COLUMNS)} FROM links"
_CHAINED = ("id", *LINK_COLUMNS, "seq", "prev_hash", "row_hash")
_INSERT = f"INSERT INTO links ({', '.join(_CHAINED)}) VALUES ({', '.join('?' for _ in _CHAINED)})"
_INSERT_STABLE = (
    "INSERT INTO stable_links (link_id, token_hash, expires_at, mint_seconds, seq, prev_hash, row_hash) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_FINGERPRINT = LINK_COLUMNS.index("fingerprint")


class IssuanceLog(StableLinkQueries):
    """The issuance log at a durable location: a SQLite file (the default).

    Safe to share between threads (Streamlit reruns, the ASGI resolver) and
    between processes on one database: every write is its own transaction,
    serialised by the database (SQLite: ``BEGIN IMMEDIATE`` with a 5 s busy
    timeout).
    """

    def __init__(self, location: str | os.PathLike[str] | Location) -> None:
        """``location``: a path, a ``sqlite:///`` URL, or a parsed `Location`.

        A location that keeps nothing raises `LogLocationError`; one that
        cannot be opened raises `LogWriteError`.
        """
        if not isinstance(location, Location):
            location = parse_location(os.fspath(location))
        self.location = location
        self._backend: Backend
        if location.backend == "postgresql":
            from dashboard.store.postgres import PostgresBackend  # psycopg is loaded only when used

            self._backend = PostgresBackend(location)
        else:
            self._backend = SqliteBackend(location.target)
        self._watch: chain.ChainWatch | None = None
        self._watch_lock = threading.Lock()

    @classmethod
    def open(cls, url_or_path: str) -> IssuanceLog:
        """Open the log named by a plain path, ``sqlite:///path`` or ``postgresql://...``."""
        return cls(url_or_path)

    @property
    def reads_may_block(self) -> bool:
        """True when a read can wait on the network (PostgreSQL): run it off an event loop."""
        return self._backend.reads_may_block

    def loop_store(self) -> AsyncClickStore | None:
        """For the resolver on a network database: its batched reads and click writes, awaited on the
        running event loop (one store per loop); None when the log's own calls may run there (SQLite)."""
        return self._backend.loop_store()

    @property
    def dialect(self) -> str:
        return self._backend.dialect

    @property
    def path(self) -> str:
        """Where the log is, in words safe to print (a file path, or a database without its password)."""
        return self.location.where

    # --- writes --------------------------------------------------------------

    def record(self, link: NewLink) -> LogEntry:
        """Append ``link`` and return its entry once the row is committed.

        Call this before showing the URL to anyone: when it returns the row is
        durable, and when it raises nothing was stored and the URL must be
        thrown away.
        """
        return self.record_many([link])[0]

    def record_many(self, links: Sequence[NewLink], stable: Sequence[StableSpec | None] | None = None) -> list[LogEntry]:
        """Append all ``links`` in one transaction: every row is stored, or none.

        One commit (one fsync) for the whole batch is what keeps issuing a few
        thousand links at once fast.  ``stable`` gives, per link, the stable-link
        row to write with it (its token hash is the link's fingerprint).
        """
        return self._append(links, stable, only_if_empty=False)

    def seed_once(self, links: Sequence[NewLink]) -> list[LogEntry]:
        """Append ``links`` only if the log has no link yet, deciding inside the write.

        Several processes starting at once on a fresh state folder all see an
        empty log and all build a history; the emptiness check and the insert
        share one write transaction, so exactly one of them writes it. Returns
        the entries written ([] when another process was first).
        """
        return self._append(links, None, only_if_empty=True)

    def _append(
        self, links: Sequence[NewLink], stable: Sequence[StableSpec | None] | None, *, only_if_empty: bool
    ) -> list[LogEntry]:
        links = list(links)
        specs = list(stable) if stable is not None else [None] * len(links)
        if len(specs) != len(links):
            raise ValueError("record_many: one stable spec (or None) per link")
        params = [link_params(link) for link in links]
        if not params:
            return []
        with self._write() as db:
            # The chain's head is held until the commit, so ids and places in
            # the chain are this batch's alone (see chain.head).
            seq, prev = chain.head(db, lock=True)
            (before,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM links").fetchone()
            if only_if_empty and (before or seq):
                return []
            ids = list(range(int(before) + 1, int(before) + 1 + len(params)))
            link_rows, stable_rows = [], []
            for link_id, values, spec in zip(ids, params, specs):
                seq, prev, done = seq + 1, chain.link_hash(prev, (link_id, *values)), prev
                link_rows.append((link_id, *values, seq, done, prev))
                if spec is not None:
                    fields = (link_id, values[_FINGERPRINT], to_epoch(spec.expires_at), spec.mint_seconds)
                    seq, prev, done = seq + 1, chain.stable_hash(prev, fields), prev
                    stable_rows.append((*fields, seq, done, prev))
            db.executemany(_INSERT, link_rows)
            if stable_rows:
                db.executemany(_INSERT_STABLE, stable_rows)
            chain.set_head(db, seq, prev)
        return [entry_from_link(i, link) for i, link in zip(ids, links, strict=True)]

    def revoke(self, link_id: int, *, at: datetime, by: str) -> LogEntry:
        """Revoke a link: a revoke event in the chain; revoking again keeps the first time and person.

        The audit must show when a link first stopped working; the link's own
        row keeps its ``revoked_at``/``revoked_by`` as a projection of that event.
        """
        with self._write() as db:
            seq, prev = chain.head(db, lock=True)
            row = db.execute("SELECT revoked_at FROM links WHERE id = ?", (link_id,)).fetchone()
            if row is None:
                raise LogEntryNotFound(f"No issued link has log id {link_id}.")
            if row[0] is None:
                when = to_epoch(at)
                self._event(db, seq, prev, ("revoke", link_id, when, by, None, None, None, None, None, None))
                db.execute("UPDATE links SET revoked_at = ?, revoked_by = ? WHERE id = ?", (when, by, link_id))
            found = db.execute(f"{_SELECT} WHERE id = ?", (link_id,)).fetchone()
        return entry_from_row(found)

    @staticmethod
    def _event(db: Db, seq: int, prev: str, values: tuple[Any, ...]) -> None:
        """Append one link_events row after (seq, prev) and move the head to it."""
        row_hash = chain.event_hash(prev, values)
        db.execute(EVENT_INSERT, (seq + 1, *values, prev, row_hash))
        chain.set_head(db, seq + 1, row_hash)

    def bulk_load(self, batches: Iterable[Sequence[Sequence[Any]]], *, rebuild_indexes: bool = False) -> int:
        """Append pre-built rows, chained: each row is ``LINK_COLUMNS`` values then revoked_at, revoked_by.

        For synthetic history (benches and tests, `audit.bulk_fill`): one
        transaction per batch, a revoke event right after each revoked link.
        ``rebuild_indexes`` loads everything in one transaction with the links
        indexes and the audit rollup's triggers dropped, and builds both again
        at the end, which sorts and counts once instead of inserting a million
        rows into eleven indexes and the rollup one by one (on SQLite
        readers see the old log until the commit; on PostgreSQL they wait for
        it). Returns how many links were written.
        """
        if not rebuild_indexes:
            written = 0
            for batch in batches:
                with self._write() as db:
                    written += self._load_batch(db, batch)
            return written
        with self._write() as db:
            sqlite = db.dialect == "sqlite"
            if sqlite:
                (cache,) = db.execute("PRAGMA cache_size").fetchone()
                db.execute("PRAGMA cache_size = -524288")  # 512 MiB while the indexes are built
            try:
                indexes = _links_indexes(db)
                for name, _ in indexes:
                    db.execute(f'DROP INDEX "{name}"')
                rollup.drop_triggers(db)  # the audit rollup is counted again once, not row by row
                written = sum(self._load_batch(db, batch) for batch in batches)
                for _, sql in indexes:
                    db.execute(sql)
                rollup.rebuild(db)
                rollup.create_triggers(db)
            finally:
                if sqlite:
                    db.execute(f"PRAGMA cache_size = {int(cache)}")
        if self._backend.dialect == "postgresql":
            # PostgreSQL plans from table statistics, which a bulk load leaves stale until autovacuum's
            # next pass: the audit's queries would meanwhile scan what their indexes answer.
            with self._write() as db:
                db.execute("ANALYZE")
        return written

    @staticmethod
    def _load_batch(db: Db, batch: Sequence[Sequence[Any]]) -> int:
        seq, prev = chain.head(db, lock=True)
        (before,) = db.execute("SELECT COALESCE(MAX(id), 0) FROM links").fetchone()
        link_rows, events = [], []
        for n, row in enumerate(batch, start=int(before) + 1):
            values, (revoked_at, revoked_by) = tuple(row[:-2]), row[-2:]
            seq, prev, done = seq + 1, chain.link_hash(prev, (n, *values)), prev
            link_rows.append((n, *values, seq, done, prev))
            if revoked_at is not None:
                event = ("revoke", n, revoked_at, revoked_by or "", None, None, None, None, None, None)
                seq, prev, done = seq + 1, chain.event_hash(prev, event), prev
                events.append((seq, *event, done, prev))
        db.executemany(_INSERT, link_rows)
        if events:
            db.executemany(EVENT_INSERT, events)
            db.executemany("UPDATE links SET revoked_at = ?, revoked_by = ? WHERE id = ?", [(e[3], e[4], e[2]) for e in events])
        chain.set_head(db, seq, prev)
        return len(link_rows)

    # --- the chain -------------------------------------------------------------

    def verify(self) -> chain.Verdict:
        """Walk the whole hash chain now (``python -m dashboard verify-log``)."""
        with self.snapshot() as db:
            return chain.verify(db)

    def chain_status(self, *, wait: bool = False) -> chain.ChainStatus:
        """The chain's status, cheap enough for every rerun of a page.

        The first call in a process starts a full walk in the background; later
        calls check only what was appended since (see `chain.ChainWatch`).
        """
        with self._watch_lock:
            if self._watch is None:
                self._watch = chain.ChainWatch(self.snapshot)
        return self._watch.status(wait=wait)

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
        (n,) = self.query("SELECT COUNT(*) FROM links")[0]
        return int(n)

    # --- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close every connection; later calls raise ``LogReadError``/``LogWriteError``."""
        self._backend.close()

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
        return f"IssuanceLog({self.path!r})"

    # --- plumbing (also what dashboard/store/audit.py reads through) ---------

    @contextmanager
    def reading(self) -> Iterator[Db]:
        """A connection for a few reads in a row; a database failure becomes a ``LogReadError``."""
        try:
            with self._backend.connection() as db:
                yield db
        except self._backend.errors as exc:
            raise self._read_error(exc) from exc

    @contextmanager
    def snapshot(self) -> Iterator[Db]:
        """Several reads that see one moment of the log (a read transaction), errors as ``LogReadError``."""
        with self.reading() as db:
            db.begin_read()
            try:
                yield db
            finally:
                db.rollback()

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        """Every row of one read-only statement (SQLite placeholders, see `sql.py`)."""
        with self.reading() as db:
            return db.execute(sql, params).fetchall()

    def checkpoint(self) -> None:
        """Copy the WAL's committed pages into the SQLite file (PASSIVE: it waits for no reader); nothing to do on PostgreSQL."""
        if self._backend.dialect != "sqlite":
            return
        with self.reading() as db:
            db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    @contextmanager
    def _write(self, *, durable: bool = True, wait: bool = True) -> Iterator[Db]:
        """One write transaction; any database failure becomes a ``LogWriteError``.

        ``durable=False`` (click batches) lets SQLite skip the fsync: in WAL
        mode such a commit survives a crash of the desk, not a power loss.
        ``wait=False`` (clicks committed on the resolver's event loop) makes
        SQLite refuse at once when another writer holds the lock, and leaves
        the WAL checkpoint, with its fsync, to a connection that may wait.
        """
        try:
            with self._backend.connection(writing=True) as db:
                sqlite = db.dialect == "sqlite"
                relaxed, hurried = sqlite and not durable, sqlite and not wait
                if relaxed:
                    db.execute("PRAGMA synchronous = NORMAL")
                if hurried:
                    db.execute("PRAGMA busy_timeout = 0")
                    db.execute("PRAGMA wal_autocheckpoint = 0")
                try:
                    db.begin()
                    try:
                        yield db
                    except BaseException:
                        db.rollback()
                        raise
                    db.commit()
                finally:
                    if hurried:
                        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                        db.execute("PRAGMA wal_autocheckpoint = 1000")
                    if relaxed:
                        db.execute("PRAGMA synchronous = FULL")
        except self._backend.errors as exc:
            raise LogWriteError(
                f"The issuance log could not be written ({cause(exc)}): no link was "
                f"issued. {self._backend.write_advice}, then try again."
            ) from exc

    def _read(self, sql: str, params: Sequence[object]) -> list[LogEntry]:
        return [entry_from_row(row) for row in self.query(sql, params)]

    def _read_error(self, exc: BaseException) -> LogReadError:
        return LogReadError(
            f"The issuance log could not be read ({cause(exc)}). "
            f"{self._backend.read_advice}, then try again."
        )


def _links_indexes(db: Db) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of every secondary index on ``links``."""
    if db.dialect == "postgresql":
        sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'links' AND indexname NOT LIKE '%pkey'"
    else:
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'links' AND sql IS NOT NULL"
    return [(str(name), str(ddl)) for name, ddl in db.execute(sql).fetchall()]
