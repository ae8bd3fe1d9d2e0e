"""Shared fixtures: moto the documented way, and one embedded demo for the page tests."""

from __future__ import annotations

import os
import tempfile

import boto3
import pytest
from moto import mock_aws

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


@pytest.fixture
def demo_desk():
    """The process's demo desk, re-seeded if a moto test reset the backends meanwhile."""
    from dashboard import demo
    from dashboard.desk import process_desk

    desk = process_desk(local_url="http://localhost:8501")  # what AppTest pages pass too
    demo.ensure_seeded(desk.demo.endpoint)
    return desk
