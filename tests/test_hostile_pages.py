"""The hostile-text harness: every page of the navigation fed hostile keys, tickets, notes and issuers.

Hostile objects go into the demo's own S3 (a folder removed afterwards) and
hostile rows into a log of the test's own; each page is then driven through
the states that show them (folders, details, picks, issued links, dialogs),
and every string Streamlit renders as Markdown (bodies, captions, headings,
alerts, toasts, labels, help, options, dialog and expander titles) must make
no link, image or HTML element under GitHub-flavoured Markdown with
autolinks. Table cells, code blocks and plain text are text by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import demo, issuing
from dashboard.safetext import WORD_JOINER
from dashboard.store import Click, IssuanceLog
from dashboard.strategies import ShareRequest
from dashboard.ui.frame import PAGES, SELECTION_KEY, PageSpec
from tests import hostile
from tests.test_pages import NAVIGATION

def _params() -> list[object]:
    return [pytest.param(page, id=page.url_path) for page in PAGES]


@pytest.fixture
def hostile_desk(demo_desk, tmp_path, monkeypatch) -> Iterator[object]:
    """The demo desk with hostile objects in its S3 and a log of hostile rows (links of every kind, clicks, a revocation)."""
    s3 = demo_desk.aws.s3()
    for key in hostile.KEYS:
        s3.put_object(Bucket=demo.SUPPORT_BUCKET, Key=key, Body=b"hostile", ContentType=hostile.CONTENT_TYPE)
    log = IssuanceLog.open(str(tmp_path / "hostile.sqlite3"))
    monkeypatch.setattr(demo_desk, "_log", log)
    st.cache_data.clear()  # listings and audit figures cached by earlier tests must not hide the hostile ones
    now = datetime.now(UTC)
    for n, key in enumerate(hostile.KEYS):
        for strategy in ("iam-user", "stable"):
            request = ShareRequest(
                bucket=demo.SUPPORT_BUCKET,
                key=key,
                lifetime=timedelta(days=2),
                issuer=hostile.ISSUERS[n % len(hostile.ISSUERS)],
                ticket=hostile.TICKETS[n % len(hostile.TICKETS)],
                note=hostile.NOTES[n % len(hostile.NOTES)],
                filename=hostile.FILENAME,
            )
            issuing.issue(demo_desk, [request], strategy, now=now - timedelta(hours=n))
    stable = log.stable_links(limit=100)
    log.record_clicks([Click(stable[0].entry.id, now, 302, "::ffff:203.0.113.7", "<img src=https://evil.example/ua.png> [ua](https://evil.example)")])
    log.revoke(stable[1].entry.id, at=now, by=hostile.ISSUERS[1])
    try:
        yield demo_desk
    finally:
        st.cache_data.clear()
        log.close()
        for key in hostile.KEYS:
            s3.delete_object(Bucket=demo.SUPPORT_BUCKET, Key=key)


def _open(page: PageSpec, query: dict[str, str] | None = None, state: dict[str, object] | None = None) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    for name, value in (state or {}).items():
        at.session_state[name] = value
    at.run()
    if not page.default:
        at.switch_page(f"../../pages/{page.file}").run()
    return at


def _name(at: AppTest, who: str) -> None:
    boxes = [t for t in at.text_input if t.key == "sharedesk.issuer"]
    if boxes:
        boxes[0].input(who).run()


def _picks() -> dict[str, dict]:
    return {f"s3://{demo.SUPPORT_BUCKET}/{k}": {"bucket": demo.SUPPORT_BUCKET, "key": k, "size": 7, "storage_class": "STANDARD"} for k in hostile.KEYS}


Step = tuple[str, AppTest]


def _browse(page: PageSpec) -> Iterator[Step]:
    at = _open(page, {"bucket": demo.SUPPORT_BUCKET, "prefix": hostile.FOLDER}, {SELECTION_KEY: _picks()})
    yield "the hostile folder, hostile picks in the sidebar", at
    at.session_state["browse.detail"] = (demo.SUPPORT_BUCKET, hostile.KEYS[0], hostile.FOLDER)
    at.run()
    yield "the details panel of a hostile object", at
    at.text_input(key="browse.search").input("[x](https://evil.example/s)").run()
    yield "a hostile search with no match", at
    at = _open(page, {"bucket": demo.SUPPORT_BUCKET, "prefix": hostile.HOSTILE_FOLDER})
    yield "inside a folder with a hostile name (breadcrumb)", at


def _share(page: PageSpec) -> Iterator[Step]:
    at = _open(page, state={SELECTION_KEY: _picks()})
    _name(at, hostile.ISSUERS[0])
    at.text_input(key="share.ticket").input(hostile.TICKETS[0]).run()
    at.text_input(key="share.note").input(hostile.NOTES[0]).run()
    yield "hostile picks, ticket, note and issuer", at
    at.radio(key="share.strategy").set_value("ambient").run()
    at.button(key="share.issue").click().run()
    yield "the confirmation dialog of a short-lived strategy", at
    at.button(key="share.confirm.yes").click().run()
    yield "hostile links issued", at
    at.button(key="share.issue").click().run()
    yield "the issue-again dialog", at
    one = _open(page, state={SELECTION_KEY: dict(list(_picks().items())[:1])})
    _name(one, hostile.ISSUERS[1])
    one.text_input(key="share.filename").input(hostile.FILENAME).run()
    one.radio(key="share.strategy").set_value("stable").run()
    one.button(key="share.issue").click().run()
    yield "one hostile object with a hostile download name, issued as a stable link", one


def _stable_links(page: PageSpec) -> Iterator[Step]:
    at = _open(page)
    _name(at, hostile.ISSUERS[1])
    yield "live hostile stable links with a hostile click", at
    first = next(b for b in at.button if (b.key or "").startswith("stable.revoke."))
    first.click().run()
    yield "the revoke dialog", at
    at.button(key="stable.revoke.cancel").click().run()
    next(b for b in at.button if (b.key or "").startswith("stable.extend.")).click().run()
    yield "the extend dialog", at
    at.button(key="stable.extend.cancel").click().run()
    at.get_by_key("stable.listing").set_value("all").run()
    yield "every hostile stable link, a revoked one among them", at


def _inspect(page: PageSpec) -> Iterator[Step]:
    yield "a hostile ticket in ?q=", _open(page, {"q": hostile.TICKETS[0]})
    yield "a pasted link with a hostile key and signed headers in ?q=", _open(page, {"q": hostile.PASTED_URL})


def _default(page: PageSpec) -> Iterator[Step]:
    at = _open(page)
    _name(at, hostile.ISSUERS[0])
    yield "the page over the hostile log", at


DRIVERS: dict[str, Callable[[PageSpec], Iterator[Step]]] = {
    "browse": _browse,
    "share": _share,
    "stable-links": _stable_links,
    "inspect": _inspect,
}


@pytest.mark.parametrize("page", _params())
def test_hostile_text_never_becomes_a_link_image_or_html_on_the_page(hostile_desk, page: PageSpec):
    reached = False
    for step, at in DRIVERS.get(page.url_path, _default)(page):
        nodes = list(at._tree)
        assert not at.exception, f"{page.title}, {step}: {[e.value for e in at.exception]}"
        found = hostile.markup(nodes)
        assert not found, f"{page.title}, {step}:\n" + "\n".join(str(m) for m in found)
        controls = hostile.raw_controls(nodes)
        assert not controls, f"{page.title}, {step}: raw control characters shown: {controls}"
        reached = reached or hostile.MARKER in hostile.shown_text(nodes).replace(WORD_JOINER, "").replace("\\", "")
    assert reached, f"{page.title} never showed any hostile value: the harness did not reach it"


def test_the_harness_catches_markup_it_is_meant_to_catch():
    from dashboard.safetext import md, md_code

    for raw in ("[Click here](https://evil.example)", "![p](https://evil.example/p.png)", "<img src=x>", "see www.evil.example", "https://evil.example"):
        assert hostile.markup_kinds(raw), raw
        assert not hostile.markup_kinds(md(raw)), raw
        assert not hostile.markup_kinds(md_code(raw)), raw
