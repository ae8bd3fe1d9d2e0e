"""S3-compatible storage is first-class: the whole production path against a custom endpoint.

No demo (``SHAREDESK_DEMO=0``): moto's server on loopback stands in for a
MinIO, and every key is MinIO-shaped (no AKIA/ASIA prefix). The desk issues
with such a key, logs it, and Inspect, the preview and the log all call it
what it is: long-term, because no session token came with it.
"""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Iterator
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

from dashboard import issuing
from dashboard.cli import main
from dashboard.desk import open_desk
from dashboard.expiry import CredentialKind
from dashboard.store import IssuanceLog
from dashboard.strategies import ShareRequest

BUCKET = "minio-exports"
KEY = "reports/q3 final.pdf"
ROOT_KEY = "minioadmin"  # MinIO's root user, as a fresh MinIO has it
SIGNER_KEY = "sharedesk-signer"


@pytest.fixture(scope="module")
def minio() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    s3 = boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=ROOT_KEY, aws_secret_access_key="minioadmin",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"%PDF-1.7 quarterly figures")
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def production(minio: str, monkeypatch: pytest.MonkeyPatch, tmp_path) -> str:
    """The environment of a production desk in front of that MinIO."""
    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "SHAREDESK_DATABASE_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "SHAREDESK_DEMO": "0",
        "AWS_ENDPOINT_URL_S3": minio,
        "AWS_ACCESS_KEY_ID": ROOT_KEY,
        "AWS_SECRET_ACCESS_KEY": "minioadmin",
        "SHAREDESK_BUCKETS": BUCKET,
        "SHAREDESK_SIGNER_ACCESS_KEY_ID": SIGNER_KEY,
        "SHAREDESK_SIGNER_SECRET_ACCESS_KEY": "signer-secret-0123456789",
        "SHAREDESK_STATE_DIR": str(tmp_path / "state"),
        # Outside the demo the command line records its OS user, mapped to a desk identity.
        "SHAREDESK_CLI_ISSUERS": f"{pwd.getpwuid(os.getuid()).pw_name}=alice",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return minio


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main(argv) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("strategy", ["iam-user", "ambient"])
def test_a_custom_endpoints_own_key_is_long_term_in_preview_log_and_inspect(production, capsys, tmp_path, strategy):
    desk = open_desk()
    assert not desk.is_demo and desk.settings.endpoint_url == production
    request = ShareRequest(bucket=BUCKET, key=KEY, lifetime=timedelta(days=7), issuer="alice")
    preview = next(p for p in issuing.previews(desk, request) if p.strategy == strategy)
    assert preview.unavailable is None and preview.expiry is not None
    assert preview.reaches_asked and "does not expire" in preview.expiry.reason

    issued = _json(capsys, ["issue", f"s3://{BUCKET}/{KEY}", "--strategy", strategy, "--expires-in", "7d", "--json"])
    assert issued["bound_by"] == "nominal" and issued["effective_expires_at"] == issued["nominal_expires_at"]
    assert issued["url"].startswith(f"{production}/{BUCKET}/")

    with IssuanceLog.open(str(tmp_path / "state" / "log.sqlite3")) as log:
        (entry,) = log.recent(1)
    assert entry.credential_kind == "long-term" and entry.access_key_id == (SIGNER_KEY if strategy == "iam-user" else ROOT_KEY)
    assert entry.effective_expires_at == entry.nominal_expires_at

    inspected = _json(capsys, ["inspect", issued["url"], "--json"])
    assert inspected["credential_kind"] == "long-term" and inspected["state"] == "live" and inspected["bound_by"] == "nominal"
    assert inspected["log_entry"]["id"] == entry.id and inspected["access_key_id"] == entry.access_key_id
    assert inspected["effective_expires_at"] == issued["effective_expires_at"]

    # The probe may ask the configured endpoint although it is on loopback, and it agrees.
    probed = _json(capsys, ["inspect", issued["url"], "--json", "--probe"])
    assert probed["probe"]["status"] in (200, 206) and probed["state"] == "live" and probed["probe"]["overrides_model"] is False


def test_a_custom_endpoint_link_not_in_the_log_is_still_read_as_long_term(production, capsys, monkeypatch, tmp_path):
    issued = _json(capsys, ["issue", f"s3://{BUCKET}/{KEY}", "--strategy", "iam-user", "--expires-in", "2d", "--json"])
    monkeypatch.setenv("SHAREDESK_STATE_DIR", str(tmp_path / "another-desk"))
    inspected = _json(capsys, ["inspect", issued["url"], "--json"])
    assert inspected["log_entry"] is None
    assert inspected["credential_kind"] == "long-term" and inspected["access_key_id"] == SIGNER_KEY
    assert inspected["effective_expires_at"] == inspected["nominal_expires_at"]
    assert "long-term access key of the S3-compatible endpoint" in inspected["reason"]


def test_a_session_token_still_makes_a_custom_endpoints_key_temporary(production, monkeypatch):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "minio-sts-session-token")
    desk = open_desk()
    credentials = desk.aws.ambient()
    assert credentials.kind == "temporary" and credentials.facts().kind is CredentialKind.TEMPORARY


def test_on_aws_a_signer_key_must_still_be_an_akia_key(monkeypatch, tmp_path):
    from dashboard.aws import Aws
    from dashboard.config import Settings
    from dashboard.errors import NotConfigured

    settings = Settings(demo=False, signer_access_key_id="sharedesk-signer", signer_secret_access_key="x", database_url=str(tmp_path / "l"))
    with pytest.raises(NotConfigured, match="is not a long-term IAM user key"):
        Aws(settings).signer_key()
    assert Aws(settings.replace(endpoint_url="http://minio.internal:9000")).signer_key().kind == "long-term"
