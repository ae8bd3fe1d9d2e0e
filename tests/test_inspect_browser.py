"""Inspect in a real browser: hostile pastes stay text (nothing points or loads off the desk), e-mails are read, the probe answers.

Runs the real desk (``streamlit run``) on the demo with Debian's Chromium, as
tests/test_browser.py does; screenshots at 1440 px and 390 px land in
artifacts/screenshots/.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote, urlsplit

import pytest

from tests.desk_server import desk_server  # noqa: F401  (the session fixture)
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, FIRST_RENDER, RERUN, settled, snap

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402  (after test_browser's skip)

AWS_EXAMPLE = (
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
)
EVIL = "https%3A%2F%2Fevil.example"
HOSTILE = (
    AWS_EXAMPLE.replace("/test.txt", f"/%5BClick%20here%5D({EVIL}%2Fx)%21%5Bpx%5D({EVIL}%2Fp.png)%3Cimg%20src%3D{EVIL}%2Fi.png%3E")
    .replace("X-Amz-SignedHeaders=host", f"X-Amz-SignedHeaders=host%3B%21%5Bpx%5D({EVIL}%2Fh.png)")
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _page(browser: Browser, width: int) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", timezone_id="Europe/Paris")
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    return page, requests


def _off_origin(urls: list[str], origin: str) -> list[str]:
    return [u for u in urls if not (u.startswith(origin) or u.startswith(("data:", "blob:", "about:")) or urlsplit(u).hostname in ("127.0.0.1", "localhost"))]


@pytest.mark.parametrize("width", [1440, 390])
def test_inspect_opened_with_a_hostile_q_has_no_element_pointing_off_the_desk_and_sends_nothing_elsewhere(desk_server, browser, width):  # noqa: F811
    page, requests = _page(browser, width)
    try:
        page.goto(f"{desk_server.url}/inspect?q={quote(HOSTILE, safe='')}")
        expect(page.get_by_role("heading", name="Inspect")).to_be_visible(timeout=FIRST_RENDER)
        expect(page.get_by_text("Click here").first).to_be_visible(timeout=RERUN)  # the key is shown, as text
        settled(page)
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        images = page.eval_on_selector_all("img[src]", "els => els.map(e => e.src)")
        assert not _off_origin(links, desk_server.url), links
        assert not _off_origin(images, desk_server.url), images
        assert not [u for u in requests if "evil.example" in (urlsplit(u).hostname or "")], requests
        assert not _off_origin(requests, desk_server.url), requests
        expect(page.get_by_text("Europe/Paris").first).to_be_attached()  # times in the viewer's zone, named
        snap(page, f"20-inspect-hostile-{width}")
    finally:
        page.context.close()


def test_inspect_reads_a_link_from_a_pasted_safe_links_email_and_probes_it(desk_server, browser):  # noqa: F811
    from dashboard import demo_history
    from dashboard.config import Settings
    from dashboard.desk import open_desk

    desk = open_desk(Settings.load({"SHAREDESK_DEMO": "1", "SHAREDESK_STATE_DIR": str(desk_server.state_dir)}, {}))
    sample = demo_history.cut_short_sample(desk)
    assert sample is not None
    entry, url = sample
    wrapped = f"https://eur01.safelinks.protection.outlook.com/?url={quote(url, safe='')}&data=05%7C02%7C&sdata=x&reserved=0"
    mail = f"Hello,\n\nthe link in your mail ({wrapped}) says the token expired.\n\nRegards,\nBob"
    page, _requests = _page(browser, 1440)
    try:
        page.goto(f"{desk_server.url}/inspect")
        box = page.get_by_role("textbox", name="Link or ticket reference")
        expect(box).to_be_visible(timeout=FIRST_RENDER)
        box.fill(mail)
        box.press("Control+Enter")
        expect(page.get_by_text("Unwrapped from Microsoft Defender Safe Links")).to_be_visible(timeout=RERUN)
        expect(page.get_by_text(f"Log entry {entry.id}")).to_be_visible()
        page.get_by_role("button", name="Probe it now").click()
        # The probe asks the demo's S3 (the configured endpoint) and the page either confirms the verdict or follows S3's answer.
        expect(page.get_by_text("Not sent")).to_have_count(0, timeout=RERUN)
        expect(page.get_by_text("follows S3's own answer").or_(page.get_by_text("confirms it")).first).to_be_visible(timeout=RERUN)
        snap(page, "21-inspect-safe-links-probed")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1440, 390])
def test_inspect_screens_at_both_widths(desk_server, browser, width):  # noqa: F811
    page, _requests = _page(browser, width)
    try:
        page.goto(f"{desk_server.url}/inspect")
        expect(page.get_by_role("heading", name="Inspect")).to_be_visible(timeout=FIRST_RENDER)
        page.get_by_role("button", name="Try a cut-short link from the demo's history").click()
        expect(page.get_by_text("cut-short at").first).to_be_visible(timeout=RERUN)
        expect(page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first).to_be_visible(timeout=RERUN)
        snap(page, f"22-inspect-cut-short-{width}")
    finally:
        page.context.close()
