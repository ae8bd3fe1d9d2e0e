"""The Share page through the navigation, on the embedded demo: cards, safe issuing, results tied to their request."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import demo
from dashboard.ui.frame import SELECTION_KEY
from tests.test_pages import NAVIGATION


def _picked(keys: list[str]) -> dict[str, dict]:
    return {f"s3://{demo.SUPPORT_BUCKET}/{k}": {"bucket": demo.SUPPORT_BUCKET, "key": k, "size": 1, "storage_class": "STANDARD"} for k in keys}


def share_page(keys: list[str], *, name: str | None = "alice") -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.session_state[SELECTION_KEY] = _picked(keys)
    at.run()
    at.switch_page("../../pages/share.py").run()
    if name:
        at.text_input(key="sharedesk.issuer").input(name).run()
    return at


def card_text(at: AppTest, strategy: str) -> str:
    return "\n".join(str(getattr(node, "value", "")) for node in at.container(f"share-card-{strategy}"))


def issue_button(at: AppTest):
    return at.button(key="share.issue")


def dialog_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.get("markdown") if m.value and m not in at.main.markdown)


def urls(at: AppTest) -> list[str]:
    return [c.value for c in at.code if c.value.startswith("http")]


def test_share_page_previews_every_strategy_as_a_card_and_recommends_one(demo_desk):
    at = share_page(["manuals/user guide.pdf"])
    assert not at.exception
    assert not at.dataframe  # cards, not a wide table that a phone clips
    for strategy in ("ambient", "role-session", "iam-user", "cloudfront", "stable"):
        assert "Works until" in card_text(at, strategy)
    assert "credentials" in card_text(at, "ambient")  # the simulated task role dies within hours; the default asks 1 day
    assert "falls short" in card_text(at, "ambient")
    recommended = [s for s in demo_desk.strategies if "recommended" in card_text(at, s)]
    assert len(recommended) == 1
    assert at.success[0].value.startswith(recommended[0])


def test_share_page_says_when_a_stable_link_stops_working(demo_desk):
    at = share_page(["README.txt"])
    text = card_text(at, "stable")
    assert "does not expire" not in text
    assert "then stops" in text and "UTC" in text


def test_share_page_shows_the_picks_in_the_object_box_and_removes_one(demo_desk):
    at = share_page(["manuals/user guide.pdf", "README.txt"])
    box = at.multiselect(key="share.objects")
    assert box.value == [f"s3://{demo.SUPPORT_BUCKET}/manuals/user guide.pdf", f"s3://{demo.SUPPORT_BUCKET}/README.txt"]
    assert not box.disabled
    box.unselect(f"s3://{demo.SUPPORT_BUCKET}/README.txt").run()
    assert not at.exception
    assert list(at.session_state[SELECTION_KEY]) == [f"s3://{demo.SUPPORT_BUCKET}/manuals/user guide.pdf"]
    assert issue_button(at).label == "Issue 1 link"


def test_share_page_issues_logged_links_with_a_message(demo_desk):
    before = demo_desk.log.count()
    at = share_page(["manuals/user guide.pdf", "README.txt"])
    at.radio(key="share.strategy").set_value("iam-user").run()
    issue_button(at).click().run()
    assert not at.exception
    assert demo_desk.log.count() == before + 2
    assert len(urls(at)) == 2 and all("X-Amz-Credential=" + demo.SIGNER_KEY_ID in u for u in urls(at))
    message = [c.value for c in at.code if c.value.startswith("Hello")][0]
    assert "This link works until" in message and urls(at)[0] in message
    assert message.startswith("Hello,\n\nHere are your download links.\n") and "\\x0a" not in message  # ready to paste: real line breaks
    assert at.get("download_button")  # several links: a CSV too


def test_share_page_asks_before_issuing_the_same_links_again(demo_desk):
    at = share_page(["README.txt"])
    at.radio(key="share.strategy").set_value("iam-user").run()
    at.text_input(key="share.ticket").input("TCK-2001").run()
    before = demo_desk.log.count()
    issue_button(at).click().run()
    assert demo_desk.log.count() == before + 1
    assert issue_button(at).label.startswith("Issued 1 link with iam-user at ")  # says what was issued
    first = urls(at)

    issue_button(at).click().run()  # the second click only asks
    assert not at.exception
    assert demo_desk.log.count() == before + 1
    assert "already issued" in dialog_text(at)
    at.button(key="share.confirm.no").click().run()
    assert demo_desk.log.count() == before + 1
    assert urls(at) == first

    issue_button(at).click().run()
    at.button(key="share.confirm.yes").click().run()  # asked and confirmed: one more, on purpose
    assert not at.exception
    assert demo_desk.log.count() == before + 2
    newest = demo_desk.log.recent(1)[0].id
    assert any(m.value.endswith(f"log {newest}") for m in at.markdown)  # the links shown are the new ones


def test_share_page_asks_before_issuing_links_that_fall_short_of_the_promise(demo_desk):
    at = share_page(["README.txt"])
    at.radio(key="share.strategy").set_value("ambient").run()  # the task role dies long before the 1 day asked
    before = demo_desk.log.count()
    issue_button(at).click().run()
    assert demo_desk.log.count() == before
    asked = dialog_text(at)
    assert "stop working at" in asked and "before the 1 day asked" in asked
    at.button(key="share.confirm.yes").click().run()
    assert not at.exception
    assert demo_desk.log.count() == before + 1
    assert len(urls(at)) == 1


@pytest.mark.parametrize(
    ("change", "widget", "value"),
    [
        ("ticket", "share.ticket", "TCK-8888"),
        ("note", "share.note", "for someone else"),
        ("file name", "share.filename", "other.txt"),
        ("strategy", "share.strategy", "cloudfront"),
        ("lifetime", "share.preset", "7 d"),
        ("issuer", "sharedesk.issuer", "bob"),
    ],
)
def test_share_page_drops_issued_links_when_the_request_changes(demo_desk, change, widget, value):
    at = share_page(["README.txt"])
    at.radio(key="share.strategy").set_value("iam-user").run()
    at.text_input(key="share.ticket").input("TCK-7777").run()
    issue_button(at).click().run()
    assert len(urls(at)) == 1
    element = at.get_by_key(widget) if widget != "sharedesk.issuer" else at.text_input(key=widget)
    element.set_value(value).run()
    assert not at.exception
    assert urls(at) == [], f"links issued for TCK-7777 still shown after the {change} changed"
    assert not [c for c in at.code if c.value.startswith("Hello")]
    assert issue_button(at).label.startswith("Issue 1 link")


def test_share_page_drops_issued_links_when_the_objects_change(demo_desk):
    at = share_page(["README.txt", "manuals/user guide.pdf"])
    at.radio(key="share.strategy").set_value("iam-user").run()
    issue_button(at).click().run()
    assert len(urls(at)) == 2
    at.multiselect(key="share.objects").unselect(f"s3://{demo.SUPPORT_BUCKET}/README.txt").run()
    assert urls(at) == []


def test_share_page_shows_no_link_when_the_log_cannot_be_written(demo_desk, monkeypatch):
    from dashboard.store import LogWriteError

    def refuse(*args):
        raise LogWriteError("The issuance log could not be written (disk full): no link was issued. Free some space, then try again.")

    monkeypatch.setattr(demo_desk.log, "record_many", refuse)
    at = share_page(["README.txt"])
    at.radio(key="share.strategy").set_value("iam-user").run()
    issue_button(at).click().run()
    assert not at.exception
    assert "No link was issued" in at.error[0].value
    assert urls(at) == []


def test_share_page_asks_for_a_name_before_issuing(demo_desk):
    at = share_page(["README.txt"], name=None)
    assert "Type your name (demo) at the top of the page first" in at.error[0].value.replace("\\", "")
    assert not [b for b in at.button if b.key == "share.issue"]
