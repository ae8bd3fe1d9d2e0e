"""In Chromium, against the running desk: the demo's links download while the desk calls them live, and fail with AWS's own error once it calls them dead.

The desk runs as a person runs it (`streamlit run`, its demo S3 and
CloudFront edge in its own process); the links are issued by a desk that
joins it through the state folder, as the command line does.  A download is
a real browser download: a link clicked on a page, the file saved by
Chromium, its bytes compared with the seeded object's.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from dashboard import demo, demo_history, issuing
from dashboard.config import Settings
from dashboard.desk import Desk, open_desk
from dashboard.strategies import ShareRequest
from tests.desk_server import ROOT, desk_env
from tests.desk_server import desk_server  # noqa: F401  (the session fixture)

from tests.browsing import SCREENSHOTS, browser  # noqa: F401  (browser is a fixture; browsing skips without Chromium)

from playwright.sync_api import Browser, Page  # noqa: E402
KEY = "customers/globex/exports/données clients été.csv"
STRATEGIES = ("ambient", "role-session", "iam-user", "stable", "cloudfront")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def joined(desk_server) -> Desk:  # noqa: F811
    """A desk that joins the running desk's demo through its state folder, as command-line calls do."""
    desk = open_desk(Settings.load({"SHAREDESK_DEMO": "1", "SHAREDESK_STATE_DIR": str(desk_server.state_dir)}, {}))
    assert desk.demo is not None and not desk.demo.owned
    return desk


def download(page: Page, url: str) -> bytes:
    """Click a link to `url` on a page, as a customer clicks one in an e-mail, and return the file Chromium saved."""
    page.set_content('<a id="link">the file</a>')
    page.eval_on_selector("#link", "(a, url) => { a.href = url; }", url)
    with page.expect_download(timeout=30_000) as started:
        page.click("#link")
    path = started.value.path()
    return Path(path).read_bytes()


def snap(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_fresh_link_of_every_strategy_downloads_in_the_browser(joined, page, strategy):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(days=1), issuer="browser", filename="clients été.csv")
    link = issuing.issue(joined, [request], strategy)[0]
    if strategy == "stable":
        assert "/s/" in link.url  # a desk link: the desk 302s to a URL it mints with the iam-user key
    elif strategy == "cloudfront":
        assert link.url.startswith(joined.settings.cloudfront_domain + "/")
    else:
        assert link.url.startswith(joined.settings.endpoint_url + "/")
    assert download(page, link.url) == demo.body_of(KEY)


def test_a_cloudfront_link_signed_by_the_command_line_downloads_from_the_desks_edge(desk_server, joined, page):  # noqa: F811
    issued = subprocess.run(
        [sys.executable, "-m", "dashboard", "issue", f"s3://{demo.SUPPORT_BUCKET}/README.txt", "--strategy", "cloudfront", "--expires-in", "2h", "--filename", "readme.txt"],
        cwd=ROOT, env=desk_env(desk_server.state_dir), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert issued.returncode == 0, issued.stderr
    url = issued.stdout.strip()
    assert url.startswith(joined.settings.cloudfront_domain + "/")  # the edge the desk recorded, not *.cloudfront.net
    assert download(page, url) == demo.body_of("README.txt")


def test_a_cut_short_history_link_shows_s3s_expired_token_error(joined, page):
    sample = demo_history.cut_short_sample(joined)
    assert sample is not None
    entry, url = sample
    response = page.goto(url)
    assert response is not None and response.status == 400
    text = page.locator("body").inner_text()
    assert "ExpiredToken" in text and "The provided token has expired." in text
    snap(page, "demo-history-expired-token")


def test_a_dead_link_of_every_kind_shows_aws_own_error(joined, page):
    """What a customer sees once the desk calls a link dead: S3's or CloudFront's own refusal, never the file."""
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(hours=1), issuer="browser")
    s3_link = issuing.issue(joined, [request], "iam-user")[0]
    forged = s3_link.url[:-4] + ("0000" if not s3_link.url.endswith("0000") else "1111")
    response = page.goto(forged)
    assert response is not None and response.status == 403 and "SignatureDoesNotMatch" in page.locator("body").inner_text()
    cloudfront_link = issuing.issue(joined, [request], "cloudfront")[0]
    head, _, tail = cloudfront_link.url.partition("Signature=")
    response = page.goto(head + "Signature=" + ("A" if tail[0] != "A" else "B") + tail[1:])
    assert response is not None and response.status == 403
    assert "AccessDenied" in page.locator("body").inner_text()
    snap(page, "demo-cloudfront-access-denied")
