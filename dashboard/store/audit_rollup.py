"""The Expiry timeline's figures from the rollup: a plan of statements, then sums. Cost: cells, not links.

The rollup (dashboard/store/rollup.py) counts links per strategy x issuer x
bucket x lost-time bin, cumulatively by hour, and per hour and quarter hour,
as they are written; it cannot know "now". So a `Plan` reads:

1. for every combination of strategy, issuer, bucket and bin, its count at
   the window's end (all time, or one seek) less its count at the window's
   start (one seek): whole hours, whatever the window's length;
2. the half hour or less between each end of the window and the nearest
   whole hour, one link at a time from the time index, added or taken away;
3. the links whose end is still ahead (from the partial index of links that
   lose time, in order of real expiry): those that will lose more than the
   tolerance are *at risk* now, not cut short, and are taken out of the
   cut-short counts and histograms; and the revocations dated after now;
4. for the per-day chart in the viewer's zone, the quarter-hour cells (no
   dimension filter) or hour cells (filtered), and, one link at a time, the
   rest of a period the window or a midnight cuts.

So a rerun reads about two rows per combination, plus the chart's cells
(days x 96 quarters, or days x 24 hours x the filter's combinations), plus
the links of at most an hour at the window's edges and the running links
that lose time: bounded by the desk's strategies, issuers, buckets and
bins, not by the log's size. Counts are exact; a median is read from its
histogram: the true median lies in the bin found, at most
`rollup.MEDIAN_ERROR` (9 %) of its value away (one minute below one
minute), and is interpolated linearly inside it.

Pure: `Plan.statements()` says what to read; `dashboard.store.audit` runs
the statements through its one query helper, in one read transaction, and
`Plan.figures(results)` adds them up. Prefix and ticket filters, and the
live and expired states (whose split needs every running link's end), are
counted from the links themselves (dashboard/store/audit.py).
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from dashboard.expiry import State
from dashboard.store.audit_model import AuditFilter, DayShare, Figures, Split, Summary
from dashboard.store.rollup import BIN_EDGES, TOLERANCE_SECONDS, classify, cut_column, tolerance_bin

__all__ = ["Dimensions", "Plan", "local_days", "servable"]

_HOUR, _QUARTER = 3600, 900
_ROW = "issued_at, strategy, issuer, bucket, nominal_expires_at, effective_expires_at, revoked_at"
Statement = tuple[str, dict[str, Any]]


def servable(f: AuditFilter) -> bool:
    """Whether the rollup can answer ``f`` exactly."""
    seconds = f.tolerance.total_seconds()
    return (
        not f.prefix
        and f.ticket is None
        and f.state not in (State.LIVE, State.EXPIRED)
        and seconds == int(seconds)
        and int(seconds) in TOLERANCE_SECONDS
    )


@dataclass(frozen=True)
class Dimensions:
    """Every strategy, issuer and bucket the log holds: the rollup is read by index seeks on them."""

    strategies: tuple[str, ...]
    issuers: tuple[str, ...]
    buckets: tuple[str, ...]


def local_days(f: AuditFilter, tz: tzinfo, first_issued: float | None) -> list[tuple[date, datetime, datetime | None]]:
    """The window cut at the viewer's midnights: (day, from, to), ``to`` None for an open end; [] for no links.

    A window without a start starts at the midnight before ``first_issued``
    (not at that moment: a float read back as a datetime may round up past it).
    """
    if f.since is not None:
        start = f.since
    elif first_issued is None:
        return []
    else:
        first_day = datetime.fromtimestamp(first_issued, tz=UTC).astimezone(tz).date()
        start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=tz)
    end = f.now if f.until is None else min(f.until, f.now)  # no link is issued after now
    day = start.astimezone(tz).date()
    last_day = max(day, end.astimezone(tz).date())
    days: list[tuple[date, datetime, datetime | None]] = []
    while day <= last_day:
        following = day + timedelta(days=1)
        lo = max(datetime(day.year, day.month, day.day, tzinfo=tz), start)
        hi = f.until if day == last_day else datetime(following.year, following.month, following.day, tzinfo=tz)
        if hi is None or lo < hi:
            days.append((day, lo, hi))
        day = following
    return days


@dataclass
class _Tally:
    """Links, cut short (at infinity), revoked first, and the lost-time histogram of the cut-short ones."""

    links: int = 0
    cut: int = 0
    revoked: int = 0
    bins: dict[int, int] = field(default_factory=dict)  # bin -> links

    def add(self, bin_: int, count: int, forgiven: int) -> None:
        self.links += count
        if bin_ == -2:
            self.revoked += count
        elif bin_ > forgiven:
            self.cut += count
            self.bins[bin_] = self.bins.get(bin_, 0) + count


_Counted = tuple[int, int, int, dict[int, int]]  # links, cut short, at risk, histogram


def _median_hours(bins: dict[int, int]) -> float | None:
    """The median of a lost-time histogram, in hours (see the module's note on its error)."""
    cells = sorted((b, c) for b, c in bins.items() if c > 0)
    total = sum(c for _, c in cells)
    if total <= 0:
        return None

    def at(rank: int) -> float:
        before = 0
        for bin_, count in cells:
            if rank < before + count:
                lo, hi = BIN_EDGES[bin_ - 1], BIN_EDGES[bin_]
                return lo + (hi - lo) * (rank - before + 0.5) / count
            before += count
        raise AssertionError("rank beyond the histogram")

    return (at((total - 1) // 2) + at(total // 2)) / 2 / 3600


@dataclass(frozen=True)
class Plan:
    """What to read from the rollup for one filter, and how to add it up (see the module docstring)."""

    f: AuditFilter
    tz: tzinfo
    dims: Dimensions
    first_issued: float | None  # the log's first issue time, for a window without a start
    max_days: int = 366

    # --- the window, in epoch seconds -------------------------------------------

    @property
    def _since(self) -> float | None:
        return None if self.f.since is None else self.f.since.timestamp()

    @property
    def _until(self) -> float | None:
        return None if self.f.until is None else self.f.until.timestamp()

    @property
    def _now(self) -> float:
        return self.f.now.timestamp()

    @property
    def _forgiven(self) -> int:
        return tolerance_bin(self.f.tolerance.total_seconds())

    @property
    def _empty(self) -> bool:
        return self.first_issued is None

    def _hour_plan(self) -> tuple[int | None, int | None, list[tuple[float, float, int]]]:
        """The window as whole hours [lo, hi) of cumulative counts (None: no bound) and exact pieces (from, to, sign).

        Each end is moved to the nearest whole hour, and the links between it
        and the window's true end are added or taken away one by one.
        """
        pieces: list[tuple[float, float, int]] = []
        lo = hi = None
        if self._since is not None:
            lo = round(self._since / _HOUR)
            edge = lo * _HOUR
            if edge < self._since:
                pieces.append((edge, self._since, -1))
            elif edge > self._since:
                pieces.append((self._since, edge, 1))
        if self._until is not None:
            hi = round(self._until / _HOUR)
            edge = hi * _HOUR
            if edge > self._until:
                pieces.append((self._until, edge, -1))
            elif edge < self._until:
                pieces.append((edge, self._until, 1))
        return lo, hi, pieces

    def _chart_days(self) -> list[tuple[date, datetime, datetime | None]]:
        return local_days(self.f, self.tz, self.first_issued)[-self.max_days :]

    @property
    def _grain(self) -> int:
        # Every zone's midnight is on a quarter hour; the quarter cells hold every link together.
        return _QUARTER if not (self.f.strategies or self.f.issuers or self.f.bucket) else _HOUR

    def _chart_plan(self) -> tuple[int, int | None, list[tuple[float, float]], set[int]]:
        """Cells [lo, hi) of the chart's grain, the exact ranges, and the cells cut by a midnight (read exactly instead)."""
        days = self._chart_days()
        if not days:
            return 0, 0, [], set()
        g = self._grain
        start = days[0][1].timestamp()
        until = self._until
        lo = math.ceil(start / g)
        exact: list[tuple[float, float]] = []
        if start < lo * g:
            exact.append((start, min(lo * g, until) if until is not None else lo * g))
        hi: int | None = None
        if until is not None:
            hi = max(lo, math.floor(until / g))
            if hi * g < until and hi * g >= start:
                exact.append((hi * g, until))
        straddled = set()
        for _, day_lo, _ in days[1:]:
            boundary = day_lo.timestamp()
            if boundary % g:
                cell = math.floor(boundary / g)
                if cell >= lo and (hi is None or cell < hi):
                    straddled.add(cell)
                    exact.append((cell * g, (cell + 1) * g))
        return lo, hi, exact, straddled

    # --- what to read ------------------------------------------------------------------

    def _dims_sql(self, params: dict[str, Any], *, enumerate_all: bool, plus: bool = False) -> str:
        """The dimension filter: IN lists (every known value when ``enumerate_all``, so cells are read by index seeks).

        ``plus`` writes ``+column``, keeping the terms out of SQLite's index choice (on links the time or end index leads).
        """
        terms = []
        for column, chosen, known in (
            ("strategy", self.f.strategies, self.dims.strategies),
            ("issuer", self.f.issuers, self.dims.issuers),
            ("bucket", (self.f.bucket,) if self.f.bucket else (), self.dims.buckets),
        ):
            values = chosen or (known if enumerate_all else ())
            if not values:
                continue
            names = [f"{column}_{i}" for i in range(len(values))]
            params.update(zip(names, values))
            terms.append(f"{'+' if plus else ''}{column} IN ({', '.join(':' + n for n in names)})")
        return " AND ".join(terms)

    def _links(self, where: str, params: dict[str, Any]) -> Statement:
        dims = self._dims_sql(params, enumerate_all=False, plus=True)
        return f"SELECT {_ROW} FROM links WHERE {where}" + (f" AND {dims}" if dims else ""), params

    def _window_sql(self, params: dict[str, Any]) -> str:
        terms = []
        if self._since is not None:
            terms.append("+issued_at >= :w_since")
            params["w_since"] = self._since
        if self._until is not None:
            terms.append("+issued_at < :w_until")
            params["w_until"] = self._until
        return "".join(f" AND {t}" for t in terms)

    def statements(self) -> list[Statement]:
        """The reads, in the order `figures` expects their rows."""
        if self._empty:
            return []
        out: list[Statement] = []
        lo, hi, pieces = self._hour_plan()
        params: dict[str, Any] = {}
        dims = self._dims_sql(params, enumerate_all=False)

        def before(bound: str) -> str:
            return (
                "COALESCE((SELECT h.links FROM audit_cumulative h WHERE h.strategy = c.strategy AND h.issuer = c.issuer "
                f"AND h.bucket = c.bucket AND h.bin = c.bin AND h.hour < :{bound} ORDER BY h.hour DESC LIMIT 1), 0)"
            )

        # The count at the window's end (all time when it has none) and at its start (none before the first link).
        columns = ["c.strategy", "c.issuer", "c.bin", "c.links" if hi is None else before("hi"), "0" if lo is None else before("lo")]
        params.update({k: v for k, v in (("lo", lo), ("hi", hi)) if v is not None})
        where = f" WHERE {dims}" if dims else ""
        out.append((f"SELECT {', '.join(columns)} FROM audit_combos c{where}", params))
        for a, b, _ in pieces:
            out.append(self._links("issued_at >= :a AND issued_at < :b", {"a": a, "b": b}))
        window: dict[str, Any] = {"now": self._now}
        out.append(self._links("effective_expires_at > :now AND effective_expires_at < nominal_expires_at" + self._window_sql(window), window))
        revoked: dict[str, Any] = {"now": self._now}
        out.append(self._links("revoked_at > :now" + self._window_sql(revoked), revoked))
        c_lo, c_hi, exact, _ = self._chart_plan()
        cut = cut_column(self.f.tolerance.total_seconds())
        chart: dict[str, Any] = {"lo": c_lo}
        upper = ""
        if c_hi is not None:
            chart["hi"] = c_hi
            upper = f" AND {'quarter' if self._grain == _QUARTER else 'hour'} < :hi"
        if self._grain == _QUARTER:
            out.append((f"SELECT quarter, links, revoked, {cut} FROM audit_quarters WHERE quarter >= :lo{upper}", chart))
        else:
            dims = self._dims_sql(chart, enumerate_all=True)
            out.append((f"SELECT hour, links, revoked, {cut} FROM audit_hours WHERE {dims} AND hour >= :lo{upper}", chart))
        for a, b in exact:
            out.append(self._links("issued_at >= :a AND issued_at < :b", {"a": a, "b": b}))
        return out

    # --- adding it up -------------------------------------------------------------------

    def figures(self, results: Sequence[list[Any]]) -> Figures:
        if self._empty:
            return Figures(Summary(0, 0, None, 0), (), (), ())
        forgiven = self._forgiven
        rows = iter(results)
        _, _, pieces = self._hour_plan()
        groups: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
        for strategy, issuer, bin_, at_end, at_start in next(rows):
            if at_end != at_start:
                groups[(strategy, issuer)].add(int(bin_), int(at_end) - int(at_start), forgiven)
        for _, _, sign in pieces:
            for row in next(rows):
                groups[(row[1], row[2])].add(classify(row[4], row[5], row[6])[0], sign, forgiven)
        at_risk: dict[tuple[str, str], _Tally] = defaultdict(_Tally)
        pending_days: list[float] = []
        for row in next(rows):
            bin_ = classify(row[4], row[5], row[6])[0]
            if bin_ > forgiven:  # will lose more than the tolerance, and has not yet
                at_risk[(row[1], row[2])].add(bin_, 1, forgiven)
                pending_days.append(row[0])
        later: dict[tuple[str, str], int] = defaultdict(int)
        revoked_later: list[float] = []
        for row in next(rows):
            if classify(row[4], row[5], row[6])[0] == -2:  # revoked first, but not yet: live now
                later[(row[1], row[2])] += 1
                revoked_later.append(row[0])
        per_day = self._per_day(rows, pending_days, revoked_later)

        tallies: dict[tuple[str, str], _Counted] = {}
        for key in set(groups) | set(at_risk):
            group, risk = groups[key], at_risk[key]
            bins = {b: c - risk.bins.get(b, 0) for b, c in group.bins.items()}
            cut, pending = group.cut - risk.cut, risk.cut
            state = self.f.state
            if state is None:
                tallies[key] = (group.links, cut, pending, bins)
            elif state is State.CUT_SHORT:
                tallies[key] = (cut, cut, 0, bins)
            elif state is State.AT_RISK:
                tallies[key] = (pending, 0, pending, {})
            else:  # revoked
                tallies[key] = (group.revoked - later[key], 0, 0, {})
        return Figures(
            summary=self._summary(tallies.values()),
            by_strategy=self._splits(tallies, 0),
            by_issuer=self._splits(tallies, 1),
            per_day=tuple(per_day),
        )

    @staticmethod
    def _summary(tallies: Iterable[_Counted], name: str | None = None) -> Summary:
        issued = cut = risk = 0
        bins: dict[int, int] = {}
        for n, c, r, b in tallies:
            issued, cut, risk = issued + n, cut + c, risk + r
            for bin_, count in b.items():
                bins[bin_] = bins.get(bin_, 0) + count
        median = _median_hours(bins) if cut else None
        if name is None:
            return Summary(issued=issued, cut_short=cut, median_hours_lost=median, at_risk=risk)
        return Split(issued=issued, cut_short=cut, median_hours_lost=median, at_risk=risk, name=name)

    def _splits(self, tallies: dict[tuple[str, str], _Counted], by: int) -> tuple[Split, ...]:
        grouped: dict[str, list[_Counted]] = defaultdict(list)
        for key, tally in tallies.items():
            grouped[key[by]].append(tally)
        found = [s for s in (self._summary(t, name) for name, t in grouped.items()) if s.issued]
        return tuple(sorted((s for s in found if isinstance(s, Split)), key=lambda s: (-s.issued, s.name)))

    def _per_day(self, rows: Iterator[list[Any]], pending: list[float], revoked_later: list[float]) -> list[DayShare]:
        days = self._chart_days()
        if not days:
            return []
        _, _, exact, straddled = self._chart_plan()
        g = self._grain
        bounds = [d[1].timestamp() for d in days]
        ends = [None if d[2] is None else d[2].timestamp() for d in days]

        def day_of(moment: float) -> int | None:
            index = bisect.bisect_right(bounds, moment) - 1
            if index < 0:
                return None
            end = ends[index]
            return index if end is None or moment < end else None

        links = [0] * len(days)
        cut = [0] * len(days)
        revoked = [0] * len(days)
        forgiven = self._forgiven
        for cell, n, r, c in next(rows):
            if cell in straddled:
                continue
            index = day_of(cell * g)
            if index is not None:
                links[index] += int(n)
                revoked[index] += int(r)
                cut[index] += int(c)
        for _ in exact:
            for row in next(rows):
                index = day_of(row[0])
                if index is None:
                    continue
                bin_ = classify(row[4], row[5], row[6])[0]
                links[index] += 1
                revoked[index] += bin_ == -2
                cut[index] += bin_ > forgiven
        at_risk = [0] * len(days)
        for moment in pending:
            index = day_of(moment)
            if index is not None:
                cut[index] -= 1  # at risk: not cut short yet
                at_risk[index] += 1
        later = [0] * len(days)
        for moment in revoked_later:
            index = day_of(moment)
            if index is not None:
                later[index] += 1
        shares = []
        for i, (day, _, _) in enumerate(days):
            state = self.f.state
            if state is None:
                issued, shown = links[i], cut[i]
            elif state is State.CUT_SHORT:
                issued, shown = cut[i], cut[i]
            elif state is State.AT_RISK:
                issued, shown = at_risk[i], 0
            else:
                issued, shown = revoked[i] - later[i], 0
            if issued:
                shares.append(DayShare(day=day, issued=issued, cut_short=shown))
        return shares
