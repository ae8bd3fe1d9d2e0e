"""The Expiry timeline page through the navigation, on the demo desk's log plus 1,000 bulk-filled links.

The page takes states at `audit.moment` (the wall clock to the minute, never
before the newest link); these tests hold the wall clock still, so what they
expect is computed at the very moment the page used, whatever the time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest.mock import patch

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import audit
from dashboard.expiry import State
from dashboard.store import NewLink, fingerprint
from dashboard.store import audit as queries
from dashboard.store.synthetic import bulk_fill
from tests.markup import plain
from tests.test_pages import open_page

SEED = 20261129
_filled: set[int] = set()


@pytest.fixture
def desk(demo_desk):
    """The process's demo desk with 1,000 more links in its log, added once (other tests count relatively)."""
    if id(demo_desk.log) not in _filled:
        bulk_fill(demo_desk.log, 1000, seed=SEED)
        _filled.add(id(demo_desk.log))
    return demo_desk


@pytest.fixture
def wall():
    """The wall clock, held still for the test (the page reads it through `audit._now`)."""
    still = datetime.now(UTC)
    with patch("dashboard.audit._now", return_value=still):
        yield still


def figures(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def expected(desk, wall, **choices) -> queries.Summary:
    """The store's own figures for the page's filter, at the page's own moment (counts as the links say; see test_audit.py)."""
    now = audit.moment(audit.version(desk.log), wall)
    tolerance = timedelta(seconds=desk.settings.cut_short_tolerance_seconds)
    f = audit.build_filter(now=now, tolerance=tolerance, **choices)
    figures, exact = queries.figures(desk.log, f).summary, queries.counted(desk.log, f).summary
    assert (figures.issued, figures.cut_short, figures.at_risk) == (exact.issued, exact.cut_short, exact.at_risk)
    return figures


def headline(s: queries.Summary) -> dict[str, str]:
    return {
        "Links issued": f"{s.issued:,}",
        "Cut short": audit.percent(s.share),
        "Median hours lost": audit.hours(s.median_hours_lost),
        "At risk now": f"{s.at_risk:,}",
    }


def test_timeline_page_shows_figures_chart_table_and_csv(desk, wall):
    at = open_page("timeline.py")
    assert not at.exception
    assert figures(at) == headline(expected(desk, wall))
    assert int(figures(at)["Links issued"].replace(",", "")) >= 1000  # the bulk fill at least
    assert len(at.get("vega_lite_chart")) == 2  # cut short per day, and the timeline
    table = at.dataframe[-1].value
    assert len(table) == audit.DEFAULT_CHART_SIZE
    assert table["Issued"].is_monotonic_decreasing
    assert all(link == f"inspect?id={i}" for link, i in zip(table["Inspect"], table["Log id"]))
    assert f"{audit.DEFAULT_CHART_SIZE:,} most recent" in at.caption[-1].value
    strategies = at.dataframe[0].value
    assert set(strategies["Strategy"]) == {"ambient", "role-session", "iam-user", "cloudfront", "stable"}
    [csv] = at.get("download_button")
    assert csv.label.startswith("Download CSV")


def test_timeline_page_counts_a_link_the_moment_it_is_issued(desk, wall):
    at = open_page("timeline.py")
    before = int(figures(at)["Links issued"].replace(",", ""))
    at.run()
    assert int(figures(at)["Links issued"].replace(",", "")) == before  # a rerun alone changes nothing
    issued = wall - timedelta(seconds=1)
    desk.log.record(
        NewLink(
            issued_at=issued, issuer="alice", strategy="iam-user", bucket="sharedesk-demo-support", key="README.txt",
            filename=None, ticket="TCK-NEW", note=None, signed_at=issued, nominal_expires_at=issued + timedelta(days=1),
            effective_expires_at=issued + timedelta(days=1), bound_by="nominal", reason="Runs its full 1 day.",
            credential_source="explicit", access_key_id="AKIAEXAMPLE", credential_kind="long-term",
            credential_expires_at=None, fingerprint=fingerprint(f"timeline-{issued.timestamp()}"), display_url="https://example/README.txt",
        )
    )
    at.run()
    assert not at.exception
    assert int(figures(at)["Links issued"].replace(",", "")) == before + 1  # not a cached minute later
    assert figures(at) == headline(expected(desk, wall))


def test_timeline_page_headline_equals_its_cut_short_filters_count(desk, wall):
    at = open_page("timeline.py")
    cut = expected(desk, wall).cut_short
    assert at.metric[1].delta == f"{cut:,} links"
    at.button_group(key="state").set_value(audit.STATE_LABELS[State.CUT_SHORT]).run()
    assert not at.exception
    assert figures(at)["Links issued"] == f"{cut:,}" and figures(at)["Cut short"] == "100%"
    assert set(at.dataframe[-1].value["State"]) == {"cut short"}
    at.button_group(key="state").set_value(audit.STATE_LABELS[State.AT_RISK]).run()
    risk = expected(desk, wall).at_risk
    assert figures(at)["Links issued"] == f"{risk:,}" and figures(at)["At risk now"] == f"{risk:,}"


def test_timeline_page_filters_change_the_figures(desk, wall):
    at = open_page("timeline.py")
    everything = figures(at)
    at.multiselect(key="strategy").set_value(["ambient"]).run()
    at.button_group(key="state").set_value("cut short").run()
    assert not at.exception
    narrowed = figures(at)
    assert narrowed != everything
    assert narrowed["Cut short"] == "100%"  # cut short now means cut short
    assert narrowed == headline(expected(desk, wall, strategies=["ambient"], state="cut short"))
    table = at.dataframe[-1].value
    assert set(table["Strategy"]) == {"ambient"} and set(table["State"]) == {audit.STATE_LABELS[State.CUT_SHORT]}

    at.text_input(key="ticket").input("TCK-NOT-ISSUED").run()
    assert not at.exception
    assert figures(at)["Links issued"] == "0"
    assert "No link matches these filters" in at.info[-1].value


def test_timeline_page_filters_live_in_the_url(desk, wall):
    at = open_page("timeline.py", {"window": "7 days", "state": "cut short", "strategy": "role-session", "links": "100"})
    assert not at.exception
    assert at.button_group(key="window").value == "7 days" and at.multiselect(key="strategy").value == ["role-session"]
    assert figures(at) == headline(expected(desk, wall, window="7 days", state="cut short", strategies=["role-session"]))
    assert len(at.dataframe[-1].value) <= 100
    # The browser writes each change back to the URL (tests/test_timeline_browser.py sees it); here, every filter is bound.
    widgets = [at.button_group(key=k) for k in ("window", "state", "links")]
    widgets += [at.multiselect(key=k) for k in ("issuer", "strategy")] + [at.selectbox(key="in_bucket")]
    widgets += [at.text_input(key=k) for k in ("key_prefix", "ticket")]
    assert [w.proto.query_param_key for w in widgets] == ["window", "state", "links", "issuer", "strategy", "in_bucket", "key_prefix", "ticket"]


def test_timeline_page_ignores_url_values_it_does_not_offer(desk, wall):
    at = open_page("timeline.py", {"window": "forever", "issuer": "[Click here](https://evil.example)", "links": "7"})
    assert not at.exception
    assert figures(at) == headline(expected(desk, wall))


def test_timeline_page_charts_more_links_on_request(desk, wall):
    at = open_page("timeline.py")
    at.button_group(key="links").set_value(1000).run()
    assert not at.exception
    assert len(at.dataframe[-1].value) == 1000


def test_timeline_page_counts_a_key_prefix_and_a_ticket_from_the_log_itself(desk, wall):
    at = open_page("timeline.py", {"key_prefix": "customers/acme/", "window": "All time"})
    assert not at.exception
    shown = figures(at)
    assert shown == headline(expected(desk, wall, prefix="customers/acme/", window="All time")) and shown["Links issued"] != "0"
    assert all(key.startswith("s3://") and "/customers/acme/" in key for key in at.dataframe[-1].value["Object"])


def test_timeline_page_says_the_hash_chain_is_verified(desk):
    desk.log.chain_status(wait=True)  # the first walk runs in the background; wait for it here
    at = open_page("timeline.py")
    assert not at.exception
    assert any("rows verified: the hash chain is intact" in plain(c.value) for c in at.caption)


def test_timeline_page_names_the_first_row_that_does_not_match(desk, monkeypatch):
    from dashboard.store import chain

    broken = chain.ChainStatus(
        state="broken", rows=41, checked_at=datetime.now(UTC),
        problem=chain.Problem(table="links", row_id=42, seq=42, how="edited", detail="its stored hash does not match its fields"),
    )
    monkeypatch.setattr(type(desk.log), "chain_status", lambda self, wait=False: broken)
    at = open_page("timeline.py")
    assert not at.exception
    assert [e for e in at.error if "hash chain is broken" in plain(e.value) and "Links row 42 was edited" in plain(e.value)]
