"""The Inspect page through the navigation, on the embedded demo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing
from dashboard.store import NewLink
from dashboard.strategies import ShareRequest
from tests.markup import markup_in, page_markdown, plain
from tests.test_pages import NAVIGATION, texts

AWS_EXAMPLE = (
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)


def _issue(desk, strategy: str, ticket: str | None = None, lifetime: timedelta = timedelta(days=7)):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=lifetime, issuer="alice", ticket=ticket)
    return issuing.issue(desk, [request], strategy)[0]


def _open(query: dict[str, str] | None = None, *, name: str | None = None) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page("../../pages/inspect.py").run()
    if name:
        at.text_input(key="sharedesk.issuer").input(name).run()
    return at


def _inspect(text: str, *, name: str | None = None) -> AppTest:
    at = _open(name=name)
    at.text_area(key="inspect.text").input(text).run()
    return at


def _button(at: AppTest, prefix: str):
    return next(b for b in at.button if b.label.startswith(prefix))


def test_inspect_page_asks_for_a_link_or_a_ticket(demo_desk):
    at = _open()
    assert not at.exception
    assert "Paste the link" in at.info[1].value


def test_inspect_page_explains_a_cut_short_demo_link_and_reissues_it(demo_desk):
    link = _issue(demo_desk, "ambient")
    entry = link.entry
    at = _inspect(link.url, name="lead")
    assert not at.exception
    page = plain(texts(at))
    assert "`s3-sigv4`" in page and "s3://sharedesk-demo-support/README.txt" in page and "live at" in page
    assert "the ECS/Fargate task role (or EKS Pod Identity)" in page  # where the credentials came from, in plain words

    # Judge it an hour after the simulated task role's credentials expired: cut short, with the log's reason.
    later = entry.effective_expires_at + timedelta(hours=1)
    at.toggle(key="inspect.pick").set_value(True).run()
    assert at.date_input(key="inspect.date").label == "Date (UTC)"
    at.date_input(key="inspect.date").set_value(later.date()).run()
    at.time_input(key="inspect.time").set_value(later.time().replace(second=0, microsecond=0)).run()
    assert not at.exception
    page = plain(texts(at))
    assert "cut-short at" in page
    warning = plain(at.warning[0].value)
    assert "Dead since" in warning and entry.reason in warning
    assert "6 days" in page and "early" in page  # how much of the promise was lost
    assert at.get("arrow_vega_lite_chart") or at.get("vega_lite_chart")  # the timeline

    before = demo_desk.log.count()
    button = _button(at, "Re-issue with ")
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


def test_inspect_page_asks_before_issuing_a_second_new_link_for_the_same_link(demo_desk):
    link = _issue(demo_desk, "ambient")
    at = _inspect(link.url, name="lead")
    _button(at, "Re-issue with ").click().run()
    first = demo_desk.log.recent(1)[0]
    again = _button(at, f"Issued as log entry {first.id}")  # the button says what was issued
    before = demo_desk.log.count()
    again.click().run()
    assert demo_desk.log.count() == before  # only a question so far
    assert "already issued for it (log entry" in plain(at.warning[-1].value)
    _button(at, "Cancel").click().run()
    assert demo_desk.log.count() == before and not [b for b in at.button if b.label == "Yes, issue a new link"]
    _button(at, f"Issued as log entry {first.id}").click().run()
    _button(at, "Yes, issue a new link").click().run()
    assert not at.exception and demo_desk.log.count() == before + 1


def test_inspect_page_warns_before_reissuing_a_revoked_link_naming_who_revoked_it_and_when(demo_desk):
    link = _issue(demo_desk, "stable")
    revoked_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    demo_desk.log.revoke(link.entry.id, at=revoked_at, by="carol")
    at = _inspect(link.url, name="lead")
    assert not at.exception
    page = plain(texts(at))
    # A revoked stable link shows its object and issuer, not "Signed by unknown" and "Region —".
    assert "s3://sharedesk-demo-support/README.txt" in page and "**Issued by** · alice" in page
    assert "Signed by** · `unknown`" not in page and "Region" not in page
    assert "revoked at" in page.lower() and "by carol" in page
    before = demo_desk.log.count()
    _button(at, "Re-issue with ").click().run()
    assert demo_desk.log.count() == before
    question = plain(at.warning[-1].value)
    assert f"revoked by carol at {revoked_at:%Y-%m-%d %H:%M} UTC" in question and "Issue a new link anyway?" in question
    _button(at, "Yes, issue a new link").click().run()
    assert not at.exception and demo_desk.log.count() == before + 1


def test_inspect_page_needs_a_name_before_reissuing(demo_desk):
    link = _issue(demo_desk, "ambient")
    at = _inspect(link.url)
    button = _button(at, "Re-issue with ")
    assert button.disabled
    assert "Type your name (demo) at the top of the page first" in plain(texts(at))


def test_inspect_page_shows_a_sentence_for_garbage(demo_desk):
    for garbage, sentence in [
        ("this is not a link", "spaces"),
        ("https://example.com/just/a/page", "not a link Share Desk can read"),
        ("x" * 20_000, "longer than 16 KB"),
    ]:
        at = _inspect(garbage)
        assert not at.exception
        assert sentence in plain(at.error[0].value)
        assert not at.button  # nothing to probe or re-issue


def test_inspect_page_finds_the_link_in_a_pasted_email_and_says_how(demo_desk):
    link = _issue(demo_desk, "iam-user")
    mail = f"Hi,\n\nthe link you sent (<{link.url.replace('&', '&amp;')}>) says AccessDenied.\n\nThanks, Bob"
    at = _inspect(mail)
    assert not at.exception
    page = plain(texts(at))
    assert f"Log entry {link.entry.id}:" in plain(at.expander[0].label)
    assert "HTML character references such as &amp; decoded" in page and "Found in the text around it" in page


def test_inspect_page_explains_each_link_of_a_paste_in_its_own_tab(demo_desk):
    first = _issue(demo_desk, "ambient")
    second = _issue(demo_desk, "cloudfront")
    at = _inspect(f"first: {first.url}\nsecond: {second.url}")
    assert not at.exception
    assert "2 links found in what was pasted" in texts(at)
    assert [plain(t.label) for t in at.tabs] == ["Link 1: s3-sigv4, live", "Link 2: cloudfront, live"]
    labels = [plain(e.label) for e in at.expander]
    assert any(f"Log entry {first.entry.id}:" in label for label in labels) and any(f"Log entry {second.entry.id}:" in label for label in labels)


def test_inspect_page_probe_answer_stays_until_the_link_changes(demo_desk):
    link = _issue(demo_desk, "iam-user")
    at = _inspect(link.url)
    _button(at, "Probe it now").click().run()
    assert not at.exception
    answer = [plain(i.value) for i in at.info if "The link works now" in plain(i.value)]
    assert answer and answer[0].startswith("**20")  # the demo S3 (the configured endpoint) answered 200 or 206
    at.toggle(key="inspect.pick").set_value(True).run()  # any other rerun keeps it
    at.toggle(key="inspect.pick").set_value(False).run()
    assert any("The link works now" in plain(i.value) for i in at.info)
    other = _issue(demo_desk, "iam-user", lifetime=timedelta(days=6))  # another URL even within the same second
    assert other.url != link.url
    at.text_area(key="inspect.text").input(other.url).run()
    assert not any("The link works now" in plain(i.value) for i in at.info)


def test_inspect_page_lists_a_tickets_links(demo_desk):
    ticket = f"TCK-PAGE-{datetime.now(UTC):%H%M%S%f}"
    first = _issue(demo_desk, "iam-user", ticket)
    second = _issue(demo_desk, "cloudfront", ticket)
    at = _inspect(ticket)
    assert not at.exception
    frame = at.dataframe[0].value
    assert list(frame["Log id"]) == [second.entry.id, first.entry.id]
    assert set(frame["State"]) == {"live"}
    assert f"2 link(s) under {ticket}" in plain(texts(at))

    at.session_state["inspect.table"] = {"selection": {"rows": [1], "columns": []}}
    at.run()
    assert not at.exception
    assert any(first.entry.reason in plain(w.value) and "as promised" in plain(w.value) for w in at.success)
    assert not [b for b in at.button if b.label == "Probe it now"]  # the log keeps no working link to probe


def test_inspect_page_says_when_a_ticket_has_no_links(demo_desk):
    at = _inspect("TCK-NOTHING-HERE")
    assert not at.exception
    assert "No link in the log has the ticket reference" in plain(at.error[0].value)


def test_inspect_page_opens_one_log_entry_by_id(demo_desk):
    link = _issue(demo_desk, "role-session")
    at = _open({"id": str(link.entry.id)})
    assert not at.exception
    assert f"Log entry {link.entry.id}, as the link you followed names it" in plain(texts(at))
    assert f"Log entry {link.entry.id}:" in plain(at.expander[0].label)
    assert link.entry.reason in plain(at.warning[0].value) or link.entry.reason in plain(at.success[0].value)
    missing = _open({"id": "999999999"})
    assert "has no entry 999999999" in plain(missing.error[0].value)
    garbage = _open({"id": "1; DROP TABLE links"})
    assert "is not a log entry id" in plain(garbage.error[0].value)


def test_inspect_page_explains_a_cut_short_link_from_the_demo_history(demo_desk):
    from dashboard import demo_history

    sample = demo_history.cut_short_sample(demo_desk)
    assert sample is not None
    entry, url = sample
    at = _open()
    at.button(key="inspect.sample").click().run()  # the demo's own "try one" button pastes such a link
    assert not at.exception
    assert at.text_area(key="inspect.text").value.startswith("http")
    page = plain(texts(at))
    assert "cut-short at" in page and "`s3-sigv4`" in page
    warning = plain(at.warning[0].value)
    assert "Dead since" in warning and "Signed with" in warning
    at.text_area(key="inspect.text").input(url).run()
    assert entry.reason in plain(at.warning[0].value) and f"Log entry {entry.id}:" in plain(at.expander[0].label)
    assert any(b.label.startswith("Re-issue with ") for b in at.button)


# --------------------------------------------------------------------------- hostile text stays text

EVIL = "https%3A%2F%2Fevil.example"
HOSTILE_KEY = f"%5BClick%20here%5D({EVIL}%2Fx)%21%5Bpx%5D({EVIL}%2Fp.png)%3Cimg%20src%3D{EVIL}%2Fi.png%3E%20www.evil.example"
HOSTILE_PASTES = {
    "key-in-path": AWS_EXAMPLE.replace("/test.txt", "/" + HOSTILE_KEY),
    "signed-headers": AWS_EXAMPLE.replace("X-Amz-SignedHeaders=host", f"X-Amz-SignedHeaders=host%3B%21%5Bpx%5D({EVIL}%2Fp.png)"),
    "access-key": AWS_EXAMPLE.replace("AKIAIOSFODNN7EXAMPLE", "%21%5Bkey%5D(evil.example%3Fp.png)"),
    "evil-host": AWS_EXAMPLE.replace("examplebucket.s3.amazonaws.com", "www.evil.example"),
    "sentence": f"[Click here](https://evil.example/x) ![px](https://evil.example/p.png) {AWS_EXAMPLE}",
}


def _cloudfront_policy_link() -> str:
    import base64
    import json

    policy = {
        "Statement": [
            {
                "Resource": "[Click](https://evil.example/r)",
                "Condition": {"DateLessThan": {"AWS:EpochTime": 1893456000}, "IpAddress": {"AWS:SourceIp": "![px](https://evil.example/ip.png)"}},
            }
        ]
    }
    encoded = base64.b64encode(json.dumps(policy).encode()).decode().translate(str.maketrans("+=/", "-_~"))
    return f"https://d111111abcdef8.cloudfront.net/a.jpg?Policy={encoded}&Signature=abc-def~&Key-Pair-Id=K2JCJMDEHXQW5F"


def _assert_no_markup(at: AppTest) -> None:
    assert not at.exception
    made = {text: markup_in(text) for text in page_markdown(at)}
    assert not {text: found for text, found in made.items() if found}, "outside text became markup"


@pytest.mark.parametrize("paste", [*HOSTILE_PASTES.values(), _cloudfront_policy_link()], ids=[*HOSTILE_PASTES, "cloudfront-policy"])
def test_inspect_page_shows_hostile_pastes_as_text(demo_desk, paste):
    at = _inspect(paste)
    _assert_no_markup(at)
    if not paste.startswith("[Click"):  # the prose around a link is not shown; the link's own parts are, as text
        assert "evil.example" in plain(texts(at)) + " ".join(c.value for c in at.code)


@pytest.mark.parametrize("paste", [HOSTILE_PASTES["key-in-path"], _cloudfront_policy_link()], ids=["key", "policy"])
def test_inspect_page_opened_with_a_hostile_q_makes_no_markup_on_load(demo_desk, paste):
    _assert_no_markup(_open({"q": paste}))


def test_inspect_page_shows_a_hostile_log_entry_as_text(demo_desk):
    now = datetime.now(UTC).replace(microsecond=0)
    entry = demo_desk.log.record(
        NewLink(
            issued_at=now, issuer="![me](https://evil.example/me.png)", strategy="iam-user", bucket=demo.SUPPORT_BUCKET,
            key="[Click here](https://evil.example)", filename="<img src=https://evil.example/f.png>", ticket="[T](https://evil.example/t)",
            note="www.evil.example", signed_at=now, nominal_expires_at=now + timedelta(days=1), effective_expires_at=now + timedelta(days=1),
            bound_by="nominal", reason="Runs its full 1 day: the signer user's long-term access key does not expire.",
            credential_source="explicit", access_key_id="AKIAEXAMPLE", credential_kind="long-term", credential_expires_at=None,
            fingerprint="0" * 64, display_url=f"https://evil.example/{quote('[x](https://evil.example)')}",
        )
    )
    at = _open({"id": str(entry.id)})
    _assert_no_markup(at)
    assert "[Click here](https://evil.example)" in plain(texts(at))


def test_inspect_page_shows_a_hostile_probe_answer_as_text(demo_desk, monkeypatch):
    from dashboard import probe as probe_module
    from dashboard import verdict

    hostile = (
        b"<Error><Code>[Click](https://evil.example/c)</Code>"
        b"<Message>![px](https://evil.example/p.png) &lt;img src=https://evil.example/i.png&gt; www.evil.example</Message></Error>"
    )

    def answering(url, targets=None, **kwargs):  # the network stands still; S3's words arrive as a hostile server would send them
        return probe_module.interpret(403, {}, hostile)

    monkeypatch.setattr(verdict, "probe", answering)
    link = _issue(demo_desk, "iam-user")
    at = _inspect(link.url)
    _button(at, "Probe it now").click().run()
    _assert_no_markup(at)
    assert any("evil.example" in t.value for t in at.text)  # the server's own words, as plain text


def test_inspect_page_follows_a_new_address_in_the_same_session(demo_desk):
    first = _issue(demo_desk, "iam-user")
    second = _issue(demo_desk, "cloudfront")
    at = _open({"id": str(first.entry.id)})
    assert f"Log entry {first.entry.id}:" in plain(at.expander[0].label)
    at.query_params["id"] = str(second.entry.id)  # another timeline row, same browser tab
    at.run()
    assert f"Log entry {second.entry.id}:" in plain(at.expander[0].label)
    at.text_area(key="inspect.text").input(first.url).run()  # what the viewer types wins
    assert f"Log entry {first.entry.id}:" in plain(at.expander[0].label)
    at.run()
    assert f"Log entry {first.entry.id}:" in plain(at.expander[0].label)
