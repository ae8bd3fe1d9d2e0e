"""The issuance log's row types and their mapping to and from SQL values.

``NewLink`` is what a strategy hands to the log and ``LogEntry`` what the log
hands back. Neither has a field for a secret: the log cannot store what it is
never given. Datetimes must be timezone-aware; they are stored as REAL epoch
seconds and come back as aware UTC datetimes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

__all__ = ["LogEntry", "NewLink"]


@dataclass(frozen=True)
class NewLink:
    """One issued link as the log records it; never contains secrets.

    ``fingerprint`` is the sha256 of the URL's signature (or of the stable
    token), which is enough to match a pasted URL without being able to forge
    one; ``display_url`` is the URL with signature and token removed.
    """

    issued_at: datetime
    issuer: str
    strategy: str
    bucket: str
    key: str
    filename: str | None
    ticket: str | None
    note: str | None
    signed_at: datetime
    nominal_expires_at: datetime
    effective_expires_at: datetime | None  # None: the real expiry cannot be known
    bound_by: str
    reason: str
    credential_source: str | None
    access_key_id: str | None
    credential_kind: str | None
    credential_expires_at: datetime | None
    fingerprint: str
    display_url: str

    def __post_init__(self) -> None:
        # A naive datetime would be read as the server's local time by
        # .timestamp() and silently shift every expiry in the audit.
        for name in _LINK_TIME_FIELDS:
            value = getattr(self, name)
            if isinstance(value, datetime) and value.utcoffset() is None:
                raise ValueError(f"NewLink.{name} must be timezone-aware (got {value!r}).")


@dataclass(frozen=True)
class LogEntry:
    """A recorded link: ``NewLink``'s fields plus its id and revocation.

    Datetimes are aware UTC, whatever zone they were recorded in.
    """

    id: int
    issued_at: datetime
    issuer: str
    strategy: str
    bucket: str
    key: str
    filename: str | None
    ticket: str | None
    note: str | None
    signed_at: datetime
    nominal_expires_at: datetime
    effective_expires_at: datetime | None
    bound_by: str
    reason: str
    credential_source: str | None
    access_key_id: str | None
    credential_kind: str | None
    credential_expires_at: datetime | None
    fingerprint: str
    display_url: str
    revoked_at: datetime | None
    revoked_by: str | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


# Field names are the column names, so the SQL is generated from the dataclass
# and a field added to both cannot be forgotten in one of the queries.
LINK_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(NewLink))
ENTRY_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(LogEntry))
_TIME_FIELDS = frozenset(name for name in ENTRY_COLUMNS if name.endswith("_at"))
_LINK_TIME_FIELDS = tuple(name for name in LINK_COLUMNS if name in _TIME_FIELDS)
_LINK_TIME_INDEXES = tuple(LINK_COLUMNS.index(name) for name in _LINK_TIME_FIELDS)
_ENTRY_TIME_INDEXES = tuple(ENTRY_COLUMNS.index(name) for name in sorted(_TIME_FIELDS))
_link_values = attrgetter(*LINK_COLUMNS)
assert ("id", *LINK_COLUMNS, "revoked_at", "revoked_by") == ENTRY_COLUMNS


def to_epoch(value: datetime | None) -> float | None:
    """Aware datetime -> REAL epoch seconds (exact to the microsecond)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        raise ValueError(f"Times in the issuance log must be timezone-aware (got {value!r}).")
    return value.timestamp()


def link_params(link: NewLink) -> tuple[Any, ...]:
    """The INSERT parameters for ``link``, in ``LINK_COLUMNS`` order."""
    values = list(_link_values(link))
    for i in _LINK_TIME_INDEXES:
        if values[i] is not None:
            values[i] = values[i].timestamp()  # NewLink has checked it is aware
    return tuple(values)


def entry_from_row(row: Sequence[Any]) -> LogEntry:
    """A row selected as ``ENTRY_COLUMNS`` -> ``LogEntry``."""
    values = list(row)
    for i in _ENTRY_TIME_INDEXES:
        if values[i] is not None:
            values[i] = datetime.fromtimestamp(values[i], tz=UTC)
    return LogEntry(*values)


def entry_from_link(link_id: int, link: NewLink) -> LogEntry:
    """The entry just recorded for ``link``, equal to what ``get`` reads back.

    Built from the link rather than re-read, so a large batch is not converted
    twice; times are only moved to UTC (the REAL epoch round trip is exact to
    the microsecond for any date before the year 2500).
    """
    values = list(_link_values(link))
    for i in _LINK_TIME_INDEXES:
        value = values[i]
        if value is not None and value.tzinfo is not UTC:
            values[i] = value.astimezone(UTC)
    return LogEntry(*[link_id, *values, None, None])
