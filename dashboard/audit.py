"""The Expiry timeline's service: filter choices in; figures, rows, frames and CSV out.

The page reads its widgets, turns them into one `AuditFilter` here, and gets
back one `Timeline` with everything it renders. The counting happens in SQL
(dashboard/store/audit.py); this module picks the time window and the moment
states are taken at, names the states the way people say them and shapes
DataFrames with typed columns. No Streamlit, so the command line and tests
call it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

import pandas as pd

from dashboard import timefmt
from dashboard.expiry import CUT_SHORT_TOLERANCE, State, iso_z
from dashboard.safetext import csv_frame, visible
from dashboard.store import rollup
from dashboard.store.audit import (
    AUDIT_STATES,
    AuditFilter,
    AuditRow,
    DayShare,
    LogVersion,
    Split,
    Summary,
    buckets,
    figures,
    issuers,
    rows,
    strategies,
    version,
)
from dashboard.timefmt import viewer_zone

if TYPE_CHECKING:
    from dashboard.store import IssuanceLog

__all__ = [
    "CHART_SIZES",
    "CUSTOM",
    "DEFAULT_CHART_SIZE",
    "DEFAULT_WINDOW",
    "EXPORT_LIMIT",
    "MEDIAN_HELP",
    "STATE_LABELS",
    "WINDOWS",
    "AuditFilter",
    "LogVersion",
    "Options",
    "Timeline",
    "build_filter",
    "default_dates",
    "export_csv",
    "hours",
    "inspect_link",
    "moment",
    "options",
    "per_day_frame",
    "percent",
    "rows_frame",
    "splits_frame",
    "timeline",
    "version",
    "viewer_zone",
]

#: The time windows offered, newest first, as (label, length); None is "all time".
WINDOWS: dict[str, timedelta | None] = {
    "Last 24 h": timedelta(days=1),
    "7 days": timedelta(days=7),
    "30 days": timedelta(days=30),
    "90 days": timedelta(days=90),
    "All time": None,
}
CUSTOM = "Pick dates"
DEFAULT_WINDOW = "30 days"
#: How many of the most recent links the chart and the table may show. Each
#: link draws two bars and maybe a mark, so 1,000 links stay near 3,000 marks.
CHART_SIZES = (100, 300, 1000)
DEFAULT_CHART_SIZE = 300
#: The CSV holds at most this many links (the most recent), made on click.
EXPORT_LIMIT = 100_000
#: What the median card means, for its help text.
MEDIAN_HELP = (
    "The middle of the hours the cut-short links lost: half of them lost less, half more. Read from a histogram of "
    f"lost time, so within {rollup.MEDIAN_ERROR:.0%} of the exact median (or a minute, below one)."
)
#: States as people say them, in the order the page offers them.
STATE_LABELS: dict[State, str] = {
    State.LIVE: "live",
    State.AT_RISK: "at risk",
    State.CUT_SHORT: "cut short",
    State.EXPIRED: "expired",
    State.REVOKED: "revoked",
}
assert tuple(STATE_LABELS) == AUDIT_STATES


def _now() -> datetime:
    return datetime.now(UTC)


def moment(log_version: LogVersion, wall: datetime | None = None) -> datetime:
    """The moment the figures take states at: the wall clock to the minute, never before the newest link.

    Rounding lets reruns within a minute share cached figures; the newest
    link's issue time keeps a link issued seconds ago from reading as "not
    yet valid". Together with the log's version it is the cache key, so a
    new link is counted the moment it is issued.
    """
    at = (wall or _now()).astimezone(UTC).replace(second=0, microsecond=0)
    if log_version.newest_issued_at is not None:
        at = max(at, datetime.fromtimestamp(log_version.newest_issued_at, tz=UTC))
    return at


def build_filter(
    *,
    window: str = DEFAULT_WINDOW,
    dates: tuple[date, ...] = (),
    tz: tzinfo = UTC,
    strategies: tuple[str, ...] | list[str] = (),
    issuers: tuple[str, ...] | list[str] = (),
    bucket: str | None = None,
    prefix: str = "",
    ticket: str = "",
    state: str | None = None,
    tolerance: timedelta = CUT_SHORT_TOLERANCE,
    now: datetime | None = None,
) -> AuditFilter:
    """The filter the widgets describe.

    ``window`` is a key of `WINDOWS` or `CUSTOM`; a custom window runs from
    the first of ``dates`` to the end of the last, as days in ``tz``. ``state``
    is a `STATE_LABELS` value (or the state's own value).
    """
    now = now or _now()
    since: datetime | None
    until: datetime | None = None
    if window == CUSTOM and dates:
        first, last = min(dates), max(dates)
        since = datetime.combine(first, time(), tzinfo=tz)
        until = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
    else:
        length = WINDOWS.get(window, WINDOWS[DEFAULT_WINDOW])
        since = None if length is None else now - length
    named = {label: s for s, label in STATE_LABELS.items()}
    return AuditFilter(
        now=now,
        since=since,
        until=until,
        strategies=tuple(strategies),
        issuers=tuple(issuers),
        bucket=bucket or None,
        prefix=(prefix or "").strip(),
        ticket=ticket or "",
        state=(named.get(state) or State(state)) if state else None,
        tolerance=tolerance,
    )


def default_dates(tz: tzinfo = UTC, now: datetime | None = None) -> tuple[date, date]:
    """The custom window's starting choice: the last 30 days, today included, in ``tz``."""
    today = (now or _now()).astimezone(tz).date()
    return today - timedelta(days=29), today


@dataclass(frozen=True)
class Options:
    """What the filter widgets offer: every value the log holds."""

    strategies: tuple[str, ...]
    issuers: tuple[str, ...]
    buckets: tuple[str, ...]


def options(log: IssuanceLog) -> Options:
    return Options(tuple(strategies(log)), tuple(issuers(log)), tuple(buckets(log)))


@dataclass(frozen=True)
class Timeline:
    """Everything the Expiry timeline shows for one filter.

    The figures cover every matching link; ``rows`` holds only the most
    recent ones (as many as asked), for the chart and the table.
    """

    filter: AuditFilter
    summary: Summary
    by_strategy: tuple[Split, ...]
    by_issuer: tuple[Split, ...]
    per_day: tuple[DayShare, ...]
    rows: tuple[AuditRow, ...]

    @property
    def partial(self) -> bool:
        """True when the chart and table show fewer links than the figures count."""
        return len(self.rows) < self.summary.issued


def timeline(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, limit: int = DEFAULT_CHART_SIZE) -> Timeline:
    """Every figure for ``f`` (days in ``tz``) and its ``limit`` most recent links."""
    counted = figures(log, f, tz)
    return Timeline(
        filter=f,
        summary=counted.summary,
        by_strategy=counted.by_strategy,
        by_issuer=counted.by_issuer,
        per_day=counted.per_day,
        rows=tuple(rows(log, f, limit, matching=counted.summary.issued)),
    )


# --- words and frames ------------------------------------------------------------


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.0%}" if share == 0 or share >= 0.01 else "<1%"


def hours(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} h"


def splits_frame(splits: tuple[Split, ...], name: str) -> pd.DataFrame:
    """One row per strategy or issuer: links, cut short, share (percent, 0–100), median hours lost (words), at risk."""
    return pd.DataFrame(
        {
            name: [visible(s.name) for s in splits],
            "Links": [s.issued for s in splits],
            "Cut short": [s.cut_short for s in splits],
            "Share cut short": [100 * (s.share or 0.0) for s in splits],
            "Median lost": [hours(s.median_hours_lost) for s in splits],
            "At risk": [s.at_risk for s in splits],
        },
        columns=[name, "Links", "Cut short", "Share cut short", "Median lost", "At risk"],
    )


def per_day_frame(days: tuple[DayShare, ...]) -> pd.DataFrame:
    """One row per day with links: the day (ISO date in the viewer's zone), counts and share."""
    return pd.DataFrame(
        {
            "day": [d.day.isoformat() for d in days],
            "issued": [d.issued for d in days],
            "cut_short": [d.cut_short for d in days],
            "share": [d.share or 0.0 for d in days],
        },
        columns=["day", "issued", "cut_short", "share"],
    )


def _life_left(row: AuditRow, now: datetime) -> float:
    """The share of its real life a link still has at ``now`` (0 once it stopped working)."""
    end = row.ends_at
    total = (end - row.issued_at).total_seconds()
    if total <= 0 or now >= end:
        return 0.0
    return min(1.0, max(0.0, (end - now).total_seconds() / total))


_ROW_COLUMNS = [
    "Issued",
    "Object",
    "File",
    "Strategy",
    "Issuer",
    "Ticket",
    "State",
    "Nominal expiry",
    "Real expiry",
    "Hours lost",
    "Life left",
    "Why",
    "Inspect",
    "Log id",
    "ends",
    "cut_short",
    "at_risk",
    "issued_text",
    "nominal_text",
    "ends_text",
]


def inspect_link(row: AuditRow) -> str:
    """The Inspect page for this very link, by its log id (relative, so it works under any base path)."""
    return f"inspect?id={row.id}"


def rows_frame(found: tuple[AuditRow, ...] | list[AuditRow], now: datetime, tz: tzinfo = UTC) -> pd.DataFrame:
    """The chart's and the table's rows, newest first, times in the viewer's zone.

    "Life left" is the percentage of its real life a link still has now.
    Keys, issuers, tickets and reasons show control characters as escapes
    (`safetext.visible`); the CSV keeps them as they are, formulas defused.
    "Real expiry" is empty when it cannot be known; ``ends`` is when the
    link stops working for the chart's solid bar (revocation, real expiry,
    or the nominal one when the real one is unknown). The ``*_text``
    columns are the same moments in words, local then UTC, for tooltips.
    """
    frame = pd.DataFrame(
        {
            "Issued": [r.issued_at for r in found],
            "Object": [visible(f"s3://{r.bucket}/{r.key}") for r in found],
            "File": [visible(r.key.rstrip("/").rsplit("/", 1)[-1] or r.key) for r in found],
            "Strategy": [r.strategy for r in found],
            "Issuer": [visible(r.issuer) for r in found],
            "Ticket": [visible(r.ticket or "") for r in found],
            "State": [STATE_LABELS.get(r.state, str(r.state)) for r in found],
            "Nominal expiry": [r.nominal_expires_at for r in found],
            "Real expiry": [r.effective_expires_at for r in found],
            "Hours lost": [round(r.hours_lost, 2) for r in found],
            "Life left": [round(100 * _life_left(r, now), 1) for r in found],
            "Why": [visible(r.reason) for r in found],
            "Inspect": [inspect_link(r) for r in found],
            "Log id": [r.id for r in found],
            "ends": [r.ends_at for r in found],
            "cut_short": [r.state is State.CUT_SHORT for r in found],
            "at_risk": [r.state is State.AT_RISK for r in found],
            "issued_text": [timefmt.local_and_utc(r.issued_at, tz) for r in found],
            "nominal_text": [timefmt.local_and_utc(r.nominal_expires_at, tz) for r in found],
            "ends_text": [timefmt.local_and_utc(r.ends_at, tz) for r in found],
        },
        columns=_ROW_COLUMNS,
    )
    for column in ("Issued", "Nominal expiry", "Real expiry", "ends"):
        frame[column] = timefmt.in_zone(frame[column], tz)
    return frame


def export_csv(log: IssuanceLog, f: AuditFilter, tz: tzinfo = UTC, limit: int = EXPORT_LIMIT) -> str:
    """The filter's links as CSV, most recent first (at most ``limit``).

    Times are ISO 8601 UTC with a ``Z`` and again in the viewer's zone, named
    in the column header; every text cell goes through `safetext.csv_frame`,
    so a ticket such as ``=cmd|' /C calc'!A0`` is data in a spreadsheet too.
    """
    zone = timefmt.zone_name(tz)
    found = rows(log, f, limit)

    def local(moment: datetime | None) -> str:
        return "" if moment is None else moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")

    frame = pd.DataFrame(
        [
            {
                "log_id": r.id,
                "issued_at": iso_z(r.issued_at),
                f"issued ({zone})": local(r.issued_at),
                "issuer": r.issuer,
                "strategy": r.strategy,
                "bucket": r.bucket,
                "key": r.key,
                "ticket": r.ticket or "",
                "state": str(r.state),
                "nominal_expires_at": iso_z(r.nominal_expires_at),
                f"nominal expiry ({zone})": local(r.nominal_expires_at),
                "effective_expires_at": iso_z(r.effective_expires_at) or "",
                f"real expiry ({zone})": local(r.effective_expires_at),
                "revoked_at": iso_z(r.revoked_at) or "",
                "cut_short": r.state is State.CUT_SHORT,
                "hours_lost": round(r.hours_lost, 3),
                "bound_by": r.bound_by,
                "reason": r.reason,
            }
            for r in found
        ]
    )
    return str(csv_frame(frame).to_csv(index=False))
