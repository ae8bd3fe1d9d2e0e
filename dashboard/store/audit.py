"""Audit queries over the issuance log: the Expiry timeline's figures, rows, version and filter values.

`figures` reads the rollup (dashboard/store/audit_rollup.py, kept by the
triggers of dashboard/store/rollup.py) whenever it can answer, so a rerun
costs about the same on any size of log. A key prefix, a ticket, and the
live and expired states are counted from the links themselves (`counted`):
a prefix through the (bucket, key) index, a ticket through its own, the
states over the window's links, walking a covering index (migration 3) in
the order each pass needs.

The definitions are `dashboard.expiry`'s, written once here in SQL (and
mirrored by `rollup.classify`): a link *loses* (nominal - real) seconds;
it is *cut short* when it has stopped working, not by revocation, having
lost more than the filter's tolerance, and it stays so after its nominal
expiry; a live link that is going to be cut short is *at risk*; a link that
stopped having lost no more than the tolerance is *expired*. Its state at a
moment is `state_at(..., at_risk=True)` of the Expiry it has once its
revocation, if any, is taken into account. Times are REAL epoch seconds and
the SQL avoids date functions, so PostgreSQL can run the same statements.
Every statement goes through `_snapshot` (`_query`, `_queries`): one read
transaction per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from dashboard.expiry import State
from dashboard.store import audit_rollup
from dashboard.store.audit_model import AUDIT_STATES, AuditFilter, AuditRow, DayShare, Figures, LogVersion, Split, Summary
from dashboard.store.entries import to_epoch

if TYPE_CHECKING:
    from dashboard.store.log import IssuanceLog

__all__ = [
    "AUDIT_STATES",
    "AuditFilter",
    "AuditRow",
    "DayShare",
    "Figures",
    "LogVersion",
    "Split",
    "Summary",
    "buckets",
    "by_issuer",
    "by_strategy",
    "counted",
    "cut_short_per_day",
    "figures",
    "issuers",
    "prefix_end",
    "rows",
    "strategies",
    "summary",
    "version",
]

# --- the definitions, once, in SQL -------------------------------------------

_NOM = "nominal_expires_at"
_EFF = "effective_expires_at"
#: What ends the link when nothing is revoked: the real expiry, or the nominal
#: one when the real expiry cannot be known (temporary credentials of unknown expiry).
_END = f"COALESCE({_EFF}, {_NOM})"
#: A revocation binds only when it comes before the link would end anyway
#: (`expiry.compute` keeps the earlier candidate, and ties go to the others).
_REVOKES = f"(revoked_at IS NOT NULL AND revoked_at < {_END})"
#: Loses more than the tolerance, not counting a revocation (`Expiry.cut_short`).
_LOSES = f"(NOT {_REVOKES} AND {_EFF} IS NOT NULL AND {_NOM} - {_EFF} > :tol)"
#: `expiry.state_at(..., at_risk=True)` at :now. A link signed after :now
#: (another replica's clock a little ahead) counts as what it is first.
_STATE = (
    f"CASE WHEN {_REVOKES} THEN (CASE WHEN revoked_at <= :now THEN 'revoked' ELSE 'live' END) "
    f"WHEN :now < {_END} THEN (CASE WHEN {_LOSES} THEN 'at-risk' ELSE 'live' END) "
    f"WHEN {_LOSES} THEN 'cut-short' "
    "ELSE 'expired' END"
)
#: Cut short at :now (so its real expiry is known and past) ...
_IS_CUT = f"({_LOSES} AND {_EFF} <= :now)"
#: ... and at risk: still working, but going to be.
_IS_RISK = f"({_LOSES} AND {_EFF} > :now)"
_CUT = f"CASE WHEN {_IS_CUT} THEN 1 ELSE 0 END"
_RISK = f"CASE WHEN {_IS_RISK} THEN 1 ELSE 0 END"


def version(log: IssuanceLog) -> LogVersion:
    """The log's newest row id and issue time, and how many revocations and extensions it holds: three seeks."""
    # One aggregate per subquery: SQLite answers a lone MIN or MAX from an index
    # in one seek, but scans the table for two in the same SELECT.
    [(last, newest, changes)] = _query(
        log, "SELECT (SELECT MAX(id) FROM links), (SELECT MAX(issued_at) FROM links), (SELECT n FROM audit_changes WHERE id = 1)"
    )
    return LogVersion(int(last or 0), newest, int(changes or 0))


# --- the WHERE clause ----------------------------------------------------------


def _where(f: AuditFilter, *, by_time: bool = False, extra: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """The filter as a WHERE clause and its named parameters (always :now and :tol).

    Which index a query walks is chosen here, not left to SQLite: without
    statistics it takes any equality on an indexed column for a narrow one
    (``bucket = ?`` matches a third of the log) and would then look up and
    sort a million rows. So every term is written ``+column``, which keeps it
    plain SQL but out of index selection, and is checked inside whichever
    covering index the query's ORDER BY or GROUP BY walks (they all carry
    every filtered column). Two exceptions: ``by_time`` lets the time window
    pick a range (per-day counts, most recent rows), and a ticket, which does
    name a handful of links, always may.
    """
    plus = "" if by_time else "+"
    clauses: list[str] = []
    params: dict[str, Any] = {"now": to_epoch(f.now), "tol": f.tolerance.total_seconds()}
    if f.since is not None:
        clauses.append(f"{plus}issued_at >= :since")
        params["since"] = to_epoch(f.since)
    if f.until is not None:
        clauses.append(f"{plus}issued_at < :until")
        params["until"] = to_epoch(f.until)
    for column, values in (("strategy", f.strategies), ("issuer", f.issuers)):
        if values:
            names = [f"{column}{i}" for i in range(len(values))]
            clauses.append(f"+{column} IN ({', '.join(':' + n for n in names)})")
            params.update(zip(names, values))
    if f.bucket is not None:
        clauses.append(f"{'' if f.prefix else '+'}bucket = :bucket")
        params["bucket"] = f.bucket
    if f.prefix:
        # A range on (bucket, key), so the bucket and key index finds the folder's links (every bucket
        # the log holds, by a loose index scan, when none is chosen); substr says exactly "starts with".
        # UTF-8 keeps code point order, which is SQLite's BINARY order; see prefix_end.
        if f.bucket is None:
            clauses.append(f"bucket IN ({_DISTINCT.format(column='bucket')})")
        clauses.append("key >= :prefix AND key < :prefix_end AND substr(key, 1, :prefix_len) = :prefix")
        params.update(prefix=f.prefix, prefix_len=len(f.prefix), prefix_end=prefix_end(f.prefix))
    if f.ticket is not None:
        clauses.append("ticket = :ticket")
        params["ticket"] = f.ticket
    if f.state is not None:
        clauses.append(f"({_STATE}) = :state")
        params["state"] = str(f.state)
    clauses.extend(extra)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def prefix_end(prefix: str) -> str:
    """The first string after every string that starts with ``prefix`` (in code point order)."""
    for cut in range(len(prefix) - 1, -1, -1):
        if ord(prefix[cut]) < 0x10FFFF:
            return prefix[:cut] + chr(ord(prefix[cut]) + 1)
    return prefix + "\U0010ffff"


def _query(log: IssuanceLog, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> list[Any]:
    """One statement's rows; a database failure becomes the log's one-sentence read error."""
    with _snapshot(log) as run:
        return run([(sql, params)])[0]


def _queries(log: IssuanceLog, statements: Iterable[tuple[str, dict[str, Any] | Sequence[Any]]]) -> list[list[Any]]:
    """Several statements in one read transaction, each one's rows in order."""
    with _snapshot(log) as run:
        return run(statements)


_Run = Callable[[Iterable[tuple[str, "dict[str, Any] | Sequence[Any]"]]], list[list[Any]]]


@contextmanager
def _snapshot(log: IssuanceLog) -> Iterator[_Run]:
    """The one door to the database: a pooled connection in a read transaction, for statements in batches.

    Every batch run inside sees the same snapshot of the log (a read
    transaction on either backend), so the rollup's cells and the links read
    one by one beside them always agree; a database failure becomes the
    log's `LogReadError`. SQL is written in SQLite's style and translated for
    PostgreSQL by the log's connection.
    """
    with log.snapshot() as db:
        yield lambda statements: [db.execute(sql, params).fetchall() for sql, params in statements]


# --- aggregates ------------------------------------------------------------------

_LOST = f"({_NOM} - {_EFF})"
_Counts = tuple[str, str, int, int, int]  # strategy, issuer, links, cut short, at risk


def _group_counts(log: IssuanceLog, f: AuditFilter) -> list[_Counts]:
    """(strategy, issuer, links, cut short, at risk): one pass over the (strategy, issuer, ...) covering index."""
    where, params = _where(f)
    sql = f"SELECT strategy, issuer, COUNT(*), SUM({_CUT}), SUM({_RISK}) FROM links{where} GROUP BY strategy, issuer"
    return [(s, i, int(n), int(cut), int(risk)) for s, i, n, cut, risk in _query(log, sql, params)]


def _median_hours(log: IssuanceLog, f: AuditFilter, cut: int, column: str | None = None, value: str = "") -> float | None:
    """The median hours lost by the ``cut`` cut-short links the filter (and ``column = value``) matches.

    Exact, for the filters the rollup does not serve: no value crosses into
    Python but the middle one or two (ORDER BY ... LIMIT 2 OFFSET, which
    PostgreSQL runs unchanged); the sort is of the cut-short links a prefix
    or a ticket found, not of the log. ``cut`` must be the count of those
    links, from the same filter.
    """
    if cut <= 0:
        return None
    extra = [f"{_EFF} < {_NOM}", _IS_CUT]
    if column is not None:
        extra.append(f"+{column} = :group")
    where, params = _where(f, extra=extra)
    params.update(group=value, skip=(cut - 1) // 2)
    middle = [r[0] for r in _query(log, f"SELECT {_LOST} FROM links{where} ORDER BY {_LOST} LIMIT 2 OFFSET :skip", params)]
    if not middle:
        return None
    seconds = middle[0] if cut % 2 or len(middle) < 2 else (middle[0] + middle[1]) / 2
    return float(seconds) / 3600


def _rolled(counts: Iterable[_Counts], by: int) -> dict[str, tuple[int, int, int]]:
    """(strategy, issuer, links, cut, at risk) rows summed per strategy (``by`` 0) or per issuer (1)."""
    totals: dict[str, tuple[int, int, int]] = {}
    for strategy, issuer, n, cut, risk in counts:
        name = issuer if by else strategy
        before = totals.get(name, (0, 0, 0))
        totals[name] = (before[0] + n, before[1] + cut, before[2] + risk)
    return totals


def _splits(log: IssuanceLog, f: AuditFilter, counts: dict[str, tuple[int, int, int]], column: str) -> tuple[Split, ...]:
    found = [
        Split(name=name, issued=n, cut_short=cut, at_risk=risk, median_hours_lost=_median_hours(log, f, cut, column, name))
        for name, (n, cut, risk) in counts.items()
    ]
    return tuple(sorted(found, key=lambda s: (-s.issued, s.name)))


def _summary(log: IssuanceLog, f: AuditFilter, counts: list[_Counts]) -> Summary:
    issued = sum(row[2] for row in counts)
    cut = sum(row[3] for row in counts)
    risk = sum(row[4] for row in counts)
    return Summary(issued=issued, cut_short=cut, at_risk=risk, median_hours_lost=_median_hours(log, f, cut))


def summary(log: IssuanceLog, f: AuditFilter) -> Summary:
    """Links issued, how many are cut short and at risk, and the median hours the cut-short ones lost (from the links, exactly)."""
    return _summary(log, f, _group_counts(log, f))


def by_strategy(log: IssuanceLog, f: AuditFilter) -> tuple[Split, ...]:
    """The headline figures per strategy, most links first (from the links, exactly)."""
    return _splits(log, f, _rolled(_group_counts(log, f), 0), "strategy")


def by_issuer(log: IssuanceLog, f: AuditFilter) -> tuple[Split, ...]:
    """The headline figures per issuer, most links first (from the links, exactly)."""
    return _splits(log, f, _rolled(_group_counts(log, f), 1), "issuer")


def cut_short_per_day(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, *, max_days: int = 366) -> list[DayShare]:
    """Links issued per calendar day in ``tz``, and how many of them are cut short now, oldest first.

    Days without links are left out. One range query per day over the
    (issued_at, ...) covering index: the boundaries are local midnights
    (daylight saving included), computed here rather than with SQL date
    functions, and nothing is sorted. At most the last ``max_days`` days of
    the window.
    """
    days = _days(log, f, tz)[-max_days:]
    return _day_shares(_count_days(log, f, days))


# --- all the figures at once ----------------------------------------------------------

#: `figures` counts cell by cell only when the window holds at least this many
#: links per (strategy, issuer) x day cell: each cell costs a statement (tens of
#: microseconds), each link a fraction of a microsecond per pass it is read in.
_LINKS_PER_CELL = 100


def figures(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, *, max_days: int = 366) -> Figures:
    """`summary`, `by_strategy`, `by_issuer` and `cut_short_per_day` at once.

    From the rollup whenever it can answer (dashboard/store/audit_rollup.py:
    the cost is bounded by its cells, whatever the log's size; medians within
    `rollup.MEDIAN_ERROR`); otherwise (a key prefix, a ticket, the live or
    expired state) from the links themselves (`counted`, exact).
    """
    if not audit_rollup.servable(f):
        return counted(log, f, tz, max_days=max_days)
    with _snapshot(log) as run:
        strategies_, issuers_, buckets_, first = run(
            [(_DISTINCT.format(column=c), ()) for c in ("strategy", "issuer", "bucket")] + [("SELECT MIN(issued_at) FROM links", ())]
        )
        dims = audit_rollup.Dimensions(*(tuple(r[0] for r in found if r[0] is not None) for found in (strategies_, issuers_, buckets_)))
        plan = audit_rollup.Plan(f, tz, dims, first[0][0], max_days)
        return plan.figures(run(plan.statements()))


def counted(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, *, max_days: int = 366) -> Figures:
    """`figures` counted from the links themselves, exactly, with the least reading.

    Counting per (strategy, issuer) and per day separately reads the window
    twice. Instead, when there are few enough pairs and days, one small range
    query per (strategy, issuer, day) cell over the (strategy, issuer,
    issued_at, ...) covering index reads every link exactly once and gives
    both splits, on two pooled connections side by side (SQLite releases the
    GIL while it steps; WAL lets readers share the file). Then one short walk
    per median. A ticket (a handful of links) or too many cells take the two
    plain passes, also side by side; so does a window of few links, where
    the statements would cost more than the reading they save.
    """
    days = _days(log, f, tz)
    pairs = [] if f.ticket is not None else _pairs(log, f)
    cellwise = bool(pairs) and _links_in_window(log, f) >= _LINKS_PER_CELL * len(pairs) * len(days)
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="audit") as pool:
        if cellwise:
            halves = [pool.submit(_count_cells, log, f, pairs[k::2], days) for k in range(2)]
            cells = [cell for half in halves for cell in half.result()]
            per_group: dict[tuple[str, str], tuple[int, int, int]] = {}
            per_day: dict[date, tuple[int, int]] = {}
            for strategy, issuer, day, n, cut, risk in cells:
                group, daily_ = per_group.get((strategy, issuer), (0, 0, 0)), per_day.get(day, (0, 0))
                per_group[(strategy, issuer)] = (group[0] + n, group[1] + cut, group[2] + risk)
                per_day[day] = (daily_[0] + n, daily_[1] + cut)
            counts = [(s, i, n, cut, risk) for (s, i), (n, cut, risk) in per_group.items()]
            daily = [(day, n, cut) for day, (n, cut) in sorted(per_day.items())]
        else:
            pending = pool.submit(_count_days, log, f, days)
            counts = _group_counts(log, f)
            daily = pending.result()
        issuer_splits = pool.submit(_splits, log, f, _rolled(counts, 1), "issuer")
        summary_ = _summary(log, f, counts)
        strategy_splits = _splits(log, f, _rolled(counts, 0), "strategy")
        return Figures(
            summary=summary_,
            by_strategy=strategy_splits,
            by_issuer=issuer_splits.result(),
            per_day=tuple(_day_shares(daily)[-max_days:]),
        )


def _links_in_window(log: IssuanceLog, f: AuditFilter) -> int:
    """About how many links were issued in the window, from two index seeks.

    The log is append-only and ids grow with issue time, so the ids of the
    first link at or after each end of the window bound it (exactly, unless
    a clock stepped back). Other filters are ignored: this only picks a plan.
    """
    first_sql = "SELECT id FROM links WHERE issued_at >= ? ORDER BY issued_at LIMIT 1"
    last, first, end = _queries(
        log,
        [
            ("SELECT COALESCE(MAX(id), 0) FROM links", ()),
            (first_sql, (to_epoch(f.since) if f.since else float("-inf"),)),
            (first_sql, (to_epoch(f.until) if f.until else float("inf"),)),
        ],
    )
    if not first:
        return 0
    return max(0, (end[0][0] if end else last[0][0] + 1) - first[0][0])


def _pairs(log: IssuanceLog, f: AuditFilter) -> list[tuple[str, str]]:
    """Every (strategy, issuer) pair in the log that the filter allows, by index seeks (no scan)."""
    pairs: list[tuple[str, str]] = []
    strategy = _query(log, "SELECT MIN(strategy) FROM links")[0][0]
    while strategy is not None:
        issuer = _query(log, "SELECT MIN(issuer) FROM links WHERE strategy = ?", (strategy,))[0][0]
        while issuer is not None:
            if (not f.strategies or strategy in f.strategies) and (not f.issuers or issuer in f.issuers):
                pairs.append((strategy, issuer))
            issuer = _query(log, "SELECT MIN(issuer) FROM links WHERE strategy = ? AND issuer > ?", (strategy, issuer))[0][0]
        strategy = _query(log, "SELECT MIN(strategy) FROM links WHERE strategy > ?", (strategy,))[0][0]
    return pairs


def _count_cells(
    log: IssuanceLog, f: AuditFilter, pairs: list[tuple[str, str]], days: list[_Day]
) -> list[tuple[str, str, date, int, int, int]]:
    """(strategy, issuer, day, links, cut short, at risk) for each cell that has links."""
    statements: list[tuple[str, dict[str, Any]]] = []
    cells: list[tuple[str, str, date]] = []
    for day, lo, hi in days:
        where, params = _where(replace(f, since=lo, until=hi), by_time=True, extra=["strategy = :cell_s", "issuer = :cell_i"])
        sql = f"SELECT COUNT(*), COALESCE(SUM({_CUT}), 0), COALESCE(SUM({_RISK}), 0) FROM links{where}"
        for strategy, issuer in pairs:
            statements.append((sql, {**params, "cell_s": strategy, "cell_i": issuer}))
            cells.append((strategy, issuer, day))
    return [
        (strategy, issuer, day, int(n), int(cut), int(risk))
        for (strategy, issuer, day), [(n, cut, risk)] in zip(cells, _queries(log, statements))
        if n
    ]


# --- days ------------------------------------------------------------------------------

_Day = tuple[date, datetime, "datetime | None"]


def _days(log: IssuanceLog, f: AuditFilter, tz: tzinfo) -> list[_Day]:
    """The window cut at the viewer's midnights (`audit_rollup.local_days`), from the first matching link when it has no start."""
    first = None
    if f.since is None:
        where, params = _where(f, by_time=True)
        (first,) = _query(log, f"SELECT MIN(issued_at) FROM links{where}", params)[0]
    return audit_rollup.local_days(f, tz, first)


def _count_days(log: IssuanceLog, f: AuditFilter, days: list[_Day]) -> list[tuple[date, int, int]]:
    """(day, links, cut short) for each day that has links: one range query per day."""
    statements = []
    for _day, lo, hi in days:
        # Exactly one lower and one upper bound on issued_at, so SQLite
        # ranges over this day alone (of two lower bounds it keeps one).
        where, params = _where(replace(f, since=lo, until=hi), by_time=True)
        statements.append((f"SELECT COUNT(*), COALESCE(SUM({_CUT}), 0) FROM links{where}", params))
    return [(day, int(n), int(cut)) for (day, _, _), [(n, cut)] in zip(days, _queries(log, statements)) if n]


def _day_shares(counts: Iterable[tuple[date, int, int]]) -> list[DayShare]:
    return [DayShare(day=day, issued=n, cut_short=cut) for day, n, cut in counts]


# --- rows ------------------------------------------------------------------------

_ROW_COLUMNS = (
    "id, issued_at, issuer, strategy, bucket, key, ticket, nominal_expires_at, "
    f"effective_expires_at, revoked_at, bound_by, reason, {_STATE}"
)


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def rows(log: IssuanceLog, f: AuditFilter, limit: int = 1000, *, matching: int | None = None) -> list[AuditRow]:
    """The ``limit`` most recently issued links the filter matches, newest first.

    ``matching``, when known (the figures' count), stops the walk back in
    time as soon as every matching link is found: a filter that matches few
    old links then reads no further than they are.
    """
    if limit < 0:
        raise ValueError(f"limit must be zero or more, not {limit}.")
    if matching is not None:
        limit = min(limit, matching)
    if limit == 0:
        return []
    where, params = _where(f, by_time=True)
    params["limit"] = limit
    # The inner query orders by issue time alone so that SQLite walks the
    # covering (issued_at, ...) index backwards and reads a wide row only for
    # the links it keeps (adding "id" would send it to the narrower index and
    # a row lookup for every link it skips). Links issued in the very same
    # instant at the limit's edge may therefore be either one.
    found = _query(
        log,
        f"SELECT {_ROW_COLUMNS} FROM links WHERE id IN "
        f"(SELECT id FROM links{where} ORDER BY issued_at DESC LIMIT :limit) "
        "ORDER BY issued_at DESC, id DESC",
        params,
    )
    return [
        AuditRow(
            id=r[0],
            issued_at=datetime.fromtimestamp(r[1], tz=UTC),
            issuer=r[2],
            strategy=r[3],
            bucket=r[4],
            key=r[5],
            ticket=r[6],
            nominal_expires_at=datetime.fromtimestamp(r[7], tz=UTC),
            effective_expires_at=_when(r[8]),
            revoked_at=_when(r[9]),
            bound_by=r[10],
            reason=r[11],
            state=State(r[12]),
            tolerance=f.tolerance,
        )
        for r in found
    ]


# --- distinct values for the filter widgets --------------------------------------


# A loose index scan: one index seek per distinct value instead of reading
# every row, so a million links with twenty issuers cost twenty seeks.
_DISTINCT = (
    "WITH RECURSIVE seen(v) AS ("
    " SELECT MIN({column}) FROM links"
    " UNION ALL SELECT (SELECT MIN({column}) FROM links WHERE {column} > seen.v) FROM seen WHERE seen.v IS NOT NULL"
    ") SELECT v FROM seen WHERE v IS NOT NULL"
)


def _distinct(log: IssuanceLog, column: str) -> list[str]:
    return [row[0] for row in _query(log, _DISTINCT.format(column=column))]


def strategies(log: IssuanceLog) -> list[str]:
    """Every strategy that has issued a link, sorted."""
    return _distinct(log, "strategy")


def issuers(log: IssuanceLog) -> list[str]:
    """Everyone who has issued a link, sorted."""
    return _distinct(log, "issuer")


def buckets(log: IssuanceLog) -> list[str]:
    """Every bucket a link was issued from, sorted."""
    return _distinct(log, "bucket")
