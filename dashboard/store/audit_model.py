"""The audit's values: the filter the Expiry timeline asks with, and the figures and rows it gets back.

Plain frozen dataclasses shared by the queries over the links
(dashboard/store/audit.py) and over the rollup (dashboard/store/audit_rollup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dashboard.expiry import CUT_SHORT_TOLERANCE, State

__all__ = ["AUDIT_STATES", "AuditFilter", "AuditRow", "DayShare", "Figures", "LogVersion", "Split", "Summary"]

#: The states the timeline filters on, in the order the page offers them.
AUDIT_STATES: tuple[State, ...] = (State.LIVE, State.AT_RISK, State.CUT_SHORT, State.EXPIRED, State.REVOKED)


@dataclass(frozen=True)
class AuditFilter:
    """What the timeline shows: every field narrows the rows; empty means "any".

    ``since`` is inclusive and ``until`` exclusive, both on the issue time;
    ``now`` is the moment states are taken at; ``tolerance`` is how much a
    link may lose and not be cut short (the desk's setting).
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
    tolerance: timedelta = CUT_SHORT_TOLERANCE

    def __post_init__(self) -> None:
        for name in ("now", "since", "until"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, datetime) or value.utcoffset() is None):
                raise ValueError(f"AuditFilter.{name} must be a timezone-aware datetime (got {value!r}).")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("The time window ends before it starts: pick an end after the start.")
        if self.tolerance < timedelta(0):
            raise ValueError("The cut-short tolerance cannot be negative.")
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
    at_risk: int = 0  # live links that are going to be cut short

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
    """Links issued on one day (in the zone asked for) and how many of them are cut short now."""

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
    """One link as the timeline charts and lists it; ``state`` is its state at the filter's ``now``."""

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
    tolerance: timedelta = CUT_SHORT_TOLERANCE

    @property
    def revoked_first(self) -> bool:
        """True when the revocation ended the link (it came before the link would have ended)."""
        end = self.effective_expires_at or self.nominal_expires_at
        return self.revoked_at is not None and self.revoked_at < end

    @property
    def seconds_lost(self) -> float:
        """Nominal - real expiry, whatever ends it (0 when the real expiry is unknown)."""
        if self.effective_expires_at is None:
            return 0.0
        return max(0.0, (self.nominal_expires_at - self.effective_expires_at).total_seconds())

    @property
    def cut_short(self) -> bool:
        """Loses more than the tolerance, not to a revocation: cut short now, or at risk of it."""
        return not self.revoked_first and self.effective_expires_at is not None and self.seconds_lost > self.tolerance.total_seconds()

    @property
    def ends_at(self) -> datetime:
        """When the link stops (or stopped) working: revocation, real expiry, or nominal when unknown."""
        end = self.effective_expires_at or self.nominal_expires_at
        if self.revoked_at is not None and self.revoked_at < end:
            return self.revoked_at
        return end

    @property
    def hours_lost(self) -> float:
        """Hours the link loses when it is (or will be) cut short; 0 otherwise."""
        return self.seconds_lost / 3600 if self.cut_short else 0.0


@dataclass(frozen=True)
class LogVersion:
    """What changes whenever the log does, read in two index seeks: a cache key.

    ``newest_issued_at`` also keeps "now" from falling before the newest link.
    """

    last_id: int
    newest_issued_at: float | None
    changes: int = 0  # revocations and extensions, once something counts them
