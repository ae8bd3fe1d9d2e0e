"""Inspect's small timeline chart: drawn in the viewer's zone whatever the browser's, named, with UTC in the tooltips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from dashboard.charts import link_chart
from dashboard.inspect import explain
from dashboard.store import IssuanceLog
from tests.test_inspect import AWS_EXAMPLE, SIGV2_EXAMPLE


@pytest.fixture
def log(tmp_path):
    opened = IssuanceLog.open(str(tmp_path / "log.sqlite3"))
    yield opened
    opened.close()


def _rows(chart) -> list[dict]:
    spec = chart.to_dict()
    return [row for rows in spec["datasets"].values() for row in rows]


def test_the_link_chart_draws_wall_clock_times_of_the_viewers_zone_and_names_it(log):
    e = explain(log, AWS_EXAMPLE, at=datetime(2013, 5, 24, 12, tzinfo=UTC))
    chart = link_chart(e, ZoneInfo("Asia/Tokyo"))
    spec = chart.to_dict()
    assert all(layer["encoding"]["x"]["title"] == "Asia/Tokyo" for layer in spec["layer"])
    bars = [r for r in _rows(chart) if "what" in r]
    assert bars[0]["start"] == "2013-05-24T09:00:00Z"  # 00:00 UTC is 09:00 in Tokyo, drawn as such on a UTC scale
    assert bars[0]["from"] == "2013-05-24 09:00:00 JST (2013-05-24 00:00:00 UTC)"
    moment = next(r for r in _rows(chart) if "label" in r)
    assert moment["label"] == "chosen time" and moment["at"] == "2013-05-24T21:00:00Z"


def test_a_moment_far_from_the_links_life_is_left_out_of_the_chart(log):
    far = explain(log, AWS_EXAMPLE, at=datetime(2026, 1, 1, tzinfo=UTC))
    assert len(link_chart(far).to_dict()["layer"]) == 2  # the bars only: a rule in 2026 would squash a 2013 day to a line
    near = explain(log, AWS_EXAMPLE, at=datetime(2013, 5, 26, tzinfo=UTC))
    assert len(link_chart(near).to_dict()["layer"]) == 4


def test_a_link_without_a_signing_time_has_no_chart(log):
    assert link_chart(explain(log, SIGV2_EXAMPLE)) is None
