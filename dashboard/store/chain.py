"""The log's hash chain: every row carries a hash of its fields and of the row before it.

Three kinds of row are chained, in the order the desk wrote them (``seq``):
a ``links`` row (the link as issued), its ``stable_links`` row (the token's
hash, first expiry and mint lifetime) and ``link_events`` rows (a revocation
or an extension, appended, never updated). Each row's ``row_hash`` is the
SHA-256 of the previous row's hash and a canonical encoding of every field:
the field names and every value typed by its column, as compact JSON, so no
two different rows encode alike. A few columns are a *projection* kept beside the chain so that
the audit's queries and indexes keep working: ``links.revoked_at`` and
``revoked_by`` (the first revoke event), and, for an extended stable link,
``links.nominal_expires_at``, ``effective_expires_at``, ``reason`` and
``stable_links.expires_at`` (the last extend event; the first one keeps
the values as issued, which are what the link's own hash covers).
Verification recomputes every hash and checks the projection against the
events. Clicks are not chained: they are counted telemetry, not the record
of what the desk issued.

Appending takes the chain's head (``log_head``) inside the write transaction:
SQLite's ``BEGIN IMMEDIATE`` already serialises writers, PostgreSQL takes the
head row with ``FOR UPDATE``; so concurrent writers never fork the chain.

A hash chain kept in the database shows edits made without recomputing it;
an intruder who rewrites every hash after the edit is seen only by a process
that had verified the rows before (`ChainWatch` remembers where it stopped).
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from dashboard.store.entries import LINK_COLUMNS
from dashboard.store.sql import Db

__all__ = [
    "EVENT_COLUMNS",
    "GENESIS",
    "ChainStatus",
    "ChainWatch",
    "Event",
    "Problem",
    "Verdict",
    "event_hash",
    "head",
    "link_hash",
    "set_head",
    "stable_hash",
    "verify",
]

GENESIS = "0" * 64
#: The hashed fields of each kind of row, in encoding order (never reorder these).
LINK_FIELDS: tuple[str, ...] = ("id", *LINK_COLUMNS)
STABLE_FIELDS: tuple[str, ...] = ("link_id", "token_hash", "expires_at", "mint_seconds")
EVENT_COLUMNS: tuple[str, ...] = (
    "kind", "link_id", "at", "actor", "expires_at", "reason", "was_nominal", "was_effective", "was_reason", "was_expires",
)
_TIMES = frozenset(
    {"issued_at", "signed_at", "nominal_expires_at", "effective_expires_at", "credential_expires_at", "expires_at", "at", "was_nominal", "was_effective", "was_expires"}
)
_INTS = frozenset({"id", "link_id", "mint_seconds"})
_PAGE = 5000  # rows per read while verifying: bounded memory on any log size

How = Literal["edited", "deleted", "inserted", "reordered"]


# --- the canonical encoding ------------------------------------------------------


def _typer(names: Sequence[str]) -> Callable[[Sequence[Any]], list[Any]]:
    """A function typing each value by its column (REAL -> float, INTEGER -> int, TEXT -> str).

    Typed by column, not by Python type, so the encoding of what is written
    equals the encoding of what the database gives back. Generated once per
    kind of row: hashing runs for every row of a bulk issue.
    """
    def cast(i: int, name: str) -> str:
        kind = "float" if name in _TIMES else "int" if name in _INTS else "str"
        return f"None if v[{i}] is None else {kind}(v[{i}])"

    source = f"def typed(v):\n    return [{', '.join(cast(i, n) for i, n in enumerate(names))}]\n"
    scope: dict[str, Any] = {}
    exec(source, scope)  # noqa: S102 - built from the constant field lists above, never from data
    typed: Callable[[Sequence[Any]], list[Any]] = scope["typed"]
    return typed


_dumps = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"), allow_nan=False).encode


class _Encoding:
    """One kind of row's canonical encoding: its field names, then its values as compact ASCII JSON."""

    def __init__(self, kind: str, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self.typed = _typer(names)
        self.prefix = f"\x1e{kind}\x1e{_dumps(list(names))}\x1e"

    def hash(self, prev: str, values: Sequence[Any]) -> str:
        if len(values) != len(self.names):
            raise ValueError(f"expected {len(self.names)} values, got {len(values)}")
        text = prev + self.prefix + _dumps(self.typed(values))
        return hashlib.sha256(text.encode("ascii")).hexdigest()


_LINK, _STABLE, _EVENT = _Encoding("link", LINK_FIELDS), _Encoding("stable", STABLE_FIELDS), _Encoding("event", EVENT_COLUMNS)


def link_hash(prev: str, values: Sequence[Any]) -> str:
    """The hash of a links row as issued: ``values`` in ``LINK_FIELDS`` order (id first)."""
    return _LINK.hash(prev, values)


def stable_hash(prev: str, values: Sequence[Any]) -> str:
    """The hash of a stable_links row as issued: ``values`` in ``STABLE_FIELDS`` order."""
    return _STABLE.hash(prev, values)


def event_hash(prev: str, values: Sequence[Any]) -> str:
    """The hash of a link_events row: ``values`` in ``EVENT_COLUMNS`` order."""
    return _EVENT.hash(prev, values)


# --- the head --------------------------------------------------------------------------


def head(db: Db, *, lock: bool) -> tuple[int, str]:
    """(seq, hash) of the chain's last row; ``lock`` holds it until the transaction ends.

    Called inside a write transaction, the lock is what serialises writers on
    PostgreSQL (SQLite's BEGIN IMMEDIATE already holds the only write lock).
    """
    suffix = " FOR UPDATE" if lock and db.dialect == "postgresql" else ""
    row = db.execute(f"SELECT seq, row_hash FROM log_head WHERE id = 1{suffix}").fetchone()
    if row is None:
        # A log_head row deleted by hand: start a head again from what the rows say,
        # so writing goes on; verification reports the tampering.
        return _rebuild_head(db)
    return int(row[0]), str(row[1])


def _rebuild_head(db: Db) -> tuple[int, str]:
    last: tuple[int, str] = (0, GENESIS)
    for table in ("links", "stable_links", "link_events"):
        row = db.execute(f"SELECT seq, row_hash FROM {table} WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1").fetchone()
        if row is not None and int(row[0]) > last[0]:
            last = (int(row[0]), str(row[1]))
    db.execute("INSERT INTO log_head (id, seq, row_hash) VALUES (1, ?, ?)", last)
    return last


def set_head(db: Db, seq: int, row_hash: str) -> None:
    db.execute("UPDATE log_head SET seq = ?, row_hash = ? WHERE id = 1", (seq, row_hash))


# --- verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The first row that does not match, and how."""

    table: str
    row_id: int | None  # links.id / stable_links.link_id / link_events.seq; None for the head
    seq: int | None
    how: How
    detail: str
    subject: str | None = None  # names a row that is gone (a deleted one has no id to give)

    @property
    def row(self) -> str:
        if self.subject is not None:
            return self.subject
        if self.table == "log_head":
            return "the chain's head"
        if self.table == "link_events":
            return f"link_events row {self.row_id}"
        if self.table == "stable_links":
            return f"the stable_links row of link {self.row_id}"
        return f"links row {self.row_id}"

    def clause(self) -> str:
        """``links row 12 was edited: ...``, to follow a colon."""
        return f"{self.row} was {self.how}: {self.detail}"

    def sentence(self) -> str:
        clause = self.clause()
        return clause[0].upper() + clause[1:]


@dataclass(frozen=True)
class Verdict:
    rows: int  # rows verified before the problem (all of them when there is none)
    problem: Problem | None
    last_seq: int = 0
    last_hash: str = GENESIS
    last_link_id: int = 0
    last_table: str = ""
    last_row_id: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Event:
    seq: int
    values: tuple[Any, ...]  # EVENT_COLUMNS order
    prev_hash: str | None
    row_hash: str | None

    def get(self, name: str) -> Any:
        return self.values[EVENT_COLUMNS.index(name)]


@dataclass
class _Entry:
    table: str
    row_id: int
    seq: int | None
    prev_hash: str | None
    row_hash: str | None
    own: str | None  # the hash recomputed from the row's fields (None: cannot be computed)
    projection: str | None = None  # why the projected columns do not match the events, if they do not


_LINK_SELECT = f"SELECT id, {', '.join(LINK_COLUMNS)}, revoked_at, revoked_by, seq, prev_hash, row_hash FROM links"
_STABLE_SELECT = "SELECT link_id, token_hash, expires_at, mint_seconds, seq, prev_hash, row_hash FROM stable_links"
_EVENT_SELECT = f"SELECT seq, {', '.join(EVENT_COLUMNS)}, prev_hash, row_hash FROM link_events"
_NOM, _EFF, _REASON = (LINK_FIELDS.index(n) for n in ("nominal_expires_at", "effective_expires_at", "reason"))


def _events(db: Db, after_seq: int = 0) -> list[Event]:
    return [
        Event(int(r[0]), tuple(r[1:-2]), r[-2], r[-1])
        for r in db.execute(f"{_EVENT_SELECT} WHERE seq > ? ORDER BY seq", (after_seq,)).fetchall()
    ]


def _by_link(events: Sequence[Event]) -> dict[int, list[Event]]:
    found: dict[int, list[Event]] = {}
    for event in events:
        found.setdefault(int(event.get("link_id")), []).append(event)
    return found


def _link_entry(row: Sequence[Any], events: Sequence[Event]) -> _Entry:
    n = len(LINK_FIELDS)
    values = list(row[:n])
    revoked_at, revoked_by, seq, prev, stored = row[n:]
    extends = [e for e in events if e.get("kind") == "extend"]
    revokes = [e for e in events if e.get("kind") == "revoke"]
    problem = None
    if extends:
        last = extends[-1]
        current = (values[_NOM], values[_EFF], values[_REASON])
        if current != (last.get("expires_at"), last.get("expires_at"), last.get("reason")):
            problem = f"its expiry or reason differs from the extension recorded in link_events row {last.seq}"
        first = extends[0]
        values[_NOM], values[_EFF], values[_REASON] = first.get("was_nominal"), first.get("was_effective"), first.get("was_reason")
    if revokes:
        first_revoke = revokes[0]
        if (revoked_at, revoked_by) != (first_revoke.get("at"), first_revoke.get("actor")):
            problem = f"its revocation differs from the one recorded in link_events row {first_revoke.seq}"
    elif revoked_at is not None or revoked_by is not None:
        problem = "it is marked revoked, but no revocation was recorded in link_events"
    own = link_hash(prev, values) if prev is not None else None
    return _Entry("links", int(row[0]), _int(seq), prev, stored, own, problem)


def _stable_entry(row: Sequence[Any], events: Sequence[Event]) -> _Entry:
    values = list(row[:4])
    seq, prev, stored = row[4:]
    extends = [e for e in events if e.get("kind") == "extend"]
    problem = None
    if extends:
        if values[2] != extends[-1].get("expires_at"):
            problem = f"its expiry differs from the extension recorded in link_events row {extends[-1].seq}"
        values[2] = extends[0].get("was_expires")
    own = stable_hash(prev, values) if prev is not None else None
    return _Entry("stable_links", int(row[0]), _int(seq), prev, stored, own, problem)


def _event_entry(event: Event) -> _Entry:
    own = event_hash(event.prev_hash, event.values) if event.prev_hash is not None else None
    return _Entry("link_events", event.seq, event.seq, event.prev_hash, event.row_hash, own)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _paged(db: Db, select: str, key: str, after: int) -> Iterator[Sequence[Any]]:
    while True:
        rows = db.execute(f"{select} WHERE {key} > ? ORDER BY {key} LIMIT {_PAGE}", (after,)).fetchall()
        yield from rows
        if len(rows) < _PAGE:
            return
        after = int(rows[-1][0])


def _entries(db: Db, events: list[Event], by_link: dict[int, list[Event]], after_link: int, after_seq: int) -> Iterator[_Entry]:
    """Every chained row after the given point, in the order the chain says (``seq``).

    Links and their stable rows are read by id (their primary keys), which is
    the order they were written in; a row whose ``seq`` goes backwards there
    is reported as out of order by the walk.
    """
    links = (_link_entry(r, by_link.get(int(r[0]), ())) for r in _paged(db, _LINK_SELECT, "id", after_link))
    stables = (_stable_entry(r, by_link.get(int(r[0]), ())) for r in _paged(db, _STABLE_SELECT, "link_id", after_link))
    chained = (_event_entry(e) for e in events if e.seq > after_seq)
    streams = [links, stables, chained]
    heads: list[_Entry | None] = [next(s, None) for s in streams]
    while True:
        live = [(h.seq if h.seq is not None else -1, i) for i, h in enumerate(heads) if h is not None]
        if not live:
            return
        _, i = min(live)
        entry = heads[i]
        assert entry is not None
        yield entry
        heads[i] = next(streams[i], None)


def _find_hash(db: Db, row_hash: str) -> tuple[str, int, int | None] | None:
    """Which row carries ``row_hash`` (a scan: only on the path of a broken chain)."""
    for table, key in (("links", "id"), ("stable_links", "link_id"), ("link_events", "seq")):
        row = db.execute(f"SELECT {key}, seq FROM {table} WHERE row_hash = ? LIMIT 1", (row_hash,)).fetchone()
        if row is not None:
            return table, int(row[0]), _int(row[1])
    return None


def _name(table: str, row_id: int) -> str:
    return Problem(table, row_id, None, "edited", "").row


def verify(db: Db, *, after: Verdict | None = None) -> Verdict:
    """Walk the chain (from the end of an earlier ``Verdict``, or from the start) and judge it.

    Run inside one read snapshot so rows written meanwhile are not half seen.
    After an earlier verdict only the rows appended since are walked, with
    the projection of any older link a new event touched.
    """
    start = after or Verdict(0, None)
    if after is None:
        events = _events(db)
        by_link = _by_link(events)
    else:
        events = _events(db, after.last_seq)
        by_link = _by_link(events)
        for link_id in [i for i in by_link if i <= after.last_link_id]:
            old = _events_of(db, link_id)
            by_link[link_id] = old
            row = db.execute(f"{_LINK_SELECT} WHERE id = ?", (link_id,)).fetchone()
            touched = _link_entry(row, old) if row is not None else None
            if touched is None or touched.projection is not None or touched.own != touched.row_hash:
                detail = f"{touched.projection}." if touched is not None and touched.projection else "it no longer matches the hash it was recorded with."
                how: How = "deleted" if touched is None else "edited"
                return Verdict(after.rows, Problem("links", link_id, None, how, detail if touched else "a later event refers to it."), after.last_seq, after.last_hash, after.last_link_id, after.last_table, after.last_row_id)
    walk = _Walk(db, start)
    for entry in _entries(db, events, by_link, start.last_link_id, start.last_seq):
        found = walk.step(entry)
        if found is not None:
            return found
    return walk.finish()


def _events_of(db: Db, link_id: int) -> list[Event]:
    return [
        Event(int(r[0]), tuple(r[1:-2]), r[-2], r[-1])
        for r in db.execute(f"{_EVENT_SELECT} WHERE link_id = ? ORDER BY seq", (link_id,)).fetchall()
    ]


class _Walk:
    """The walk's state: the last row that verified, and how each next row is judged."""

    def __init__(self, db: Db, start: Verdict) -> None:
        self.db = db
        self.rows = start.rows
        self.prev_hash, self.prev_seq = start.last_hash, start.last_seq
        self.last_link, self.last_table, self.last_row = start.last_link_id, start.last_table, start.last_row_id
        self.prev: _Entry | None = None
        self.stream_seq: dict[str, int] = {}
        self.projection: Problem | None = None

    def verdict(self, problem: Problem | None, *, rows: int | None = None) -> Verdict:
        return Verdict(
            self.rows if rows is None else rows, problem, self.prev_seq, self.prev_hash,
            self.last_link, self.last_table, self.last_row,
        )

    def at(self, entry: _Entry, how: How, detail: str, subject: str | None = None) -> Verdict:
        return self.verdict(Problem(entry.table, entry.row_id, entry.seq, how, detail, subject))

    def between(self, entry: _Entry) -> str:
        after = f" after {_name(self.prev.table, self.prev.row_id)}" if self.prev is not None else ""
        return f"the row recorded{after} and before {_name(entry.table, entry.row_id)} (chain #{self.prev_seq + 1})"

    def step(self, entry: _Entry) -> Verdict | None:
        if entry.seq is None or entry.row_hash is None or entry.prev_hash is None:
            return self.at(entry, "inserted", "it carries no chain hash, so the desk did not write it.")
        own_ok = entry.own == entry.row_hash
        if entry.seq <= self.stream_seq.get(entry.table, 0) or entry.seq <= self.prev_seq:
            # A place in the chain that was already passed: a copy that does not
            # match its own hash was added; a row that does was moved.
            if not own_ok:
                return self.at(entry, "inserted", f"it claims chain #{entry.seq}, a place another row already holds, and matches no hash.")
            return self.at(entry, "reordered", f"its place in the chain (#{entry.seq}) comes before rows it was recorded after.")
        if not own_ok:
            return self.at(entry, "edited", "its fields no longer match the hash it was recorded with.")
        if entry.projection is not None and self.projection is None:
            # Judged once the chain itself has held: an event deleted from the
            # chain is reported as that, not as the link it projects onto.
            self.projection = Problem(entry.table, entry.row_id, entry.seq, "edited", f"{entry.projection}.")
        if entry.prev_hash != self.prev_hash:
            found = _find_hash(self.db, entry.prev_hash) if entry.prev_hash != GENESIS else None
            if found is None:
                missing = entry.seq - self.prev_seq - 1
                if missing > 1:
                    return self.at(entry, "deleted", f"{missing} rows are missing there.", f"the rows recorded before {_name(entry.table, entry.row_id)} (chain #{self.prev_seq + 1} to #{entry.seq - 1})")
                return self.at(entry, "deleted", "the next row's hash still names it.", self.between(entry))
            table, row_id, seq = found
            if seq is not None and seq > entry.seq:
                return self.at(entry, "reordered", f"it was recorded after {_name(table, row_id)} but now comes before it.")
            if self.prev is not None:
                inserted = self.prev
                return self.verdict(
                    Problem(inserted.table, inserted.row_id, inserted.seq, "inserted",
                            f"{_name(entry.table, entry.row_id)} was recorded right after {_name(table, row_id)}, so the desk did not write the row between them."),
                    rows=self.rows - 1,
                )
            return self.at(entry, "reordered", f"it was chained to {_name(table, row_id)}, which is not the row before it.")
        if entry.seq != self.prev_seq + 1:
            return self.at(entry, "reordered", f"its place in the chain was renumbered (#{entry.seq} where #{self.prev_seq + 1} was expected).")
        self.rows += 1
        self.stream_seq[entry.table] = entry.seq
        self.prev_hash, self.prev_seq, self.prev = entry.row_hash, entry.seq, entry
        self.last_table, self.last_row = entry.table, entry.row_id
        if entry.table == "links":
            self.last_link = entry.row_id
        return None

    def finish(self) -> Verdict:
        head_row = self.db.execute("SELECT seq, row_hash FROM log_head WHERE id = 1").fetchone()
        if head_row is None:
            return self.verdict(Problem("log_head", None, None, "deleted", "the row that records the chain's last hash is missing."))
        head_seq, head_hash = int(head_row[0]), str(head_row[1])
        if head_seq > self.prev_seq:
            missing = head_seq - self.prev_seq
            last = f" after {_name(self.prev.table, self.prev.row_id)}" if self.prev is not None else ""
            subject = f"the last row the desk wrote{last} (chain #{head_seq})" if missing == 1 else f"the last {missing} rows the desk wrote{last} (chain #{self.prev_seq + 1} to #{head_seq})"
            return self.verdict(Problem("log_head", None, head_seq, "deleted", "the chain's head still counts it." if missing == 1 else "the chain's head still counts them.", subject))
        if head_seq < self.prev_seq and self.prev is not None:
            return self.verdict(
                Problem(self.prev.table, self.prev.row_id, self.prev.seq, "inserted", f"the desk's last row is chain #{head_seq}, so it was added outside the desk."),
                rows=self.rows - 1,
            )
        if head_hash != self.prev_hash:
            return self.verdict(Problem("log_head", None, head_seq, "edited", "the last hash it records is not the last row's."))
        return self.verdict(self.projection)


# --- the page's cheap, incremental check ------------------------------------------------------------


@dataclass(frozen=True)
class ChainStatus:
    """What the Expiry timeline says about the chain, cheaply, on every rerun."""

    state: Literal["verified", "checking", "broken", "unavailable"]
    rows: int
    problem: Problem | None
    checked_at: datetime

    @property
    def message(self) -> str:
        if self.state == "verified":
            return f"{self.rows:,} log rows verified: the hash chain is intact."
        if self.state == "checking":
            return f"Verifying the log's hash chain ({self.rows:,} rows so far)."
        if self.state == "broken" and self.problem is not None:
            return f"The log's hash chain is broken: {self.problem.sentence()} Run python -m dashboard verify-log for the whole log."
        return "The log's hash chain could not be checked just now: the log could not be read."


@dataclass
class ChainWatch:
    """Verifies the chain once, then only what was appended since, remembered per process.

    ``status()`` returns at once: the first full walk (seconds on a log of a
    million rows) runs on a background thread, each later call re-checks the
    last verified row and walks only the rows after it.
    """

    reader: Any  # a callable returning a context manager that yields a read-snapshot Db
    _verdict: Verdict | None = None
    _broken: Verdict | None = None
    _failed: bool = False
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def status(self, *, wait: bool = False) -> ChainStatus:
        now = datetime.now(UTC)
        with self._lock:
            if self._broken is not None:
                return ChainStatus("broken", self._broken.rows, self._broken.problem, now)
            thread = self._thread
            if thread is None or not thread.is_alive():
                thread = self._thread = threading.Thread(target=self._check, name="share-desk-chain", daemon=True)
                thread.start()
            first = self._verdict is None
        if wait or not first:
            # After the first walk an increment is a few rows: worth waiting for.
            thread.join(timeout=None if wait else 2.0)
        with self._lock:
            if self._broken is not None:
                return ChainStatus("broken", self._broken.rows, self._broken.problem, now)
            if self._failed:
                return ChainStatus("unavailable", self._verdict.rows if self._verdict else 0, None, now)
            if self._verdict is None or thread.is_alive():
                return ChainStatus("checking", self._verdict.rows if self._verdict else 0, None, now)
            return ChainStatus("verified", self._verdict.rows, None, now)

    def _check(self) -> None:
        try:
            with self.reader() as db:
                before = self._verdict
                if before is not None and not _still_there(db, before):
                    verdict = verify(db)  # the rows verified before changed: walk everything again
                else:
                    verdict = verify(db, after=before)
        except Exception:  # a log that cannot be read now: say so, try again on the next call
            with self._lock:
                self._failed = True
            return
        with self._lock:
            self._failed = False
            if verdict.ok:
                self._verdict = verdict
            else:
                self._broken = verdict


_KEYS = {"links": "id", "stable_links": "link_id", "link_events": "seq"}


def _still_there(db: Db, verdict: Verdict) -> bool:
    """Whether the last row verified before is still there, in its place, with the hash it had (one key lookup)."""
    if verdict.last_seq == 0:
        return True
    key = _KEYS[verdict.last_table]
    row = db.execute(f"SELECT seq, row_hash FROM {verdict.last_table} WHERE {key} = ?", (verdict.last_row_id,)).fetchone()
    return row is not None and _int(row[0]) == verdict.last_seq and row[1] == verdict.last_hash
