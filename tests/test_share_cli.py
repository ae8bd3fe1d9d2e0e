"""`python -m dashboard issue` on the embedded demo: JSON output, a log that persists, one-line refusals.

A few tests run real processes (the contract is about a process: its exit
status, its stderr, its state folder); the rest call `dashboard.cli.main`
in-process on the test session's demo, which is much faster.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from dashboard import demo, issuing
from dashboard.cli import main
from dashboard.desk import open_desk
from dashboard.store import IssuanceLog, LogWriteError
from dashboard.strategies import ShareRequest

ROOT = Path(__file__).resolve().parent.parent
README = f"s3://{demo.SUPPORT_BUCKET}/README.txt"
UNICODE_OBJECT = f"s3://{demo.SUPPORT_BUCKET}/customers/ünïcødé/こんにちは 世界.txt"
ARCHIVED = f"s3://{demo.ARCHIVE_BUCKET}/2019/backup-2019-01.tar"
JSON_KEYS = {"url", "strategy", "issued_at", "nominal_expires_at", "effective_expires_at", "bound_by", "reason", "log_id"}
ISO_Z = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def run_cli(*args: str, state_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it: no AWS settings at all, the demo chosen automatically."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("SHAREDESK_DATABASE_URL", "DATABASE_URL")}
    env.update(SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DEMO="auto", SHAREDESK_ISSUER="cli-test")
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def parse_time(text: str) -> datetime:
    assert ISO_Z.fullmatch(text), text
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def signature(url: str) -> str:
    params = parse_qs(urlsplit(url).query)
    return (params.get("X-Amz-Signature") or params["Signature"])[0]


def assert_one_line_refusal(err: str, fragment: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert err.startswith("dashboard: ") and fragment in err, err
    assert "Traceback" not in err


# --- real processes -------------------------------------------------------------------


def test_issue_json_prints_the_documented_keys_and_the_demo_log_persists_between_commands(tmp_path):
    first = run_cli("issue", README, "--strategy", "iam-user", "--expires-in", "2h", "--ticket", "TCK-7001", "--json", state_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    out = json.loads(first.stdout)
    assert set(out) == JSON_KEYS
    issued, nominal, effective = (parse_time(out[k]) for k in ("issued_at", "nominal_expires_at", "effective_expires_at"))
    assert nominal - issued == timedelta(hours=2) and effective == nominal
    assert out["strategy"] == "iam-user" and out["bound_by"] == "nominal"
    assert out["reason"].startswith("Runs its full 2 hours") and out["reason"].endswith(".")
    params = parse_qs(urlsplit(out["url"]).query)
    assert params["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"] and params["X-Amz-Expires"] == ["7200"]
    assert params["X-Amz-Credential"][0].startswith(f"{demo.SIGNER_KEY_ID}/")
    assert "X-Amz-Security-Token" not in params

    log_path = tmp_path / "demo-log.sqlite3"
    with IssuanceLog(log_path) as log:
        row = log.get(out["log_id"])
        rows_after_first = log.count()
    assert (row.strategy, row.ticket, row.issuer, row.key) == ("iam-user", "TCK-7001", "cli-test", "README.txt")
    assert row.fingerprint == hashlib.sha256(signature(out["url"]).encode()).hexdigest()

    second = run_cli("issue", UNICODE_OBJECT, "--strategy", "cloudfront", "--expires-in", "30d", "--json", state_dir=tmp_path)
    assert second.returncode == 0, second.stderr
    out2 = json.loads(second.stdout)
    assert set(out2) == JSON_KEYS and out2["strategy"] == "cloudfront"
    assert parse_time(out2["effective_expires_at"]) - parse_time(out2["issued_at"]) == timedelta(days=30)
    with IssuanceLog(log_path) as log:
        assert log.count() == rows_after_first + 1
        assert log.get(out["log_id"]) == row  # the second command's desk found, and kept, the first one's row
        assert out2["log_id"] > out["log_id"]
        assert log.get(out2["log_id"]).key == "customers/ünïcødé/こんにちは 世界.txt"


def test_bad_input_in_a_real_process_exits_2_with_one_stderr_line(tmp_path):
    result = run_cli("issue", README, "--expires-in", "8d", "--strategy", "iam-user", "--json", state_dir=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert_one_line_refusal(result.stderr, "S3 presigned links can last at most 7 days")


# --- in-process, on the test session's demo --------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["issue", README, "--expires-in", "8d", "--strategy", "iam-user"], "S3 presigned links can last at most 7 days"),
        (["issue", README, "--strategy", "nope"], "Unknown strategy 'nope'"),
        (["issue", "not-s3-path"], "'not-s3-path'"),
        (["issue", "http://example.com/README.txt"], "is not an s3:// path"),
        (["issue", f"s3://{demo.SUPPORT_BUCKET}/no/such/file.txt", "--strategy", "iam-user"], "does not exist"),
        (["issue", f"s3://{demo.SUPPORT_BUCKET}/no/such/file.txt"], "does not exist"),
        (["issue", README, "--expires-in", "0s"], "is zero"),
        (["issue", README, "--expires-in", "0s", "--strategy", "iam-user"], "is zero"),
        (["issue", README, "--expires-in", "two weeks"], "is not a duration"),
        (["issue", README, "--expires-in", "400d"], "No configured strategy can sign a link for 400d"),
        (["issue", ARCHIVED, "--strategy", "iam-user"], "cannot be downloaded until it is restored"),
        (["issue", f"s3://{demo.SUPPORT_BUCKET}/"], "names no object"),
        (["issue", "s3://not-an-allowed-bucket/file.txt", "--strategy", "iam-user"], "not allowed to share from bucket"),
        (["issue"], "the following arguments are required: path"),
    ],
    ids=[
        "8d-iam-user", "unknown-strategy", "not-s3-path", "http-url", "missing-object", "missing-object-default",
        "zero", "zero-iam-user", "unreadable-duration", "no-strategy-reaches", "archived", "no-key", "bucket-not-allowed", "no-path",
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_link(demo_desk, capsys, args, fragment):
    with IssuanceLog(demo_desk.settings.database_url) as log:
        before = log.count()
    assert main([*args, "--json"] if len(args) > 1 else args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert_one_line_refusal(captured.err, fragment)
    with IssuanceLog(demo_desk.settings.database_url) as log:
        assert log.count() == before


@pytest.mark.parametrize(("expires_in", "lifetime"), [("2h", timedelta(hours=2)), ("1d", timedelta(days=1)), ("30d", timedelta(days=30))])
def test_default_strategy_is_the_recommended_one(demo_desk, capsys, expires_in, lifetime):
    assert main(["issue", README, "--expires-in", expires_in, "--issuer", "cli-test", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    # What the Share page would recommend for the same request on an identical desk.
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=lifetime, issuer="cli-test")
    expected = issuing.recommend(issuing.previews(open_desk(), request), lifetime).strategy
    assert out["strategy"] == expected
    if expires_in == "2h":
        assert expected == "ambient"  # the demo task role's 2 h 40 min cover it, and it is the safest
    else:
        assert expected in ("stable", "cloudfront")  # beyond the task role and a chained role session
    assert out["bound_by"] == "nominal"
    assert parse_time(out["effective_expires_at"]) - parse_time(out["issued_at"]) == lifetime


def test_ambient_link_on_the_demo_is_cut_at_the_task_roles_expiry(demo_desk, capsys):
    assert main(["issue", README, "--strategy", "ambient", "--expires-in", "6h", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    issued, nominal, effective = (parse_time(out[k]) for k in ("issued_at", "nominal_expires_at", "effective_expires_at"))
    assert nominal - issued == timedelta(hours=6)
    assert out["bound_by"] == "credentials"
    assert timedelta(hours=2) < effective - issued <= demo.TASK_CREDENTIAL_LIFETIME
    assert "task role" in out["reason"]
    params = parse_qs(urlsplit(out["url"]).query)
    assert params["X-Amz-Expires"] == ["21600"] and "X-Amz-Security-Token" in params


def test_text_output_is_the_url_on_stdout_and_the_reason_on_stderr(demo_desk, capsys):
    args = ["issue", UNICODE_OBJECT, "--strategy", "iam-user", "--expires-in", "90m", "--filename", 'Hello "world".txt']
    assert main(args) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("http") and "X-Amz-Signature=" in lines[0]
    params = parse_qs(urlsplit(lines[0]).query)
    assert params["response-content-disposition"] == ["attachment; filename=\"Hello _world_.txt\"; filename*=UTF-8''Hello%20%22world%22.txt"]
    assert captured.err.splitlines()[0].startswith("iam-user: Runs its full 1 hour 30 minutes")
    assert "Traceback" not in captured.err


@pytest.fixture
def unusable_log(monkeypatch, tmp_path):
    """SHAREDESK_DATABASE_URL inside a folder that is really a file: the log cannot be opened."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the log's folder should be")
    monkeypatch.setenv("SHAREDESK_DATABASE_URL", str(blocker / "log.sqlite3"))


def test_issue_with_an_unusable_log_exits_1_with_one_line_and_no_link(demo_desk, capsys, unusable_log):
    assert main(["issue", README, "--strategy", "iam-user", "--json"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # the link was signed but never shown
    assert_one_line_refusal(captured.err, "The issuance log could not be opened")


def test_revoke_with_an_unusable_log_exits_1_with_one_line(demo_desk, capsys, unusable_log):
    assert main(["revoke", "https://desk.example/s/" + "A" * 32]) == 1
    assert_one_line_refusal(capsys.readouterr().err, "The issuance log could not be opened")
