"""The issuance log on real SQLite files: schema, durability, safety, errors."""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from dashboard.store import (
    MIGRATIONS,
    IssuanceLog,
    LogEntry,
    LogEntryNotFound,
    LogError,
    LogLocationError,
    LogReadError,
    LogWriteError,
    Migration,
    NewLink,
    apply_migrations,
    fingerprint,
    migration,
)
from dashboard.store.connections import connect
from dashboard.store.entries import LINK_COLUMNS, link_params

T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)
PARIS = timezone(timedelta(hours=1), "CET")


def make_link(n: int = 0, **changes: Any) -> NewLink:
    values: dict[str, Any] = dict(
        issued_at=T0 + timedelta(minutes=n),
        issuer="agent@example.com",
        strategy="ambient",
        bucket="customer-files",
        key=f"reports/2026/report {n} +été.pdf",
        filename=f"report-{n}.pdf",
        ticket="SUP-1234",
        note="sent by email",
        signed_at=T0 + timedelta(minutes=n),
        nominal_expires_at=T0 + timedelta(days=7, minutes=n),
        effective_expires_at=T0 + timedelta(hours=2, minutes=n),
        bound_by="credentials",
        reason="The task role's session ends at 11:30 UTC, before the 7 days asked.",
        credential_source="container-role",
        access_key_id="ASIAEXAMPLEEXAMPLE01",
        credential_kind="temporary",
        credential_expires_at=T0 + timedelta(hours=2),
        fingerprint=fingerprint(f"signature-{n}"),
        display_url=f"https://customer-files.s3.amazonaws.com/reports/2026/report-{n}.pdf",
    )
    values.update(changes)
    return NewLink(**values)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "issuance.sqlite3"


@pytest.fixture
def log(database_url: str) -> Iterator[IssuanceLog]:
    """A new log on the backend under test (SQLite and PostgreSQL, see tests/conftest.py)."""
    with IssuanceLog(database_url) as opened:
        yield opened


@pytest.fixture
def file_log(db_path: Path) -> Iterator[IssuanceLog]:
    """A log on a SQLite file, for what only a file can show (WAL, deletion, raw access)."""
    with IssuanceLog(db_path) as opened:
        yield opened


def raw(path: Path) -> sqlite3.Connection:
    """A connection of our own, as another process or an operator would have."""
    return sqlite3.connect(path, isolation_level=None)


def assert_is_sentence_for_user(message: str, path: Path | None = None) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert message.endswith("then try again.")
    if path is not None:
        assert str(path) in message


# --- migrations --------------------------------------------------------------


def test_migrations_from_empty_database_apply_every_step_and_record_it(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "empty.sqlite3"))

    assert apply_migrations(conn) == sorted(MIGRATIONS)  # 1-5, then the audit rollup's 20 and up

    recorded = conn.execute("SELECT version, name, applied_at FROM schema_migrations").fetchall()
    assert [(v, n) for v, n, _ in recorded][:5] == [
        (1, "create issuance log"),
        (2, "add stable links"),
        (3, "add audit indexes"),
        (4, "chain the log"),
        (5, "clicks record their request method"),
    ]
    assert [(v, n) for v, n, _ in recorded] == [(v, MIGRATIONS[v].name) for v in sorted(MIGRATIONS)]
    assert all(abs(at - time.time()) < 60 for _, _, at in recorded)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"links", "stable_links", "clicks", "link_events", "log_head", "schema_migrations"} <= tables
    indexed = {
        tuple(c[2] for c in conn.execute(f"PRAGMA index_info({name!r})"))
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='index' AND tbl_name='links'"
        )
    }
    assert {
        ("fingerprint",),
        ("ticket",),
        ("issued_at",),
        ("strategy", "issued_at"),
        ("issuer", "issued_at"),
        ("bucket", "key"),
    } <= indexed


def test_reapplying_migrations_is_a_no_op(tmp_path: Path) -> None:
    conn = connect(str(tmp_path / "log.sqlite3"))
    apply_migrations(conn)
    before = conn.execute("SELECT * FROM schema_migrations").fetchall()

    assert apply_migrations(conn) == []
    assert conn.execute("SELECT * FROM schema_migrations").fetchall() == before


def test_a_failing_migration_is_rolled_back_and_not_recorded(tmp_path: Path) -> None:
    registry: dict[int, Migration] = {}

    @migration(1, "good", registry=registry)
    def _good(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE a (x INTEGER)")

    @migration(2, "half done", registry=registry)
    def _bad(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE b (x INTEGER)")
        raise RuntimeError("boom")

    conn = connect(str(tmp_path / "log.sqlite3"))
    with pytest.raises(RuntimeError, match="boom"):
        apply_migrations(conn, registry)

    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" in tables and "b" not in tables
    assert [r[0] for r in conn.execute("SELECT version FROM schema_migrations")] == [1]
    assert not conn.in_transaction


def test_a_migration_number_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="already registered"):
        migration(1, "again")(lambda conn: None)
    assert MIGRATIONS[1].name == "create issuance log"


def _migrate_in_another_process(path: str, start: Any, results: Any) -> None:
    conn = connect(path)
    start.wait()
    results.put(apply_migrations(conn))


def test_processes_starting_at_once_apply_each_migration_exactly_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    path = str(tmp_path / "shared.sqlite3")
    start, results = ctx.Barrier(3), ctx.Queue()
    workers = [
        ctx.Process(target=_migrate_in_another_process, args=(path, start, results))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    applied = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert sorted(v for versions in applied for v in versions) == sorted(MIGRATIONS)
    with raw(Path(path)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone() == (len(MIGRATIONS),)


# --- opening -----------------------------------------------------------------


def test_opening_creates_the_folder_and_puts_the_file_in_wal_mode(
    file_log: IssuanceLog, db_path: Path
) -> None:
    assert db_path.is_file()
    with raw(db_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_two_logs_on_one_database_both_read_and_write(database_url: str) -> None:
    with IssuanceLog(database_url) as first, IssuanceLog(database_url) as second:
        a = first.record(make_link(1))
        b = second.record(make_link(2))

        assert second.get(a.id) == a
        assert first.get(b.id) == b
        assert first.count() == second.count() == 2


def test_open_accepts_a_plain_path_or_a_sqlite_url(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with IssuanceLog.open("plain/log.sqlite3") as log:
        log.record(make_link())
    with IssuanceLog.open("sqlite:///plain/log.sqlite3") as relative:
        assert relative.count() == 1
    with IssuanceLog.open(f"sqlite:///{tmp_path}/plain/log.sqlite3") as absolute:
        assert absolute.count() == 1


@pytest.mark.parametrize(
    "setting",
    [
        "sqlite://",
        "sqlite:///",
        ":memory:",
        " :MEMORY: ",
        "sqlite:///:memory:",
        "file::memory:",
        "file::memory:?cache=shared",
        "file:log.sqlite3?mode=memory",
        "sqlite:///log.sqlite3?mode=memory",
        "",
        "   ",
    ],
)
def test_a_location_that_keeps_nothing_is_refused_with_a_sentence(setting: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LogLocationError) as raised:
        IssuanceLog.open(setting)

    message = str(raised.value)
    assert "\n" not in message and message.endswith(".")
    assert "keeps nothing" in message or "deleted when the desk stops" in message
    assert list(tmp_path.iterdir()) == []  # nothing was created either


@pytest.mark.parametrize(
    "setting, words",
    [
        ("/dev/null", "a device keeps nothing"),
        ("{tmp}", "a folder"),
        ("file:log.sqlite3", "file: URI"),
        ("sqlite:///log.sqlite3?timeout=5", "options"),
        ("sqlite://host/log.sqlite3", "has a host"),
        ("mysql://db/log", "unsupported scheme mysql"),
        ("postgresql://desk@db:port/x", "port that is not a number"),
    ],
)
def test_an_unusable_location_is_refused_with_a_sentence(setting: str, words: str, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LogLocationError, match=words) as raised:
        IssuanceLog.open(setting.format(tmp=tmp_path))
    assert "\n" not in str(raised.value)


def test_a_postgresql_password_is_never_echoed_in_a_refusal() -> None:
    with pytest.raises(LogLocationError) as raised:
        IssuanceLog.open("postgresql://desk:hunter2-secret@db:notaport/x")
    assert "hunter2-secret" not in str(raised.value)


def test_opening_a_file_that_is_not_a_database_raises_a_sentence(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite3"
    path.write_bytes(b"this is not a database" * 200)

    with pytest.raises(LogWriteError) as raised:
        IssuanceLog(path)

    assert str(raised.value).startswith("The issuance log could not be opened (")
    assert_is_sentence_for_user(str(raised.value), path)


def test_opening_below_a_regular_file_raises_a_sentence(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")

    with pytest.raises(LogWriteError) as raised:
        IssuanceLog(blocker / "log.sqlite3")

    assert_is_sentence_for_user(str(raised.value))


# --- recording and reading ---------------------------------------------------


@pytest.mark.parametrize(
    "link",
    [
        make_link(),
        make_link(
            filename=None,
            ticket=None,
            note=None,
            effective_expires_at=None,
            credential_source=None,
            access_key_id=None,
            credential_kind=None,
            credential_expires_at=None,
        ),
        make_link(
            issued_at=T0.astimezone(PARIS),
            signed_at=T0.astimezone(PARIS),
            nominal_expires_at=T0.astimezone(PARIS) + timedelta(days=365),
        ),
    ],
    ids=["every-field", "optional-fields-none", "times-given-in-another-zone"],
)
def test_record_then_get_round_trips_every_field_with_times_in_utc(
    log: IssuanceLog, link: NewLink
) -> None:
    recorded = log.record(link)
    fetched = log.get(recorded.id)

    assert fetched == recorded
    assert {f.name for f in dataclasses.fields(LogEntry)} == {
        *(f.name for f in dataclasses.fields(NewLink)),
        "id",
        "revoked_at",
        "revoked_by",
    }
    for field in dataclasses.fields(NewLink):
        value = getattr(fetched, field.name)
        assert value == getattr(link, field.name), field.name
        if isinstance(value, datetime):
            assert value.tzinfo is UTC
    assert fetched.revoked_at is None and fetched.revoked_by is None


def test_recorded_row_is_committed_before_record_returns(log: IssuanceLog, database_url: str) -> None:
    entry = log.record(make_link())

    with IssuanceLog(database_url) as other:  # its own connections, as another replica has
        assert other.query("SELECT issuer, key FROM links WHERE id = ?", (entry.id,)) == [(entry.issuer, entry.key)]


def test_naive_times_are_refused_before_anything_is_written() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_link(signed_at=datetime(2026, 3, 1, 9, 30))


def test_record_many_stores_every_link_in_order(log: IssuanceLog) -> None:
    log.record(make_link(0))
    links = [make_link(n) for n in range(1, 6)]

    entries = log.record_many(links)

    assert [e.key for e in entries] == [link.key for link in links]
    assert [e.id for e in entries] == sorted({e.id for e in entries})
    assert [log.get(e.id) for e in entries] == entries
    assert log.count() == 6
    assert log.record_many([]) == []


def test_record_many_stores_nothing_when_one_link_is_bad(log: IssuanceLog) -> None:
    log.record(make_link(0))
    bad = make_link(3, issuer=None)  # NOT NULL: the database refuses the row
    batch = [make_link(1), make_link(2), bad, make_link(4)]

    with pytest.raises(LogWriteError) as raised:
        log.record_many(batch)

    assert "no link was issued" in str(raised.value)
    assert log.count() == 1
    assert log.record(make_link(5)).id > 1  # the log is still usable


def test_record_many_of_2000_links_stores_them_all(log: IssuanceLog) -> None:
    # How fast is measured in bench/issue.py: timed assertions do not belong in tests.
    entries = log.record_many([make_link(n) for n in range(2000)])
    assert len(entries) == 2000 == log.count()
    assert [e.id for e in entries] == sorted(e.id for e in entries)


def test_find_by_fingerprint_finds_the_link_and_none_for_an_unknown_one(
    log: IssuanceLog,
) -> None:
    log.record_many([make_link(n) for n in range(3)])

    found = log.find_by_fingerprint(fingerprint("signature-1"))

    assert found is not None and found.key == make_link(1).key
    assert log.find_by_fingerprint(fingerprint("never-issued")) is None


def test_find_by_ticket_returns_that_tickets_links_newest_first(log: IssuanceLog) -> None:
    log.record_many(
        [
            make_link(1, ticket="SUP-1"),
            make_link(3, ticket="SUP-1"),
            make_link(2, ticket="SUP-1"),
            make_link(4, ticket="SUP-2"),
        ]
    )

    found = log.find_by_ticket("SUP-1")

    assert [e.issued_at for e in found] == [T0 + timedelta(minutes=m) for m in (3, 2, 1)]
    assert log.find_by_ticket("SUP-404") == []


def test_recent_returns_the_newest_links_first_up_to_the_limit(log: IssuanceLog) -> None:
    log.record_many([make_link(n) for n in (5, 1, 9, 3)])

    assert [e.issued_at.minute for e in log.recent(limit=3)] == [39, 35, 33]
    assert len(log.recent()) == 4
    assert log.recent(limit=0) == []


def test_unknown_ids_raise_not_found(log: IssuanceLog) -> None:
    with pytest.raises(LogEntryNotFound):
        log.get(999)
    with pytest.raises(LogEntryNotFound):
        log.revoke(999, at=T0, by="lead@example.com")


def test_revoking_twice_keeps_the_first_time_and_person(log: IssuanceLog) -> None:
    entry = log.record(make_link())

    first = log.revoke(entry.id, at=T0 + timedelta(hours=1), by="lead@example.com")
    second = log.revoke(entry.id, at=T0 + timedelta(hours=5), by="someone@example.com")

    assert first.revoked_at == T0 + timedelta(hours=1)
    assert first.revoked_by == "lead@example.com"
    assert second == first == log.get(entry.id)
    assert dataclasses.replace(first, revoked_at=None, revoked_by=None) == entry


def test_records_from_many_threads_all_land(log: IssuanceLog) -> None:
    errors: list[BaseException] = []

    def issue(worker: int) -> None:
        try:
            for n in range(25):
                entry = log.record(make_link(worker * 100 + n))
                assert log.get(entry.id).key == entry.key
        except BaseException as exc:  # surfaced below, with the thread's cause
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert log.count() == 200


# --- the file under a running desk ------------------------------------------


def test_a_log_file_deleted_under_a_running_desk_refuses_before_the_next_link(file_log: IssuanceLog, db_path: Path) -> None:
    log = file_log
    log.record(make_link(0))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)

    with pytest.raises(LogWriteError) as raised:
        log.record(make_link(1))
    message = str(raised.value)
    assert "was deleted while the desk was running" in message and "no link is shown" in message
    assert_is_sentence_for_user(message, db_path)
    with pytest.raises(LogReadError):  # reads say so too, rather than reading a ghost
        log.count()
    assert not db_path.exists()  # and nothing was written to a file no path names


def test_a_log_file_replaced_under_a_running_desk_is_reopened_and_migrated(file_log: IssuanceLog, db_path: Path) -> None:
    log = file_log
    log.record(make_link(0))
    backup = db_path.with_name("backup.sqlite3")
    newest = max(MIGRATIONS)
    chained = next(v for v, step in MIGRATIONS.items() if step.name == "chain the log")
    with contextlib.closing(connect(str(backup))) as conn:  # as a desk from before the chain left it, with two links
        apply_migrations(conn, {v: step for v, step in MIGRATIONS.items() if v < chained})
        columns = ", ".join(LINK_COLUMNS)
        conn.executemany(
            f"INSERT INTO links ({columns}) VALUES ({', '.join('?' for _ in LINK_COLUMNS)})",
            [link_params(make_link(10)), link_params(make_link(11))],
        )
    os.replace(backup, db_path)  # the running desk's own -wal and -shm are still there

    entry = log.record(make_link(12))

    assert log.count() == 3
    with raw(db_path) as conn:
        assert conn.execute("SELECT key FROM links WHERE id = ?", (entry.id,)).fetchone() == (entry.key,)
        assert conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (newest,)
    verdict = log.verify()  # the older rows were chained by the migration, the new one after them
    assert verdict.ok and verdict.rows == 3


# --- seeding once -------------------------------------------------------------


def test_seed_once_writes_only_into_an_empty_log(log: IssuanceLog) -> None:
    first = log.seed_once([make_link(1), make_link(2)])
    again = log.seed_once([make_link(3)])

    assert [e.key for e in first] == [make_link(1).key, make_link(2).key]
    assert again == []
    assert log.count() == 2


def _seed_in_another_process(location: str, start: Any, results: Any) -> None:
    with IssuanceLog(location) as log:
        start.wait()
        results.put(len(log.seed_once([make_link(n) for n in range(50)])))


def test_processes_seeding_at_once_write_the_seed_once(database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    path = database_url
    start, results = ctx.Barrier(4), ctx.Queue()
    workers = [ctx.Process(target=_seed_in_another_process, args=(path, start, results)) for _ in range(4)]
    for worker in workers:
        worker.start()
    written = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0

    assert written == [0, 0, 0, 50]
    with IssuanceLog(path) as log:
        assert log.count() == 50


# --- failures become sentences -----------------------------------------------


def test_writing_after_the_table_vanished_raises_a_sentence(
    file_log: IssuanceLog, db_path: Path
) -> None:
    log = file_log
    log.record(make_link())
    with raw(db_path) as other:
        other.execute("DROP TABLE links")

    with pytest.raises(LogWriteError) as raised:
        log.record(make_link(1))

    message = str(raised.value)
    assert message.startswith("The issuance log could not be written (no such table: links)")
    assert "no link was issued" in message
    assert_is_sentence_for_user(message, db_path)
    assert isinstance(raised.value.__cause__, sqlite3.Error)  # kept for the server log


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes read-only files"
)
def test_writing_to_a_read_only_file_raises_a_sentence(db_path: Path) -> None:
    IssuanceLog(db_path).close()
    db_path.chmod(0o444)
    try:
        with pytest.raises(LogError) as raised, IssuanceLog(db_path) as log:
            log.record(make_link())
        assert_is_sentence_for_user(str(raised.value), db_path)
    finally:
        db_path.chmod(0o644)


def test_a_closed_log_raises_sentences(db_path: Path) -> None:
    log = IssuanceLog(db_path)
    log.close()

    with pytest.raises(LogWriteError) as written:
        log.record(make_link())
    with pytest.raises(LogReadError) as read:
        log.count()

    assert_is_sentence_for_user(str(written.value), db_path)
    assert_is_sentence_for_user(str(read.value), db_path)


# --- nothing secret is kept --------------------------------------------------


def test_the_log_keeps_no_secret_it_is_given_only_as_a_fingerprint(db_path: Path) -> None:
    signature = secrets.token_hex(32)
    stable_token = secrets.token_urlsafe(24)
    never_passed = f"SENTINEL-{secrets.token_hex(16)}"
    display_url = "https://customer-files.s3.amazonaws.com/reports/q1.pdf"
    links = [
        make_link(1, fingerprint=fingerprint(signature), display_url=display_url),
        make_link(2, strategy="stable", fingerprint=fingerprint(stable_token)),
    ]

    with IssuanceLog(db_path) as log:
        log.record(links[0])
        log.record_many(links[1:])
        assert log.find_by_fingerprint(fingerprint(signature)) is not None

    stored = b"".join(
        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)
    )
    assert display_url.encode() in stored  # the scan does see what was recorded
    assert fingerprint(signature).encode() in stored
    for secret in (signature, stable_token, never_passed):
        assert secret.encode() not in stored


def test_no_column_is_named_for_a_secret(file_log: IssuanceLog, db_path: Path) -> None:
    with raw(db_path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        columns = {
            column[1].lower()
            for table in tables
            for column in conn.execute(f"PRAGMA table_info({table!r})")
        }

    assert columns  # the schema was read
    for column in columns:
        for word in ("secret", "token", "signature", "password"):
            # a hash is what we keep instead of the secret itself
            assert word not in column or column.endswith("_hash"), column


def test_fingerprint_is_the_sha256_hex_and_refuses_an_empty_value() -> None:
    assert fingerprint("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    with pytest.raises(ValueError):
        fingerprint("")
