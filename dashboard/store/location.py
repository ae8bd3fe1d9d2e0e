"""Where the issuance log lives: a setting parsed into a durable location, or refused.

The log is the only record of an issued link, so a location that keeps
nothing (SQLite's in-memory databases, a temporary database, a device such as
``/dev/null``) is refused here with a sentence instead of silently issuing
links that no log will remember.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

from dashboard.store.errors import LogLocationError

__all__ = ["Location", "parse_location"]

_SET_INSTEAD = (
    "set SHAREDESK_DATABASE_URL to a file path (for example sqlite:////var/lib/share-desk/log.sqlite3) "
    "or to a postgresql:// URL"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class Location:
    """A log location that keeps its rows: a SQLite file or a PostgreSQL database."""

    backend: Literal["sqlite", "postgresql"]
    target: str  # the file path, or the libpq URL (which may hold a password: never print it)

    @property
    def where(self) -> str:
        """The location in words, safe to print (a PostgreSQL password is left out)."""
        if self.backend == "sqlite":
            return self.target
        parts = urlsplit(self.target)
        host = parts.hostname or "localhost"
        port = f":{parts.port}" if parts.port else ""
        database = parts.path.lstrip("/") or "(default database)"
        return f"the PostgreSQL database {database} on {host}{port}"


def _shown(text: str) -> str:
    """A setting echoed in a message: one line, control characters escaped, not too long."""
    from dashboard.safetext import one_line

    return one_line(repr(text), 120)


def _memory(setting: str) -> LogLocationError:
    return LogLocationError(
        f"The issuance log location {_shown(setting)} is an in-memory database, which keeps nothing once the desk "
        f"stops, so no link could be shown with a durable record: {_SET_INSTEAD}."
    )


def parse_location(setting: str) -> Location:
    """``setting`` (a path, ``sqlite:///path`` or ``postgresql://...``) as a durable `Location`.

    As with SQLAlchemy URLs, ``sqlite:///data/log.sqlite3`` is relative and
    ``sqlite:////var/lib/log.sqlite3`` absolute.
    """
    text = setting.strip() if isinstance(setting, str) else ""
    if not text:
        raise LogLocationError(
            "The issuance log location is empty (SQLite would use a temporary database that is deleted when "
            f"the desk stops): {_SET_INSTEAD}."
        )
    match = _SCHEME.match(text)
    # A Windows drive letter ("C:\\log") is a path, not a scheme.
    scheme = match.group(1).lower() if match and len(match.group(1)) > 1 else ""
    if not scheme:
        return _sqlite_path(text, setting)
    if scheme == "file":
        if ":memory:" in text or "mode=memory" in text.lower():
            raise _memory(setting)
        raise LogLocationError(
            f"The issuance log location {_shown(setting)} is a SQLite file: URI, which the desk does not open: "
            "write the plain path or sqlite:///path instead."
        )
    if scheme == "sqlite":
        return _sqlite_url(text, setting)
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):
        return _postgresql_url(text, setting)
    raise LogLocationError(
        f"The issuance log location {_shown(setting)} uses the unsupported scheme {scheme}: {_SET_INSTEAD}."
    )


def _sqlite_url(text: str, setting: str) -> Location:
    rest = text.split(":", 1)[1]
    if not rest.startswith("//"):
        raise LogLocationError(
            f"The issuance log URL {_shown(setting)} is not a sqlite:/// URL: write sqlite:///relative/path "
            "or sqlite:////absolute/path."
        )
    rest = rest[2:]
    path, _, query = rest.partition("?")
    if query:
        if "memory" in parse_qs(query.lower()).get("mode", []):
            raise _memory(setting)
        raise LogLocationError(
            f"The issuance log URL {_shown(setting)} has options ({_shown(query)}) the desk does not use: "
            "remove everything from the question mark on."
        )
    if path in ("", "/"):
        raise _memory(setting)  # sqlite:// is SQLAlchemy's in-memory database
    if not path.startswith("/"):
        raise LogLocationError(
            f"The issuance log URL {_shown(setting)} has a host; write sqlite:///relative/path "
            "or sqlite:////absolute/path."
        )
    return _sqlite_path(path[1:], setting)


def _sqlite_path(path: str, setting: str) -> Location:
    if path.strip().lower() == ":memory:" or path.lower().startswith("file:"):
        raise _memory(setting) if "memory" in path.lower() else LogLocationError(
            f"The issuance log location {_shown(setting)} is a SQLite file: URI, which the desk does not open: "
            "write the plain path instead."
        )
    if not path.strip():
        raise _memory(setting)
    resolved = Path(path).expanduser()
    try:
        unusable = resolved.exists() and not resolved.is_file()
    except OSError:  # a folder this user may not search: opening it will say so in a sentence
        unusable = False
    if unusable:
        what = "a folder" if resolved.is_dir() else "not a regular file (a device keeps nothing)"
        raise LogLocationError(
            f"The issuance log location {_shown(setting)} is {what}: name a file inside a folder the desk "
            "may write, for example share-desk/log.sqlite3."
        )
    return Location("sqlite", os.fspath(resolved))


def _postgresql_url(text: str, setting: str) -> Location:
    parts = urlsplit(text)
    if not parts.netloc and not parts.path.strip("/") and not parts.query:
        raise LogLocationError(
            f"The issuance log URL {_shown(_without_password(setting))} names no PostgreSQL server or database: "
            "write postgresql://USER@HOST:5432/DATABASE."
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise LogLocationError(
            f"The issuance log URL {_shown(_without_password(setting))} has a port that is not a number: "
            "write postgresql://USER@HOST:5432/DATABASE."
        ) from None
    # psycopg (libpq) takes postgresql:// and postgres:// but not SQLAlchemy's driver suffix.
    return Location("postgresql", urlunsplit(("postgresql", *parts[1:])))


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, *parts[2:]))
