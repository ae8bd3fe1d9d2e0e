"""Faults at issue time and under the resolver: each gives a sentence, none shows a link without its row.

The database faults are real: a PostgreSQL server reached through a loopback
relay that the test cuts (tests/tcp_proxy.py), a role made read-only, a
server restarted under the resolver, a SQLite file a non-root process may
not write. AWS faults that moto cannot make (throttling, an unreachable
endpoint) come from botocore's own Stubber or an endpoint nobody listens on.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from dashboard import demo, issuing
from dashboard.aws import Aws
from dashboard.desk import Desk
from dashboard.errors import DeskError
from dashboard.links import link_token
from dashboard.store import IssuanceLog, LogWriteError, fingerprint
from dashboard.strategies import ShareRequest
from tests.desk_server import free_port
from tests.postgres_server import PostgresServer, find_binaries, fresh_schema_url
from tests.postgres_server import start as start_postgres
from tests.tcp_proxy import TcpProxy
from tests.test_store import make_link

ROOT = Path(__file__).resolve().parent.parent
README = "README.txt"


def desk_on(demo_desk: Desk, database_url: str) -> Desk:
    """A desk of its own on the demo's S3, STS and IAM, logging to ``database_url`` (no history seeded)."""
    settings = demo_desk.settings.replace(database_url=database_url)
    return Desk(settings=settings, aws=Aws(settings, demo.ambient_session(settings.endpoint_url or "")))


def request(key: str = README, **changes: Any) -> ShareRequest:
    values: dict[str, Any] = dict(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=timedelta(hours=1), issuer="fault-test", ticket="TCK-FAULT")
    values.update(changes)
    return ShareRequest(**values)


def via(url: str, port: int) -> str:
    """``url`` with its port replaced: the same database, reached through the relay."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{port}", parts.path, parts.query, ""))


def terminate(admin_url: str, where: str, params: tuple[Any, ...]) -> int:
    """End the backends ``where`` names, and wait (bounded) until they are gone: their FATAL notice is then sent."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as admin:
        pids = [r[0] for r in admin.execute(f"SELECT pid FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND {where}", params)]
        for pid in pids:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        for _ in range(500):
            left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone()[0]
            if not left:
                break
            threading.Event().wait(0.01)
        else:
            raise AssertionError(f"backends {pids} did not end")
    return len(pids)


def assert_sentence(message: str, *fragments: str) -> None:
    assert "\n" not in message and "Traceback" not in message and message.endswith("."), message
    for fragment in fragments:
        assert fragment in message, message


@pytest.fixture
def relayed(postgres_url: str) -> Any:
    """A fresh schema on the test server, reached through a relay the test can cut."""
    url = fresh_schema_url(postgres_url)
    proxy = TcpProxy(urlsplit(url).port or 5432)
    yield url, proxy
    proxy.close()


# --- the database at issue time ------------------------------------------------------------


def test_an_unreachable_database_at_issue_time_shows_no_link_and_the_next_issue_reconnects(demo_server_desk, relayed) -> None:
    url, proxy = relayed
    desk = desk_on(demo_server_desk, via(url, proxy.port))
    issuing.issue(desk, [request()], "iam-user", verify_objects=False)

    proxy.refuse()
    with pytest.raises(DeskError) as raised:
        issuing.issue(desk, [request(ticket="TCK-LOST")], "iam-user", verify_objects=False)
    assert_sentence(str(raised.value), "could not be written", "no link was issued", "is reachable")

    proxy.accept()
    issuing.issue(desk, [request(ticket="TCK-AFTER")], "iam-user", verify_objects=False)
    with IssuanceLog(url) as direct:
        assert direct.count() == 2 and direct.find_by_ticket("TCK-LOST") == []
        assert direct.verify().ok
    desk.log.close()


def test_a_dropped_connection_mid_run_is_replaced_by_the_next_action(demo_server_desk, relayed) -> None:
    url, proxy = relayed
    desk = desk_on(demo_server_desk, via(url, proxy.port))
    first = issuing.issue(desk, [request()], "iam-user", verify_objects=False)[0]

    proxy.cut()  # every pooled connection dies under the desk, as in a failover

    assert desk.log.get(first.entry.id) == first.entry  # a read reconnects
    second = issuing.issue(desk, [request(ticket="TCK-2")], "iam-user", verify_objects=False)[0]
    proxy.cut()
    desk.log.revoke(second.entry.id, at=second.entry.issued_at, by="fault-test")  # and so does a write
    assert desk.log.count() == 2 and desk.log.get(second.entry.id).revoked_by == "fault-test"
    desk.log.close()


def test_connections_the_server_ended_are_replaced_before_use(demo_server_desk, postgres_url) -> None:
    url = fresh_schema_url(postgres_url)
    desk = desk_on(demo_server_desk, url)
    issuing.issue(desk, [request()], "iam-user", verify_objects=False)
    ended = terminate(postgres_url, "application_name = %s", ("share-desk",))  # this process's pools, and any other desk's
    assert ended >= 1

    issuing.issue(desk, [request(ticket="TCK-NEXT")], "iam-user", verify_objects=False)
    assert desk.log.count() == 2
    desk.log.close()


def test_a_read_only_postgresql_at_issue_time_shows_no_link_and_says_so(demo_server_desk, postgres_url) -> None:
    import psycopg

    role = f"desk_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute(f"GRANT CREATE ON DATABASE postgres TO {role}")
    url = fresh_schema_url(postgres_url)
    schema = url.rsplit("%3D", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(f'ALTER SCHEMA "{schema}" OWNER TO {role}')
    parts = urlsplit(url)
    as_role = urlunsplit((parts.scheme, f"{role}@{parts.hostname}:{parts.port}", parts.path, parts.query, ""))
    desk = desk_on(demo_server_desk, as_role)
    issuing.issue(desk, [request()], "iam-user", verify_objects=False)

    with psycopg.connect(postgres_url, autocommit=True) as admin:  # a standby after failover, or a frozen role
        admin.execute(f"ALTER ROLE {role} SET default_transaction_read_only = on")
    terminate(postgres_url, "usename = %s", (role,))

    with pytest.raises(DeskError) as raised:
        issuing.issue(desk, [request(ticket="TCK-RO")], "iam-user", verify_objects=False)
    assert_sentence(str(raised.value), "read-only transaction", "no link was issued")
    assert desk.log.find_by_ticket("TCK-RO") == [] and desk.log.count() == 1
    desk.log.close()


def _nobody_can_run_the_desk() -> str | None:
    """Why the command line cannot run as ``nobody`` here, or None (root only: root ignores file modes)."""
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        return "needs root to run the command as another user"
    tried = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import dashboard"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    if tried.returncode != 0:
        return f"the user nobody cannot run this checkout's Python (a folder above {ROOT} or the interpreter is root-only)"
    return None


def test_a_read_only_sqlite_file_at_issue_time_exits_1_with_a_sentence_and_no_link() -> None:
    if why := _nobody_can_run_the_desk():
        pytest.skip(why)
    tmp_path = Path(tempfile.mkdtemp(prefix="sharedesk-ro-"))  # pytest's own folder is root's alone
    folder = tmp_path / "shared"
    folder.mkdir()
    log_path = folder / "log.sqlite3"
    with IssuanceLog(log_path) as log:
        log.record(make_link(1))  # a log with rows: the demo does not seed it
        log.query("PRAGMA wal_checkpoint(TRUNCATE)")
    state = tmp_path / "state"
    state.mkdir()
    for path in (tmp_path, folder, state):
        path.chmod(0o777 if path == state else 0o755)
    for path in folder.iterdir():
        path.chmod(0o644)  # the log and its -shm: readable, not writable, by anyone but root
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SHAREDESK_STATE_DIR=str(state), SHAREDESK_DEMO="1", SHAREDESK_DATABASE_URL=str(log_path), SHAREDESK_ISSUER="ro-test", HOME=str(state))
    done = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-m", "dashboard", "issue", f"s3://{demo.SUPPORT_BUCKET}/{README}", "--strategy", "iam-user", "--expires-in", "1h"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )

    assert done.returncode == 1, done.stderr
    assert done.stdout == ""  # no link
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("dashboard: ")
    assert_sentence(done.stderr.strip(), "readonly database", "no link can be issued")
    with IssuanceLog(log_path) as log:
        assert log.count() == 1
    shutil.rmtree(tmp_path)


def test_a_log_folder_the_user_may_not_search_is_a_sentence_not_a_traceback(tmp_path: Path) -> None:
    if why := _nobody_can_run_the_desk():
        pytest.skip(why)
    # tmp_path sits in pytest's folder, which only root may search
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    state = Path(tempfile.mkdtemp(prefix="sharedesk-state-"))
    state.chmod(0o777)
    env.update(SHAREDESK_STATE_DIR=str(state), SHAREDESK_DEMO="1", SHAREDESK_DATABASE_URL=str(tmp_path / "log.sqlite3"), SHAREDESK_ISSUER="x", HOME=str(state))
    done = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-m", "dashboard", "issue", f"s3://{demo.SUPPORT_BUCKET}/{README}", "--strategy", "iam-user"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    shutil.rmtree(state, ignore_errors=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert "could not be opened" in done.stderr


# --- AWS at issue time ------------------------------------------------------------------------


def _patched_client(desk: Desk, service: str, make: Any) -> None:
    """The desk's ``service`` client (the one AWS calls go through) replaced, once; signing clients untouched."""
    real = desk.aws.client
    made: list[Any] = []

    def client(name: str, credentials: Any = None) -> Any:
        if name != service or (service == "s3" and credentials is not None):
            return real(name, credentials)
        if not made:
            made.append(make(real(name, credentials)))
        return made[0]

    desk.aws.client = client  # type: ignore[method-assign]


def _unreachable(desk: Desk, service: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there

    def make(real: Any) -> Any:
        return desk.aws.session.client(
            service, endpoint_url=dead, region_name=desk.settings.region,
            config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1),
        )

    _patched_client(desk, service, make)


def _throttled(desk: Desk, service: str, operation: str, code: str, status: int, *, first_ok: dict[str, Any] | None = None) -> None:
    def make(real: Any) -> Any:
        stubbed = desk.aws.session.client(service, endpoint_url=desk.settings.endpoint_url, region_name=desk.settings.region)
        stub = Stubber(stubbed)
        if first_ok is not None:
            stub.add_response(operation, first_ok)
        for _ in range(5):
            stub.add_client_error(operation, service_error_code=code, service_message="Rate exceeded", http_status_code=status)
        stub.activate()
        return stubbed

    _patched_client(desk, service, make)


@pytest.mark.parametrize(
    "fault, strategy, verify, words",
    [
        ("sts-unreachable", "role-session", False, "Could not connect to"),
        ("sts-throttling", "role-session", False, "throttling"),
        ("s3-unreachable", "iam-user", True, "Could not connect to"),
        ("s3-throttling", "iam-user", True, "throttling"),
    ],
)
def test_aws_unreachable_or_throttling_at_issue_time_gives_a_sentence_and_no_row(demo_server_desk, database_url, fault, strategy, verify, words) -> None:
    desk = desk_on(demo_server_desk, database_url)
    service, kind = fault.split("-")
    if kind == "unreachable":
        _unreachable(desk, service)
    elif service == "sts":
        _throttled(desk, "sts", "assume_role", "Throttling", 400)
    else:
        _throttled(desk, "s3", "head_object", "SlowDown", 503)
    before = desk.log.count()

    with pytest.raises(DeskError) as raised:
        issuing.issue(desk, [request(ticket=f"TCK-{fault}")], strategy, verify_objects=verify)

    assert_sentence(str(raised.value), words)
    assert desk.log.count() == before and desk.log.find_by_ticket(f"TCK-{fault}") == []
    desk.log.close()


def test_a_batch_with_one_throttled_object_records_none_of_it(demo_server_desk, database_url) -> None:
    desk = desk_on(demo_server_desk, database_url)
    head = {"ContentLength": 10, "ContentType": "text/plain", "StorageClass": "STANDARD", "LastModified": "2026-01-01T00:00:00Z"}
    _throttled(desk, "s3", "head_object", "SlowDown", 503, first_ok=head)

    with pytest.raises(DeskError, match="throttling"):
        issuing.issue(desk, [request(ticket="TCK-B1"), request("customers/acme/report.csv", ticket="TCK-B2")], "iam-user")

    assert desk.log.count() == 0  # the first object's link was never shown, so it has no row either
    desk.log.close()


def test_credentials_expiring_between_preview_and_issue_are_read_again_at_issue(demo_server_desk, database_url) -> None:
    desk = desk_on(demo_server_desk, database_url)
    real = desk.aws.ambient()
    now = issuing.utcnow()
    held = [dataclasses.replace(real, expires_at=now + timedelta(hours=3))]
    desk.aws.ambient = lambda: held[0]  # type: ignore[method-assign]
    asked = request(lifetime=timedelta(hours=2))

    preview = {p.strategy: p for p in issuing.previews(desk, asked, now)}["ambient"]
    assert preview.reaches_asked  # three hours of credentials cover the two asked

    held[0] = dataclasses.replace(real, expires_at=now + timedelta(minutes=20))  # rotated early meanwhile
    link = issuing.issue(desk, [asked], "ambient", verify_objects=False, now=now)[0]

    assert link.entry.credential_expires_at == now + timedelta(minutes=20)
    assert link.entry.effective_expires_at == now + timedelta(minutes=20)  # not the preview's two hours
    assert link.entry.bound_by == "credentials"
    desk.log.close()


# --- PostgreSQL restarted under the resolver --------------------------------------------------


@pytest.fixture
def private_postgres() -> Any:
    binaries = find_binaries()
    if binaries is None:
        pytest.skip("PostgreSQL's server binaries are not installed, so no private server can be restarted")
    server = start_postgres(binaries)
    yield server
    server.remove()


def test_postgresql_restarted_while_the_resolver_serves_clicks_loses_no_click(demo_server_desk, private_postgres: PostgresServer, tmp_path) -> None:
    url = fresh_schema_url(private_postgres.url)
    desk = desk_on(demo_server_desk, url)
    requests = [request(f"customers/acme/report-{n}.csv", lifetime=timedelta(days=1)) for n in range(5)]
    links = issuing.issue(desk, requests, "stable", verify_objects=False)
    desk.log.close()
    paths = [f"/s/{link_token(link.url)}" for link in links]

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SHAREDESK_DATABASE_URL=url, SHAREDESK_DEMO="1", PYTHONUNBUFFERED="1")
    out = (tmp_path / "resolver.log").open("wb")
    resolver = subprocess.Popen([sys.executable, "-m", "dashboard", "serve-links", "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5) as client:
            for _ in range(600):  # ready when it answers (bounded: about a minute)
                try:
                    client.get(f"{base}/healthz")
                    break
                except httpx.TransportError:
                    threading.Event().wait(0.1)
        statuses: Counter[int] = Counter()
        failures: list[str] = []
        lock = threading.Lock()
        restarted = threading.Event()
        sent = [0]

        def clicker(n: int) -> None:
            # A new connection per click: today the resolver's 500 ends its keep-alive
            # connection, and a browser would retry a GET the server never read.
            with httpx.Client(timeout=30, follow_redirects=False, limits=httpx.Limits(max_keepalive_connections=0)) as client:
                for i in range(60):
                    with lock:
                        sent[0] += 1
                        if sent[0] == 120:
                            threading.Thread(target=lambda: (private_postgres.restart(), restarted.set())).start()
                    try:
                        status = client.get(base + paths[(n + i) % len(paths)]).status_code
                    except httpx.HTTPError as exc:  # a click nobody answered: lost silently
                        with lock:
                            failures.append(repr(exc))
                        continue
                    with lock:
                        statuses[status] += 1

        threads = [threading.Thread(target=clicker, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert restarted.wait(timeout=120)
    finally:
        resolver.terminate()
        resolver.wait(timeout=30)
        out.close()

    assert failures == []  # every click got an answer
    assert sum(statuses.values()) == 6 * 60
    assert set(statuses) <= {302, 500, 503}, statuses  # redirected, or refused while the log was down
    with IssuanceLog(url) as log:
        recorded = log.query("SELECT COUNT(*) FROM clicks WHERE status = 302")[0][0]
    # Each redirect was recorded before it was sent. A click whose COMMIT the
    # shutdown cut may be recorded and still refused (its outcome reached
    # the database, not the resolver): counted, never lost.
    assert statuses[302] <= recorded <= sum(statuses.values())


def test_a_log_another_process_holds_locked_at_start_up_is_waited_for_not_refused(tmp_path: Path, monkeypatch) -> None:
    """A replica starting while another holds the file's exclusive lock waits for it (SQLite answers such a lock at once)."""
    import sqlite3
    import time

    from dashboard.store import connections

    monkeypatch.setattr(connections, "BUSY_TIMEOUT_MS", 50)  # SQLite's own wait ends long before the lock does
    path = tmp_path / "log.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # released from a timer's thread
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    released = threading.Timer(1.0, holder.rollback)
    released.start()
    started = time.monotonic()
    try:
        with IssuanceLog(path) as log:
            assert log.count() == 0
        assert time.monotonic() - started >= 0.9  # it did wait for the holder
    finally:
        released.join()
        holder.close()


def test_a_log_locked_for_longer_than_the_desk_waits_is_refused_with_a_sentence(tmp_path: Path, monkeypatch) -> None:
    import sqlite3

    from dashboard.store import connections, sqlite as sqlite_backend

    monkeypatch.setattr(connections, "BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(sqlite_backend, "OPEN_PATIENCE", 0.3)
    path = tmp_path / "log.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE held (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(LogWriteError, match=r"^The issuance log could not be opened \(database is locked\): no link can be issued\."):
            IssuanceLog(path)
    finally:
        holder.rollback()
        holder.close()
