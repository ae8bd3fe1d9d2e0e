"""The Expiry timeline page through the navigation, on the demo desk's log plus 1,000 bulk-filled links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import audit
from dashboard.expiry import State
from dashboard.store import audit as queries
from tests.test_pages import open_page

SEED = 20261129
_filled: set[int] = set()


@pytest.fixture
def desk(demo_desk):
    """The process's demo desk with 1,000 more links in its log, added once (other tests count relatively)."""
    if id(demo_desk.log) not in _filled:
        queries.bulk_fill(demo_desk.log, 1000, seed=SEED)
        _filled.add(id(demo_desk.log))
    return demo_desk


def figures(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected(desk, **choices) -> set[queries.Summary]:
    """The store's own figures for the page's filter, at this minute and the next (the page rounds now)."""
    now = audit._now()
    return {queries.summary(desk.log, audit.build_filter(now=at, **choices)) for at in (now, now + timedelta(minutes=1))}


def test_timeline_page_shows_figures_chart_table_and_csv(desk):
    at = open_page("timeline.py")
    assert not at.exception
    shown = figures(at)
    assert any(
        shown == {"Links issued": f"{s.issued:,}", "Cut short": audit.percent(s.share), "Median hours lost": audit.hours(s.median_hours_lost)}
        for s in expected(desk)
    ), shown
    assert int(shown["Links issued"].replace(",", "")) >= 1320  # the demo history and the bulk fill
    assert len(at.get("vega_lite_chart")) == 2  # cut short per day, and the timeline
    table = at.dataframe[-1].value
    assert len(table) == audit.DEFAULT_CHART_SIZE
    assert table["Issued"].is_monotonic_decreasing
    assert f"{audit.DEFAULT_CHART_SIZE:,} most recent" in at.caption[-1].value
    strategies = at.dataframe[0].value
    assert set(strategies["Strategy"]) == {"ambient", "role-session", "iam-user", "cloudfront", "stable"}
    [csv] = at.get("download_button")
    assert csv.label.startswith("Download CSV")


def test_timeline_page_filters_change_the_figures(desk):
    at = open_page("timeline.py")
    everything = figures(at)
    at.multiselect(key="timeline.strategies").set_value(["ambient"]).run()
    at.button_group(key="timeline.state").set_value("cut short").run()
    assert not at.exception
    narrowed = figures(at)
    assert narrowed != everything
    assert narrowed["Cut short"] == "100%"  # cut short now means cut short
    assert any(narrowed["Links issued"] == f"{s.issued:,}" for s in expected(desk, strategies=["ambient"], state="cut short"))
    table = at.dataframe[-1].value
    assert set(table["Strategy"]) == {"ambient"} and set(table["State"]) == {audit.STATE_LABELS[State.CUT_SHORT]}

    at.text_input(key="timeline.ticket").input("TCK-NOT-ISSUED").run()
    assert not at.exception
    assert figures(at)["Links issued"] == "0"
    assert "No link matches these filters" in at.info[-1].value


def test_timeline_page_charts_more_links_on_request(desk):
    at = open_page("timeline.py")
    at.button_group(key="timeline.size").set_value(1000).run()
    assert not at.exception
    assert len(at.dataframe[-1].value) == 1000
