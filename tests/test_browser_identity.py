"""In a real browser: the demo asks for the issuer's name once and keeps it across pages, on a wide screen and on a phone.

The name box is drawn by the navigation script, so it belongs to every page
(PLATFORM.md); while empty it sits at the top of the page, where a phone with
the sidebar collapsed reaches it. Screenshots of the Signers page at 1440 and
390 px land in artifacts/screenshots/.
"""

from __future__ import annotations

import pytest

from tests.desk_server import desk_server  # noqa: F401  (the session fixture)
from tests.browsing import FIRST_RENDER, RERUN, browser, settled, snap  # noqa: F401  (browser is a fixture; browsing skips without Chromium)

from playwright.sync_api import Browser, Page, expect  # noqa: E402


def new_page(browser: Browser, width: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-GB", timezone_id="Europe/Paris")
    page = context.new_page()
    page.on("pageerror", lambda exc: pytest.fail(f"JavaScript error on the page: {exc}"))
    return page


def go_to(page: Page, title: str) -> None:
    """Change page inside the app (a new URL would be a new session), opening the sidebar first on a phone."""
    expand = page.get_by_test_id("stExpandSidebarButton")
    if expand.count() and expand.is_visible():  # a phone: the sidebar starts (and closes again) collapsed
        expand.click()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
    expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=RERUN)
    settled(page)


def type_name(page: Page, name: str) -> None:
    box = page.get_by_role("textbox", name="Your name (demo)")
    expect(box).to_be_visible(timeout=FIRST_RENDER)  # at the top of the page: reachable with the sidebar collapsed
    box.fill(name)
    box.press("Enter")
    settled(page)


@pytest.mark.parametrize("width", [1440, 390])
def test_the_name_is_asked_once_and_kept_across_pages(desk_server, browser, width):  # noqa: F811
    page = new_page(browser, width)
    try:
        page.goto(f"{desk_server.url}/share")
        expect(page.get_by_role("heading", name="Share")).to_be_visible(timeout=FIRST_RENDER)
        snap(page, f"identity-{width}-01-asked")
        type_name(page, f"kept-{width}")
        for title in ("Browse", "Stable links", "Share", "Signers", "Inspect"):
            go_to(page, title)
            expect(page.get_by_text("Type your name (demo)")).to_have_count(0)
            box = page.get_by_role("textbox", name="Your name (demo)")
            expect(box).to_have_value(f"kept-{width}")  # in the sidebar now, still holding the name
        snap(page, f"identity-{width}-02-kept")
    finally:
        page.context.close()


@pytest.mark.parametrize("width", [1440, 390])
def test_signers_page_in_the_browser(desk_server, browser, width):  # noqa: F811
    page = new_page(browser, width)
    try:
        page.goto(f"{desk_server.url}/signers")
        expect(page.get_by_role("heading", name="Signers", exact=True)).to_be_visible(timeout=FIRST_RENDER)
        expect(page.get_by_text("What each strategy can give a link issued now")).to_be_visible(timeout=RERUN)
        first = page.get_by_test_id("stMetricValue").first.inner_text()
        expect(page.get_by_test_id("stMetricValue").first).not_to_have_text(first, timeout=RERUN)  # the countdown ticks
        snap(page, f"signers-{width}")
    finally:
        page.context.close()
