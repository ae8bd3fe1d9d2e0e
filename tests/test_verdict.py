"""Probe and verdict agree, or the page says why: S3's own answer reconciled with the expiry model.

The answers are S3's documented error bodies, fed to ``probe.interpret``
directly or served by the tiny S3-answering stub of ``test_probe`` on loopback.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.config import Settings
from dashboard.expiry import BoundBy, State
from dashboard.inspect import explain, headline
from dashboard.probe import interpret
from dashboard.store import IssuanceLog, NewLink, fingerprint
from dashboard.verdict import probe_now, reconcile
from tests.test_probe import EXPIRED, EXPIRED_TOKEN, SIGNATURE, stub  # noqa: F401 - the stub fixture

NOW = datetime.now(UTC).replace(microsecond=0)
INVALID_KEY = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId></Error>"""
DENIED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"""


def _url(base: str, route: str, *, signed_at: datetime, seconds: int, temporary: bool, signature: str) -> str:
    key = "ASIAIOSFODNN7EXAMPLE" if temporary else "AKIAIOSFODNN7EXAMPLE"
    token = "&X-Amz-Security-Token=IQoJb3JpZ2luEXAMPLE" if temporary else ""
    return (
        f"{base}/{route}/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={key}%2F{signed_at:%Y%m%d}%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date={signed_at:%Y%m%dT%H%M%SZ}&X-Amz-Expires={seconds}&X-Amz-SignedHeaders=host{token}"
        f"&X-Amz-Signature={signature}"
    )


@pytest.fixture
def log(tmp_path):
    opened = IssuanceLog.open(str(tmp_path / "log.sqlite3"))
    yield opened
    opened.close()


def _record_cut_short(log: IssuanceLog, signature: str, signed_at: datetime, credentials_end: datetime) -> None:
    """A 7-day ambient link whose task-role credentials (the log says) ended at ``credentials_end``."""
    log.record(
        NewLink(
            issued_at=signed_at, issuer="alice", strategy="ambient", bucket="ok", key="test.txt", filename=None, ticket="TCK-1",
            note=None, signed_at=signed_at, nominal_expires_at=signed_at + timedelta(days=7), effective_expires_at=credentials_end,
            bound_by="credentials", reason="Signed with the task role's temporary credentials, which expire then.",
            credential_source="container-role", access_key_id="ASIAIOSFODNN7EXAMPLE", credential_kind="temporary",
            credential_expires_at=credentials_end, fingerprint=fingerprint(signature), display_url="http://stub/…",
        )
    )


def _signature() -> str:
    return secrets.token_hex(32)


# --------------------------------------------------------------------------- contradictions: the verdict follows S3


def test_a_link_the_log_calls_dead_that_s3_serves_is_live_now_and_the_reason_says_why(log):
    signed = NOW - timedelta(hours=10)
    signature = _signature()
    _record_cut_short(log, signature, signed, signed + timedelta(hours=2))
    e = explain(log, _url("http://127.0.0.1:9", "ok", signed_at=signed, seconds=604800, temporary=True, signature=signature), at=NOW)
    assert e.state is State.CUT_SHORT and e.log_entry is not None
    judged = reconcile(e, interpret(206, {"content-range": "bytes 0-0/10"}, b"x"), NOW)
    assert judged.state is State.LIVE and judged.bound_by is BoundBy.NOMINAL and judged.effective_expires_at is None
    assert judged.reason.startswith("S3 served the first byte (206)") and "although the desk expected it dead since" in judged.reason
    assert "does not check their expiry" in judged.reason and judged.model_reason == e.reason
    assert "follows S3's own answer" in judged.probe_note
    assert headline(judged).startswith("Works now, says the server (206)")


def test_expired_token_on_a_link_not_in_the_log_makes_it_cut_short_by_its_credentials(log):
    signed = NOW - timedelta(hours=3)
    e = explain(log, _url("http://127.0.0.1:9", "token", signed_at=signed, seconds=86400, temporary=True, signature=_signature()), at=NOW)
    assert e.state is State.LIVE and e.effective_expires_at is None  # all the URL can say
    judged = reconcile(e, interpret(400, {}, EXPIRED_TOKEN), NOW)
    assert judged.state is State.CUT_SHORT and judged.bound_by is BoundBy.CREDENTIALS
    assert "ExpiredToken (“The provided token has expired.”)" in judged.reason
    assert "died with its session token" in judged.reason and "no record of these credentials" in judged.reason
    assert headline(judged) == "Dead now, says the server (400 ExpiredToken); when exactly it died is not known."


def test_expired_token_on_a_link_the_log_calls_live_says_the_session_ended_early(log):
    signed = NOW - timedelta(hours=1)
    signature = _signature()
    _record_cut_short(log, signature, signed, signed + timedelta(hours=6))
    e = explain(log, _url("http://127.0.0.1:9", "token", signed_at=signed, seconds=604800, temporary=True, signature=signature), at=NOW)
    assert e.state is State.LIVE
    judged = reconcile(e, interpret(400, {}, EXPIRED_TOKEN), NOW)
    assert judged.state is State.CUT_SHORT and "the log expected them to last until" in judged.reason and "ended early" in judged.reason


def test_invalid_access_key_id_means_the_key_was_deleted(log):
    signed = NOW - timedelta(hours=1)
    e = explain(log, _url("http://127.0.0.1:9", "key", signed_at=signed, seconds=86400, temporary=False, signature=_signature()), at=NOW)
    assert e.state is State.LIVE and e.bound_by is BoundBy.NOMINAL
    judged = reconcile(e, interpret(403, {}, INVALID_KEY), NOW)
    assert judged.state is State.REVOKED and judged.bound_by is BoundBy.REVOKED
    assert "does not know the access key AKIAIOSFODNN7EXAMPLE" in judged.reason and "deleted" in judged.reason


def test_access_denied_on_a_live_link_names_deactivation_revocation_or_a_policy(log):
    signed = NOW - timedelta(hours=1)
    e = explain(log, _url("http://127.0.0.1:9", "denied", signed_at=signed, seconds=86400, temporary=False, signature=_signature()), at=NOW)
    judged = reconcile(e, interpret(403, {}, DENIED), NOW)
    assert judged.state is State.REVOKED and "deactivated" in judged.reason and "s3:signatureAge" in judged.reason


def test_request_has_expired_on_a_link_the_desk_calls_live_points_at_the_clocks(log):
    signed = NOW - timedelta(minutes=30)
    e = explain(log, _url("http://127.0.0.1:9", "expired", signed_at=signed, seconds=3600, temporary=False, signature=_signature()), at=NOW)
    judged = reconcile(e, interpret(403, {}, EXPIRED), NOW)
    assert judged.state is State.EXPIRED and judged.bound_by is BoundBy.NOMINAL
    assert "S3's clock: 2026-11-02T09:30:12Z" in judged.reason and "disagrees with S3's" in judged.reason


# --------------------------------------------------------------------------- agreement, and what does not change the verdict


def test_expired_token_on_a_link_the_log_calls_cut_short_confirms_it(log):
    signed = NOW - timedelta(hours=10)
    signature = _signature()
    _record_cut_short(log, signature, signed, signed + timedelta(hours=2))
    e = explain(log, _url("http://127.0.0.1:9", "token", signed_at=signed, seconds=604800, temporary=True, signature=signature), at=NOW)
    judged = reconcile(e, interpret(400, {}, EXPIRED_TOKEN), NOW)
    assert (judged.state, judged.reason, judged.model_reason) == (e.state, e.reason, None)
    assert "confirms it" in judged.probe_note and judged.probe is not None


def test_an_answer_about_now_does_not_rewrite_a_verdict_for_another_moment(log):
    signed = NOW - timedelta(hours=10)
    e = explain(log, _url("http://127.0.0.1:9", "token", signed_at=signed, seconds=604800, temporary=True, signature=_signature()), at=signed + timedelta(hours=1))
    judged = reconcile(e, interpret(400, {}, EXPIRED_TOKEN), NOW)
    assert judged.state is State.LIVE and judged.model_reason is None and "does not change it" in judged.probe_note


def test_a_refusal_that_is_not_an_expiry_leaves_the_verdict_and_says_why_the_link_fails(log):
    signed = NOW - timedelta(hours=1)
    e = explain(log, _url("http://127.0.0.1:9", "signature", signed_at=signed, seconds=86400, temporary=False, signature=_signature()), at=NOW)
    judged = reconcile(e, interpret(403, {}, SIGNATURE), NOW)
    assert judged.state is State.LIVE and judged.model_reason is None
    assert "not its expiry (403 SignatureDoesNotMatch)" in judged.probe_note and "does not work as pasted" in judged.probe_note


# --------------------------------------------------------------------------- over HTTP, against the stub


def test_probe_now_asks_the_configured_endpoint_and_follows_its_answer(log, stub):  # noqa: F811 - the fixture
    base, seen = stub
    settings = Settings(demo=False, endpoint_url=base, database_url=log.path)
    signed = NOW - timedelta(hours=10)
    signature = _signature()
    _record_cut_short(log, signature, signed, signed + timedelta(hours=2))
    url = _url(base, "ok", signed_at=signed, seconds=604800, temporary=True, signature=signature)
    judged = probe_now(explain(log, url), settings)
    assert judged.probe is not None and judged.probe.status == 206 and judged.state is State.LIVE
    assert len(seen) == 1
    token = _url(base, "token", signed_at=NOW - timedelta(hours=3), seconds=86400, temporary=True, signature=_signature())
    dead = probe_now(explain(log, token), settings)
    assert dead.state is State.CUT_SHORT and dead.probe.code == "ExpiredToken"


def test_probe_now_refuses_a_loopback_link_that_is_not_the_endpoint_and_keeps_the_verdict(log, stub):  # noqa: F811
    base, seen = stub
    settings = Settings(demo=False, endpoint_url="http://127.0.0.1:1", database_url=log.path)
    e = explain(log, _url(base, "ok", signed_at=NOW - timedelta(hours=1), seconds=86400, temporary=False, signature=_signature()))
    judged = probe_now(e, settings)
    assert judged.probe.refused and judged.state is e.state and "was not sent" in judged.probe_note
    assert seen == []


def test_the_cli_json_carries_the_probes_status_code_message_and_the_verdict_that_follows_it(stub, capsys, monkeypatch, tmp_path):  # noqa: F811
    import json

    from dashboard.cli import main

    base, _seen = stub
    monkeypatch.setenv("SHAREDESK_DEMO", "0")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", base)
    monkeypatch.setenv("SHAREDESK_STATE_DIR", str(tmp_path))
    url = _url(base, "token", signed_at=NOW - timedelta(hours=3), seconds=86400, temporary=True, signature=_signature())
    assert main(["inspect", url, "--probe", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["state"] == "cut-short" and payload["bound_by"] == "credentials"
    assert (payload["probe"]["status"], payload["probe"]["code"], payload["probe"]["message"]) == (400, "ExpiredToken", "The provided token has expired.")
    assert payload["probe"]["overrides_model"] is True and "ExpiredToken" in payload["reason"]
    assert "may have died before its nominal expiry" in payload["model_reason"]
