"""`--database-url` for the benchmarks: a URL as given, or ``postgresql`` for a private server started here."""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.postgres_server import fresh_schema_url, start  # noqa: E402

HELP = "issuance log: a SQLite path or postgresql:// URL; 'postgresql' starts a private PostgreSQL as CI does (default: a throwaway SQLite file)"


def resolve(value: str | None) -> str | None:
    """The log location to use; a private server (if asked for) is stopped when the benchmark exits."""
    if value != "postgresql":
        return value
    server = start()
    atexit.register(server.remove)
    return fresh_schema_url(server.url, prefix="bench")


def backend_name(url: str | None) -> str:
    return "postgresql" if url and url.startswith(("postgresql", "postgres")) else "sqlite"
