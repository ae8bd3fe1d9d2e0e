"""One way to talk to either database: a connection with ``execute``, and its dialect.

The log's SQL is written once, with SQLite's placeholders (``?`` and
``:name``) and portable types (REAL epoch seconds, no date functions).
`PostgresDb` rewrites each statement for psycopg (``%s``, ``%(name)s``) once
and caches it; the few statements that differ by dialect ask ``db.dialect``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import psycopg

    from dashboard.store.postgres_async import AsyncClickStore

__all__ = ["Backend", "Cursor", "Db", "Dialect", "PostgresDb", "SqliteDb", "to_postgres"]

Dialect = Literal["sqlite", "postgresql"]
Params = Sequence[Any] | dict[str, Any]


class Cursor(Protocol):
    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Any: ...


class Db(Protocol):
    """A borrowed connection: statements in the SQLite style, whatever the database."""

    dialect: Dialect

    def execute(self, sql: str, params: Params = ...) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any: ...

    def begin(self) -> None: ...

    def begin_read(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Backend(Protocol):
    """Where the log's connections come from (`sqlite.SqliteBackend`, `postgres.PostgresBackend`)."""

    dialect: Dialect
    reads_may_block: bool
    errors: tuple[type[BaseException], ...]
    where: str
    write_advice: str  # "Check that ... " (the caller adds ", then try again.")
    read_advice: str

    def connection(self, *, writing: bool = False) -> AbstractContextManager[Db]: ...

    def loop_store(self) -> AsyncClickStore | None: ...

    def close(self) -> None: ...


class SqliteDb:
    """A sqlite3 connection as a `Db`: its own methods, no wrapping per call."""

    dialect: Dialect = "sqlite"
    __slots__ = ("conn", "execute", "executemany")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.execute = conn.execute
        self.executemany = conn.executemany

    def begin(self) -> None:
        # IMMEDIATE takes the write lock up front, so a writer waits its turn
        # (busy timeout) instead of failing half way when another one commits.
        self.conn.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        # WAL: the snapshot is taken at the first read and kept until the end.
        self.conn.execute("BEGIN")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.rollback()


class PostgresDb:
    """A psycopg connection (autocommit) as a `Db`; statements translated once each."""

    dialect: Dialect = "postgresql"
    __slots__ = ("conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Params = ()) -> Any:
        return self.conn.execute(to_postgres(sql), params)  # type: ignore[arg-type]

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cursor:
            cursor.executemany(to_postgres(sql), rows)  # type: ignore[arg-type]

    def begin(self) -> None:
        self.conn.execute("BEGIN")

    def begin_read(self) -> None:
        self.conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def commit(self) -> None:
        self.conn.execute("COMMIT")

    def rollback(self) -> None:
        import psycopg
        from psycopg import pq

        if self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                self.conn.execute("ROLLBACK")
            except psycopg.OperationalError:
                pass  # the connection is gone, and its transaction with it; the pool drops it


# A token at a time: quoted strings and identifiers pass through untouched.
_TOKEN = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\?|:[A-Za-z_][A-Za-z0-9_]*|%|\+|[A-Za-z_][A-Za-z0-9_]*|\S""",
)
#: After these, a "+" is SQLite's unary index hint, not an addition.
_UNARY_BEFORE = frozenset(
    {"(", ",", "=", "<", ">", "WHERE", "AND", "OR", "NOT", "ON", "WHEN", "THEN", "ELSE", "SELECT", "BY", "IN"}
)


@lru_cache(maxsize=2048)
def to_postgres(sql: str) -> str:
    """``sql`` with psycopg's placeholders: ``?`` -> ``%s``, ``:name`` -> ``%(name)s``, ``%`` -> ``%%``.

    SQLite's ``+column`` (a unary plus that keeps a term out of index
    selection) means nothing to PostgreSQL's planner and is a type error on
    text there, so it is dropped.
    """
    out: list[str] = []
    last = ""
    pos = 0
    for match in _TOKEN.finditer(sql):
        out.append(sql[pos : match.start()])
        pos = match.end()
        token = match.group()
        if token == "?":
            out.append("%s")
        elif token == "%":
            out.append("%%")
        elif token.startswith(":") and len(token) > 1 and not sql[match.start() - 1 : match.start()] == ":":
            out.append(f"%({token[1:]})s")
        elif token.startswith("'"):
            out.append(token.replace("%", "%%"))  # psycopg reads placeholders inside literals too
        elif token == "+" and (last.upper() in _UNARY_BEFORE or last == ""):
            out.append("")
            continue  # the previous token stays what comes before the next one
        else:
            out.append(token)
        last = token
    out.append(sql[pos:])
    return "".join(out)
