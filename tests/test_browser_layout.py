"""Every page at 1440 px and at 390 px (a phone) in Chromium: screenshots, and nothing of Share or Stable links clipped.

Screenshots land in artifacts/screenshots/pages/<page>-<width>.png for people
to look at. Share (with picks, a preview and issued links) and Stable links
(with a live link) are also measured: no element may end past the viewport's
right edge and no table may scroll sideways, so no column is hidden.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dashboard import demo, issuing
from dashboard.strategies import ShareRequest
from dashboard.ui.frame import PAGES, PageSpec
from tests.browsing import (  # noqa: F401  (browser is a fixture)
    PHONE,
    RERUN,
    WIDE,
    browse_url,
    browser,
    column,
    desk_on,
    navigate,
    new_page,
    no_error_box,
    open_page,
    overflowing,
    snap,
    tick,
    type_name,
)
from tests.desk_server import desk_server  # noqa: F401  (the session fixture)
from playwright.sync_api import Browser, Page, expect  # noqa: E402

#: Pages whose every column must stay visible on a phone (issue 9); the others are photographed.
MEASURED = {"share", "stable-links"}


def _share(page: Page, base: str) -> None:
    page.goto(browse_url(base, demo.SUPPORT_BUCKET, "customers/acme/invoices/"))
    expect(column(page, "Name")).to_have_text(["2026-10 invoice.pdf", "2026-11 invoice.pdf"], timeout=45_000)
    tick(page, 1)
    expect(page.get_by_text("Picked for sharing (1)")).to_be_attached(timeout=RERUN)
    tick(page, 2)
    expect(page.get_by_text("Picked for sharing (2)")).to_be_attached(timeout=RERUN)
    navigate(page, "Share")
    type_name(page, "layout-test")
    page.get_by_test_id("stRadio").get_by_text("iam-user", exact=True).click()
    no_error_box(page)
    page.get_by_role("button", name="Issue 2 links").click()
    expect(page.get_by_text("Message for the customer")).to_be_visible(timeout=RERUN)


def _open(page: Page, spec: PageSpec, base: str) -> None:
    if spec.url_path == "share":
        _share(page, base)
    else:
        open_page(page, f"{base}/" if spec.default else f"{base}/{spec.url_path}", spec.title)
        no_error_box(page)


@pytest.fixture(scope="module")
def a_live_stable_link(desk_server):  # noqa: F811
    desk = desk_on(desk_server.state_dir)
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="customers/globex/exports/données clients été.csv", lifetime=timedelta(days=5), issuer="layout", ticket="TCK-LAYOUT")
    return issuing.issue(desk, [request], "stable")[0].entry


@pytest.mark.parametrize("width", [WIDE, PHONE], ids=["1440px", "390px"])
@pytest.mark.parametrize("spec", PAGES, ids=[p.url_path for p in PAGES])
def test_every_page_at_desktop_and_phone_width(desk_server, browser: Browser, a_live_stable_link, spec: PageSpec, width: int):  # noqa: F811
    page = new_page(browser, width=width, timezone_id="Europe/Paris")
    try:
        _open(page, spec, desk_server.url)
        if page.get_by_test_id("stDataFrame").count():
            expect(page.locator('[data-testid="stDataFrame"] td[role="gridcell"]').first).to_be_attached()
        page.wait_for_timeout(800)  # the grid paints its canvas, and the fonts settle, after the cells exist
        snap(page, f"pages/{spec.url_path}-{width}", check=False)
        if spec.url_path in MEASURED:
            assert overflowing(page) == [], f"{spec.title} at {width} px clips something"
        if spec.url_path == "stable-links":
            card = page.locator(f".st-key-stable-card-{a_live_stable_link.id}")
            for label in ("Ticket", "Issued by", "Issued", "Expires", "Left", "Clicks", "Last click"):
                box = card.get_by_text(label, exact=True).bounding_box()
                assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= width, f"{label} is off screen at {width} px"
    finally:
        page.context.close()
