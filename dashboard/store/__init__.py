"""The issuance log: schema, migrations and queries.

Everything the rest of the desk needs is importable from here; ``fingerprint``
is the one way signatures and stable tokens are turned into something safe to
store and still able to match a pasted URL.
"""

from __future__ import annotations

import hashlib

from dashboard.store.entries import LogEntry, NewLink
from dashboard.store.errors import (
    LogEntryNotFound,
    LogError,
    LogLocationError,
    LogReadError,
    LogUnavailable,
    LogWriteError,
)
from dashboard.store.log import IssuanceLog
from dashboard.store.migrations import MIGRATIONS, Migration, apply_migrations, migration
from dashboard.store import rollup as _rollup  # noqa: F401  (registers the audit rollup's migrations, 20 and up)
from dashboard.store.stable import Click, StableLink, StableSpec, StableTarget

__all__ = [
    "Click",
    "StableLink",
    "StableTarget",
    "StableSpec",
    "MIGRATIONS",
    "IssuanceLog",
    "LogEntry",
    "LogEntryNotFound",
    "LogError",
    "LogLocationError",
    "LogReadError",
    "LogUnavailable",
    "LogWriteError",
    "Migration",
    "NewLink",
    "apply_migrations",
    "fingerprint",
    "migration",
]


def fingerprint(secret_part: str) -> str:
    """sha256 hex of a URL's signature or a stable token.

    The log keeps this instead of the secret: the same pasted URL always finds
    its row, but the stored value cannot be turned back into a working link.
    """
    if not secret_part:
        # An empty signature would give every unsigned URL the same fingerprint.
        raise ValueError("Nothing to fingerprint: the signature or token is empty.")
    return hashlib.sha256(secret_part.encode("utf-8")).hexdigest()
