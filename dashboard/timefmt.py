"""One time rule for every page: the viewer's own time zone, named; exports and tooltips add UTC.

The browser tells Streamlit its IANA zone (``st.context.timezone``); pages
pass that name here. Pure functions, so tables, charts and tests share them.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

__all__ = ["DATETIME_FORMAT", "in_zone", "local", "local_and_utc", "utc", "viewer_zone", "zone_name"]

#: The format of every datetime column on every page (moment.js tokens, as
#: st.column_config.DatetimeColumn takes them); ``z`` names the zone.
DATETIME_FORMAT = "YYYY-MM-DD HH:mm z"


def viewer_zone(name: str | None) -> tzinfo:
    """The viewer's time zone from the browser's IANA name; UTC when unknown."""
    if not name:
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def zone_name(tz: tzinfo) -> str:
    """The zone as people read it on the page: its IANA key, or UTC."""
    return getattr(tz, "key", None) or ("UTC" if tz is UTC else str(tz))


def local(moment: datetime | None, tz: tzinfo, *, seconds: bool = False, missing: str = "—") -> str:
    """``2026-12-01 15:04 CET``: the moment in the viewer's zone, with the zone's abbreviation."""
    if moment is None:
        return missing
    shown = moment.astimezone(tz)
    return shown.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def utc(moment: datetime | None, *, seconds: bool = False, missing: str = "—") -> str:
    """``2026-12-01 14:04 UTC``."""
    return local(moment, UTC, seconds=seconds, missing=missing)


def local_and_utc(moment: datetime | None, tz: tzinfo, *, seconds: bool = False, missing: str = "—") -> str:
    """The local time, then UTC in brackets when the zones differ (for tooltips and exports)."""
    if moment is None:
        return missing
    here = local(moment, tz, seconds=seconds)
    if zone_name(tz) == "UTC":
        return here
    return f"{here} ({utc(moment, seconds=seconds)})"


def in_zone(values: pd.Series, tz: tzinfo) -> pd.Series:
    """A column of moments (aware or UTC-naive) as aware datetimes in ``tz``, for DatetimeColumn."""
    return pd.to_datetime(values, utc=True).dt.tz_convert(zone_name(tz))
