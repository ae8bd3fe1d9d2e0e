"""Stable links in the log: their own lifetime, their clicks, extension.

Mixed into `IssuanceLog`, so a stable link's `links` row and its
`stable_links` row are written in the same transaction as any other issue.
Only the token's hash is stored (as the row's fingerprint and token_hash).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dashboard.store import chain
from dashboard.store.entries import ENTRY_COLUMNS, LogEntry, entry_from_row, to_epoch

if TYPE_CHECKING:
    from dashboard.store.sql import Db


@dataclass(frozen=True)
class StableSpec:
    """What a stable link adds to its log row when it is issued."""

    expires_at: datetime
    mint_seconds: int


@dataclass(frozen=True)
class StableLink:
    entry: LogEntry
    expires_at: datetime
    mint_seconds: int
    clicks: int
    last_click_at: datetime | None

    def live_at(self, at: datetime) -> bool:
        return self.entry.revoked_at is None and at < self.expires_at


@dataclass(frozen=True)
class StableTarget:
    """What a click needs of a stable link: the object it serves and whether it still may be served."""

    link_id: int
    bucket: str
    key: str
    filename: str | None
    issuer: str
    revoked_at: datetime | None
    expires_at: datetime
    mint_seconds: int


@dataclass(frozen=True)
class Click:
    link_id: int
    at: datetime
    status: int
    client_ip: str | None = None
    user_agent: str | None = None
    method: str = "GET"  # "HEAD" is a check (a link scanner), not a download

    @property
    def is_download(self) -> bool:
        return self.method != "HEAD"


#: The states a stable link can be listed by, as SQL over `l` (links) and `s` (stable_links): (condition, takes the moment).
_STATE_WHERE: dict[str, tuple[str, bool]] = {
    "live": ("l.revoked_at IS NULL AND s.expires_at > ?", True),
    "expired": ("l.revoked_at IS NULL AND s.expires_at <= ?", True),
    "revoked": ("l.revoked_at IS NOT NULL", False),
}
STABLE_STATES: tuple[str, ...] = tuple(_STATE_WHERE)

_COLUMNS = ", ".join(f"l.{c}" for c in ENTRY_COLUMNS)
_HEX = re.compile(r"[0-9a-f]{64}")
_TARGET_FROM = (
    "SELECT s.token_hash, l.id, l.bucket, l.key, l.filename, l.issuer, l.revoked_at, s.expires_at, s.mint_seconds "
    "FROM stable_links s JOIN links l ON l.id = s.link_id WHERE "
)
_TARGET = _TARGET_FROM + "s.token_hash = ?"
#: PostgreSQL: the targets of many tokens at once (the resolver's batched lookup): `token_hash_array(hashes)`.
TARGETS_PG = _TARGET_FROM + "s.token_hash = ANY(?::text[])"
#: PostgreSQL: a batch of clicks in one statement (one round trip, one transaction): the rows, and each
#: link's counters. Its one parameter is `clicks_json(clicks)` (a JSON text: no per-value adaptation).
#: A HEAD check is kept, but is not a click on the link.
RECORD_CLICKS_PG = """
WITH batch AS (
    SELECT * FROM json_to_recordset(?::json)
        AS b(link_id bigint, at double precision, status integer, client_ip text, user_agent text, method text)
), added AS (
    INSERT INTO clicks (link_id, at, status, client_ip, user_agent, method)
    SELECT link_id, at, status, client_ip, user_agent, method FROM batch
)
UPDATE stable_links s SET clicks = s.clicks + t.n, last_click_at = GREATEST(COALESCE(s.last_click_at, 0), t.last)
FROM (SELECT link_id, COUNT(*) AS n, MAX(at) AS last FROM batch WHERE method <> 'HEAD' GROUP BY link_id) t
WHERE s.link_id = t.link_id
"""
_SELECT = f"SELECT {_COLUMNS}, s.expires_at, s.mint_seconds, s.clicks, s.last_click_at FROM stable_links s JOIN links l ON l.id = s.link_id"


def target_from_row(row: Sequence[Any]) -> tuple[str, StableTarget]:
    """(token hash, target) from a row of `_TARGET` or `TARGETS_PG`."""
    token_hash, link_id, bucket, key, filename, issuer, revoked, expires, mint = row
    return token_hash, StableTarget(
        link_id=int(link_id),
        bucket=bucket,
        key=key,
        filename=filename,
        issuer=issuer,
        revoked_at=datetime.fromtimestamp(revoked, tz=UTC) if revoked is not None else None,
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        mint_seconds=int(mint),
    )


def click_rows(clicks: Sequence[Click]) -> list[tuple[Any, ...]]:
    """The `clicks` table's values for each click (a user agent kept to 512 characters)."""
    return [(c.link_id, to_epoch(c.at), c.status, c.client_ip, (c.user_agent or "")[:512] or None, c.method) for c in clicks]


def clicks_json(clicks: Sequence[Click]) -> str:
    """`RECORD_CLICKS_PG`'s parameter: the batch's rows as a JSON array of objects."""
    names = ("link_id", "at", "status", "client_ip", "user_agent", "method")
    return json.dumps([dict(zip(names, row)) for row in click_rows(clicks)])


def token_hash_array(token_hashes: Sequence[str]) -> str:
    """`TARGETS_PG`'s parameter: a PostgreSQL array literal of hex digests (nothing in them needs quoting)."""
    if not all(_HEX.fullmatch(h) for h in token_hashes):
        raise ValueError("a token hash is not a hex digest")
    return "{" + ",".join(token_hashes) + "}"


def _stable(row: Sequence[Any]) -> StableLink:
    n = len(ENTRY_COLUMNS)
    expires, mint, clicks, last = row[n:]
    return StableLink(
        entry=entry_from_row(row[:n]),
        expires_at=datetime.fromtimestamp(expires, tz=UTC),
        mint_seconds=int(mint),
        clicks=int(clicks),
        last_click_at=datetime.fromtimestamp(last, tz=UTC) if last is not None else None,
    )


class StableLinkQueries:
    """The stable-link half of the issuance log (needs `_write` and `query`)."""

    if TYPE_CHECKING:  # provided by IssuanceLog

        def _write(self, *, durable: bool = ..., wait: bool = ...) -> AbstractContextManager[Db]: ...

        def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ...) -> list[Any]: ...

        @staticmethod
        def _event(db: Db, seq: int, prev: str, values: tuple[Any, ...]) -> None: ...

    def _stable_rows(self, sql: str, params: Sequence[object]) -> list[StableLink]:
        return [_stable(row) for row in self.query(sql, params)]

    def stable_target(self, token_hash: str) -> StableTarget | None:
        """What a click on the link whose token hashes to `token_hash` needs (the resolver's one read per click)."""
        rows = self.query(_TARGET, (token_hash,))
        return target_from_row(rows[0])[1] if rows else None

    def find_stable(self, token_hash: str) -> StableLink | None:
        """The stable link whose token hashes to `token_hash` (an indexed, constant-time lookup)."""
        rows = self._stable_rows(f"{_SELECT} WHERE s.token_hash = ?", (token_hash,))
        return rows[0] if rows else None

    def get_stable(self, link_id: int) -> StableLink | None:
        rows = self._stable_rows(f"{_SELECT} WHERE s.link_id = ?", (link_id,))
        return rows[0] if rows else None

    def stable_links(
        self, *, live_at: datetime | None = None, limit: int = 500, state: str | None = None, at: datetime | None = None
    ) -> list[StableLink]:
        """Stable links, newest first: only those still live at `live_at` when given, or those in `state` at `at`.

        `state` is one of STABLE_STATES: live, expired (ran out, never revoked), revoked.
        """
        if live_at is not None:
            state, at = "live", live_at
        if state is None:
            return self._stable_rows(f"{_SELECT} ORDER BY l.id DESC LIMIT ?", (limit,))
        where, needs_time = _STATE_WHERE[state]
        params: tuple[object, ...] = (to_epoch(at or datetime.now(UTC)), limit) if needs_time else (limit,)
        return self._stable_rows(f"{_SELECT} WHERE {where} ORDER BY l.id DESC LIMIT ?", params)

    def count_stable(self, at: datetime) -> dict[str, int]:
        """How many stable links are in each of STABLE_STATES at `at`."""
        cases = ", ".join(f"COALESCE(SUM(CASE WHEN {where} THEN 1 ELSE 0 END), 0)" for where, _ in _STATE_WHERE.values())
        when = to_epoch(at)
        params = [when for _, needs_time in _STATE_WHERE.values() if needs_time]
        (row,) = self.query(f"SELECT {cases} FROM stable_links s JOIN links l ON l.id = s.link_id", params)
        return {state: int(n) for state, n in zip(_STATE_WHERE, row)}

    def record_clicks(self, clicks: Sequence[Click], *, wait: bool = True) -> None:
        """Append clicks and bump each link's counters, all in one transaction.

        Unlike issued links (durable even on power loss), a click batch on
        SQLite commits with synchronous=NORMAL: in WAL mode that survives a
        crash of the desk and skips the fsync, which otherwise caps the
        resolver at a few hundred clicks a second. ``wait=False``: refuse at
        once (``LogWriteError``) rather than wait for another writer's lock.
        """
        if not clicks:
            return
        with self._write(durable=False, wait=wait) as conn:
            if conn.dialect == "postgresql":
                # Bounded as SQLite's 5 s busy timeout is: a batch stuck behind a lock fails and is
                # retried (dashboard/clicks.py), so the resolver can tell its customer the truth.
                conn.execute("SET LOCAL statement_timeout = '5s'")
                conn.execute(RECORD_CLICKS_PG, (clicks_json(clicks),))
                return
            conn.executemany("INSERT INTO clicks (link_id, at, status, client_ip, user_agent, method) VALUES (?, ?, ?, ?, ?, ?)", click_rows(clicks))
            totals: dict[int, tuple[int, float]] = {}
            for c in clicks:
                if not c.is_download:  # a HEAD check is kept, but is not a click on the link
                    continue
                count, last = totals.get(c.link_id, (0, 0.0))
                totals[c.link_id] = (count + 1, max(last, to_epoch(c.at) or 0.0))
            conn.executemany(
                "UPDATE stable_links SET clicks = clicks + ?, last_click_at = MAX(COALESCE(last_click_at, 0), ?) WHERE link_id = ?",
                [(count, last, link_id) for link_id, (count, last) in totals.items()],
            )

    def clicks_for(self, link_id: int, limit: int = 100) -> list[Click]:
        rows = self.query(
            "SELECT link_id, at, status, client_ip, user_agent, method FROM clicks WHERE link_id = ? ORDER BY at DESC, id DESC LIMIT ?",
            (link_id, limit),
        )
        return [Click(r[0], datetime.fromtimestamp(r[1], tz=UTC), r[2], r[3], r[4], r[5]) for r in rows]

    def count_clicks(self) -> int:
        return int(self.query("SELECT COUNT(*) FROM clicks")[0][0])

    def extend_stable(
        self, link_id: int, expires_at: datetime, reason: str, *, by: str = "", at: datetime | None = None
    ) -> StableLink:
        """Move a live stable link's expiry: an extend event in the chain.

        The link's row and its stable row follow as a projection (the audit
        and the resolver read the new promise there); the event keeps the
        values they had, so the first extension still shows the link as issued.
        A revoked link keeps its expiry.
        """
        when = to_epoch(expires_at)
        with self._write() as db:
            seq, prev = chain.head(db, lock=True)
            row = db.execute(
                "SELECT l.nominal_expires_at, l.effective_expires_at, l.reason, s.expires_at "
                "FROM stable_links s JOIN links l ON l.id = s.link_id WHERE s.link_id = ? AND l.revoked_at IS NULL",
                (link_id,),
            ).fetchone()
            if row is not None:
                event = ("extend", link_id, to_epoch(at or datetime.now(UTC)), by, when, reason, *row)
                self._event(db, seq, prev, event)
                db.execute("UPDATE stable_links SET expires_at = ? WHERE link_id = ?", (when, link_id))
                db.execute(
                    "UPDATE links SET nominal_expires_at = ?, effective_expires_at = ?, reason = ? WHERE id = ?",
                    (when, when, reason, link_id),
                )
        found = self.get_stable(link_id)
        if found is None:
            from dashboard.store.errors import LogEntryNotFound

            raise LogEntryNotFound(f"No stable link has log id {link_id}.")
        return found
