"""Audit queries over the issuance log: the Expiry timeline's filters, figures and rows.

The page must stay fast on a log of a million links, so every filter and
aggregate runs in SQL, each pass walking one covering index (migration 3) in
the order it needs, and only small results cross into Python: counts per
(strategy, issuer) and per day, the middle one or two values of each median,
and the most recent rows for the chart and the table.

The definitions match `dashboard.expiry`: a link is *cut short* when its real
(effective) expiry is before its nominal one, it lost (nominal - real) / 3600
hours, and its state at a moment is what `state_at` says of the Expiry it has
once its revocation, if any, is taken into account. Times are REAL epoch
seconds and the SQL avoids SQLite's date functions, so a PostgreSQL backend
can run the same statements.

`bulk_fill` writes synthetic history for benches and tests.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from dashboard.expiry import State
from dashboard.store.entries import LINK_COLUMNS, to_epoch

if TYPE_CHECKING:
    from dashboard.store.log import IssuanceLog
    from dashboard.store.sql import Db

__all__ = [
    "AUDIT_STATES",
    "AuditFilter",
    "AuditRow",
    "DayShare",
    "Figures",
    "Split",
    "Summary",
    "buckets",
    "bulk_fill",
    "by_issuer",
    "by_strategy",
    "cut_short_per_day",
    "figures",
    "issuers",
    "rows",
    "strategies",
    "summary",
]

#: The states the timeline filters on, in the order the page offers them.
AUDIT_STATES: tuple[State, ...] = (State.LIVE, State.CUT_SHORT, State.EXPIRED, State.REVOKED)

# --- the definitions, once, in SQL -------------------------------------------

_NOM = "nominal_expires_at"
_EFF = "effective_expires_at"
#: What ends the link when nothing is revoked: the real expiry, or the nominal
#: one when the real expiry cannot be known (temporary credentials of unknown expiry).
_END = f"COALESCE({_EFF}, {_NOM})"
#: Cut short: the real expiry is known and before the nominal one.
_CUT = f"CASE WHEN {_EFF} < {_NOM} THEN 1 ELSE 0 END"
#: A revocation binds only when it comes before the link would end anyway
#: (`expiry.compute` keeps the earlier candidate, and ties go to the others).
_REVOKED_BY = f"(revoked_at IS NOT NULL AND revoked_at <= :now AND revoked_at < {_END})"
#: `expiry.state_at` at :now, for a link signed before :now.
_STATE = (
    f"CASE WHEN {_REVOKED_BY} THEN 'revoked' "
    f"WHEN :now < {_END} THEN 'live' "
    f"WHEN :now < {_NOM} THEN 'cut-short' "
    "ELSE 'expired' END"
)


@dataclass(frozen=True)
class AuditFilter:
    """What the timeline shows: every field narrows the rows; empty means "any".

    ``since`` is inclusive and ``until`` exclusive, both on the issue time;
    ``now`` is the moment states are taken at (pass it in, rounded, so cached
    results are shared between reruns).
    """

    now: datetime
    since: datetime | None = None
    until: datetime | None = None
    strategies: tuple[str, ...] = ()
    issuers: tuple[str, ...] = ()
    bucket: str | None = None
    prefix: str = ""
    ticket: str | None = None
    state: State | None = None

    def __post_init__(self) -> None:
        for name in ("now", "since", "until"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise ValueError(f"AuditFilter.{name} must be a timezone-aware datetime (got {value!r}).")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("The time window ends before it starts: pick an end after the start.")
        object.__setattr__(self, "strategies", tuple(sorted(set(self.strategies))))
        object.__setattr__(self, "issuers", tuple(sorted(set(self.issuers))))
        object.__setattr__(self, "bucket", self.bucket or None)
        object.__setattr__(self, "prefix", self.prefix or "")
        object.__setattr__(self, "ticket", (self.ticket or "").strip() or None)
        if self.state is not None:
            object.__setattr__(self, "state", State(self.state))
            if self.state not in AUDIT_STATES:
                raise ValueError(f"The timeline filters on {', '.join(AUDIT_STATES)}, not {self.state}.")


@dataclass(frozen=True)
class Summary:
    """Headline figures over every link the filter matches."""

    issued: int
    cut_short: int
    median_hours_lost: float | None  # over the cut-short links; None when there are none

    @property
    def share(self) -> float | None:
        """Cut-short links / links issued (None for no links)."""
        return self.cut_short / self.issued if self.issued else None


@dataclass(frozen=True)
class Split(Summary):
    """The headline figures of one strategy or one issuer."""

    name: str = ""


@dataclass(frozen=True)
class DayShare:
    """Links issued on one day (in the zone asked for) and how many were cut short."""

    day: date
    issued: int
    cut_short: int

    @property
    def share(self) -> float | None:
        return self.cut_short / self.issued if self.issued else None


@dataclass(frozen=True)
class Figures:
    """Everything the timeline counts for one filter (see `figures`)."""

    summary: Summary
    by_strategy: tuple[Split, ...]
    by_issuer: tuple[Split, ...]
    per_day: tuple[DayShare, ...]


@dataclass(frozen=True)
class AuditRow:
    """One link as the timeline charts and lists it."""

    id: int
    issued_at: datetime
    issuer: str
    strategy: str
    bucket: str
    key: str
    ticket: str | None
    nominal_expires_at: datetime
    effective_expires_at: datetime | None
    revoked_at: datetime | None
    bound_by: str
    reason: str
    state: State

    @property
    def cut_short(self) -> bool:
        return self.effective_expires_at is not None and self.effective_expires_at < self.nominal_expires_at

    @property
    def ends_at(self) -> datetime:
        """When the link stops (or stopped) working: revocation, real expiry, or nominal when unknown."""
        end = self.effective_expires_at or self.nominal_expires_at
        if self.revoked_at is not None and self.revoked_at < end:
            return self.revoked_at
        return end

    @property
    def hours_lost(self) -> float:
        if not self.cut_short or self.effective_expires_at is None:
            return 0.0
        return (self.nominal_expires_at - self.effective_expires_at).total_seconds() / 3600


# --- the WHERE clause ----------------------------------------------------------


def _where(f: AuditFilter, *, by_time: bool = False, extra: Sequence[str] = ()) -> tuple[str, dict[str, Any]]:
    """The filter as a WHERE clause and its named parameters (always with :now).

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
    params: dict[str, Any] = {"now": to_epoch(f.now)}
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
        clauses.append("+bucket = :bucket")
        params["bucket"] = f.bucket
    if f.prefix:
        clauses.append("substr(key, 1, :prefix_len) = :prefix")
        params.update(prefix=f.prefix, prefix_len=len(f.prefix))
    if f.ticket is not None:
        clauses.append("ticket = :ticket")
        params["ticket"] = f.ticket
    if f.state is not None:
        clauses.append(f"({_STATE}) = :state")
        params["state"] = str(f.state)
    clauses.extend(extra)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _query(log: IssuanceLog, sql: str, params: dict[str, Any] | Sequence[Any] = ()) -> list[Any]:
    """Every row of one statement, on whichever database the log is (errors become `LogReadError`)."""
    return log.query(sql, params)


def _reading(log: IssuanceLog) -> AbstractContextManager[Db]:
    """One pooled connection for several statements in a row (errors become `LogReadError`)."""
    return log.reading()


# --- aggregates ------------------------------------------------------------------

_LOST = f"({_NOM} - {_EFF})"  # the exact expression of the lost-time indexes (migration 3)


def _group_counts(log: IssuanceLog, f: AuditFilter) -> list[tuple[str, str, int, int]]:
    """(strategy, issuer, links, cut short): one pass over the (strategy, issuer, ...) covering index."""
    where, params = _where(f)
    return [
        (strategy, issuer, int(n), int(cut))
        for strategy, issuer, n, cut in _query(
            log, f"SELECT strategy, issuer, COUNT(*), SUM({_CUT}) FROM links{where} GROUP BY strategy, issuer", params
        )
    ]


def _median_hours(log: IssuanceLog, f: AuditFilter, cut: int, column: str | None = None, value: str = "") -> float | None:
    """The median hours lost by the ``cut`` cut-short links the filter (and ``column = value``) matches.

    No value crosses into Python but the middle one or two: SQLite walks the
    partial index of cut-short links in order of time lost and stops half way
    (ORDER BY ... LIMIT 2 OFFSET), which PostgreSQL runs unchanged. ``cut``
    must be the count of those links, from the same filter.
    """
    if cut <= 0:
        return None
    extra = [f"{_EFF} < {_NOM}"]  # the partial indexes' own condition, word for word
    if column is not None:
        # The group picks its (group, lost) index, unless a ticket narrows further.
        extra.append(f"{'+' if f.ticket else ''}{column} = :group")
    where, params = _where(f, extra=extra)
    params.update(group=value, skip=(cut - 1) // 2)
    middle = [r[0] for r in _query(log, f"SELECT {_LOST} FROM links{where} ORDER BY {_LOST} LIMIT 2 OFFSET :skip", params)]
    if not middle:
        return None
    seconds = middle[0] if cut % 2 or len(middle) < 2 else (middle[0] + middle[1]) / 2
    return seconds / 3600


def _rolled(counts: Iterable[tuple[str, str, int, int]], by: int) -> dict[str, tuple[int, int]]:
    """(strategy, issuer, links, cut) rows summed per strategy (``by`` 0) or per issuer (1)."""
    totals: dict[str, tuple[int, int]] = {}
    for strategy, issuer, n, cut in counts:
        name = issuer if by else strategy
        before = totals.get(name, (0, 0))
        totals[name] = (before[0] + n, before[1] + cut)
    return totals


def _splits(log: IssuanceLog, f: AuditFilter, counts: dict[str, tuple[int, int]], column: str) -> tuple[Split, ...]:
    found = [
        Split(name=name, issued=n, cut_short=cut, median_hours_lost=_median_hours(log, f, cut, column, name))
        for name, (n, cut) in counts.items()
    ]
    return tuple(sorted(found, key=lambda s: (-s.issued, s.name)))


def _summary(log: IssuanceLog, f: AuditFilter, counts: list[tuple[str, str, int, int]]) -> Summary:
    issued = sum(row[2] for row in counts)
    cut = sum(row[3] for row in counts)
    return Summary(issued=issued, cut_short=cut, median_hours_lost=_median_hours(log, f, cut))


def summary(log: IssuanceLog, f: AuditFilter) -> Summary:
    """Links issued, how many were cut short, and the median hours those lost."""
    return _summary(log, f, _group_counts(log, f))


def by_strategy(log: IssuanceLog, f: AuditFilter) -> tuple[Split, ...]:
    """The headline figures per strategy, most links first."""
    return _splits(log, f, _rolled(_group_counts(log, f), 0), "strategy")


def by_issuer(log: IssuanceLog, f: AuditFilter) -> tuple[Split, ...]:
    """The headline figures per issuer, most links first."""
    return _splits(log, f, _rolled(_group_counts(log, f), 1), "issuer")


def cut_short_per_day(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, *, max_days: int = 366) -> list[DayShare]:
    """Links issued and cut short per calendar day in ``tz``, oldest first; days without links are left out.

    One range query per day over the (issued_at, ...) covering index: the
    boundaries are local midnights (daylight saving included), computed here
    rather than with SQL date functions, and nothing is sorted. At most the
    last ``max_days`` days of the window.
    """
    days = _days(log, f, tz)[-max_days:]
    return _day_shares(_count_days(log, f, days))


# --- all the figures at once ----------------------------------------------------------

#: `figures` counts cell by cell only when the window holds at least this many
#: links per (strategy, issuer) x day cell: each cell costs a statement (tens of
#: microseconds), each link a fraction of a microsecond per pass it is read in.
_LINKS_PER_CELL = 100


def figures(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, *, max_days: int = 366) -> Figures:
    """`summary`, `by_strategy`, `by_issuer` and `cut_short_per_day` at once, with the least reading.

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
            per_group: dict[tuple[str, str], tuple[int, int]] = {}
            per_day: dict[date, tuple[int, int]] = {}
            for strategy, issuer, day, n, cut in cells:
                group, daily_ = per_group.get((strategy, issuer), (0, 0)), per_day.get(day, (0, 0))
                per_group[(strategy, issuer)] = (group[0] + n, group[1] + cut)
                per_day[day] = (daily_[0] + n, daily_[1] + cut)
            counts = [(s, i, n, cut) for (s, i), (n, cut) in per_group.items()]
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
    sql = "SELECT id FROM links WHERE issued_at >= ? ORDER BY issued_at LIMIT 1"
    with _reading(log) as conn:
        (last,) = conn.execute("SELECT COALESCE(MAX(id), 0) FROM links").fetchone()
        first = conn.execute(sql, (to_epoch(f.since),)).fetchone() if f.since else (1,)
        end = conn.execute(sql, (to_epoch(f.until),)).fetchone() if f.until else None
    if first is None:
        return 0
    return max(0, (end[0] if end else last + 1) - first[0])


def _pairs(log: IssuanceLog, f: AuditFilter) -> list[tuple[str, str]]:
    """Every (strategy, issuer) pair in the log that the filter allows, by index seeks (no scan)."""
    pairs: list[tuple[str, str]] = []
    with _reading(log) as conn:
        strategy = conn.execute("SELECT MIN(strategy) FROM links").fetchone()[0]
        while strategy is not None:
            issuer = conn.execute("SELECT MIN(issuer) FROM links WHERE strategy = ?", (strategy,)).fetchone()[0]
            while issuer is not None:
                if (not f.strategies or strategy in f.strategies) and (not f.issuers or issuer in f.issuers):
                    pairs.append((strategy, issuer))
                issuer = conn.execute(
                    "SELECT MIN(issuer) FROM links WHERE strategy = ? AND issuer > ?", (strategy, issuer)
                ).fetchone()[0]
            strategy = conn.execute("SELECT MIN(strategy) FROM links WHERE strategy > ?", (strategy,)).fetchone()[0]
    return pairs


def _count_cells(
    log: IssuanceLog, f: AuditFilter, pairs: list[tuple[str, str]], days: list[_Day]
) -> list[tuple[str, str, date, int, int]]:
    """(strategy, issuer, day, links, cut short) for each cell that has links."""
    found = []
    with _reading(log) as conn:
        for day, lo, hi in days:
            where, params = _where(replace(f, since=lo, until=hi), by_time=True, extra=["strategy = :cell_s", "issuer = :cell_i"])
            sql = f"SELECT COUNT(*), COALESCE(SUM({_CUT}), 0) FROM links{where}"
            for strategy, issuer in pairs:
                params.update(cell_s=strategy, cell_i=issuer)
                n, cut = conn.execute(sql, params).fetchone()
                if n:
                    found.append((strategy, issuer, day, int(n), int(cut)))
    return found


# --- days ------------------------------------------------------------------------------

_Day = tuple[date, datetime, "datetime | None"]


def _days(log: IssuanceLog, f: AuditFilter, tz: tzinfo) -> list[_Day]:
    """The window cut at the viewer's midnights: (day, from, to), ``to`` None for an open end.

    The boundaries are computed here (daylight saving included) rather than
    with SQL date functions. A window without a start starts at the first
    link the filter matches; the last day runs to the window's end.
    """
    start = f.since
    if start is None:
        where, params = _where(f, by_time=True)
        (first,) = _query(log, f"SELECT MIN(issued_at) FROM links{where}", params)[0]
        if first is None:
            return []
        start = datetime.fromtimestamp(first, tz=UTC)
    end = f.now if f.until is None else min(f.until, f.now)  # no link is issued after now
    day = start.astimezone(tz).date()
    last_day = max(day, end.astimezone(tz).date())
    days: list[_Day] = []
    while day <= last_day:
        following = day + timedelta(days=1)
        lo = max(_midnight(day, tz), start)
        hi = f.until if day == last_day else _midnight(following, tz)
        if hi is None or lo < hi:
            days.append((day, lo, hi))
        day = following
    return days


def _count_days(log: IssuanceLog, f: AuditFilter, days: list[_Day]) -> list[tuple[date, int, int]]:
    """(day, links, cut short) for each day that has links: one range query per day."""
    found = []
    with _reading(log) as conn:
        for day, lo, hi in days:
            # Exactly one lower and one upper bound on issued_at, so SQLite
            # ranges over this day alone (of two lower bounds it keeps one).
            where, params = _where(replace(f, since=lo, until=hi), by_time=True)
            n, cut = conn.execute(f"SELECT COUNT(*), COALESCE(SUM({_CUT}), 0) FROM links{where}", params).fetchone()
            if n:
                found.append((day, int(n), int(cut)))
    return found


def _day_shares(counts: Iterable[tuple[date, int, int]]) -> list[DayShare]:
    return [DayShare(day=day, issued=n, cut_short=cut) for day, n, cut in counts]


def _midnight(day: date, tz: tzinfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


# --- rows ------------------------------------------------------------------------

_ROW_COLUMNS = (
    "id, issued_at, issuer, strategy, bucket, key, ticket, nominal_expires_at, "
    f"effective_expires_at, revoked_at, bound_by, reason, {_STATE}"
)


def _when(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=UTC)


def rows(log: IssuanceLog, f: AuditFilter, limit: int = 1000) -> list[AuditRow]:
    """The ``limit`` most recently issued links the filter matches, newest first."""
    if limit < 0:
        raise ValueError(f"limit must be zero or more, not {limit}.")
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
        )
        for r in found
    ]


# --- distinct values for the filter widgets --------------------------------------


def _distinct(log: IssuanceLog, column: str) -> list[str]:
    # A loose index scan: one index seek per distinct value instead of reading
    # every row, so a million links with twenty issuers cost twenty seeks.
    sql = (
        f"WITH RECURSIVE seen(v) AS ("
        f" SELECT MIN({column}) FROM links"
        f" UNION ALL SELECT (SELECT MIN({column}) FROM links WHERE {column} > seen.v) FROM seen WHERE seen.v IS NOT NULL"
        f") SELECT v FROM seen WHERE v IS NOT NULL"
    )
    return [row[0] for row in _query(log, sql)]


def strategies(log: IssuanceLog) -> list[str]:
    """Every strategy that has issued a link, sorted."""
    return _distinct(log, "strategy")


def issuers(log: IssuanceLog) -> list[str]:
    """Everyone who has issued a link, sorted."""
    return _distinct(log, "issuer")


def buckets(log: IssuanceLog) -> list[str]:
    """Every bucket a link was issued from, sorted."""
    return _distinct(log, "bucket")


# --- synthetic history for benches and tests -------------------------------------

_FILL_STRATEGIES = (("ambient", 40), ("role-session", 20), ("iam-user", 20), ("cloudfront", 12), ("stable", 8))
_HOUR, _DAY = 3600, 86400
_S3_LIFETIMES = ((_HOUR, 15), (12 * _HOUR, 20), (_DAY, 25), (3 * _DAY, 15), (7 * _DAY, 25))
_LONG_LIFETIMES = ((_DAY, 30), (7 * _DAY, 40), (30 * _DAY, 20), (90 * _DAY, 10))
_FILL_ISSUERS = (
    "alice", "bob", "chen", "dana", "emeka", "farah", "goran", "hana", "ines", "jonas",
    "kofi", "lena", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tariq",
)
_FILL_BUCKETS = ("sharedesk-demo-support", "sharedesk-demo-exports", "sharedesk-demo-archive")
_CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")
_FOLDERS = ("reports", "exports", "tickets", "invoices", "logs")
_TASK_ROTATION = 6 * _HOUR  # the simulated task role's credentials, back to back (as in demo_history)
_ROLE_SESSION = 12 * _HOUR
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _span(seconds: float) -> str:
    """A lost or asked lifetime in words, as the reasons say it (to the minute, no timedelta)."""
    days, rest = divmod(int(seconds), _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{v} {unit}{'s' if v != 1 else ''}" for v, unit in parts if v][:2]
    return " ".join(words) or "under a minute"


def _moment(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return f"{dt:%H:%M} UTC on {dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


class _Words(dict[Any, str]):
    """A memo of ``make(key)``: reasons repeat the same few moments and durations."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> str:
        value = self[key] = self.make(key)
        return value


_REBUILD_AT = 100_000


def bulk_fill(
    log: IssuanceLog,
    n: int,
    *,
    seed: int,
    now: datetime | None = None,
    days: int = 28,
    batch: int = 50_000,
) -> int:
    """Append ``n`` synthetic but realistic links issued over the ``days`` before ``now``; return ``n``.

    For benches and tests only. The mix follows the demo history: ambient
    links die at a 6-hourly credential rotation (1% were signed with
    credentials of unknown expiry), role sessions at 12 h, signer-user,
    CloudFront and stable links run their course, and a fifth of stable links
    are revoked. Nothing is signed: fingerprints are random hex, display URLs
    synthetic, and no secret exists. Rows go in oldest first with
    ``executemany``, ``batch`` rows per transaction; one seed gives one
    history. Filling at least 100,000 rows into a smaller log rebuilds its
    indexes instead of growing them (see `IssuanceLog.bulk_load`), and every
    row is chained like any other (dashboard/store/chain.py).
    """
    if n < 0:
        raise ValueError(f"n must be zero or more, not {n}.")
    end = to_epoch(now or datetime.now(UTC)) or 0.0
    batches = _fill_batches(seed, n, end, days, batch)
    rebuild = n >= _REBUILD_AT and n > log.count()
    log.bulk_load(batches, rebuild_indexes=rebuild)  # chained like any row the desk writes
    return n


def _fill_batches(seed: int, n: int, end: float, days: int, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `bulk_fill`, ``batch`` at a time, in issue order.

    Each kind of draw has its own random stream, so the rows depend on the
    seed alone and not on how they are cut into batches.
    """
    rng, when, what, who, short, long = (
        random.Random(f"{seed}:{part}") for part in ("row", "time", "strategy", "issuer", "short", "long")
    )
    start = end - days * _DAY
    span = end - start - 60  # the newest link is at least a minute old
    names = [s for s, _ in _FILL_STRATEGIES]
    weights = [w for _, w in _FILL_STRATEGIES]
    issuer_weights = [1 / (i + 1) for i in range(len(_FILL_ISSUERS))]
    spans = _Words(lambda minutes: _span(minutes * 60))
    moments = _Words(_moment)
    first_ticket = 100_000 + rng.randrange(100_000)
    done = 0
    while done < n:
        size = min(batch, n - done)
        # One link per slot of span / n, somewhere inside it: already in order.
        times = [start + span * (i + when.random()) / n for i in range(done, done + size)]
        chosen = what.choices(names, weights, k=size)
        people = who.choices(_FILL_ISSUERS, issuer_weights, k=size)
        lifetimes = short.choices([t for t, _ in _S3_LIFETIMES], [w for _, w in _S3_LIFETIMES], k=size)
        longer = long.choices([t for t, _ in _LONG_LIFETIMES], [w for _, w in _LONG_LIFETIMES], k=size)
        rows = []
        for i in range(size):
            number = done + i
            issued, strategy, issuer = times[i], chosen[i], people[i]
            lifetime = longer[i] if strategy in ("cloudfront", "stable") else lifetimes[i]
            nominal = issued + lifetime
            effective: float | None = nominal
            bound = "nominal"
            credential_end: float | None = None
            revoked_at: float | None = None
            revoked_by: str | None = None
            asked = spans[lifetime // 60]
            bucket = _FILL_BUCKETS[number % 7 % 3]
            key = f"customers/{_CUSTOMERS[rng.getrandbits(3)]}/{_FOLDERS[number % 5]}/{number % 997:03d}/file-{number}.csv"
            if strategy == "ambient" or strategy == "role-session":
                ambient = strategy == "ambient"
                period = _TASK_ROTATION if ambient else _ROLE_SESSION
                window = int(issued // period)
                label = "the task role's temporary credentials" if ambient else "a session of the signing role"
                source = "container-role" if ambient else "assume-role"
                key_id = f"ASIA{'T' if ambient else 'R'}{window:015d}"
                kind = "temporary"
                if ambient and rng.random() < 0.01:
                    effective, bound = None, "credentials"
                    reason = (
                        f"Signed with {label}, whose expiry is not visible, so the link may stop working "
                        f"at any time before its nominal expiry at {moments[nominal // 60 * 60]}."
                    )
                else:
                    credential_end = float((window + 1) * period)
                    if credential_end < nominal:
                        effective, bound = credential_end, "credentials"
                        verb = "expire" if ambient else "expires"
                        lost = spans[int(nominal - credential_end) // 60]
                        reason = f"Signed with {label}, which {verb} at {moments[credential_end]}, {lost} before the {asked} asked."
                    else:
                        reason = f"Runs its full {asked}: {label}, which {'expire' if ambient else 'expires'} at {moments[credential_end]}, {'outlive' if ambient else 'outlives'} it."
                display = f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Credential={key_id}&X-Amz-Expires={lifetime}&X-Amz-Signature=…"
            elif strategy == "iam-user":
                source, key_id, kind = "explicit", "AKIASHAREDESKBENCH01", "long-term"
                reason = f"Runs its full {asked}: the signer user's long-term access key does not expire."
                display = f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Credential={key_id}&X-Amz-Expires={lifetime}&X-Amz-Signature=…"
            elif strategy == "cloudfront":
                source, key_id, kind = "cloudfront-key-pair", "K2SHAREDESKBENCH", "long-term"
                reason = f"Runs its full {asked}: the CloudFront key pair does not expire."
                display = f"https://d111111bench.cloudfront.net/{key}?Expires={int(nominal)}&Signature=…&Key-Pair-Id=K2SHAREDESKBENCH"
            else:
                source, key_id, kind = "stable-link", None, "long-term"
                reason = f"Runs its full {asked}: the desk's stable link does not expire."
                display = "https://desk.example.com/s/…"
                if rng.random() < 0.2:
                    at = issued + rng.random() * lifetime
                    if at < end:
                        revoked_at, revoked_by = at, issuer
            rows.append(
                (
                    issued, issuer, strategy, bucket, key, None,
                    None if number % 10 == 9 else f"TCK-{first_ticket + number // 3}",
                    "bulk fill", issued, nominal, effective, bound, reason, source, key_id, kind,
                    credential_end, f"{rng.getrandbits(256):064x}", display, revoked_at, revoked_by,
                )
            )
        yield rows
        done += size

