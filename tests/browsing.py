"""What the real-browser tests share: Debian's Chromium through Playwright, and the moves a person makes on the desk.

`st.dataframe` paints on a canvas (glide-data-grid); the helpers read the
accessible grid it keeps beside the canvas (`role="grid"`, rows with
`aria-selected`) and tick rows by clicking the canvas's row-marker column.
"""

from __future__ import annotations

import re

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

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
#: glide-data-grid's default row height, header included.
ROW_HEIGHT = 35
WIDE, PHONE = 1440, 390
# Every expectation waits as long as a rerun may take on a busy machine (Playwright's default is 5 s).
expect.set_options(timeout=RERUN)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser: Browser, width: int = 1400, timezone_id: str = "UTC") -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", timezone_id=timezone_id)
    return context.new_page()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context per test: no cookies, no session, like a new visitor."""
    page = new_page(browser)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    page.context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def browse_url(base: str, bucket: str, prefix: str | None = None) -> str:
    query = {"bucket": bucket} if prefix is None else {"bucket": bucket, "prefix": prefix}
    return f"{base}/?{urlencode(query)}"


def column(page: Page, name: str) -> Locator:
    """The rendered cells of one column of the object table, read from its accessible grid."""
    grid = page.get_by_test_id("stDataFrame").locator('table[role="grid"]')
    headers = grid.locator('th[role="columnheader"]')
    # During a rerun the grid is drawn again, and for a moment it may have no such header: wait for it.
    named = headers.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$"))
    for _ in range(3):
        expect(named.first).to_be_attached(timeout=RERUN)
        texts = [text.strip() for text in headers.all_inner_texts()]
        if name in texts:
            return grid.locator(f'td[role="gridcell"][aria-colindex="{texts.index(name) + 1}"]')
    raise AssertionError(f"the object table kept losing its {name} column while it was read: {texts}")


def ticked(page: Page) -> Locator:
    """The first cell (Name) of every ticked row of the table: `expect(ticked(page)).to_have_text([...])` waits for it."""
    return page.get_by_test_id("stDataFrame").locator('table[role="grid"] tr[aria-selected="true"] td[aria-colindex="1"]')


def tick(page: Page, row: int) -> None:
    """Click the selection box of the table's `row`-th row (1 is the first under the header)."""
    canvas = page.get_by_test_id("stDataFrame").locator("canvas").first
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 15, box["y"] + ROW_HEIGHT * row + ROW_HEIGHT / 2)


def click_last_column(page: Page, row: int) -> None:
    """Click the last column of the table's `row`-th row: Browse's Details button, painted on the canvas."""
    canvas = page.get_by_test_id("stDataFrame").locator("canvas").first
    box = canvas.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] - 60, box["y"] + ROW_HEIGHT * row + ROW_HEIGHT / 2)


def settled(page: Page) -> None:
    """Wait until Streamlit has finished the rerun and shows no error.

    The status widget appears only when a run lasts a while, so the app's own
    script state is read too, and no element may still be stale: during a run
    Streamlit keeps the previous run's elements (a card may show its old
    buttons under its new key) until the new ones arrive.
    """
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RERUN)
    expect(page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]')).to_have_count(1, timeout=RERUN)
    expect(page.locator('[data-stale="true"]')).to_have_count(0, timeout=RERUN)
    expect(page.get_by_test_id("stException")).to_have_count(0)
    expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


def no_error_box(page: Page) -> None:
    """No traceback and no redacted error box (an error sentence of the desk's own is allowed)."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=RERUN)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def snap(page: Page, name: str, *, check: bool = True) -> None:
    """A full-page screenshot; Streamlit scrolls inside its main pane, so grow the viewport to fit it."""
    if check:
        settled(page)
    else:
        no_error_box(page)
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


def open_page(page: Page, url: str, heading: str) -> None:
    page.goto(url)
    expect(page.get_by_text("Demo desk")).to_be_visible(timeout=FIRST_RENDER)
    expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=FIRST_RENDER)


def open_browse(page: Page, url: str) -> None:
    open_page(page, url, "Browse")


def _narrow(page: Page) -> bool:
    return (page.viewport_size or {"width": 1400})["width"] < 640


def sidebar(page: Page, shown: bool) -> None:
    """Open or close the sidebar (a phone starts with it closed, and it covers the page while open)."""
    if not _narrow(page):
        return
    if shown:
        button = page.get_by_test_id("stExpandSidebarButton")
        if button.count():
            button.click()
    else:
        page.get_by_test_id("stSidebarCollapseButton").locator("button").click(force=True)
    page.wait_for_timeout(400)  # the sidebar slides; nothing reruns


def navigate(page: Page, title: str) -> None:
    """Follow the sidebar's link to another page, in the same session."""
    sidebar(page, True)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    expect(page.get_by_role("heading", name=title)).to_be_visible(timeout=RERUN)
    sidebar(page, False)


def type_name(page: Page, who: str) -> None:
    """The demo asks who is issuing: at the top of the page while no name is known, in the sidebar once one is."""
    box = page.get_by_test_id("stMain").get_by_role("textbox", name="Your name (demo)")
    in_sidebar = not box.count()
    if in_sidebar:
        sidebar(page, True)
        box = page.get_by_role("textbox", name="Your name (demo)")
    box.fill(who)
    box.press("Enter")
    no_error_box(page)
    if in_sidebar:
        sidebar(page, False)


def desk_on(state_dir: Path) -> Any:
    """A desk of this process on the running desk's state folder: its log and its demo S3."""
    from dashboard.config import Settings
    from dashboard.desk import open_desk

    return open_desk(Settings.load({"SHAREDESK_DEMO": "1", "SHAREDESK_STATE_DIR": str(state_dir)}, {}))


def overflowing(page: Page) -> list[str]:
    """What sticks out past the right edge of the viewport, or scrolls sideways inside a table: clipped columns."""
    result: list[str] = page.evaluate(
        """() => {
            const width = window.innerWidth, out = [];
            if (document.documentElement.scrollWidth > width + 1) out.push(`page scrolls sideways: ${document.documentElement.scrollWidth} > ${width}`);
            for (const el of document.querySelectorAll('[data-testid="stMain"] *')) {
                const box = el.getBoundingClientRect();
                if (box.width && box.right > width + 1 && getComputedStyle(el).visibility !== 'hidden')
                    out.push(`${el.tagName.toLowerCase()}[${el.getAttribute('data-testid') || el.className}] ends at ${Math.round(box.right)} > ${width}: ${(el.innerText || '').slice(0, 60)}`);
            }
            for (const grid of document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller'))
                if (grid.scrollWidth > grid.clientWidth + 1) out.push(`a table scrolls sideways: ${grid.scrollWidth} > ${grid.clientWidth}`);
            return out.slice(0, 20);
        }"""
    )
    return result
