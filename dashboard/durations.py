"""Reading and writing link lifetimes the way people type and say them.

Issuers type lifetimes (``7d``, ``1h30m``) in the dashboard and on the command
line, and reasons tell support agents how much life a link lost
(``6 days 21 hours``). Both directions live here so that the same words are
used everywhere. Pure standard library.
"""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DurationError", "format_compact", "format_duration", "parse_duration"]

_ACCEPTED = "use a number followed by s, m, h, d or w, such as 90s, 15m, 12h or 7d"

# Short units first; the long spellings are accepted because people type them.
_UNIT_SECONDS: dict[str, int] = {
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 604800, "wk": 604800, "wks": 604800, "week": 604800, "weeks": 604800,
}
_PART = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*")

# Largest first: format_* pick the biggest units that are not zero.
_NAMED_UNITS: tuple[tuple[str, int], ...] = (
    ("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1),
)
_COMPACT_UNITS: tuple[tuple[str, int], ...] = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


class DurationError(ValueError):
    """A lifetime the user typed cannot be read; the message is one sentence for them."""


def parse_duration(text: str) -> timedelta:
    """Read a lifetime such as ``90s``, ``15m``, ``12h``, ``7d``, ``1w`` or ``1d12h``.

    Case and whitespace are ignored and a bare integer means seconds. Zero and
    negative lifetimes are refused: a link that is born dead is never what
    the issuer meant.
    """
    shown = str(text).strip()
    cleaned = shown.lower()
    if not cleaned:
        raise DurationError(f"An empty value is not a duration: {_ACCEPTED}.")
    if cleaned.startswith("-"):
        raise DurationError(f"'{shown}' is negative: a duration must be longer than zero, such as 90s, 15m, 12h or 7d.")
    if cleaned.lstrip("+").isdigit() and cleaned.lstrip("+").isascii():
        seconds = int(cleaned.lstrip("+"))
    else:
        seconds = 0
        position = 0
        while position < len(cleaned):
            match = _PART.match(cleaned, position)
            if match is None or match.group(2) not in _UNIT_SECONDS:
                raise DurationError(f"'{shown}' is not a duration: {_ACCEPTED}.")
            seconds += int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            position = match.end()
    if seconds <= 0:
        raise DurationError(f"'{shown}' is zero: a duration must be longer than zero, such as 90s, 15m, 12h or 7d.")
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise DurationError(f"'{shown}' is too long to be a duration: {_ACCEPTED}.") from None


def _split(td: timedelta, units: tuple[tuple[str, int], ...]) -> list[tuple[str, int]]:
    """Whole seconds of ``|td|`` broken into (unit, count) pairs, zero counts left out.

    Sub-second parts are dropped: presigned lifetimes are whole seconds.
    """
    remaining = int(abs(td).total_seconds())
    pieces: list[tuple[str, int]] = []
    for name, size in units:
        count, remaining = divmod(remaining, size)
        if count:
            pieces.append((name, count))
    return pieces


def format_duration(td: timedelta, *, parts: int = 2) -> str:
    """Say a duration the way a person would: ``6 days 21 hours``, ``1 hour``.

    Only the ``parts`` largest non-zero units are kept (truncated, never
    rounded up, so a reason never claims more time than there is). The sign is
    dropped because callers phrase direction themselves ("ago", "before").
    """
    if parts < 1:
        raise ValueError("parts must be at least 1")
    pieces = _split(td, _NAMED_UNITS)[:parts]
    if not pieces:
        return "0 seconds"
    return " ".join(f"{count} {name}{'' if count == 1 else 's'}" for name, count in pieces)


def format_compact(td: timedelta) -> str:
    """Write a duration as ``parse_duration`` reads it: ``7d``, ``12h``, ``1d12h``, ``1m30s``.

    Every unit is kept so the text round-trips exactly; weeks are not used
    because ``7d`` is what people recognise as the SigV4 limit.
    """
    pieces = _split(td, _COMPACT_UNITS)
    if not pieces:
        return "0s"
    return "".join(f"{count}{name}" for name, count in pieces)
