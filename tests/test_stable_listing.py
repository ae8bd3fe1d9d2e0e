"""Listing stable links by state, on a real log (SQLite and PostgreSQL): live, expired (never revoked) and revoked, with counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.store import IssuanceLog, NewLink, StableSpec

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _link(n: int, expires: datetime) -> tuple[NewLink, StableSpec]:
    link = NewLink(
        issued_at=T0, issuer="alice", strategy="stable", bucket="b-1", key=f"k{n}", filename=None, ticket=f"T-{n}", note=None,
        signed_at=T0, nominal_expires_at=expires, effective_expires_at=expires, bound_by="nominal", reason="r",
        credential_source="stable-link", access_key_id=None, credential_kind="long-term", credential_expires_at=None,
        fingerprint=f"fp{n}", display_url="http://desk/s/…",
    )  # fmt: skip
    return link, StableSpec(expires_at=expires, mint_seconds=300)


@pytest.fixture
def log(database_url):
    with IssuanceLog.open(database_url) as log:
        rows = [_link(1, T0 + timedelta(days=3)), _link(2, T0 + timedelta(hours=1)), _link(3, T0 + timedelta(days=3))]
        entries = log.record_many([r for r, _ in rows], [s for _, s in rows])
        log.revoke(entries[2].id, at=T0 + timedelta(minutes=5), by="lead")
        yield log


def test_stable_links_are_listed_by_state_newest_first(log):
    later = T0 + timedelta(hours=2)
    assert [s.entry.key for s in log.stable_links(state="live", at=later)] == ["k1"]
    assert [s.entry.key for s in log.stable_links(state="expired", at=later)] == ["k2"]
    revoked = log.stable_links(state="revoked", at=later)
    assert [(s.entry.key, s.entry.revoked_by, s.entry.revoked_at) for s in revoked] == [("k3", "lead", T0 + timedelta(minutes=5))]
    assert [s.entry.key for s in log.stable_links()] == ["k3", "k2", "k1"]
    assert [s.entry.key for s in log.stable_links(live_at=later)] == ["k1"]  # the older spelling still works


def test_stable_link_counts_match_the_listings(log):
    later = T0 + timedelta(hours=2)
    counts = log.count_stable(later)
    assert counts == {"live": 1, "expired": 1, "revoked": 1}
    assert counts == {state: len(log.stable_links(state=state, at=later)) for state in counts}


def test_a_revoked_link_stays_revoked_after_its_expiry(log):
    much_later = T0 + timedelta(days=10)
    assert log.count_stable(much_later) == {"live": 0, "expired": 2, "revoked": 1}
