"""The audit rollup's write side: tables that SQL triggers keep up to date as links are written.

The Expiry timeline must cost the same on ten thousand links and on ten
million, so its figures come from small tables of counts instead of the
links themselves (dashboard/store/audit_rollup.py reads them). Each link
falls in a *bin* that says how it ends: ``-2`` revoked first, ``-1`` real
expiry unknown, ``0`` no time lost, ``1…`` its lost-time bin (`BIN_EDGES`).

- ``audit_combos``: links per strategy x issuer x bucket x bin, all time;
- ``audit_cumulative``: the same counts *up to and including* each UTC hour
  in which a combination had a link, so the links of any window of whole
  hours are one index seek per combination (the latest row before its end,
  less the latest row before its start), however long the window and the log;
- ``audit_hours``: links, revoked-first links and, for each tolerance the
  desk offers (`dashboard.expiry.CUT_SHORT_TOLERANCES`), links that lose more
  than it, per UTC hour x strategy x issuer x bucket (the per-day chart);
- ``audit_quarters``: the same per quarter hour for every link together, so
  the unfiltered per-day chart follows any time zone's midnights (all are on
  quarter hours) in a few thousand rows;
- ``audit_changes``: how many revocations and extensions were ever written,
  part of the cache key of every cached figure.

Triggers on ``links`` add a row's contribution on INSERT, take the old one
away and add the new on UPDATE (a revocation, an extension) and take it
away on DELETE, so every write path (issue, bulk issue, `bulk_fill`, revoke,
extend, whatever writes SQL) keeps the rollup exact, on SQLite and
PostgreSQL alike: the statements are the same; only the trigger wrapper
differs (a trigger body on SQLite, a PL/pgSQL function on PostgreSQL). The
combination's row in ``audit_combos`` is written first: on PostgreSQL its
row lock makes two transactions adding to one combination take turns, so
each reads the other's cumulative rows committed. Counts never depend on
"now": what is cut short *yet* is worked out when read, from the few links
whose end is still ahead (see audit_rollup.py).

Migrations 20 and 21 create all this and fill it from the links already
there (`rebuild`, a few set-based statements).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from typing import Any

from dashboard.expiry import CUT_SHORT_TOLERANCES
from dashboard.store.migrations import migration

__all__ = [
    "BIN_EDGES",
    "MEDIAN_ERROR",
    "TOLERANCE_SECONDS",
    "bin_of",
    "classify",
    "cut_column",
    "rebuild",
    "tolerance_bin",
]

#: The tolerances the rollup counts exactly, in seconds (one ``cut_<s>`` column each).
TOLERANCE_SECONDS: tuple[int, ...] = tuple(int(t.total_seconds()) for t in CUT_SHORT_TOLERANCES)
#: Lost-time bin k >= 1 holds lo < lost <= hi with (lo, hi) = (BIN_EDGES[k-1], BIN_EDGES[k]);
#: BIN_EDGES[0] is 0. Above one minute the bins are an eighth of an octave wide
#: (each edge 2 ** (1/8), about 9 %, above the one before), and every tolerance
#: the desk offers is an edge, so a cut-short count is exact for any of them.
_RATIO = 2 ** (1 / 8)
_LAST = 400 * 86400.0  # beyond any link a desk signs (CloudFront is capped at 3,650 days, but who waits)
# To the millisecond, so that 60 * 2 ** (8/8) is the tolerance 120, not a hair beside it (the same
# doubles reach SQL: the bins are written into audit_bins from these values).
BIN_EDGES: tuple[float, ...] = tuple(
    sorted({0.0, *map(float, TOLERANCE_SECONDS), *(round(60 * _RATIO**k, 3) for k in range(int(math.log(_LAST / 60, _RATIO)) + 2)), 1e18})
)
#: How far a median read from the bins may be from the true one: at most one
#: bin's width, which is at most this share of the value above one minute
#: (an eighth of an octave: about 9 %).
MEDIAN_ERROR = max(hi / lo for lo, hi in zip(BIN_EDGES[1:-2], BIN_EDGES[2:-1])) - 1
_TOP = 1e18


def bin_of(lost: float) -> int:
    """The bin of a link that lost ``lost`` seconds (> 0), as the triggers compute it."""
    return bisect.bisect_left(BIN_EDGES, lost)


def tolerance_bin(seconds: float) -> int:
    """The last bin a tolerance forgives: a link is cut short when its bin is above it."""
    index = bisect.bisect_left(BIN_EDGES, seconds)
    if index >= len(BIN_EDGES) or BIN_EDGES[index] != seconds:
        raise ValueError(f"The rollup counts tolerances of {', '.join(map(str, TOLERANCE_SECONDS))} seconds, not {seconds}.")
    return index


def cut_column(seconds: float) -> str:
    """The audit_hours / audit_quarters column counting links that lose more than ``seconds``."""
    if int(seconds) not in TOLERANCE_SECONDS or seconds != int(seconds):
        raise ValueError(f"The rollup counts tolerances of {', '.join(map(str, TOLERANCE_SECONDS))} seconds, not {seconds}.")
    return f"cut_{int(seconds)}"


def classify(nominal: float, effective: float | None, revoked_at: float | None) -> tuple[int, float]:
    """(bin, seconds lost) of one link, exactly as the triggers' SQL says it (see `_bin`)."""
    end = nominal if effective is None else effective
    if revoked_at is not None and revoked_at < end:
        return -2, 0.0
    if effective is None:
        return -1, 0.0
    lost = nominal - effective
    if lost <= 0:
        return 0, 0.0
    return bin_of(lost), lost


# --- the SQL of one row's contribution ----------------------------------------


def _end(r: str) -> str:
    return f"COALESCE({r}.effective_expires_at, {r}.nominal_expires_at)"


def _revoked_first(r: str) -> str:
    return f"({r}.revoked_at IS NOT NULL AND {r}.revoked_at < {_end(r)})"


def _lost(r: str) -> str:
    return f"({r}.nominal_expires_at - {r}.effective_expires_at)"


def _bin(r: str) -> str:
    # The same order as `classify`: revoked first, unknown end, no loss, then the lost-time bin.
    return (
        f"(CASE WHEN {_revoked_first(r)} THEN -2 WHEN {r}.effective_expires_at IS NULL THEN -1 "
        f"WHEN {_lost(r)} <= 0 THEN 0 ELSE (SELECT bin FROM audit_bins WHERE hi >= {_lost(r)} ORDER BY hi LIMIT 1) END)"
    )


def _cut(r: str, seconds: int) -> str:
    return f"(CASE WHEN NOT {_revoked_first(r)} AND {r}.effective_expires_at IS NOT NULL AND {_lost(r)} > {seconds} THEN 1 ELSE 0 END)"


def _period(expr: str, seconds: int, dialect: str) -> str:
    """floor(expr / seconds) as an integer. SQLite's CAST truncates (the same for epochs after 1970); PostgreSQL's rounds."""
    if dialect == "postgresql":
        return f"CAST(FLOOR({expr} / {seconds}) AS BIGINT)"
    return f"CAST({expr} / {seconds} AS INTEGER)"


_CUTS = tuple(f"cut_{s}" for s in TOLERANCE_SECONDS)
_COUNTS = ("links", "revoked", *_CUTS)


def _counted(r: str, sign: int) -> list[str]:
    return [str(sign), f"{sign} * (CASE WHEN {_revoked_first(r)} THEN 1 ELSE 0 END)", *(f"{sign} * {_cut(r, s)}" for s in TOLERANCE_SECONDS)]


def _upsert(table: str, keys: Sequence[str], key_values: Sequence[str], counts: Sequence[str], values: Sequence[str]) -> str:
    columns = [*keys, *counts]
    sums = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counts)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([*key_values, *values])}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sums}"
    )


def contribution(r: str, sign: int, dialect: str) -> list[str]:
    """The statements that add (``sign`` 1) or take away (-1) the row ``r`` (NEW or OLD) from every rollup table."""
    dims = [f"{r}.strategy", f"{r}.issuer", f"{r}.bucket"]
    binned = _bin(r)
    hour = _period(f"{r}.issued_at", 3600, dialect)
    combo = f"strategy = {r}.strategy AND issuer = {r}.issuer AND bucket = {r}.bucket AND bin = {binned}"
    statements = [
        _upsert("audit_combos", ("strategy", "issuer", "bucket", "bin"), (*dims, binned), ("links",), (str(sign),)),
    ]
    if sign > 0:
        # The hour's row starts from the combination's count before it (a link may come in late: bulk loads, tests).
        before = f"COALESCE((SELECT links FROM audit_cumulative WHERE {combo} AND hour < {hour} ORDER BY hour DESC LIMIT 1), 0)"
        statements.append(
            "INSERT INTO audit_cumulative (strategy, issuer, bucket, bin, hour, links) "
            f"VALUES ({', '.join([*dims, binned, hour, before])}) ON CONFLICT (strategy, issuer, bucket, bin, hour) DO NOTHING"
        )
    statements += [
        f"UPDATE audit_cumulative SET links = links + {sign} WHERE {combo} AND hour >= {hour}",
        _upsert("audit_hours", ("hour", "strategy", "issuer", "bucket"), (hour, *dims), _COUNTS, _counted(r, sign)),
        _upsert("audit_quarters", ("quarter",), (_period(f"{r}.issued_at", 900, dialect),), _COUNTS, _counted(r, sign)),
    ]
    return statements


_CHANGED = "UPDATE audit_changes SET n = n + 1 WHERE id = 1"
#: The columns whose change moves a link between cells. The log never changes
#: the others after writing a row (a hash chain may add one): their updates cost nothing here.
_WATCHED = ("issued_at", "strategy", "issuer", "bucket", "nominal_expires_at", "effective_expires_at", "revoked_at")


def _triggers(dialect: str) -> list[str]:
    """CREATE statements for the three triggers on links."""
    bodies = {
        "insert": contribution("NEW", 1, dialect),
        "update": [*contribution("OLD", -1, dialect), *contribution("NEW", 1, dialect), _CHANGED],
        "delete": [*contribution("OLD", -1, dialect), _CHANGED],
    }
    events = {"insert": "INSERT", "update": f"UPDATE OF {', '.join(_WATCHED)}", "delete": "DELETE"}
    statements = []
    for name, body in bodies.items():
        if dialect == "postgresql":
            statements.append(
                f"CREATE OR REPLACE FUNCTION audit_rollup_{name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                + " ".join(f"{s};" for s in body)
                + " RETURN NULL; END $$"
            )
            statements.append(f"CREATE TRIGGER audit_rollup_{name} AFTER {events[name]} ON links FOR EACH ROW EXECUTE FUNCTION audit_rollup_{name}()")
        else:
            statements.append(f"CREATE TRIGGER audit_rollup_{name} AFTER {events[name]} ON links FOR EACH ROW BEGIN " + " ".join(f"{s};" for s in body) + " END")
    return statements


def _dialect(conn: Any) -> str:
    # The log's connection (sqlite3) or the store's dialect-aware wrapper, whichever migrations hand over.
    return str(getattr(conn, "dialect", "sqlite"))


def drop_triggers(conn: Any) -> None:
    """Drop the rollup's triggers (bulk loads rebuild the rollup once instead of row by row)."""
    postgres = _dialect(conn) == "postgresql"
    for name in ("insert", "update", "delete"):
        conn.execute(f"DROP TRIGGER IF EXISTS audit_rollup_{name}" + (" ON links" if postgres else ""))


def create_triggers(conn: Any) -> None:
    for statement in _triggers(_dialect(conn)):
        conn.execute(statement)


def rebuild(conn: Any) -> None:
    """Empty every rollup table and count every link again, in a few set-based statements.

    Run inside the caller's transaction with the triggers dropped (a migration,
    a bulk load), so that no row is counted twice.
    """
    dialect = _dialect(conn)
    for table in ("audit_combos", "audit_cumulative", "audit_hours", "audit_quarters"):
        conn.execute(f"DELETE FROM {table}")
    binned = f"SELECT l.strategy, l.issuer, l.bucket, {_bin('l')} AS bin, {_period('l.issued_at', 3600, dialect)} AS hour FROM links l"
    conn.execute(
        "INSERT INTO audit_combos (strategy, issuer, bucket, bin, links) "
        f"SELECT strategy, issuer, bucket, bin, COUNT(*) FROM ({binned}) cells GROUP BY strategy, issuer, bucket, bin"
    )
    # A running sum per combination in hour order: each hour's row counts every link up to its end.
    conn.execute(
        "INSERT INTO audit_cumulative (strategy, issuer, bucket, bin, hour, links) "
        "SELECT strategy, issuer, bucket, bin, hour, SUM(n) OVER (PARTITION BY strategy, issuer, bucket, bin ORDER BY hour) "
        f"FROM (SELECT strategy, issuer, bucket, bin, hour, COUNT(*) AS n FROM ({binned}) cells GROUP BY strategy, issuer, bucket, bin, hour) hours"
    )
    counted = ", ".join(f"SUM({value}) AS {name}" for name, value in zip(_COUNTS, ["1", *_counted("l", 1)[1:]]))
    for table, keys, seconds in (("audit_hours", ("hour", "strategy", "issuer", "bucket"), 3600), ("audit_quarters", ("quarter",), 900)):
        period = _period("l.issued_at", seconds, dialect)
        dims = ", l.strategy, l.issuer, l.bucket" if len(keys) > 1 else ""
        group = ", ".join(["period", *(["l.strategy", "l.issuer", "l.bucket"] if len(keys) > 1 else [])])
        conn.execute(
            f"INSERT INTO {table} ({', '.join([*keys, *_COUNTS])}) SELECT {period} AS period{dims}, {counted} FROM links l GROUP BY {group}"
        )


# --- migrations ------------------------------------------------------------------


@migration(20, "add audit rollup")
def _add_audit_rollup(conn: Any) -> None:
    dialect = _dialect(conn)
    integer = "BIGINT" if dialect == "postgresql" else "INTEGER"
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    dims = "strategy TEXT NOT NULL, issuer TEXT NOT NULL, bucket TEXT NOT NULL"
    counts = ", ".join(f"{c} {integer} NOT NULL DEFAULT 0" for c in _COUNTS)
    conn.execute(f"CREATE TABLE audit_bins (bin {integer} PRIMARY KEY, lo {real} NOT NULL, hi {real} NOT NULL UNIQUE)")
    for k in range(1, len(BIN_EDGES)):
        conn.execute(f"INSERT INTO audit_bins (bin, lo, hi) VALUES ({k}, {BIN_EDGES[k - 1]!r}, {BIN_EDGES[k]!r})")
    # Key order follows the reads: dimensions first (a filter's values are
    # looked up by index seeks), then time, read in order or by one seek. The key
    # holds the counts too (SQLite: WITHOUT ROWID; PostgreSQL: INCLUDE), so a
    # read never leaves the index.
    def table(name: str, columns: str, key: str, counted: Sequence[str]) -> str:
        if dialect == "postgresql":
            return f"CREATE TABLE {name} ({columns}, PRIMARY KEY ({key}) INCLUDE ({', '.join(counted)}))"
        return f"CREATE TABLE {name} ({columns}, PRIMARY KEY ({key})) WITHOUT ROWID"

    conn.execute(table("audit_combos", f"{dims}, bin {integer} NOT NULL, links {integer} NOT NULL", "strategy, issuer, bucket, bin", ("links",)))
    conn.execute(
        table("audit_cumulative", f"{dims}, bin {integer} NOT NULL, hour {integer} NOT NULL, links {integer} NOT NULL",
              "strategy, issuer, bucket, bin, hour", ("links",))
    )
    conn.execute(table("audit_hours", f"hour {integer} NOT NULL, {dims}, {counts}", "strategy, issuer, bucket, hour", _COUNTS))
    conn.execute(table("audit_quarters", f"quarter {integer} NOT NULL, {counts}", "quarter", _COUNTS))
    conn.execute(f"CREATE TABLE audit_changes (id {integer} PRIMARY KEY, n {integer} NOT NULL)")
    conn.execute("INSERT INTO audit_changes (id, n) VALUES (1, 0)")
    rebuild(conn)
    create_triggers(conn)


@migration(21, "add audit rollup indexes")
def _add_audit_rollup_indexes(conn: Any) -> None:
    # Medians come from the rollup's histograms now: migration 3's indexes of
    # cut-short links in order of time lost only cost writes. (Its time and
    # group indexes stay: the latest rows, and the exact counts for a prefix,
    # a ticket, or the live and expired states, walk them.)
    for name in ("links_audit_lost", "links_audit_strategy_lost", "links_audit_issuer_lost"):
        conn.execute(f"DROP INDEX IF EXISTS {name}")
    # The links whose end is still ahead are read one by one (the rollup
    # cannot know "now"): the ones that lose time, from a partial index in
    # order of real expiry; revocations, from a partial index in time order.
    # Both carry every column the reads need, so no row is looked up.
    conn.execute(
        "CREATE INDEX links_audit_ending ON links (effective_expires_at, issued_at, strategy, issuer, bucket, nominal_expires_at, revoked_at) "
        "WHERE effective_expires_at < nominal_expires_at"
    )
    conn.execute(
        "CREATE INDEX links_audit_revoked ON links (revoked_at, issued_at, strategy, issuer, bucket, nominal_expires_at, effective_expires_at) "
        "WHERE revoked_at IS NOT NULL"
    )
