"""Hostile data in a real browser: no element of the desk points off its origin, and no request leaves it.

A desk of its own is started and filled with hostile objects (in its demo S3)
and hostile log rows (tickets, notes, issuers, a click's user agent, a
revocation). Browse, Inspect with ``?q=``, Stable links and the Expiry
timeline are opened over it; every URL an element carries (href, src, srcset,
action, poster, data, CSS url()) must stay on the desk's origin, and every
request the page makes must go to it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

import pytest

from dashboard import demo, issuing
from dashboard.store import Click
from dashboard.strategies import ShareRequest
from tests import hostile
from tests.browsing import browser, column, desk_on, new_page, no_error_box, open_page, snap, type_name  # noqa: F401
from tests.desk_server import RunningDesk, running_desk
from playwright.sync_api import Browser, Page, expect  # noqa: E402

#: Pages whose hostile values land in the DOM as text (the timeline's rows are painted on a canvas grid).
SHOWN_AS_TEXT = {"browse", "inspect", "stable-links"}

#: Every attribute through which an element can make the browser fetch or navigate.
_URLS_OF_ELEMENTS = """() => {
    const found = [];
    const attributes = ['href', 'src', 'srcset', 'action', 'formaction', 'poster', 'data', 'xlink:href', 'background', 'ping'];
    for (const el of document.querySelectorAll('*')) {
        for (const name of attributes) {
            const value = el.getAttribute(name);
            if (!value) continue;
            const urls = name === 'srcset' ? value.split(',').map(part => part.trim().split(/\\s+/)[0]) : [value];
            for (const url of urls) found.push([el.tagName.toLowerCase(), name, url]);
        }
        const style = el.getAttribute('style') || '';
        for (const match of style.matchAll(/url\\(\\s*['"]?([^'")]+)/g)) found.push([el.tagName.toLowerCase(), 'style', match[1]]);
    }
    return found;
}"""


def _off_origin(url: str, origin: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", ""):
        return False
    if parts.scheme in ("http", "https", "ws", "wss"):
        return f"{'https' if parts.scheme in ('https', 'wss') else 'http'}://{parts.netloc}" != origin
    return True  # javascript:, mailto:, file: … nothing of the desk needs them


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[RunningDesk]:
    with tempfile.TemporaryDirectory(prefix="sharedesk-hostile-") as tmp, running_desk(tmp) as server:
        desk = desk_on(server.state_dir)
        s3 = desk.aws.s3()
        for key in hostile.KEYS:
            s3.put_object(Bucket=demo.SUPPORT_BUCKET, Key=key, Body=b"hostile", ContentType=hostile.CONTENT_TYPE)
        now = datetime.now(UTC)
        for n, key in enumerate(hostile.KEYS):
            for strategy in ("iam-user", "stable"):
                request = ShareRequest(
                    bucket=demo.SUPPORT_BUCKET, key=key, lifetime=timedelta(days=2), filename=hostile.FILENAME,
                    issuer=hostile.ISSUERS[n % 2], ticket=hostile.TICKETS[n % 3], note=hostile.NOTES[n % 2],
                )  # fmt: skip
                issuing.issue(desk, [request], strategy, now=now - timedelta(minutes=n))
        stable = desk.log.stable_links(limit=100)
        desk.log.record_clicks([Click(stable[0].entry.id, now, 302, "::ffff:203.0.113.7", "<img src=https://evil.example/ua.png>")])
        desk.log.revoke(stable[1].entry.id, at=now, by=hostile.ISSUERS[1])
        yield server


def _visit(page: Page, server: RunningDesk, where: str) -> None:
    if where == "browse":
        open_page(page, f"{server.url}/?{urlencode({'bucket': demo.SUPPORT_BUCKET, 'prefix': hostile.FOLDER})}", "Browse")
        names = column(page, "Name")
        expect(names.first).to_be_attached()
        assert "see www.evil.example or mail@evil.example now.txt" in names.all_inner_texts(), names.all_inner_texts()
    elif where == "inspect":
        open_page(page, f"{server.url}/inspect?{urlencode({'q': hostile.PASTED_URL})}", "Inspect")
    elif where == "stable-links":
        open_page(page, f"{server.url}/stable-links", "Stable links")
        type_name(page, hostile.ISSUERS[0])
        page.get_by_role("button", name="Revoke…").first.click()
        expect(page.get_by_role("dialog")).to_be_visible()
    else:
        open_page(page, f"{server.url}/{where}", "Expiry timeline")
    no_error_box(page)


@pytest.mark.parametrize("where", ["browse", "inspect", "stable-links", "timeline"])
def test_hostile_data_never_points_off_the_desk_and_no_request_leaves_it(hostile_server, browser: Browser, where: str):  # noqa: F811
    origin = hostile_server.url
    page = new_page(browser, width=1440)
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        _visit(page, hostile_server, where)
        page.wait_for_timeout(500)  # images and fonts a hostile element would load start right after render
        snap(page, f"hostile/{where}", check=False)
        if where in SHOWN_AS_TEXT:
            assert hostile.MARKER in page.evaluate("() => document.body.textContent"), "no hostile value reached the page"
        off = [f"<{tag} {name}={url!r}>" for tag, name, url in page.evaluate(_URLS_OF_ELEMENTS) if _off_origin(url, origin)]
        assert not off, f"elements point off {origin}: {off}"
        left = [url for url in requests if _off_origin(url, origin)]
        assert not left, f"requests left {origin}: {left}"
    finally:
        page.context.close()
