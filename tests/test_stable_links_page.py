"""The Stable links page through the navigation, on the demo desk with a log of its own for each test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing
from dashboard.safetext import md
from dashboard.store import Click, IssuanceLog
from dashboard.strategies import ShareRequest
from dashboard.ui.stable import extension_end
from tests.test_pages import NAVIGATION, texts


@pytest.fixture
def log(demo_desk, database_url, monkeypatch):
    """An empty issuance log (on the backend under test) under the process's demo desk, so counts and 'the last link' are this test's own."""
    fresh = IssuanceLog.open(database_url)
    monkeypatch.setattr(demo_desk, "_log", fresh)
    yield fresh
    fresh.close()


def stable_link(desk, *, ticket: str, key: str = "README.txt", issuer: str = "alice", days: int = 3):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=timedelta(days=days), issuer=issuer, ticket=ticket)
    return issuing.issue(desk, [request], "stable")[0].entry


def stable_page(name: str | None = "lead") -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/stable_links.py").run()
    if name:
        at.text_input(key="sharedesk.issuer").input(name).run()
    return at


def card(at: AppTest, link_id: int) -> str:
    return "\n".join(str(getattr(node, "value", "")) for node in at.container(f"stable-card-{link_id}"))


def dialog(at: AppTest) -> str:
    return "\n".join(str(getattr(node, "value", "")) for block in at._tree.children.values() if block.type == "event" for node in block)


def test_stable_links_page_lists_live_links_as_cards_with_every_column(demo_desk, log):
    entry = stable_link(demo_desk, ticket="TCK-STABLE")
    at = stable_page(name=None)
    assert not at.exception
    shown = card(at, entry.id)
    for label in ("Ticket", "Issued by", "Issued", "Expires", "Left", "Clicks", "Last click"):
        assert label in shown
    assert "TCK\\-STABLE" in shown and "alice" in shown
    assert "never" in shown and "None" not in shown
    assert " UTC" in shown  # the viewer's zone (UTC in AppTest), named
    assert at.button(key=f"stable.revoke.{entry.id}").disabled  # nobody named yet: nothing can be revoked


def test_stable_links_page_revokes_exactly_one_link_after_a_dialog_that_names_it(demo_desk, log):
    first = stable_link(demo_desk, ticket="TCK-1111", key="manuals/user guide.pdf", issuer="alice")
    second = stable_link(demo_desk, ticket="TCK-2222", issuer="bob")
    at = stable_page()
    at.button(key=f"stable.revoke.{first.id}").click().run()
    assert not at.exception
    asked = dialog(at)
    assert f"Link {first.id}" in asked and "manuals/user guide.pdf" in asked and "TCK\\-1111" in asked and "alice" in asked
    assert log.get(first.id).revoked_at is None  # asking revokes nothing

    at.button(key="stable.revoke.confirm").click().run()
    assert not at.exception and not at.error
    assert log.get(first.id).revoked_by == "lead"
    assert log.get(second.id).revoked_at is None
    assert f"Link {first.id} revoked by lead" in at.success[0].value
    assert not dialog(at)  # closed, and nothing else is selected or armed
    assert "stable.pending" not in at.session_state
    assert f"stable-card-{first.id}" not in [b.key for b in at._tree if getattr(b, "key", None)]

    # The last live link too: no error box, an empty list that says so.
    at.button(key=f"stable.revoke.{second.id}").click().run()
    at.button(key="stable.revoke.confirm").click().run()
    assert not at.exception and not at.error
    assert log.get(second.id).revoked_by == "lead"
    assert "No stable link is live" in texts(at)


def test_stable_links_page_cancel_revokes_nothing(demo_desk, log):
    entry = stable_link(demo_desk, ticket="TCK-3333")
    at = stable_page()
    at.button(key=f"stable.revoke.{entry.id}").click().run()
    at.button(key="stable.revoke.cancel").click().run()
    assert not at.exception
    assert log.get(entry.id).revoked_at is None
    assert not dialog(at)


def test_stable_links_page_extend_label_and_confirmation_agree(demo_desk, log):
    entry = stable_link(demo_desk, ticket="TCK-4444", days=2)
    at = stable_page()
    at.button(key=f"stable.extend.{entry.id}").click().run()
    assert not at.exception
    day = datetime.now(UTC).date() + timedelta(days=20)
    at.date_input(key="stable.extend.day").set_value(day).run()
    confirm = at.button(key="stable.extend.confirm")
    assert confirm.label == f"Extend until {day:%Y-%m-%d} 23:59 UTC"
    assert f"until {day:%Y-%m-%d} 23:59 UTC" in dialog(at)
    confirm.click().run()
    assert not at.exception
    assert log.get_stable(entry.id).expires_at == datetime.combine(day, datetime.min.time(), UTC).replace(hour=23, minute=59)
    assert f"now works until {day:%Y-%m-%d} 23:59 UTC" in at.success[0].value


def test_extension_ends_at_the_policy_limit_on_its_last_day():
    latest = datetime(2027, 3, 2, 0, 39, tzinfo=UTC)
    assert extension_end(date(2027, 3, 2), UTC, latest) == latest
    assert extension_end(date(2027, 3, 1), UTC, latest) == datetime(2027, 3, 1, 23, 59, tzinfo=UTC)


def test_stable_links_page_keeps_revoked_and_expired_links_listable(demo_desk, log):
    revoked = stable_link(demo_desk, ticket="TCK-5555")
    log.revoke(revoked.id, at=datetime.now(UTC), by="carol")
    expired = issuing.issue(
        demo_desk,
        [ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(days=1), issuer="dave", ticket="TCK-6666")],
        "stable",
        now=datetime.now(UTC) - timedelta(days=2),
    )[0].entry
    at = stable_page()
    control = at.get_by_key("stable.listing")
    assert control.value == "live"
    control.set_value("revoked").run()
    shown = card(at, revoked.id)
    assert "Revoked by" in shown and "carol" in shown and "Revoked" in shown
    control.set_value("expired").run()
    assert "Expired" in card(at, expired.id) and "dave" in card(at, expired.id)
    control.set_value("all").run()
    assert {revoked.id, expired.id} <= {int(b.key.rsplit("-", 1)[1]) for b in at._tree if (getattr(b, "key", None) or "").startswith("stable-card-")}


def test_stable_links_page_shows_ipv4_mapped_client_addresses_as_ipv4(demo_desk, log):
    entry = stable_link(demo_desk, ticket="TCK-7777")
    log.record_clicks([Click(entry.id, datetime.now(UTC), 302, "::ffff:203.0.113.9", "curl/8")])
    at = stable_page()
    shown = card(at, entry.id)
    assert "203\\.0\\.113\\.9" in shown
    assert "ffff" not in shown


def test_stable_links_page_says_in_a_sentence_when_the_log_cannot_be_read(demo_desk, log, monkeypatch):
    from dashboard.store import LogReadError

    def unreadable(*args, **kwargs):
        raise LogReadError("The issuance log could not be read (database is locked): try again in a moment.")

    monkeypatch.setattr(log, "count_stable", unreadable)
    at = stable_page(name=None)
    assert not at.exception
    assert at.error[0].value == md("The issuance log could not be read (database is locked): try again in a moment.")
