"""The issuance log on PostgreSQL: a psycopg 3 pool shared by threads, replicas on one database.

For deployments with several replicas or ephemeral disks (Fargate). Each
borrowed connection is checked cheaply (is the socket quiet, as an idle
connection's should be?) so one that the server closed (a restart, a
failover, an idle timeout) is replaced before use: the next action after a
dropped connection reconnects. Waiting for a connection is bounded, so an
unreachable database is a sentence within seconds, never a hung page.
"""

from __future__ import annotations

import select
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg_pool import ConnectionPool

from dashboard.store.errors import LogWriteError, cause
from dashboard.store.migrations import apply_migrations
from dashboard.store.sql import Db, Dialect, PostgresDb

if TYPE_CHECKING:
    from dashboard.store.location import Location
    from dashboard.store.postgres_async import AsyncClickStore

__all__ = ["PostgresBackend"]

POOL_SIZE = 8
#: Longest wait for a connection (from the pool, or a new one) before the action fails with a sentence.
WAIT_SECONDS = 5.0
_DEFAULTS = {
    "connect_timeout": "5",
    "application_name": "share-desk",
    # A peer that vanished without closing (a network partition) is noticed in
    # about 20 s instead of the kernel's two hours.
    "keepalives": "1",
    "keepalives_idle": "10",
    "keepalives_interval": "5",
    "keepalives_count": "2",
}


def _check(conn: psycopg.Connection[Any]) -> None:
    """Raise if ``conn`` is no longer usable; costs a poll, not a round trip, when it is fine.

    An idle connection has nothing to read. When the server ends it (shutdown,
    ``pg_terminate_backend``, a failover) it sends a FATAL notice and closes,
    so the socket turns readable: only then is a real round trip made, which
    raises for a dead connection and lets the pool open a fresh one.
    """
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    if server_spoke(conn):
        conn.execute("SELECT 1").fetchone()


def server_spoke(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection has something to read: only a server ending it (a FATAL notice, EOF) sends any."""
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)


class PostgresBackend:
    """Pooled connections to one PostgreSQL database, migrated under an advisory lock."""

    dialect: Dialect = "postgresql"
    reads_may_block = True  # a network round trip: keep it off an event loop
    errors: tuple[type[BaseException], ...] = (psycopg.Error,)

    def __init__(self, location: Location) -> None:
        self.where = location.where
        self.write_advice = f"Check that {self.where} is reachable and accepts writes (a read-only standby does not)"
        self.read_advice = f"Check that {self.where} is reachable"
        params = pg_conninfo.conninfo_to_dict(location.target)
        for name, value in _DEFAULTS.items():
            params.setdefault(name, value)
        self.conninfo = pg_conninfo.make_conninfo(**params)  # type: ignore[arg-type]
        self._pool = ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            check=_check,
            timeout=WAIT_SECONDS,
            name="share-desk-log",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=WAIT_SECONDS * 2)
            with self._pool.connection() as conn:
                apply_migrations(PostgresDb(conn))
        except psycopg.Error as exc:
            self._pool.close()
            raise LogWriteError(
                f"The issuance log could not be opened ({cause(exc)}): no link can be issued. "
                f"Check that {self.where} is reachable, that the user may create tables in it, then try again."
            ) from exc

    def loop_store(self) -> AsyncClickStore:
        """A store of the resolver's batched statements for the running event loop (see `postgres_async`)."""
        from dashboard.store.postgres_async import AsyncClickStore

        return AsyncClickStore(self.conninfo, read_advice=self.read_advice, write_advice=self.write_advice)

    @contextmanager
    def connection(self, *, writing: bool = False) -> Iterator[Db]:
        with self._pool.connection() as conn:
            yield PostgresDb(conn)

    def close(self) -> None:
        self._pool.close()

    @property
    def closed(self) -> bool:
        return bool(self._pool.closed)
