"""The flows a person does on Browse, in a real browser against the real server.

AppTest runs page scripts; it never loads the front end, the WebSocket, the
query-string round trip or the ASGI app around them.  These tests do, with
Debian's Chromium driven by Playwright (its own browser download does not work
here).  `st.dataframe` paints on a canvas (glide-data-grid), so the assertions
read the accessible table it keeps inside the canvas (`role="grid"`, one
`role="gridcell"` per visible cell): real text, not pixels.  A full-page
screenshot of every step lands in artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest

from dashboard import demo
from tests.desk_server import desk_server  # noqa: F401  (the session fixture)

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) to run the browser tests", allow_module_level=True)

from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic"]
#: First render of a page: the script runs, the demo desk may still be opening.
FIRST_RENDER = 45_000
#: A rerun after a click.
RERUN = 20_000

UNICODE_KEY = next(key for key in demo.UNUSUAL_KEYS if "こんにちは" in key)
ACCENTED_KEY = next(key for key in demo.UNUSUAL_KEYS if "données" in key)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: no cookies, no session, like a new visitor."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-GB", timezone_id="UTC")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def browse_url(base: str, bucket: str, prefix: str | None = None) -> str:
    query = {"bucket": bucket} if prefix is None else {"bucket": bucket, "prefix": prefix}
    return f"{base}/?{urlencode(query)}"


def column(page: Page, name: str) -> Locator:
    """The rendered cells of one column of the object table, read from its accessible grid."""
    grid = page.get_by_test_id("stDataFrame").locator('table[role="grid"]')
    headers = grid.locator('th[role="columnheader"]')
    expect(headers.first).to_be_attached(timeout=RERUN)
    index = headers.all_inner_texts().index(name) + 1
    return grid.locator(f'td[role="gridcell"][aria-colindex="{index}"]')


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the rerun and shows no error."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RERUN)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def snap(page: Page, name: str) -> None:
    """A full-page screenshot; Streamlit scrolls inside its main pane, so grow the viewport to fit it."""
    settled(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    viewport = page.viewport_size or {"width": 1400, "height": 900}
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight,
               ...[...document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppViewContainer"], section')]
                   .map(el => el.scrollHeight))"""
    )
    page.set_viewport_size({"width": viewport["width"], "height": max(viewport["height"], min(int(height) + 40, 8000))})
    try:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    finally:
        page.set_viewport_size(viewport)


def open_browse(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_text("Demo desk")).to_be_visible(timeout=FIRST_RENDER)
    expect(page.get_by_role("heading", name="Browse")).to_be_visible(timeout=FIRST_RENDER)


def test_browse_opens_the_big_folder_and_pages_through_it(desk_server, page: Page):  # noqa: F811
    open_browse(page, browse_url(desk_server.url, demo.EXPORTS_BUCKET))
    expect(page.get_by_role("button", name="monthly/")).to_be_visible(timeout=RERUN)
    snap(page, "01-exports-bucket")

    page.get_by_role("button", name="nightly/").click()
    expect(page).to_have_url(re.compile(r"[?&]prefix=nightly%2F"), timeout=RERUN)
    names = column(page, "Name")
    expect(names.first).to_have_text("export-00000.csv", timeout=RERUN)
    expect(page.get_by_text(re.compile(r"^Page 1 · 100 objects on this page$"))).to_be_visible()
    expect(page.get_by_role("button", name="Previous page")).to_be_disabled()
    snap(page, "02-nightly-page-1")

    page.get_by_role("button", name="Next page").click()
    expect(page.get_by_text(re.compile(r"^Page 2 · "))).to_be_visible(timeout=RERUN)
    expect(column(page, "Name").first).to_have_text("export-00100.csv", timeout=RERUN)
    expect(page.get_by_role("button", name="Previous page")).to_be_enabled()
    snap(page, "03-nightly-page-2")


def test_browse_searches_a_folder_by_name_prefix_and_finds_the_accented_key(desk_server, page: Page):  # noqa: F811
    folder, _, name = ACCENTED_KEY.rpartition("/")
    open_browse(page, browse_url(desk_server.url, demo.SUPPORT_BUCKET, folder + "/"))
    expect(column(page, "Name")).to_have_text(["données clients été.csv", "report+final v2.xlsx"], timeout=RERUN)

    search = page.get_by_role("textbox", name="Search this folder")
    search.fill("don")
    search.press("Enter")
    expect(column(page, "Name")).to_have_text([name], timeout=RERUN)
    snap(page, "04-search-don")


def test_a_deep_link_to_a_unicode_folder_opens_on_a_fresh_visit(desk_server, page: Page):  # noqa: F811
    folder, _, name = UNICODE_KEY.rpartition("/")
    url = browse_url(desk_server.url, demo.SUPPORT_BUCKET, folder + "/")
    assert "%C3%BC" in url  # ü travels percent-encoded as UTF-8, as a pasted link would
    open_browse(page, url)
    expect(column(page, "Name")).to_have_text([name], timeout=RERUN)
    expect(page.get_by_role("button", name="ünïcødé/")).to_be_disabled()  # the breadcrumb ends at this folder
    snap(page, "05-deep-link-unicode")


def test_pick_two_objects_issue_with_iam_user_and_download_the_first_link(desk_server, page: Page):  # noqa: F811
    import urllib.request

    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    folder = "customers/acme/invoices/"
    open_browse(page, browse_url(desk_server.url, demo.SUPPORT_BUCKET, folder))
    names = column(page, "Name")
    expect(names).to_have_text(["2026-10 invoice.pdf", "2026-11 invoice.pdf"], timeout=RERUN)
    canvas = page.get_by_test_id("stDataFrame").locator("canvas").first
    box = canvas.bounding_box()
    assert box is not None
    row_height = 35  # glide-data-grid's default, header included
    for row in (1, 2):  # tick each row's selection box in the row-marker column
        page.mouse.click(box["x"] + 15, box["y"] + row_height * row + row_height / 2)
        expect(page.get_by_text(f"Picked for sharing ({row})")).to_be_visible(timeout=RERUN)
    snap(page, "06-two-picked")

    page.get_by_role("link", name="Share the picked files").click()
    expect(page.get_by_role("heading", name="Share")).to_be_visible(timeout=RERUN)
    name = page.get_by_role("textbox", name="Your name (demo)")
    name.fill("browser-test")
    name.press("Enter")
    settled(page)
    page.get_by_test_id("stRadio").get_by_text("iam-user", exact=True).click()
    settled(page)
    page.get_by_role("button", name="Issue 2 links").click()
    expect(page.get_by_text("Links (recorded in the issuance log)")).to_be_visible(timeout=RERUN)
    snap(page, "07-issued")

    first_block = page.get_by_test_id("stCode").first
    first_block.hover()
    first_block.get_by_role("button").first.click()  # Streamlit's copy button
    url = page.evaluate("() => navigator.clipboard.readText()")
    assert url.startswith("http://127.0.0.1:") and "X-Amz-Credential=" + demo.SIGNER_KEY_ID in url
    key = folder + "2026-10 invoice.pdf"
    with urllib.request.urlopen(url, timeout=10) as download:
        assert download.read() == demo.body_of(key)


def test_paste_a_cut_short_link_from_the_history_into_inspect_and_see_why(desk_server, page: Page):  # noqa: F811
    from dashboard import demo_history
    from dashboard.config import Settings
    from dashboard.desk import open_desk

    # The desk seeded its history when it started; make one of its cut-short links again, as a customer would paste it.
    desk = open_desk(Settings.load({"SHAREDESK_DEMO": "1", "SHAREDESK_STATE_DIR": str(desk_server.state_dir)}, {}))
    sample = demo_history.cut_short_sample(desk)
    assert sample is not None
    entry, url = sample

    page.goto(f"{desk_server.url}/inspect")
    expect(page.get_by_role("heading", name="Inspect")).to_be_visible(timeout=FIRST_RENDER)
    box = page.get_by_role("textbox", name="Link or ticket reference")
    box.fill(url)
    box.press("Control+Enter")  # a text area (an e-mail can be pasted whole): Ctrl+Enter submits
    expect(page.get_by_text("Signed with the task role's temporary credentials").first).to_be_visible(timeout=RERUN)
    expect(page.get_by_text(re.compile(r"cut-short at"))).to_be_visible()
    expect(page.get_by_text(f"Log entry {entry.id}")).to_be_visible()
    snap(page, "08-inspect-cut-short")
