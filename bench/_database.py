"""`--database-url` for the benchmarks: a URL as given, or ``postgresql`` for a private server started here."""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres_server import fresh_schema_url, start  # noqa: E402

HELP = "issuance log: a SQLite path or postgresql:// URL; 'postgresql' starts a private PostgreSQL as CI does (default: a throwaway SQLite file)"


def resolve(value: str | None, prefix: str = "bench") -> str | None:
    """The log location to use; a private server (if asked for) is stopped when the benchmark exits."""
    if value != "postgresql":
        return value
    return fresh_schema_url(_private_server(), prefix=prefix)


_SERVERS: list[str] = []


def _private_server() -> str:
    """One private PostgreSQL for the whole benchmark (each call of `resolve` gets a schema of its own on it)."""
    if not _SERVERS:
        server = start()
        atexit.register(server.remove)
        _SERVERS.append(server.url)
    return _SERVERS[0]


def backend_name(url: str | None) -> str:
    return "postgresql" if url and url.startswith(("postgresql", "postgres")) else "sqlite"
