"""Browse through the navigation: where it returns you, the details panel, picks (clicks on the canvas are in test_browser.py)."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from dashboard import demo
from dashboard.ui.frame import SELECTION_KEY
from tests.test_pages import NAVIGATION, texts

FOLDER = "customers/acme/invoices/"


def _browse(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    return at


def _param(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[0] if isinstance(value, list) else value


def test_browse_page_returns_to_the_bucket_folder_and_search_you_left(demo_desk):
    at = _browse({"bucket": demo.SUPPORT_BUCKET, "prefix": "customers/globex/exports/"})
    at.text_input(key="browse.search").input("don").run()
    assert list(at.dataframe[0].value["Name"]) == ["données clients été.csv"]

    at.switch_page("../../pages/share.py").run()
    at.query_params.clear()  # the navigation drops the address bar's query, as the sidebar link does
    at.switch_page("../../pages/browse.py").run()
    assert not at.exception
    assert at.selectbox[0].value == demo.SUPPORT_BUCKET
    assert (_param(at, "bucket"), _param(at, "prefix")) == (demo.SUPPORT_BUCKET, "customers/globex/exports/")
    assert at.text_input(key="browse.search").value == "don"
    assert list(at.dataframe[0].value["Name"]) == ["données clients été.csv"]


def test_browse_page_object_details_are_a_readable_panel_closed_by_a_folder_change(demo_desk):
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.query_params.update(bucket=demo.SUPPORT_BUCKET, prefix=FOLDER)
    at.session_state["browse.detail"] = (demo.SUPPORT_BUCKET, FOLDER + "2026-10 invoice.pdf", FOLDER)  # what a Details click stores
    at.run()
    assert not at.exception
    assert not at.json  # not raw JSON
    assert "Object details" in [h.value for h in at.subheader]
    assert f"s3://{demo.SUPPORT_BUCKET}/{FOLDER}2026-10 invoice.pdf" in [t.value for t in at.text]
    page = texts(at)
    for label in ("Size", "Last modified", "Content type", "Storage class", "Version", "Download"):
        assert label in page
    assert "application/pdf" in page.replace("\\", "")
    assert " UTC" in page  # the viewer's zone, named (AppTest's browser has none: UTC)

    at.button(key="crumb:customers/acme/").click().run()
    assert not at.exception
    assert "Object details" not in [h.value for h in at.subheader]
    assert "browse.detail" not in at.session_state


def test_browse_page_shows_picks_in_the_sidebar_and_clears_them(demo_desk):
    at = AppTest.from_file(NAVIGATION, default_timeout=60)
    at.query_params.update(bucket=demo.SUPPORT_BUCKET, prefix=FOLDER)
    uri = f"s3://{demo.SUPPORT_BUCKET}/{FOLDER}2026-11 invoice.pdf"
    at.session_state[SELECTION_KEY] = {uri: {"bucket": demo.SUPPORT_BUCKET, "key": FOLDER + "2026-11 invoice.pdf", "size": 1, "storage_class": "STANDARD"}}
    at.run()
    assert "Picked for sharing (1)" in [h.value for h in at.sidebar.subheader]
    # The pick is drawn back into the table as a ticked row.
    assert at.session_state[f"objects:{demo.SUPPORT_BUCKET}:{FOLDER}:1"]["selection"]["rows"] == [1]
    at.sidebar.button(key="browse.clear").click().run()
    assert not at.exception
    assert at.session_state[SELECTION_KEY] == {}
    assert "Picked for sharing (0)" in [h.value for h in at.sidebar.subheader]
