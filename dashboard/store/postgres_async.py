"""The resolver's two statements on PostgreSQL, awaited on its event loop.

A click needs one read (its link's target) and one write (its row), each a
network round trip. Made from a worker thread they cost the resolver far more
than the round trips themselves: the event loop and the threads trade the GIL
on every click. Here they are awaited on the loop through psycopg's async
driver, and each is one statement for a whole batch of clicks
(`stable.TARGETS_PG`, `stable.RECORD_CLICKS_PG`): the batching is the
caller's (`dashboard.links`, `dashboard.clicks`).

The pool belongs to the event loop it was first used on. A connection the
server ended (a restart, a failover) is replaced before use, found as the
threads' pool finds it (`postgres.server_spoke`), and no wait is unbounded: a failure is a
`LogError` with a sentence, and the caller answers the desk's 503 page.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from dashboard.store.errors import LogReadError, LogWriteError, cause
from dashboard.store.postgres import server_spoke
from dashboard.store.sql import to_postgres
from dashboard.store.stable import RECORD_CLICKS_PG, TARGETS_PG, Click, StableTarget, clicks_json, target_from_row, token_hash_array

__all__ = ["AsyncClickStore"]

#: Longest wait for a connection before a click is told the log is unavailable (the 503 page).
WAIT_SECONDS = 3.0
_TARGETS = to_postgres(TARGETS_PG)
_RECORD = to_postgres(RECORD_CLICKS_PG)


async def _usable(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether ``conn`` still works: a poll when it is fine, a round trip only when the server spoke.

    An idle connection has nothing to read; one the server ended (a restart,
    ``pg_terminate_backend``, a failover) has its FATAL notice or EOF waiting.
    """
    if conn.closed or conn.broken:
        return False
    if not server_spoke(conn):
        return True
    try:
        await conn.execute("SELECT 1")
    except (psycopg.Error, OSError):
        return False
    return True


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    # Bounded as the threads' click batches are (SET LOCAL there): a statement stuck behind a lock fails.
    await conn.execute("SET statement_timeout = '5s'")


class AsyncClickStore:
    """Batched stable-link reads and click writes on one PostgreSQL database, for one event loop."""

    def __init__(self, conninfo: str, *, read_advice: str, write_advice: str, size: int = 4) -> None:
        """`read_advice`, `write_advice`: the backend's "Check that ..." for each kind of failure."""
        self._read_advice, self._write_advice = read_advice, write_advice
        self._pool = AsyncConnectionPool(
            conninfo,
            min_size=2,  # a read and a write in flight at once
            max_size=size,
            kwargs={"autocommit": True},
            configure=_configure,
            timeout=WAIT_SECONDS,
            name="share-desk-clicks",
            open=False,
        )
        self._opened = False

    async def targets(self, token_hashes: Sequence[str]) -> dict[str, StableTarget]:
        """The stable targets of those token hashes that name a link (a `LogReadError` when the log cannot say)."""
        try:
            async with self._connection() as conn:
                cursor = await conn.execute(_TARGETS, (token_hash_array(token_hashes),))
                rows = await cursor.fetchall()
        except (psycopg.Error, OSError) as exc:
            raise LogReadError(f"The issuance log could not be read ({cause(exc)}). {self._read_advice}, then try again.") from exc
        return dict(target_from_row(row) for row in rows)

    async def record_clicks(self, clicks: Sequence[Click]) -> None:
        """Every click in one statement: all rows and counters committed, or none (a `LogWriteError`)."""
        if not clicks:
            return
        try:
            async with self._connection() as conn:
                await conn.execute(_RECORD, (clicks_json(clicks),))
        except (psycopg.Error, OSError) as exc:
            raise LogWriteError(f"The clicks could not be recorded ({cause(exc)}). {self._write_advice}.") from exc

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A working connection: those the server ended are closed and replaced at once.

        (The pool's own check backs off a second or more between dead
        connections; after a failover every pooled one is dead, and a click
        must not wait for each.)
        """
        if not self._opened:
            self._opened = True
            await self._pool.open(wait=False)  # connects in the background; a click waits at most WAIT_SECONDS
        for _ in range(self._pool.max_size + 1):
            conn = await self._pool.getconn()
            if await _usable(conn):
                break
            await conn.close()
            await self._pool.putconn(conn)  # a closed connection is dropped, and the pool opens another
        else:
            raise psycopg.OperationalError("every pooled connection had been closed by the server")
        try:
            yield conn
        finally:
            await self._pool.putconn(conn)
