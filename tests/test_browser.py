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

import pytest

from dashboard import demo
from tests.browsing import (  # noqa: F401  (browser and page are fixtures; CHROMIUM* for other modules)
    CHROMIUM,
    CHROMIUM_ARGS,
    FIRST_RENDER,
    RERUN,
    browse_url,
    browser,
    click_last_column,
    column,
    desk_on,
    navigate,
    new_page,
    no_error_box,
    open_browse,
    open_page,
    page,
    settled,
    snap,
    tick,
    ticked,
    type_name,
)
from tests.desk_server import desk_server  # noqa: F401  (the session fixture)
from playwright.sync_api import Page, expect  # noqa: E402  (after browsing, which skips without Chromium)

UNICODE_KEY = next(key for key in demo.UNUSUAL_KEYS if "こんにちは" in key)
ACCENTED_KEY = next(key for key in demo.UNUSUAL_KEYS if "données" in key)


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
    for row in (1, 2):  # tick each row's selection box in the row-marker column
        tick(page, row)
        expect(page.get_by_text(f"Picked for sharing ({row})")).to_be_visible(timeout=RERUN)
    snap(page, "06-two-picked")

    page.get_by_role("link", name="Share the picked files").click()
    expect(page.get_by_role("heading", name="Share")).to_be_visible(timeout=RERUN)
    type_name(page, "browser-test")
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


@pytest.mark.parametrize("width", [1440, 390])
def test_a_pick_leads_on_to_share_from_under_the_table_even_on_a_phone(desk_server, browser, width):  # noqa: F811
    """A phone's sidebar is collapsed, so the picked list there is out of sight: the way on sits under the table too."""
    page = new_page(browser, width)
    try:
        open_browse(page, browse_url(desk_server.url, demo.SUPPORT_BUCKET, "customers/acme/invoices/"))
        expect(column(page, "Name").first).to_have_text("2026-10 invoice.pdf", timeout=RERUN)
        expect(page.get_by_role("link", name=re.compile(r"^Share \d+ picked file"))).to_have_count(0)
        tick(page, 1)
        onward = page.get_by_role("link", name="Share 1 picked file", exact=True)
        expect(onward).to_be_in_viewport(timeout=RERUN)
        tick(page, 2)
        expect(page.get_by_role("link", name="Share 2 picked files", exact=True)).to_be_visible(timeout=RERUN)
        snap(page, f"browse-{width}-share-picked")
        page.get_by_role("link", name="Share 2 picked files", exact=True).click()
        expect(page.get_by_role("heading", name="Share")).to_be_visible(timeout=RERUN)
        expect(page.get_by_text("Objects (2 picked on Browse)")).to_be_visible(timeout=RERUN)
    finally:
        page.context.close()


def test_paste_a_cut_short_link_from_the_history_into_inspect_and_see_why(desk_server, page: Page):  # noqa: F811
    from dashboard import demo_history

    # The desk seeded its history when it started; make one of its cut-short links again, as a customer would paste it.
    desk = desk_on(desk_server.state_dir)
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


# --- Browse: picks ---------------------------------------------------------------


def test_picks_stay_ticked_when_paging_back_and_coming_back(desk_server, page: Page):  # noqa: F811
    open_browse(page, browse_url(desk_server.url, demo.EXPORTS_BUCKET, demo.BIG_PREFIX))
    expect(column(page, "Name").first).to_have_text("export-00000.csv", timeout=RERUN)
    tick(page, 1)
    expect(page.get_by_text("Picked for sharing (1)")).to_be_visible(timeout=RERUN)
    tick(page, 3)
    expect(page.get_by_text("Picked for sharing (2)")).to_be_visible(timeout=RERUN)

    page.get_by_role("button", name="Next page").click()
    expect(column(page, "Name").first).to_have_text("export-00100.csv", timeout=RERUN)
    expect(ticked(page)).to_have_count(0)
    page.get_by_role("button", name="Previous page").click()
    expect(column(page, "Name").first).to_have_text("export-00000.csv", timeout=RERUN)
    expect(page.get_by_text("Picked for sharing (2)")).to_be_visible()
    expect(ticked(page)).to_have_text(["export-00000.csv", "export-00002.csv"])
    snap(page, "09-picks-kept-paging-back")

    # Away to Share and back through the sidebar: the same folder, the same ticks.
    navigate(page, "Share")
    navigate(page, "Browse")
    expect(page).to_have_url(re.compile(r"[?&]prefix=nightly%2F"), timeout=RERUN)
    expect(column(page, "Name").first).to_have_text("export-00000.csv", timeout=RERUN)
    expect(ticked(page)).to_have_text(["export-00000.csv", "export-00002.csv"])


def test_an_archived_object_cannot_be_picked_and_the_row_says_why(desk_server, page: Page):  # noqa: F811
    open_browse(page, browse_url(desk_server.url, demo.ARCHIVE_BUCKET, "2019/"))
    expect(column(page, "Download")).to_have_text(["restore first"], timeout=RERUN)
    tick(page, 1)
    expect(page.get_by_text("Restore it first, then pick it.")).to_be_visible(timeout=RERUN)
    expect(page.get_by_text("Picked for sharing (0)")).to_be_visible()
    expect(ticked(page)).to_have_count(0)
    snap(page, "10-archived-not-picked")

    click_last_column(page, 1)  # the row's own Details button, not a pick
    details = page.locator(".st-key-browse-details")
    expect(details.get_by_text("restore first: it is in an archive storage class")).to_be_visible(timeout=RERUN)
    expect(details.get_by_text("GLACIER")).to_be_visible()
    expect(page.get_by_text("Picked for sharing (0)")).to_be_visible()


# --- Share: issuing safely --------------------------------------------------------


def _share_readme(desk_server, page: Page, ticket: str) -> None:  # noqa: F811
    """Pick README.txt on Browse, open Share, name the issuer, choose iam-user and a ticket."""
    open_browse(page, browse_url(desk_server.url, demo.SUPPORT_BUCKET, ""))
    expect(column(page, "Name")).to_have_text(["README.txt"], timeout=RERUN)
    tick(page, 1)
    expect(page.get_by_text("Picked for sharing (1)")).to_be_visible(timeout=RERUN)
    navigate(page, "Share")
    type_name(page, "browser-test")
    page.get_by_test_id("stRadio").get_by_text("iam-user", exact=True).click()
    no_error_box(page)
    ticket_box = page.get_by_role("textbox", name="Ticket reference")
    ticket_box.fill(ticket)
    ticket_box.press("Enter")
    no_error_box(page)


def test_links_of_one_request_never_show_under_another(desk_server, page: Page):  # noqa: F811
    _share_readme(desk_server, page, "TCK-7777")
    page.get_by_role("button", name="Issue 1 link").click()
    expect(page.get_by_text("Links (recorded in the issuance log)")).to_be_visible(timeout=RERUN)
    expect(page.get_by_text("Message for the customer")).to_be_visible()

    ticket_box = page.get_by_role("textbox", name="Ticket reference")
    ticket_box.fill("TCK-8888")  # another customer's ticket
    ticket_box.press("Enter")
    no_error_box(page)
    expect(page.get_by_text("Links (recorded in the issuance log)")).to_have_count(0, timeout=RERUN)
    expect(page.get_by_text("Message for the customer")).to_have_count(0)
    expect(page.get_by_test_id("stCode")).to_have_count(0)
    expect(page.get_by_role("button", name="Issue 1 link")).to_be_visible()
    snap(page, "11-links-gone-after-ticket-change", check=False)

    # Back to the first ticket: its links do not come back either; they were for the request that made them.
    ticket_box.fill("TCK-7777")
    ticket_box.press("Enter")
    no_error_box(page)
    expect(page.get_by_role("button", name="Issue 1 link")).to_be_visible(timeout=RERUN)
    expect(page.get_by_test_id("stCode")).to_have_count(0)


def test_a_second_click_on_issue_does_not_issue_twice(desk_server, page: Page):  # noqa: F811
    log = desk_on(desk_server.state_dir).log
    _share_readme(desk_server, page, "TCK-9001")
    before = log.count()
    page.get_by_role("button", name="Issue 1 link").click()
    issued_again = page.get_by_role("button", name=re.compile(r"^Issued 1 link with iam-user at .*: issue again\?$"))
    expect(issued_again).to_be_visible(timeout=RERUN)
    assert log.count() == before + 1

    issued_again.click()  # a second click asks, and issues nothing
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_text("were already issued")).to_be_visible(timeout=RERUN)
    snap(page, "12-issue-again-asks", check=False)
    assert log.count() == before + 1
    dialog.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("dialog")).to_have_count(0, timeout=RERUN)
    assert log.count() == before + 1

    # A hurried double click on a fresh request makes one link, never two.
    ticket_box = page.get_by_role("textbox", name="Ticket reference")
    ticket_box.fill("TCK-9002")
    ticket_box.press("Enter")
    no_error_box(page)
    page.get_by_role("button", name="Issue 1 link").dblclick()
    expect(issued_again).to_be_visible(timeout=RERUN)
    no_error_box(page)
    if page.get_by_role("dialog").count():  # the second click may have landed after the first finished: it only asked
        page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
        expect(page.get_by_role("dialog")).to_have_count(0, timeout=RERUN)
    assert log.count() == before + 2
    assert [e.ticket for e in log.recent(2)] == ["TCK-9002", "TCK-9001"]


# --- Stable links: revoke safely ----------------------------------------------------


def test_revoke_asks_first_revokes_exactly_one_and_shows_no_error(desk_server, page: Page):  # noqa: F811
    from datetime import timedelta

    from dashboard import issuing
    from dashboard.strategies import ShareRequest

    desk = desk_on(desk_server.state_dir)
    made = [
        issuing.issue(desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=timedelta(days=3), issuer=who, ticket=ticket)], "stable")[0].entry
        for key, who, ticket in (("README.txt", "alice", "TCK-R1"), ("manuals/user guide.pdf", "bob", "TCK-R2"))
    ]
    open_page(page, f"{desk_server.url}/stable-links", "Stable links")
    type_name(page, "lead")
    for entry, other in ((made[0], made[1]), (made[1], None)):
        card = page.locator(f".st-key-stable-card-{entry.id}")
        card.get_by_role("button", name="Revoke…").click()
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible(timeout=RERUN)
        for named in (f"Link {entry.id}", entry.key, entry.ticket, entry.issuer):
            expect(dialog.get_by_text(named, exact=False).first).to_be_visible()
        assert desk.log.get(entry.id).revoked_at is None  # asking revokes nothing
        snap(page, f"13-revoke-asks-{entry.ticket}", check=False)
        dialog.get_by_role("button", name=f"Revoke link {entry.id}").click()
        expect(page.get_by_role("dialog")).to_have_count(0, timeout=RERUN)
        expect(page.get_by_text(f"Link {entry.id} revoked by lead")).to_be_visible(timeout=RERUN)
        settled(page)
        assert desk.log.get(entry.id).revoked_by == "lead"
        if other is not None:
            assert desk.log.get(other.id).revoked_at is None  # exactly one
        expect(page.locator(f".st-key-stable-card-{entry.id}")).to_have_count(0)
        expect(page.get_by_role("dialog")).to_have_count(0)  # and no other link is armed
    snap(page, "14-revoked-both")
