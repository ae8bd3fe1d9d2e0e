"""The Expiry timeline in a real browser: one count of "cut short", links to Inspect, the URL, hostile data.

Runs against the session's desk (tests/desk_server.py) with Debian's Chromium,
as tests/test_browser.py does, after writing a few hostile links into that
desk's log: a key written as a Markdown link, an issuer written as an HTML
image, a ticket written as a spreadsheet formula. Screenshots at 1440 px and
390 px land in artifacts/screenshots/.

Figures depend on the minute they are taken at (a link's real expiry may pass
between two reruns), so the page names its moment ("States as of …") and
the tests compare two views only when they were taken at the same one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.store import IssuanceLog, NewLink, fingerprint
from tests.desk_server import RunningDesk, desk_server  # noqa: F401  (the session fixture)
from tests.browsing import FIRST_RENDER, RERUN, browser, settled, snap  # noqa: F401  (browser is a fixture; browsing skips without Chromium)


from playwright.sync_api import Browser, Page, expect  # noqa: E402

HOSTILE_KEY = "[Click here](https://evil.example)"
HOSTILE_ISSUER = "<img src=https://evil.example/pixel.gif onerror=alert(1)>"
HOSTILE_TICKET = "=cmd|' /C calc'!A0"
#: The navigation's page icon (dashboard/ui/navigation.py, ":material/link:") is a
#: favicon Streamlit fetches from Google's font CDN. Not this page's doing:
#: reported, and the only outside request tolerated here.
FAVICON = re.compile(r"^https://fonts\.gstatic\.com/s/i/short-term/release/materialsymbolsrounded/link/")


@pytest.fixture(scope="module")
def hostile_desk(desk_server: RunningDesk) -> RunningDesk:  # noqa: F811
    """The session's desk with three hostile links in its log, cut short hours ago (no state changes during the tests)."""
    now = datetime.now(UTC)
    with IssuanceLog(desk_server.state_dir / "demo-log.sqlite3") as log:
        for n in range(3):
            issued = now - timedelta(hours=6, minutes=n)
            log.record(
                NewLink(
                    issued_at=issued, issuer=HOSTILE_ISSUER, strategy="ambient", bucket="sharedesk-demo-support", key=HOSTILE_KEY,
                    filename=None, ticket=HOSTILE_TICKET, note=None, signed_at=issued, nominal_expires_at=issued + timedelta(days=1),
                    effective_expires_at=issued + timedelta(hours=1), bound_by="credentials",
                    reason="Signed with <b>the task role's</b> temporary credentials, which expire an hour later.",
                    credential_source="container-role", access_key_id="ASIAEXAMPLE", credential_kind="temporary",
                    credential_expires_at=issued + timedelta(hours=1), fingerprint=fingerprint(f"hostile-timeline-{n}-{issued.timestamp()}"),
                    display_url=f"https://sharedesk-demo-support.s3.amazonaws.com/{HOSTILE_KEY}",
                )
            )
    return desk_server


def new_page(browser: Browser, width: int = 1440, zone: str = "America/New_York") -> Page:
    context = browser.new_context(viewport={"width": width, "height": 1000}, locale="en-GB", timezone_id=zone, accept_downloads=True)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.requests = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    page.on("request", lambda request: page.requests.append(request.url))  # type: ignore[attr-defined]
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = new_page(browser)
    yield page
    page.context.close()
    assert not page.errors, f"JavaScript errors on the page: {page.errors}"  # type: ignore[attr-defined]


def open_timeline(page: Page, url: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name="Expiry timeline")).to_be_visible(timeout=FIRST_RENDER)
    expect(page.get_by_text("Every link: promised against real")).to_be_visible(timeout=FIRST_RENDER)
    settled(page)


def metric(page: Page, label: str) -> tuple[str, str]:
    card = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text(label, exact=True))
    return card.get_by_test_id("stMetricValue").inner_text(), card.get_by_test_id("stMetricDelta").inner_text()


def moment(page: Page) -> str:
    return page.get_by_text(re.compile(r"^States as of ")).inner_text()


def test_timeline_headline_equals_its_cut_short_filters_count_and_the_filter_lands_in_the_url(hostile_desk, page):
    for _attempt in range(3):
        open_timeline(page, f"{hostile_desk.url}/timeline")
        before, (_, cut) = moment(page), metric(page, "Cut short")
        page.get_by_role("radiogroup", name="State now").get_by_role("radio", name="cut short", exact=True).click()
        expect(page).to_have_url(re.compile(r"[?&]state=cut\+short"), timeout=RERUN)
        expect(page.get_by_text(re.compile(r"^States as of "))).to_be_visible(timeout=RERUN)
        settled(page)
        if moment(page) == before:  # the same moment: the same links must be cut short
            break
    else:
        pytest.fail("Three attempts straddled a minute boundary each; the machine is too slow to compare two views.")
    # The headline cards are the page's last figures to arrive: wait for them to reach the filter's count.
    headline = page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").get_by_text("Links issued", exact=True))
    expect(headline.get_by_test_id("stMetricValue")).to_have_text(cut.removesuffix(" links"), timeout=RERUN)
    issued, _ = metric(page, "Links issued")
    assert cut == f"{issued} links" and metric(page, "Cut short")[0] == "100%"
    snap(page, "timeline-cut-short-1440")

    # The view is in the URL: pasted into a fresh browser, it shows the same figures.
    pasted = new_page(page.context.browser)
    try:
        open_timeline(pasted, page.url)
        if moment(pasted) == moment(page):
            assert metric(pasted, "Links issued") == metric(page, "Links issued")
    finally:
        pasted.context.close()


def test_a_timeline_row_opens_inspect_on_its_own_link(hostile_desk, page):
    open_timeline(page, f"{hostile_desk.url}/timeline?window=7+days")
    grid = page.get_by_test_id("stDataFrame").last
    first_id = grid.locator('td[role="gridcell"]').first
    expect(first_id).to_have_text(re.compile(r"^inspect\?id=\d+$"), timeout=RERUN)
    wanted = first_id.inner_text()
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    with page.context.expect_page(timeout=RERUN) as opened:
        page.mouse.move(box["x"] + 30, box["y"] + 35 + 17)  # the first row's "Inspect" (rows are 35 px, header included)
        page.mouse.click(box["x"] + 30, box["y"] + 35 + 17)
    assert opened.value.url == f"{hostile_desk.url}/{wanted}"


def axis_labels(chart) -> list[str]:
    return chart.evaluate("el => [...el.querySelectorAll('g.role-axis-label text')].map(t => t.textContent)")


@pytest.mark.parametrize("window", ["All+time", "7+days"])
def test_the_time_axis_shows_dates_at_every_zoom(hostile_desk, page, window):
    open_timeline(page, f"{hostile_desk.url}/timeline?window={window}")
    labels = axis_labels(page.get_by_test_id("stVegaLiteChart").last)
    assert labels and all(re.fullmatch(r"\d{2} [A-Z][a-z]{2} \d{2}:\d{2}", label) for label in labels), labels


def test_a_timeline_bar_opens_inspect_on_its_own_link(hostile_desk, page):
    open_timeline(page, f"{hostile_desk.url}/timeline?window=Last+24+h")
    chart = page.get_by_test_id("stVegaLiteChart").last
    assert all(re.fullmatch(r"\d{2} [A-Z][a-z]{2} \d{2}:\d{2}", label) for label in axis_labels(chart))
    chart.scroll_into_view_if_needed()
    bar = chart.locator("g.mark-rect.layer_1_marks path").first  # the newest link's solid bar
    label = bar.get_attribute("aria-label") or ""
    box = bar.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip).to_be_visible(timeout=RERUN)
    log_id = tooltip.locator("tr", has_text="Log id").locator("td.value").inner_text()
    assert log_id in label or log_id.isdigit()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(page).to_have_url(f"{hostile_desk.url}/inspect?id={log_id}", timeout=FIRST_RENDER)


def test_timeline_keeps_hostile_text_as_text_everywhere_and_nothing_leaves_the_desk(hostile_desk, page, tmp_path: Path):
    open_timeline(page, f"{hostile_desk.url}/timeline?window=Last+24+h")
    origin = hostile_desk.url
    # No element the data made: every link and image on the page stays on the desk.
    outside = page.evaluate(
        """origin => [...document.querySelectorAll('a[href], img[src], iframe[src], link[href], script[src]')]
               .map(el => el.href || el.src).filter(u => u && !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'))""",
        origin,
    )
    assert [u for u in outside if not FAVICON.match(u)] == []
    assert page.locator("img[src*='evil.example']").count() == 0
    # The chart's tooltip shows the hostile issuer and key as text.
    chart = page.get_by_test_id("stVegaLiteChart").last
    chart.scroll_into_view_if_needed()
    for bar in chart.locator("g.mark-rect.layer_1_marks path").all():
        if HOSTILE_KEY in (bar.get_attribute("aria-label") or ""):
            box = bar.bounding_box()
            assert box is not None
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            break
    else:
        pytest.fail("No bar of the hostile links in the last 24 hours")
    tooltip = page.locator("#vg-tooltip-element")
    expect(tooltip).to_contain_text(HOSTILE_ISSUER, timeout=RERUN)
    assert tooltip.locator("img, a, b").count() == 0
    expect(tooltip).to_contain_text(HOSTILE_KEY)
    # The CSV keeps the formula-looking ticket as data.
    with page.expect_download(timeout=FIRST_RENDER) as download:
        page.get_by_test_id("stDownloadButton").get_by_role("button").click()
    text = Path(download.value.path()).read_text()
    assert f"'{HOSTILE_TICKET}" in text and f",{HOSTILE_TICKET}" not in text
    snap(page, "timeline-hostile-1440")
    leaving = [u for u in page.requests if not u.startswith(origin) and not u.startswith("data:") and not FAVICON.match(u)]  # type: ignore[attr-defined]
    assert leaving == []


def test_timeline_reads_on_a_phone(hostile_desk, browser):
    page = new_page(browser, width=390, zone="Asia/Kolkata")
    try:
        open_timeline(page, f"{hostile_desk.url}/timeline")
        expect(page.get_by_text(re.compile(r"Times in your time zone, Asia/(Kolkata|Calcutta)"))).to_be_visible()
        chart = page.get_by_test_id("stVegaLiteChart").last
        chart.scroll_into_view_if_needed()
        legend = chart.locator("g.role-legend").first
        legend_box, chart_box = legend.bounding_box(), chart.bounding_box()
        assert legend_box is not None and chart_box is not None
        assert legend_box["x"] >= chart_box["x"] and legend_box["x"] + legend_box["width"] <= chart_box["x"] + chart_box["width"] + 1  # not clipped
        snap(page, "timeline-390")
        assert not page.errors  # type: ignore[attr-defined]
    finally:
        page.context.close()
