"""The audit rollup stays equal to a recount of the links, whatever writes them, and reads what it claims.

The rollup (dashboard/store/rollup.py) is kept by triggers; the reference is
`rollup.rebuild`, which counts every link again with GROUP BYs. After any
sequence of issues, bulk issues, fills, revocations, extensions and even
deletions, both must hold the same cells.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from dashboard.store import IssuanceLog, NewLink, StableSpec, apply_migrations, fingerprint, rollup, synthetic
from dashboard.store import audit as queries
from dashboard.store.audit import AuditFilter
from dashboard.store.connections import connect
from dashboard.store.migrations import MIGRATIONS

NOW = datetime(2026, 3, 29, 12, 7, tzinfo=UTC)
TABLES = {
    "audit_combos": "strategy, issuer, bucket, bin, links",
    "audit_cumulative": "strategy, issuer, bucket, bin, hour, links",
    "audit_hours": "strategy, issuer, bucket, hour, " + ", ".join(("links", "revoked", *(f"cut_{s}" for s in rollup.TOLERANCE_SECONDS))),
    "audit_quarters": "quarter, " + ", ".join(("links", "revoked", *(f"cut_{s}" for s in rollup.TOLERANCE_SECONDS))),
}


def cells(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    """Every non-empty cell (a cell emptied by a revocation or deletion counts as absent).

    A cumulative row that repeats the one before it says nothing new (a link
    moved away after the row was written), so only the steps are compared.
    """
    found = {table: sorted(conn.execute(f"SELECT {columns} FROM {table} WHERE links != 0").fetchall()) for table, columns in TABLES.items()}
    steps, last = [], {}
    for *combo, hour, links in sorted(conn.execute(f"SELECT {TABLES['audit_cumulative']} FROM audit_cumulative").fetchall()):
        if links != last.get(tuple(combo), 0):
            steps.append((*combo, hour, links))
        last[tuple(combo)] = links
    found["audit_cumulative"] = steps
    return found


def recounted(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    conn.execute("BEGIN")
    try:
        rollup.rebuild(conn)
        return cells(conn)
    finally:
        conn.execute("ROLLBACK")


@contextlib.contextmanager
def scratch_log() -> Iterator[IssuanceLog]:
    """A fresh log on a file of its own (the desk refuses in-memory logs), for one hypothesis example."""
    with tempfile.TemporaryDirectory(prefix="sharedesk-rollup-") as folder, IssuanceLog(Path(folder) / "log.sqlite3") as log:
        yield log


def assert_rollup_is_exact(log: IssuanceLog) -> None:
    with log.reading() as db:
        assert cells(db) == recounted(db)


def link(n: int, issued: datetime, *, strategy: str = "ambient", lost: timedelta | None = timedelta(hours=3), unknown: bool = False) -> NewLink:
    nominal = issued + timedelta(days=1)
    effective = None if unknown else nominal - (lost or timedelta(0))
    return NewLink(
        issued_at=issued, issuer=f"issuer-{n % 3}", strategy=strategy, bucket=f"bucket-{n % 2}", key=f"k/{n}", filename=None,
        ticket=None, note=None, signed_at=issued, nominal_expires_at=nominal, effective_expires_at=effective,
        bound_by="credentials" if lost else "nominal", reason="Test.", credential_source="test", access_key_id="ASIAEXAMPLE",
        credential_kind="temporary", credential_expires_at=effective, fingerprint=fingerprint(f"rollup-{n}-{issued.timestamp()}"),
        display_url=f"https://example/{n}",
    )


operations = hs.lists(
    hs.one_of(
        hs.tuples(hs.just("issue"), hs.integers(0, 40 * 24 * 60), hs.sampled_from([None, 0, 59, 60, 61, 299, 300, 301, 3600, 86000]), hs.booleans()),
        hs.tuples(hs.just("issue many"), hs.integers(0, 40 * 24 * 60), hs.integers(1, 5), hs.booleans()),
        hs.tuples(hs.just("stable"), hs.integers(0, 40 * 24 * 60), hs.integers(1, 90), hs.booleans()),
        hs.tuples(hs.just("revoke"), hs.integers(0, 10**6), hs.integers(-60, 90 * 24 * 60), hs.booleans()),
        hs.tuples(hs.just("extend"), hs.integers(0, 10**6), hs.integers(1, 200), hs.booleans()),
        hs.tuples(hs.just("delete"), hs.integers(0, 10**6), hs.just(0), hs.booleans()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations)
def test_triggers_keep_the_rollup_equal_to_a_recount_after_any_writes(ops):
    with scratch_log() as log:
        ids: list[int] = []
        stable: list[int] = []
        for n, (kind, a, b, flag) in enumerate(ops):
            issued = NOW - timedelta(minutes=a)
            if kind == "issue":
                ids.append(log.record(link(n, issued, lost=None if b is None else timedelta(seconds=b), unknown=flag)).id)
            elif kind == "issue many":
                ids += [e.id for e in log.record_many([link(n * 10 + k, issued + timedelta(seconds=k), strategy="role-session") for k in range(b)])]
            elif kind == "stable":
                expires = issued + timedelta(days=b)
                [entry] = log.record_many([link(n, issued, strategy="stable", lost=None)], [StableSpec(expires_at=expires, mint_seconds=300)])
                ids.append(entry.id)
                stable.append(entry.id)
            elif kind == "revoke" and ids:
                target = ids[a % len(ids)]
                log.revoke(target, at=log.get(target).issued_at + timedelta(minutes=b), by="lead")
            elif kind == "extend" and stable:
                target = stable[a % len(stable)]
                log.extend_stable(target, log.get(target).issued_at + timedelta(days=b), "Extended.")
            elif kind == "delete" and ids:
                gone = ids.pop(a % len(ids))
                stable = [i for i in stable if i != gone]
                with log.reading() as db:  # the log never deletes (its chain would say so), but the rollup must survive it
                    db.execute("PRAGMA foreign_keys = OFF")
                    db.execute("DELETE FROM stable_links WHERE link_id = ?", (gone,))
                    db.execute("DELETE FROM links WHERE id = ?", (gone,))
                    db.execute("PRAGMA foreign_keys = ON")
            assert_rollup_is_exact(log)


def test_bulk_fill_keeps_the_rollup_exact_by_triggers_and_by_rebuilding(tmp_path, monkeypatch):
    with IssuanceLog(tmp_path / "log.sqlite3") as log:
        synthetic.bulk_fill(log, 300, seed=1, now=NOW)  # row by row: the triggers
        assert_rollup_is_exact(log)
        monkeypatch.setattr(synthetic, "_REBUILD_AT", 100)
        synthetic.bulk_fill(log, 700, seed=2, now=NOW)  # indexes and rollup rebuilt at the end
        assert_rollup_is_exact(log)
        with log.reading() as conn:
            assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")} >= {
                "audit_rollup_insert", "audit_rollup_update", "audit_rollup_delete"
            }
            assert conn.execute("SELECT SUM(links) FROM audit_combos").fetchone() == (1000,)


def test_migration_20_counts_the_links_a_log_already_holds(tmp_path: Path):
    path = str(tmp_path / "old.sqlite3")
    conn = connect(path)
    older = {v: m for v, m in MIGRATIONS.items() if v < 20}
    apply_migrations(conn, older)  # a log from before the rollup
    with IssuanceLog(tmp_path / "scratch.sqlite3") as scratch:
        synthetic.bulk_fill(scratch, 500, seed=4, now=NOW)
    source = sqlite3.connect(str(tmp_path / "scratch.sqlite3"))
    columns = [r[1] for r in source.execute("PRAGMA table_info(links)")]
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO links ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})", source.execute("SELECT * FROM links"))
    conn.execute("COMMIT")
    assert apply_migrations(conn) == [20, 21]
    assert conn.execute("SELECT SUM(links) FROM audit_combos").fetchone() == (500,)
    assert cells(conn) == recounted(conn)
    conn.close()
    with IssuanceLog(path) as log:  # and its figures are the links' own
        f = AuditFilter(now=NOW, since=NOW - timedelta(days=10))
        rolled, counted = queries.figures(log, f), queries.counted(log, f)
        assert (rolled.summary.issued, rolled.summary.cut_short, rolled.summary.at_risk) == (counted.summary.issued, counted.summary.cut_short, counted.summary.at_risk)
        assert rolled.per_day == counted.per_day


@pytest.fixture(scope="module")
def bins_log() -> Iterator[IssuanceLog]:
    """One migrated log whose audit_bins table the bin's SQL reads."""
    with scratch_log() as log:
        yield log


@given(
    nominal=hs.floats(1e9, 2e9),
    lost=hs.one_of(hs.none(), hs.floats(-1e6, 4e7), hs.sampled_from([float(e) for e in rollup.BIN_EDGES[:-1]])),
    revoked=hs.one_of(hs.none(), hs.floats(-1e7, 1e7)),
)
def test_the_python_bin_is_the_sql_bin(bins_log, nominal, lost, revoked):
    effective = None if lost is None else nominal - lost
    revoked_at = None if revoked is None else nominal + revoked
    with bins_log.reading() as conn:
        sql = rollup._bin("r")
        [(found,)] = conn.execute(
            f"SELECT {sql} FROM (SELECT ? AS nominal_expires_at, ? AS effective_expires_at, ? AS revoked_at) r", (nominal, effective, revoked_at)
        ).fetchall()
    assert found == rollup.classify(nominal, effective, revoked_at)[0]


def test_every_tolerance_the_desk_offers_is_a_bin_edge_and_bins_are_at_most_9_percent_wide():
    edges = rollup.BIN_EDGES
    assert all(float(s) in edges for s in rollup.TOLERANCE_SECONDS)
    assert all(hi / lo <= 1 + rollup.MEDIAN_ERROR + 1e-9 for lo, hi in zip(edges[1:-2], edges[2:-1]))
    assert edges[-2] >= 400 * 86400 and rollup.MEDIAN_ERROR < 0.091


def test_the_log_version_moves_on_every_issue_revocation_and_extension():
    with scratch_log() as log:
        first = queries.version(log)
        [entry] = log.record_many([link(1, NOW - timedelta(hours=1), strategy="stable", lost=None)], [StableSpec(expires_at=NOW + timedelta(days=1), mint_seconds=300)])
        issued = queries.version(log)
        log.extend_stable(entry.id, NOW + timedelta(days=3), "Extended.")
        extended = queries.version(log)
        log.revoke(entry.id, at=NOW, by="lead")
        revoked = queries.version(log)
    assert len({first, issued, extended, revoked}) == 4
    assert issued.last_id == entry.id and extended.changes == issued.changes + 1 and revoked.changes == extended.changes + 1


@pytest.mark.parametrize("days_back", [1, 7, 30])
def test_a_median_from_the_bins_is_within_its_stated_error(days_back):
    with scratch_log() as log:
        synthetic.bulk_fill(log, 6000, seed=9, now=NOW)
        f = AuditFilter(now=NOW, since=NOW - timedelta(days=days_back))
        rolled, exact = queries.figures(log, f), queries.counted(log, f)
    pairs = [(rolled.summary, exact.summary), *zip(rolled.by_strategy, exact.by_strategy), *zip(rolled.by_issuer, exact.by_issuer)]
    checked = 0
    for got, want in pairs:
        assert (got.issued, got.cut_short) == (want.issued, want.cut_short)
        if want.median_hours_lost is not None:
            assert abs(got.median_hours_lost - want.median_hours_lost) <= rollup.MEDIAN_ERROR * want.median_hours_lost
            checked += 1
    assert checked >= 3


def test_rows_stop_at_the_count_the_figures_found():
    with scratch_log() as log:
        synthetic.bulk_fill(log, 500, seed=2, now=NOW)
        f = AuditFilter(now=NOW, strategies=("iam-user",), state=queries.State.CUT_SHORT)
        assert queries.figures(log, f).summary.issued == 0
        assert queries.rows(log, f, 300, matching=0) == [] == queries.rows(log, f, 300)
