"""The Inspect page through the navigation, on the embedded demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing
from dashboard.strategies import ShareRequest
from tests.test_pages import NAVIGATION, texts


def _issue(desk, strategy: str, ticket: str | None = None, lifetime: timedelta = timedelta(days=7)):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=lifetime, issuer="alice", ticket=ticket)
    return issuing.issue(desk, [request], strategy)[0]


def _inspect(text: str, *, name: str | None = None) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/inspect.py").run()
    if name:
        at.text_input(key="sharedesk.issuer").input(name).run()
    at.text_input(key="inspect.text").input(text).run()
    return at


def test_inspect_page_asks_for_a_link_or_a_ticket(demo_desk):
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/inspect.py").run()
    assert not at.exception
    assert "Paste the link" in at.info[1].value


def test_inspect_page_explains_a_cut_short_demo_link_and_reissues_it(demo_desk):
    link = _issue(demo_desk, "ambient")
    entry = link.entry
    at = _inspect(link.url, name="lead")
    assert not at.exception
    page = texts(at)
    assert "`s3-sigv4`" in page and "s3://sharedesk-demo-support/README.txt" in page and "live at" in page

    # Judge it an hour after the simulated task role's credentials expired: cut short, with the log's reason.
    later = entry.effective_expires_at + timedelta(hours=1)
    at.toggle(key="inspect.pick").set_value(True).run()
    at.date_input(key="inspect.date").set_value(later.date()).run()
    at.time_input(key="inspect.time").set_value(later.time().replace(second=0, microsecond=0)).run()
    assert not at.exception
    page = texts(at)
    assert "cut-short at" in page
    assert "Dead since" in at.warning[0].value and entry.reason in at.warning[0].value
    assert "6 days" in page and "early" in page  # how much of the promise was lost
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the timeline

    before = demo_desk.log.count()
    button = next(b for b in at.button if b.label.startswith("Re-issue with "))
    assert not button.disabled
    button.click().run()
    assert not at.exception
    assert demo_desk.log.count() == before + 1
    new = demo_desk.log.recent(1)[0]
    assert new.issuer == "lead" and new.note == f"re-issue of link {entry.id}"
    assert new.nominal_expires_at - new.signed_at == timedelta(days=7)  # the same lifetime as first asked
    assert new.effective_expires_at == new.nominal_expires_at  # the recommended strategy keeps the promise
    urls = [c.value for c in at.code if c.value.startswith("http")]
    assert len(urls) == 1 and urls[0] != link.url


def test_inspect_page_needs_a_name_before_reissuing(demo_desk):
    link = _issue(demo_desk, "ambient")
    at = _inspect(link.url)
    button = next(b for b in at.button if b.label.startswith("Re-issue with "))
    assert button.disabled
    assert "Type your name (demo) at the top of the page first" in texts(at)


def test_inspect_page_shows_a_sentence_for_garbage(demo_desk):
    for garbage, sentence in [
        ("this is not a link", "spaces"),
        ("https://example.com/just/a/page", "not a link Share Desk can read"),
        ("x" * 20_000, "longer than 16 KB"),
    ]:
        at = _inspect(garbage)
        assert not at.exception
        assert sentence in at.error[0].value
        assert not at.button  # nothing to probe or re-issue


def test_inspect_page_lists_a_tickets_links(demo_desk):
    ticket = f"TCK-PAGE-{datetime.now(UTC):%H%M%S%f}"
    first = _issue(demo_desk, "iam-user", ticket)
    second = _issue(demo_desk, "cloudfront", ticket)
    at = _inspect(ticket)
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["Log id"]) == [second.entry.id, first.entry.id]
    assert set(frame["State"]) == {"live"}
    assert f"2 link(s) under {ticket}" in texts(at)

    at.session_state["inspect.table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert not at.exception
    assert any(first.entry.reason in w.value and "as promised" in w.value for w in at.success)
    assert not [b for b in at.button if b.label == "Probe it now"]  # the log keeps no working link to probe


def test_inspect_page_says_when_a_ticket_has_no_links(demo_desk):
    at = _inspect("TCK-NOTHING-HERE")
    assert not at.exception
    assert "No link in the log has the ticket reference" in at.error[0].value


def test_inspect_page_explains_a_cut_short_link_from_the_demo_history(demo_desk):
    from dashboard import demo_history

    sample = demo_history.cut_short_sample(demo_desk)
    assert sample is not None
    entry, url = sample
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/inspect.py").run()
    at.button(key="inspect.sample").click().run()  # the demo's own "try one" button pastes such a link
    assert not at.exception
    assert at.text_input(key="inspect.text").value.startswith("http")
    page = texts(at)
    assert "cut-short at" in page and "`s3-sigv4`" in page
    warning = at.warning[0].value
    assert "Dead since" in warning and "Signed with" in warning
    at.text_input(key="inspect.text").input(url).run()
    assert entry.reason in at.warning[0].value and f"Log entry {entry.id}:" in [e.label for e in at.expander][0]
    assert any(b.label.startswith("Re-issue with ") for b in at.button)
