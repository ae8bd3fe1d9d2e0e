"""The log's hash chain: any edit, deletion, insertion or reordering of a row is found and named."""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.store import IssuanceLog, StableSpec, fingerprint
from dashboard.store import chain
from tests.test_store import T0, make_link

ROOT = Path(__file__).resolve().parent.parent


def build(path: str | Path) -> dict[str, int]:
    """A small log with every kind of chained row: links, a stable link, revocations, an extension.

    Chain order: links 1-3 (#1-3), link 4 (#4) with its stable row (#5),
    link 5 (#6) with its stable row (#7), link 6 (#8), then the revoke of
    link 2 (#9), the extend of link 4 (#10) and the revoke of link 5 (#11).
    """
    with IssuanceLog(path) as log:
        log.record_many([make_link(n) for n in (1, 2, 3)])
        stable = StableSpec(expires_at=T0 + timedelta(days=3), mint_seconds=300)
        log.record_many(
            [make_link(4, strategy="stable", fingerprint=fingerprint("token-4")), make_link(5, strategy="stable", fingerprint=fingerprint("token-5"))],
            [stable, stable],
        )
        log.record(make_link(6))
        log.revoke(2, at=T0 + timedelta(hours=1), by="lead@example.com")
        log.extend_stable(4, T0 + timedelta(days=9), "Extended by lead to 9 days.", by="lead@example.com", at=T0 + timedelta(hours=2))
        log.revoke(5, at=T0 + timedelta(hours=3), by="lead@example.com")
        verdict = log.verify()
        assert verdict.ok, verdict.problem
        assert verdict.rows == 11
    return {"rows": 11}


@pytest.fixture
def db_path(database_url: str) -> str:
    """A built log on the backend under test (named for the SQLite file it is there)."""
    build(database_url)
    return database_url


class _Shell:
    """What someone with the database and its shell (sqlite3, psql) can do: plain statements."""

    def __init__(self, location: str) -> None:
        self.postgres = location.startswith("postgresql://")
        if self.postgres:
            import psycopg

            self.conn: Any = psycopg.connect(location, autocommit=True)
        else:
            self.conn = sqlite3.connect(location, isolation_level=None)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.postgres else sql, params)

    def executescript(self, sql: str) -> None:
        if self.postgres:
            self.conn.execute(sql)
        else:
            self.conn.executescript(sql)


@contextlib.contextmanager
def tamper(location: str | Path) -> Iterator[_Shell]:
    shell = _Shell(str(location))
    try:
        yield shell
    finally:
        shell.conn.close()


def verdict_of(location: str) -> chain.Verdict:
    with IssuanceLog(location) as log:
        return log.verify()


def test_an_untouched_log_verifies_every_row(db_path: str) -> None:
    verdict = verdict_of(db_path)
    assert verdict.ok and verdict.rows == 11 and verdict.last_seq == 11


def test_the_log_is_append_only_revocations_and_extensions_are_rows_of_their_own(db_path: str) -> None:
    with tamper(db_path) as conn:
        events = conn.execute("SELECT seq, kind, link_id, actor FROM link_events ORDER BY seq").fetchall()
        link4 = conn.execute("SELECT nominal_expires_at FROM links WHERE id = 4").fetchone()[0]
        first_extend = conn.execute("SELECT was_nominal FROM link_events WHERE kind = 'extend'").fetchone()[0]
    assert events == [(9, "revoke", 2, "lead@example.com"), (10, "extend", 4, "lead@example.com"), (11, "revoke", 5, "lead@example.com")]
    assert link4 == (T0 + timedelta(days=9)).timestamp()  # the projection the audit reads
    assert first_extend == (T0 + timedelta(days=7, minutes=4)).timestamp()  # the promise as issued, kept by the event


Tamper = Callable[[_Shell], Any]

CASES: list[tuple[str, Tamper, str, str]] = [
    # (case, what is done to the file, the row named, how)
    ("edit a link's ticket", lambda c: c.execute("UPDATE links SET ticket = 'SUP-9999' WHERE id = 3"), "links row 3", "edited"),
    ("edit a link's key", lambda c: c.execute("UPDATE links SET key = 'other.pdf' WHERE id = 1"), "links row 1", "edited"),
    ("move a link's expiry", lambda c: c.execute("UPDATE links SET effective_expires_at = effective_expires_at + 3600 WHERE id = 6"), "links row 6", "edited"),
    ("edit a revocation time", lambda c: c.execute("UPDATE links SET revoked_at = revoked_at + 60 WHERE id = 2"), "links row 2", "edited"),
    ("undo a revocation", lambda c: c.execute("UPDATE links SET revoked_at = NULL, revoked_by = NULL WHERE id = 5"), "links row 5", "edited"),
    ("revoke without an event", lambda c: c.execute("UPDATE links SET revoked_at = 1, revoked_by = 'x' WHERE id = 1"), "links row 1", "edited"),
    ("edit an extended expiry", lambda c: c.execute("UPDATE links SET nominal_expires_at = nominal_expires_at + 86400 WHERE id = 4"), "links row 4", "edited"),
    ("edit a stable token hash", lambda c: c.execute("UPDATE stable_links SET token_hash = 'ab' WHERE link_id = 5"), "the stable_links row of link 5", "edited"),
    ("extend a stable link by hand", lambda c: c.execute("UPDATE stable_links SET expires_at = expires_at + 86400 WHERE link_id = 5"), "the stable_links row of link 5", "edited"),
    ("move an extension", lambda c: c.execute("UPDATE stable_links SET expires_at = expires_at + 86400 WHERE link_id = 4"), "the stable_links row of link 4", "edited"),
    ("edit who revoked", lambda c: c.execute("UPDATE link_events SET actor = 'someone' WHERE seq = 9"), "link_events row 9", "edited"),
    ("delete a link", lambda c: c.execute("DELETE FROM links WHERE id = 2"), "the row recorded after links row 1 and before links row 3 (chain #2)", "deleted"),
    ("delete the first link", lambda c: c.execute("DELETE FROM links WHERE id = 1"), "the row recorded and before links row 2 (chain #1)", "deleted"),
    ("delete two links", lambda c: c.execute("DELETE FROM links WHERE id IN (2, 3)"), "the rows recorded before links row 4 (chain #2 to #3)", "deleted"),
    ("delete a stable row", lambda c: c.execute("DELETE FROM stable_links WHERE link_id = 4"), "the row recorded after links row 4 and before links row 5 (chain #5)", "deleted"),
    ("delete a revocation", lambda c: c.execute("DELETE FROM link_events WHERE seq = 9"), "the row recorded after links row 6 and before link_events row 10 (chain #9)", "deleted"),
    ("delete the last row", lambda c: c.execute("DELETE FROM link_events WHERE seq = 11"), "the last row the desk wrote after link_events row 10 (chain #11)", "deleted"),
    ("delete the chain's head", lambda c: c.execute("DELETE FROM log_head"), "the chain's head", "deleted"),
    (
        "insert a link by hand",
        lambda c: c.execute(
            "INSERT INTO links (id, issued_at, issuer, strategy, bucket, key, signed_at, nominal_expires_at, bound_by, reason, fingerprint, display_url)"
            " VALUES (7, 1, 'x', 'ambient', 'b', 'k', 1, 2, 'nominal', 'r', 'f', 'u')"
        ),
        "links row 7",
        "inserted",
    ),
    (
        "insert a copy of a link with its chain columns",
        lambda c: c.execute(
            "INSERT INTO links SELECT 7, issued_at, issuer, strategy, bucket, key, filename, 'SUP-forged', note, nominal_expires_at,"
            " effective_expires_at, bound_by, reason, credential_source, access_key_id, credential_kind, credential_expires_at,"
            " signed_at, fingerprint, display_url, revoked_at, revoked_by, seq, prev_hash, row_hash FROM links WHERE id = 3"
        ),
        "links row 7",
        "inserted",
    ),
    (
        "insert an event by hand",
        lambda c: c.execute("INSERT INTO link_events (seq, kind, link_id, at, actor, prev_hash, row_hash) VALUES (12, 'revoke', 1, 1, 'x', 'p', 'h')"),
        "link_events row 12",
        "edited",
    ),
    ("swap two links' places", lambda c: c.executescript("UPDATE links SET seq = -1 WHERE id = 2; UPDATE links SET seq = 2 WHERE id = 3; UPDATE links SET seq = 3 WHERE id = 2;"), "links row 2", "reordered"),
    (
        "swap two events' places",
        lambda c: c.executescript("UPDATE link_events SET seq = -1 WHERE seq = 9; UPDATE link_events SET seq = 9 WHERE seq = 10; UPDATE link_events SET seq = 10 WHERE seq = -1;"),
        "link_events row 9",
        "reordered",
    ),
    # Moved to the end: the first row out of place is the one that now follows its old neighbour.
    ("move a row to the end", lambda c: c.execute("UPDATE links SET seq = 40 WHERE id = 6"), "link_events row 9", "reordered"),
]


@pytest.mark.parametrize("case, change, row, how", CASES, ids=[c[0] for c in CASES])
def test_tampering_with_the_file_is_detected_and_the_row_named(db_path: str, case: str, change: Tamper, row: str, how: str) -> None:
    with tamper(db_path) as conn:
        change(conn)

    verdict = verdict_of(db_path)

    assert verdict.problem is not None, case
    assert (verdict.problem.row, verdict.problem.how) == (row, how), verdict.problem.sentence()
    sentence = verdict.problem.sentence()
    assert "\n" not in sentence and sentence.endswith(".")


def test_verify_log_prints_the_rows_verified_or_names_the_first_bad_row(tmp_path: Path, database_url: str) -> None:
    log_path = database_url
    build(log_path)
    env = {"SHAREDESK_STATE_DIR": str(tmp_path), "SHAREDESK_DEMO": "0", "SHAREDESK_DATABASE_URL": log_path, "PATH": "/usr/bin:/bin", "AWS_REGION": "us-east-1"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "dashboard", "verify-log"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    good = run()
    assert (good.returncode, good.stdout, good.stderr) == (0, "11 rows verified\n", "")

    with tamper(log_path) as conn:
        conn.execute("UPDATE links SET note = 'changed' WHERE id = 3")
    bad = run()
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == (
        "dashboard: the issuance log does not verify (2 rows before it verified): "
        "links row 3 was edited: its fields no longer match the hash it was recorded with.\n"
    )


def test_the_watch_verifies_once_then_only_what_was_appended(database_url: str) -> None:
    with IssuanceLog(database_url) as log:
        log.record_many([make_link(n) for n in range(5)])
        first = log.chain_status(wait=True)
        assert (first.state, first.rows) == ("verified", 5)
        log.record(make_link(9))
        log.revoke(2, at=T0, by="lead")
        again = log.chain_status(wait=True)
        assert (again.state, again.rows) == ("verified", 7)
        assert "7 log rows verified" in again.message

        with tamper(database_url) as conn:  # a row after the last verified one
            log.record(make_link(10))
            conn.execute("UPDATE links SET ticket = 'forged' WHERE id = 7")
        broken = log.chain_status(wait=True)
        assert broken.state == "broken" and broken.problem is not None and broken.problem.row == "links row 7"
        assert log.chain_status().state == "broken"  # stays broken, at no cost


def test_the_watch_walks_everything_again_when_a_verified_row_changed(database_url: str) -> None:
    with IssuanceLog(database_url) as log:
        log.record_many([make_link(n) for n in range(3)])
        assert log.chain_status(wait=True).state == "verified"
        with tamper(database_url) as conn:  # the last verified row, hash recomputed to hide the edit
            seq, prev = conn.execute("SELECT seq, prev_hash FROM links WHERE id = 3").fetchone()
            conn.execute("UPDATE links SET row_hash = ? WHERE id = 3", ("0" * 64,))
            conn.execute("UPDATE log_head SET row_hash = ?", ("0" * 64,))
        status = log.chain_status(wait=True)
        assert status.state == "broken" and status.problem is not None and status.problem.row == "links row 3"


def test_a_revocation_through_the_incremental_watch_checks_the_old_links_projection(database_url: str) -> None:
    with IssuanceLog(database_url) as log:
        log.record_many([make_link(n) for n in range(3)])
        assert log.chain_status(wait=True).state == "verified"
        log.revoke(1, at=T0, by="lead")
        with tamper(database_url) as conn:
            conn.execute("UPDATE links SET revoked_by = 'someone else' WHERE id = 1")
        status = log.chain_status(wait=True)
        assert status.state == "broken" and status.problem is not None
        assert (status.problem.row, status.problem.how) == ("links row 1", "edited")


def _write_in_another_process(path: str, worker: int, start: Any) -> None:
    with IssuanceLog(path) as log:
        start.wait()
        for n in range(15):
            entry = log.record(make_link(worker * 100 + n))
            if n % 5 == 0:
                log.revoke(entry.id, at=T0, by=f"worker-{worker}")


def test_concurrent_writers_in_several_processes_never_fork_the_chain(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    path = database_url
    IssuanceLog(path).close()
    start = ctx.Barrier(4)
    workers = [ctx.Process(target=_write_in_another_process, args=(path, w, start)) for w in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0

    with IssuanceLog(path) as log:
        verdict = log.verify()
        assert log.count() == 60
    assert verdict.ok, verdict.problem
    assert verdict.rows == 60 + 12  # every link and every revocation, in one chain
