"""What the pages show, built without Streamlit: times in the viewer's zone, clients' addresses, exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.catalog import Listing, ObjectInfo
from dashboard.issuing import IssuedLink
from dashboard.safetext import csv_frame
from dashboard.store import LogEntry, StableLink
from dashboard.tables import click_lines, issued_frame, listing_frame, shown_ip, stable_facts

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def entry(**changes) -> LogEntry:
    values = dict(
        id=7, issued_at=T0, issuer="alice", strategy="stable", bucket="b-1", key="k/Grüße.txt", filename=None, ticket="=cmd|' /C calc'!A0",
        note=None, signed_at=T0, nominal_expires_at=T0 + timedelta(days=3), effective_expires_at=T0 + timedelta(days=3), bound_by="nominal",
        reason="r", credential_source="stable-link", access_key_id=None, credential_kind="long-term", credential_expires_at=None,
        fingerprint="f", display_url="http://desk/s/…", revoked_at=None, revoked_by=None,
    )  # fmt: skip
    values.update(changes)
    return LogEntry(**values)


def stable(**changes) -> StableLink:
    return StableLink(entry=entry(**changes), expires_at=T0 + timedelta(days=3), mint_seconds=300, clicks=0, last_click_at=None)


def test_listing_times_are_in_the_viewers_zone_and_names_show_control_characters_as_escapes():
    obj = ObjectInfo("b-1", "f/a\x1bb.txt", 10, T0, "STANDARD")
    frame = listing_frame(Listing("b-1", "f/", (), (obj,), None), PARIS)
    assert str(frame["Last modified"].dt.tz) == "Europe/Paris"
    assert frame["Last modified"].iloc[0].hour == 10  # 09:00 UTC is 10:00 in Paris in December
    assert frame["Name"].iloc[0] == "a\\x1bb.txt"


@pytest.mark.parametrize(
    ("stored", "shown"),
    [("::ffff:203.0.113.9", "203.0.113.9"), ("203.0.113.9", "203.0.113.9"), ("2001:db8::1", "2001:db8::1"), (None, "unknown"), ("not an ip", "not an ip")],
)
def test_client_addresses_show_ipv4_mapped_ones_as_ipv4(stored, shown):
    assert shown_ip(stored) == shown


def test_a_stable_link_never_clicked_says_never_and_its_times_name_the_zone():
    facts = dict(stable_facts(stable(), T0 + timedelta(hours=1), PARIS))
    assert facts["Last click"] == "never"
    assert facts["Issued"] == "2026-12-01 10:00 CET"
    assert facts["Expires"] == "2026-12-04 10:00 CET"
    assert facts["Left"] == "2 days 23 hours"
    assert "Revoked by" not in facts


def test_a_revoked_stable_link_says_who_revoked_it_and_when():
    facts = dict(stable_facts(stable(revoked_at=T0 + timedelta(hours=2), revoked_by="lead"), T0 + timedelta(hours=3), PARIS))
    assert facts["Revoked"] == "2026-12-01 12:00 CET" and facts["Revoked by"] == "lead"
    assert "Left" not in facts and facts["Was to expire"] == "2026-12-04 10:00 CET"


def test_click_lines_keep_the_user_agent_apart_and_show_mapped_addresses_as_ipv4():
    from dashboard.store import Click

    (when, client), = click_lines([Click(7, T0, 302, "::ffff:198.51.100.4", "curl/8")], PARIS)
    assert when == "2026-12-01 10:00:00 CET · HTTP 302 · 198.51.100.4"
    assert client == "curl/8"


def test_share_csv_has_local_and_utc_expiries_and_neutralises_formulas():
    link = IssuedLink(url="https://x.example/k?sig", entry=entry(strategy="iam-user"))
    frame = csv_frame(issued_frame([link], PARIS))
    row = frame.iloc[0]
    assert row["real_expiry (Europe/Paris)"] == "2026-12-04T10:00:00+01:00"
    assert row["real_expiry_utc"] == "2026-12-04T09:00:00Z"
    assert row["ticket"] == "'=cmd|' /C calc'!A0"
    assert row["log_id"] == 7  # numbers stay numbers
