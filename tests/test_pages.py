"""One AppTest per page, driven through the navigation, on the embedded demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import demo
from dashboard.ui.frame import PAGES

ROOT = Path(__file__).resolve().parent.parent
NAVIGATION = str(ROOT / "dashboard/ui/navigation.py")


def open_page(file: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    at.switch_page(f"../../pages/{file}").run()
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [e.value for e in at.info]
    parts += [e.value for e in at.warning] + [e.value for e in at.error] + [t.value for t in at.title]
    return "\n".join(str(p) for p in parts)


def test_every_page_file_is_in_the_navigation_and_has_a_test():
    files = {p.name for p in (ROOT / "pages").glob("*.py")}
    assert files == {page.file for page in PAGES}
    here = Path(__file__).read_text()
    for page in PAGES:
        stem = page.file.removesuffix(".py")
        assert f"def test_{stem}_page_" in here or any(
            f"def test_{stem}_page_" in p.read_text() for p in Path(__file__).parent.glob("test_*.py")
        ), f"pages/{page.file} has no test named test_{stem}_page_…"


@pytest.mark.parametrize("page", PAGES, ids=[p.url_path for p in PAGES])
def test_page_renders_through_the_navigation_with_the_demo_banner(demo_desk, page):
    at = open_page(page.file)
    assert not at.exception
    assert at.title[0].value == page.title
    assert "Demo desk" in at.info[0].value


def test_browse_page_lists_folders_and_objects(demo_desk):
    at = open_page("browse.py", {"bucket": demo.SUPPORT_BUCKET, "prefix": ""})
    assert not at.exception
    labels = [b.label for b in at.button]
    assert {"customers/", "manuals/", "releases/"} <= set(labels)
    frame = at.dataframe[0].value
    assert list(frame["Name"]) == ["README.txt"]


def test_browse_page_opens_a_folder_and_pages_through_it(demo_desk):
    at = open_page("browse.py", {"bucket": demo.EXPORTS_BUCKET, "prefix": ""})
    at.button(key="folder:nightly/").click().run()
    assert at.query_params["prefix"] in ("nightly/", ["nightly/"])
    first = at.dataframe[0].value
    assert first["Name"].iloc[0] == "export-00000.csv" and len(first) == 100
    next_button = next(b for b in at.button if b.label == "Next page")
    next_button.click().run()
    second = at.dataframe[0].value
    assert second["Name"].iloc[0] == "export-00100.csv"
    assert "Page 2" in texts(at)
    previous = next(b for b in at.button if b.label == "Previous page")
    previous.click().run()
    assert at.dataframe[0].value["Name"].iloc[0] == "export-00000.csv"


def test_browse_page_searches_by_prefix_and_finds_the_unicode_key(demo_desk):
    at = open_page("browse.py", {"bucket": demo.SUPPORT_BUCKET, "prefix": "customers/globex/exports/"})
    at.text_input(key="browse.search").input("don").run()
    assert list(at.dataframe[0].value["Name"]) == ["données clients été.csv"]


def test_browse_page_marks_archived_objects(demo_desk):
    at = open_page("browse.py", {"bucket": demo.ARCHIVE_BUCKET, "prefix": "2019/"})
    frame = at.dataframe[0].value
    assert list(frame["Download"]) == ["restore first"]
    assert "archive storage class" in texts(at)


def test_browse_page_explains_a_bucket_it_may_not_open(demo_desk):
    at = open_page("browse.py", {"bucket": "not-an-allowed-bucket"})
    assert not at.exception
    assert at.selectbox[0].value == demo.BUCKETS[0]


def _share_with_selection(keys: list[str]) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.session_state["sharedesk.selection"] = {
        f"s3://{demo.SUPPORT_BUCKET}/{k}": {"bucket": demo.SUPPORT_BUCKET, "key": k, "size": 1, "storage_class": "STANDARD"} for k in keys
    }
    at.run()
    at.switch_page("../../pages/share.py").run()
    at.text_input(key="sharedesk.issuer").input("alice").run()
    return at


def test_share_page_previews_every_strategy_and_recommends_one(demo_desk):
    at = _share_with_selection(["manuals/user guide.pdf"])
    assert not at.exception
    preview = at.dataframe[0].value
    assert set(preview["Strategy"]) >= {"ambient", "role-session", "iam-user", "cloudfront"}
    ambient = preview[preview["Strategy"] == "ambient"].iloc[0]
    assert ambient["Bound by"] == "credentials"  # the simulated task role dies within hours, the default is 1 day
    assert (preview[""] == "★ recommended").sum() == 1
    assert at.success[0].value.startswith(preview[preview[""] == "★ recommended"].iloc[0]["Strategy"])


def test_share_page_issues_logged_links_with_a_message(demo_desk):
    before = demo_desk.log.count()
    at = _share_with_selection(["manuals/user guide.pdf", "README.txt"])
    at.radio[0].set_value("iam-user").run()
    next(b for b in at.button if b.label == "Issue 2 links").click().run()
    assert not at.exception
    assert demo_desk.log.count() == before + 2
    urls = [c.value for c in at.code if c.value.startswith("http")]
    assert len(urls) == 2 and all("X-Amz-Credential=" + demo.SIGNER_KEY_ID in u for u in urls)
    message = [c.value for c in at.code if c.value.startswith("Hello")][0]
    assert "This link works until" in message and urls[0] in message


def test_share_page_shows_no_link_when_the_log_cannot_be_written(demo_desk, monkeypatch):
    from dashboard.store import LogWriteError

    def refuse(*args):
        raise LogWriteError("The issuance log could not be written (disk full): no link was issued. Free some space, then try again.")

    monkeypatch.setattr(demo_desk.log, "record_many", refuse)
    at = _share_with_selection(["README.txt"])
    next(b for b in at.button if b.label == "Issue 1 link").click().run()
    assert not at.exception
    assert "No link was issued" in at.error[0].value
    assert not [c for c in at.code if c.value.startswith("http")]


def test_share_page_asks_for_a_name_before_issuing(demo_desk):
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.session_state["sharedesk.selection"] = {
        "s3://x/y": {"bucket": demo.SUPPORT_BUCKET, "key": "README.txt", "size": 1, "storage_class": "STANDARD"}
    }
    at.run()
    at.switch_page("../../pages/share.py").run()
    assert "Type your name (demo) at the top of the page first" in at.error[0].value


def test_stable_links_page_lists_live_links_and_revokes_one(demo_desk):
    from datetime import timedelta

    from dashboard import issuing
    from dashboard.strategies import ShareRequest

    link = issuing.issue(
        demo_desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(days=3), issuer="alice", ticket="TCK-STABLE")], "stable"
    )[0]
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.run()
    at.switch_page("../../pages/stable_links.py").run()
    assert not at.exception
    frame = at.dataframe[0].value
    assert link.entry.id in list(frame["id"]) and "TCK-STABLE" in list(frame["Ticket"])
    at.session_state["stable.table"] = {"selection": {"rows": [list(frame["id"]).index(link.entry.id)], "columns": []}}
    at.run()
    at.text_input(key="sharedesk.issuer").input("lead").run()
    at.button(key="stable.revoke").click().run()
    assert not at.exception
    assert demo_desk.log.get(link.entry.id).revoked_by == "lead"
