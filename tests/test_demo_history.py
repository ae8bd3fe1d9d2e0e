"""The demo's history is true: signed and logged by the desk's own code, and reproducible."""

from __future__ import annotations

from datetime import timedelta

from dashboard import demo_history
from dashboard.store import fingerprint
from dashboard.urlparse import parse_link


def history(desk):
    return [e for e in desk.log.recent(5000) if e.note == "demo history"]


def test_history_has_every_strategy_with_the_cut_the_credentials_make(demo_desk):
    rows = history(demo_desk)
    assert len(rows) == demo_history.COUNT
    by = {s: [e for e in rows if e.strategy == s] for s in ("ambient", "role-session", "iam-user", "cloudfront")}
    assert all(by.values())
    assert any(e.effective_expires_at < e.nominal_expires_at for e in by["ambient"])
    for entry in by["ambient"]:  # cut at the task role's rotation, never later than 6 h after signing
        assert entry.effective_expires_at - entry.signed_at <= demo_history.TASK_ROTATION
        assert entry.effective_expires_at == min(entry.nominal_expires_at, entry.credential_expires_at)
    for entry in by["role-session"]:
        assert entry.effective_expires_at - entry.signed_at <= demo_history.ROLE_SESSION
    for entry in by["iam-user"] + by["cloudfront"]:
        assert entry.effective_expires_at == entry.nominal_expires_at and entry.bound_by == "nominal"


def test_history_is_seeded_once(demo_desk):
    before = demo_desk.log.count()
    assert demo_history.seed_history(demo_desk) == 0
    assert demo_desk.log.count() == before


def test_a_history_link_can_be_made_again_and_matches_its_log_row(demo_desk):
    sample = demo_history.cut_short_sample(demo_desk)
    assert sample is not None
    entry, url = sample
    parsed = parse_link(url)
    assert fingerprint(parsed.signature) == entry.fingerprint
    assert parsed.access_key_id == entry.access_key_id and parsed.has_session_token
    assert parsed.signed_at == entry.signed_at
    assert parsed.nominal_expires_at == entry.nominal_expires_at
    assert entry.effective_expires_at < entry.nominal_expires_at - timedelta(seconds=1)


def test_history_rows_an_older_demo_signed_are_passed_over_not_a_crash(demo_desk):
    from dataclasses import replace
    from types import SimpleNamespace

    import pytest

    sample = demo_history.cut_short_sample(demo_desk)
    assert sample is not None
    entry, url = sample
    old = replace(entry, id=-1, access_key_id="ASIA" + "0123456789ABCDEF")  # the old scheme: a hash, no session end
    with pytest.raises(LookupError):
        demo_history.history_url(demo_desk, old)
    # An older demo's log, newest first: its row cannot be made again, so the sample is the next one.
    log = SimpleNamespace(recent=lambda limit: [old, *demo_desk.log.recent(limit)])
    found = demo_history.cut_short_sample(SimpleNamespace(log=log, aws=demo_desk.aws, settings=demo_desk.settings))
    assert found == (entry, url)
