"""Shared fixtures: moto the documented way, one embedded demo for the page tests, and both log backends.

The log, chain, audit, stable-link and page suites (``BACKEND_SUITES``) run
once per backend in ``--log-backends`` (default: sqlite and postgresql). The
PostgreSQL half uses the server named by ``SHAREDESK_TEST_POSTGRES_URL`` (what
``.ci/run`` exports), or else starts a private one from Debian's binaries, or
else is skipped with the reason; each test gets a fresh schema of its own.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tests.postgres_server import find_binaries, fresh_schema_url
from tests.postgres_server import start as start_postgres

# The process-wide desk (used by AppTest pages) runs the embedded demo with its
# state in a throwaway folder, never in the developer's own state folder.
os.environ["SHAREDESK_STATE_DIR"] = tempfile.mkdtemp(prefix="sharedesk-tests-")
os.environ["SHAREDESK_DEMO"] = "1"
os.environ.pop("SHAREDESK_DATABASE_URL", None)
os.environ.pop("DATABASE_URL", None)


@pytest.fixture(autouse=True)
def fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so no test can ever sign with, or reach, a real account."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def real_main_module(monkeypatch: pytest.MonkeyPatch) -> None:
    """Put pytest's ``__main__`` back after each test.

    Streamlit's script runner (AppTest included) installs the page script as
    ``sys.modules["__main__"]`` and leaves it there. A later test that starts
    processes with "spawn" would then run that page in every child:
    dashboard/ui/navigation.py, which starts a desk and races the other
    children for the demo's state file.
    """
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture
def settings(tmp_path):
    from dashboard.config import Settings

    return Settings(demo=False, region="us-east-1", database_url=str(tmp_path / "log.sqlite3"), state_dir=tmp_path)


@pytest.fixture
def aws(settings):
    """The desk's own client factory inside moto's in-process mock."""
    from dashboard.aws import Aws

    with mock_aws():
        yield Aws(settings, boto3.Session(region_name="us-east-1"))


@pytest.fixture
def s3(aws):
    return aws.s3()


# --- the log's two backends -------------------------------------------------------

#: Test modules that run once per log backend.
BACKEND_SUITES = frozenset(
    {
        "test_store",
        "test_store_chain",
        "test_store_faults",
        "test_store_concurrency",
        "test_audit",
        "test_links",
        "test_pages",
        "test_timeline_page",
        "test_inspect_page",
        "test_demo_history",
        "test_stable_listing",
        "test_stable_links_page",
    }
)
BACKENDS = ("sqlite", "postgresql")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--log-backends",
        default=os.environ.get("SHAREDESK_TEST_BACKENDS", ",".join(BACKENDS)),
        help="comma-separated log backends the backend suites run on (sqlite, postgresql)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "log_backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    chosen = [b.strip() for b in metafunc.config.getoption("--log-backends").split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"--log-backends: unknown backend(s) {', '.join(sorted(unknown))}; use {', '.join(BACKENDS)}")
    metafunc.parametrize("log_backend", chosen if module in BACKEND_SUITES else ["sqlite"], indirect=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for the tests: CI's, or a private one started here, or a skip with the reason."""
    url = os.environ.get("SHAREDESK_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    binaries = find_binaries()
    if binaries is None:
        pytest.skip(
            "PostgreSQL half skipped: SHAREDESK_TEST_POSTGRES_URL is not set and Debian's postgresql is not "
            "installed (apt-get install postgresql, or run .ci/run)"
        )
    server = start_postgres(binaries)
    try:
        yield server.url
    finally:
        server.remove()


@pytest.fixture
def log_backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(log_backend: str, tmp_path, request: pytest.FixtureRequest) -> str:
    """A new, empty log location on the backend under test."""
    if log_backend == "postgresql":
        return fresh_schema_url(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "log.sqlite3")


@pytest.fixture(scope="session")
def _postgres_demo_log(postgres_url):
    """The demo desk's log on PostgreSQL, seeded once like the SQLite one, for the page suites."""
    from dashboard.demo_history import seed_history
    from dashboard.desk import process_desk
    from dashboard.store import IssuanceLog

    desk = process_desk(local_url="http://localhost:8501")
    log = IssuanceLog(fresh_schema_url(postgres_url, prefix="demo"))
    original = desk.log
    desk._log = log
    try:
        seed_history(desk)
    finally:
        desk._log = original
    yield log
    log.close()


@pytest.fixture
def demo_server_desk():
    """The process's demo desk on its own SQLite log, for tests that bring a log of their own."""
    from dashboard import demo
    from dashboard.desk import process_desk

    desk = process_desk(local_url="http://localhost:8501")
    demo.ensure_seeded(desk.demo.endpoint)
    return desk


@pytest.fixture
def demo_desk(log_backend: str, request: pytest.FixtureRequest):
    """The process's demo desk, re-seeded if a moto test reset the backends meanwhile, on the backend under test."""
    from dashboard import demo
    from dashboard.desk import process_desk

    desk = process_desk(local_url="http://localhost:8501")  # what AppTest pages pass too
    demo.ensure_seeded(desk.demo.endpoint)
    if log_backend != "postgresql":
        desk.log  # opened now, so the demo history is seeded before the test counts rows, not during its first command
        yield desk
        return
    import streamlit as st

    pg_log = request.getfixturevalue("_postgres_demo_log")
    original = desk.log
    desk._log = pg_log
    st.cache_data.clear()  # the timeline caches figures read from the other log
    try:
        yield desk
    finally:
        desk._log = original
        st.cache_data.clear()
