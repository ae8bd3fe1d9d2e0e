"""The resolver's two statements on PostgreSQL, awaited on its event loop.

A click needs one read (its link's target) and one write (its row), each a
network round trip. Made from a worker thread they cost the resolver far more
than the round trips themselves: the event loop and the threads trade the GIL
on every click. Here they are awaited on the loop through psycopg's async
driver, and each is one statement for a whole batch of clicks
(`stable.TARGETS_PG`, `stable.RECORD_CLICKS_PG`): the batching is the
caller's (`dashboard.links`, `dashboard.clicks`).

The pool belongs to the event loop it was first used on. A connection the
server ended (a restart, a failover) is replaced before use, as the
threads' pool does (`postgres._check`), and no wait is unbounded: a failure
is a `LogError` with a sentence, and the caller answers the desk's 503 page.
"""

from __future__ import annotations

import select
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from dashboard.store.errors import LogReadError, LogWriteError, cause
from dashboard.store.sql import to_postgres
from dashboard.store.stable import RECORD_CLICKS_PG, TARGETS_PG, Click, StableTarget, clicks_json, target_from_row, token_hash_array

__all__ = ["AsyncClickStore"]

#: Longest wait for a connection before a click is told the log is unavailable (the 503 page).
WAIT_SECONDS = 3.0
_TARGETS = to_postgres(TARGETS_PG)
_RECORD = to_postgres(RECORD_CLICKS_PG)


async def _check(conn: psycopg.AsyncConnection[Any]) -> None:
    """Raise if ``conn`` is no longer usable: a poll when it is fine, a round trip only when the server spoke."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await conn.execute("SELECT 1")


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Bounded as the threads' click batches are (SET LOCAL there): a statement stuck behind a lock fails.
    await conn.execute("SET statement_timeout = '5s'")


class AsyncClickStore:
    """Batched stable-link reads and click writes on one PostgreSQL database, for one event loop."""

    def __init__(self, conninfo: str, *, where: str, size: int = 4) -> None:
        self.where = where
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=2,  # a read and a write in flight at once
            max_size=size,
            kwargs={"autocommit": True},
            configure=_configure,
            check=_check,
            timeout=WAIT_SECONDS,
            name="share-desk-clicks",
            open=False,
        )
        self._opened = False

    async def targets(self, token_hashes: Sequence[str]) -> dict[str, StableTarget]:
        """The stable targets of those token hashes that name a link (a `LogReadError` when the log cannot say)."""
        try:
            async with await self._connection() as conn:
                cursor = await conn.execute(_TARGETS, (token_hash_array(token_hashes),))
                rows = await cursor.fetchall()
        except (psycopg.Error, OSError) as exc:
            raise LogReadError(f"The issuance log could not be read ({cause(exc)}). Check that {self.where} is reachable, then try again.") from exc
        return dict(target_from_row(row) for row in rows)

    async def record_clicks(self, clicks: Sequence[Click]) -> None:
        """Every click in one statement: all rows and counters committed, or none (a `LogWriteError`)."""
        if not clicks:
            return
        try:
            async with await self._connection() as conn:
                await conn.execute(_RECORD, (clicks_json(clicks),))
        except (psycopg.Error, OSError) as exc:
            raise LogWriteError(f"The clicks could not be recorded ({cause(exc)}). Check that {self.where} is reachable and accepts writes.") from exc

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()

    async def _connection(self) -> Any:
        if not self._opened:
            self._opened = True
            await self._pool.open(wait=False)  # connects in the background; a click waits at most WAIT_SECONDS
        return self._pool.connection()
