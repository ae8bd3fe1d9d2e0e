"""Versioned schema migrations for the issuance log.

Each step is a plain function registered under a number with ``@migration``;
``apply_migrations`` runs the steps a database lacks, in order, each in its own
``BEGIN IMMEDIATE`` transaction together with its row in ``schema_migrations``.
SQLite's DDL is transactional, so a step either lands completely (schema and
bookkeeping row) or not at all, and the write lock taken by ``BEGIN IMMEDIATE``
makes two processes starting at once take turns instead of both creating the
same table: the second one re-checks the bookkeeping inside the lock and skips.

Times are REAL epoch seconds (UTC) and the SQL avoids SQLite's date functions so
that a PostgreSQL backend can mirror these steps one for one.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

__all__ = [
    "MIGRATIONS",
    "Migration",
    "MigrationStep",
    "applied_versions",
    "apply_migrations",
    "migration",
]

MigrationStep = Callable[[sqlite3.Connection], None]
_T = TypeVar("_T")


@dataclass(frozen=True)
class Migration:
    """One numbered schema step; ``apply`` must not commit (the runner does)."""

    version: int
    name: str
    apply: MigrationStep


MIGRATIONS: dict[int, Migration] = {}
"""The registry the log applies: version -> step, filled by ``@migration``."""


def migration(
    version: int, name: str, *, registry: dict[int, Migration] | None = None
) -> Callable[[MigrationStep], MigrationStep]:
    """Register ``fn`` as schema step ``version``.

    Numbers are never reused: a database records which numbers it has, so a
    second step under an old number would silently never run where the first did.
    """
    target = MIGRATIONS if registry is None else registry
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"Migration versions are positive integers, not {version!r}.")

    def register(fn: MigrationStep) -> MigrationStep:
        if version in target:
            existing = target[version]
            raise ValueError(
                f"Migration {version} is already registered ({existing.name!r}); "
                "give the new step the next free number."
            )
        target[version] = Migration(version=version, name=name, apply=fn)
        return fn

    return register


_BOOKKEEPING = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INTEGER PRIMARY KEY,"
    " name TEXT,"
    " applied_at REAL"
    ")"
)


def applied_versions(conn: sqlite3.Connection) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty if the table is missing)."""
    try:
        rows = conn.execute("SELECT version FROM schema_migrations").fetchall()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return set()
        raise
    return {int(row[0]) for row in rows}


def apply_migrations(
    conn: sqlite3.Connection, registry: Mapping[int, Migration] | None = None
) -> list[int]:
    """Apply the registered steps ``conn`` lacks, in order; return their versions.

    Safe to call on every start-up: an up-to-date database costs one read. The
    connection must not be inside a transaction (each step opens its own).
    """
    steps = MIGRATIONS if registry is None else registry
    missing = sorted(set(steps) - applied_versions(conn))
    if not missing:
        return []

    _in_transaction(conn, partial(conn.execute, _BOOKKEEPING))
    applied: list[int] = []
    for version in missing:
        if _in_transaction(conn, partial(_apply_one, conn, steps[version])):
            applied.append(version)
    return applied


def _apply_one(conn: sqlite3.Connection, step: Migration) -> bool:
    # Re-check under the write lock: another process may have applied this
    # step between our first read and BEGIN IMMEDIATE.
    done = conn.execute(
        "SELECT 1 FROM schema_migrations WHERE version = ?", (step.version,)
    ).fetchone()
    if done is not None:
        return False
    step.apply(conn)
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (step.version, step.name, time.time()),
    )
    return True


def _in_transaction(conn: sqlite3.Connection, work: Callable[[], _T]) -> _T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = work()
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")
    return result


# --- the steps ---------------------------------------------------------------


@migration(1, "create issuance log")
def _create_issuance_log(conn: sqlite3.Connection) -> None:
    # One row per issued link. Nothing secret has a column: the URL's signature
    # and any stable token are kept only as a sha256 fingerprint, and the
    # display URL has both stripped. effective_expires_at NULL means "unknown".
    conn.execute(
        """
        CREATE TABLE links (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            issued_at REAL NOT NULL,
            issuer TEXT NOT NULL,
            strategy TEXT NOT NULL,
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            filename TEXT,
            ticket TEXT,
            note TEXT,
            nominal_expires_at REAL NOT NULL,
            effective_expires_at REAL,
            bound_by TEXT NOT NULL,
            reason TEXT NOT NULL,
            credential_source TEXT,
            access_key_id TEXT,
            credential_kind TEXT,
            credential_expires_at REAL,
            signed_at REAL NOT NULL,
            fingerprint TEXT NOT NULL,
            display_url TEXT NOT NULL,
            revoked_at REAL,
            revoked_by TEXT
        )
        """
    )
    # Indexes follow the queries: pasted-URL lookup, ticket search, the audit
    # timeline's time window and its per-strategy / per-issuer filters, and
    # "every link ever issued for this object".
    for name, columns in (
        ("links_fingerprint", "fingerprint"),
        ("links_ticket", "ticket"),
        ("links_issued_at", "issued_at"),
        ("links_strategy_issued_at", "strategy, issued_at"),
        ("links_issuer_issued_at", "issuer, issued_at"),
        ("links_bucket_key", "bucket, key"),
    ):
        conn.execute(f"CREATE INDEX {name} ON links ({columns})")


@migration(2, "add stable links")
def _add_stable_links(conn: sqlite3.Connection) -> None:
    # A stable link is a links row plus what the resolver needs per click. The
    # token itself is never stored, only its hash, so a leaked database cannot
    # be turned back into working links.
    conn.execute(
        """
        CREATE TABLE stable_links (
            link_id INTEGER PRIMARY KEY REFERENCES links(id),
            token_hash TEXT NOT NULL UNIQUE,
            expires_at REAL NOT NULL,
            mint_seconds INTEGER NOT NULL,
            clicks INTEGER NOT NULL DEFAULT 0,
            last_click_at REAL
        )
        """
    )
    conn.execute(
        """
        CREATE TABLE clicks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            link_id INTEGER NOT NULL,
            at REAL NOT NULL,
            status INTEGER NOT NULL,
            client_ip TEXT,
            user_agent TEXT
        )
        """
    )
    conn.execute("CREATE INDEX clicks_link_id_at ON clicks (link_id, at)")


@migration(3, "add audit indexes")
def _add_audit_indexes(conn: sqlite3.Connection) -> None:
    # The Expiry timeline aggregates a log of a million links on every rerun.
    # Each of its passes walks one covering index in the order it needs and
    # never reads the wide rows: a time range (per-day counts, the most recent
    # links); strategy and issuer (counts grouped by both); and the cut-short
    # links in order of time lost, overall, per strategy and per issuer, which
    # ORDER BY ... LIMIT 2 OFFSET walks half way to find a median. Each index
    # carries every filtered column (the ticket has its own index) so that a
    # filter never costs a row lookup. The lost-time expression and the
    # partial condition must stay word for word what dashboard/store/audit.py
    # writes, or SQLite will not use them.
    filters = "nominal_expires_at, effective_expires_at, revoked_at, bucket, key"
    lost = "(nominal_expires_at - effective_expires_at)"
    cut_short = " WHERE effective_expires_at < nominal_expires_at"
    for name, columns, where in (
        ("links_audit_time", f"issued_at, strategy, issuer, {filters}", ""),
        ("links_audit_group", f"strategy, issuer, issued_at, {filters}", ""),
        ("links_audit_lost", f"{lost}, issued_at, strategy, issuer, {filters}", cut_short),
        ("links_audit_strategy_lost", f"strategy, {lost}, issued_at, issuer, {filters}", cut_short),
        ("links_audit_issuer_lost", f"issuer, {lost}, issued_at, strategy, {filters}", cut_short),
    ):
        conn.execute(f"CREATE INDEX {name} ON links ({columns}){where}")


@migration(4, "clicks record their request method")
def _add_click_method(conn: sqlite3.Connection) -> None:
    # A HEAD (a link checker, a mail scanner) is recorded as a check, not a
    # download: the row keeps the method, and only GETs bump the link's counters.
    conn.execute("ALTER TABLE clicks ADD COLUMN method TEXT NOT NULL DEFAULT 'GET'")
