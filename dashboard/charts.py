"""Altair chart builders: a DataFrame in, a chart out, no Streamlit and no queries.

Times arrive timezone-aware and are sent to Vega-Lite as ISO strings with
their offset, so the browser draws them in the viewer's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from dashboard.expiry import as_utc
from dashboard.timefmt import local_and_utc, zone_name

if TYPE_CHECKING:
    from dashboard.inspect import Explanation

__all__ = ["STRATEGY_COLORS", "cut_short_per_day_chart", "link_chart", "strategy_scale", "timeline_chart"]

#: One colour per strategy on every chart: warm for the ones whose links can
#: die early (credentials), cool for the ones that run their course.
STRATEGY_COLORS: dict[str, str] = {
    "ambient": "#e45756",
    "role-session": "#f58518",
    "iam-user": "#4c78a8",
    "stable": "#54a24b",
    "cloudfront": "#b279a2",
}
_OTHER_COLORS = ("#72b7b2", "#eeca3b", "#9d755d", "#bab0ac")
_CUT_MARK = "#1f1f1f"
_TIME_FORMAT = "%Y-%m-%d %H:%M"
#: Bars that run on further than this past "now" are clipped at the chart's edge,
#: so a year-long CloudFront link does not squash every other bar to a sliver.
HORIZON = timedelta(days=14)


def strategy_scale(names: list[str] | tuple[str, ...] = ()) -> alt.Scale:
    """The colour scale of the known strategies plus any others present, in a fixed order."""
    domain = list(STRATEGY_COLORS) + sorted(set(names) - set(STRATEGY_COLORS))
    extra = [_OTHER_COLORS[i % len(_OTHER_COLORS)] for i in range(len(domain) - len(STRATEGY_COLORS))]
    return alt.Scale(domain=domain, range=list(STRATEGY_COLORS.values()) + extra)


def _height(rows: int) -> int:
    return max(160, min(900, rows * 14))


def timeline_chart(frame: pd.DataFrame, now: datetime) -> alt.LayerChart:
    """One row per link, newest at the top, from `dashboard.audit.rows_frame`.

    A light bar runs from issue to nominal expiry, a solid bar from issue to
    when the link really stops working; cut-short links get a dark tick where
    they were cut; a dashed rule marks now.
    """
    data = frame.assign(row=range(len(frame)))
    now_ts = pd.Timestamp(now)
    start = data["Issued"].min() if len(data) else now_ts - timedelta(days=1)
    latest = data["Nominal expiry"].max() if len(data) else now_ts
    end = min(max(latest, now_ts), now_ts + HORIZON)
    x_scale = alt.Scale(domain=[start.isoformat(), (end + (end - start) * 0.02).isoformat()])
    y = alt.Y("row:O", axis=None, title=None)
    color = alt.Color("Strategy:N", scale=strategy_scale(tuple(data["Strategy"].unique())), legend=alt.Legend(orient="top", title=None, symbolOpacity=1))
    tooltip = [
        alt.Tooltip("Object:N"),
        alt.Tooltip("Strategy:N"),
        alt.Tooltip("Issuer:N"),
        alt.Tooltip("Ticket:N"),
        alt.Tooltip("State:N"),
        alt.Tooltip("Issued:T", format=_TIME_FORMAT),
        alt.Tooltip("Nominal expiry:T", format=_TIME_FORMAT),
        alt.Tooltip("ends:T", title="Stops working", format=_TIME_FORMAT),
        alt.Tooltip("Hours lost:Q", format=".1f"),
        alt.Tooltip("Why:N"),
    ]
    base = alt.Chart(data).encode(y=y, color=color, tooltip=tooltip)
    nominal = base.mark_bar(opacity=0.35, clip=True).encode(
        x=alt.X("Issued:T", scale=x_scale, title=None, axis=alt.Axis(labelOverlap=True, orient="top", grid=True, gridOpacity=0.4)),
        x2="Nominal expiry:T",
    )
    real = base.mark_bar(clip=True).encode(x=alt.X("Issued:T", scale=x_scale), x2="ends:T")
    cut = (
        alt.Chart(data)
        .transform_filter(alt.datum.cut_short)
        .mark_tick(color=_CUT_MARK, thickness=2, clip=True)
        .encode(x=alt.X("ends:T", scale=x_scale), y=y, tooltip=tooltip)
    )
    rule_data = pd.DataFrame({"now": [now_ts.isoformat()], "label": ["now"]})
    rule = alt.Chart(rule_data).mark_rule(color="#555", strokeDash=[4, 3]).encode(x=alt.X("now:T", scale=x_scale))
    label = (
        alt.Chart(rule_data)
        .mark_text(align="left", dx=4, dy=-4, baseline="bottom", color="#555", fontSize=11)
        .encode(x=alt.X("now:T", scale=x_scale), y=alt.value(0), text="label:N")
    )
    return alt.LayerChart(layer=[nominal, real, cut, rule, label], height=_height(len(data)))


def cut_short_per_day_chart(frame: pd.DataFrame) -> alt.Chart:
    """Share of links cut short per day, from `dashboard.audit.per_day_frame`.

    Days are calendar days in the viewer's zone already, so they are drawn
    as UTC dates: a browser west of Greenwich must not shift them a day back.
    """
    return (
        alt.Chart(frame)
        .mark_bar(color=STRATEGY_COLORS["ambient"], opacity=0.85)
        .encode(
            x=alt.X("day:T", timeUnit="utcyearmonthdate", title=None, axis=alt.Axis(format="%d %b", labelOverlap=True)),
            y=alt.Y("share:Q", title="Cut short", axis=alt.Axis(format="%", tickCount=3), scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                alt.Tooltip("day:T", timeUnit="utcyearmonthdate", title="Day", format="%a %d %b %Y"),
                alt.Tooltip("issued:Q", title="Links issued", format=","),
                alt.Tooltip("cut_short:Q", title="Cut short", format=","),
                alt.Tooltip("share:Q", title="Share cut short", format=".0%"),
            ],
        )
        .properties(height=150)
    )


def link_chart(explanation: Explanation, tz: tzinfo = UTC) -> alt.LayerChart | None:
    """One row: issue -> nominal expiry (light), issue -> real expiry (solid), a rule at the chosen time.

    Times are drawn in ``tz`` (the viewer's zone, named on the axis) whatever
    the browser's own zone: each moment is sent as its wall-clock time in
    ``tz`` and drawn on a UTC scale, so Vega-Lite shifts nothing; tooltips
    say the time in ``tz`` and in UTC. None when the link does not say when
    it was signed (SigV2, CloudFront links not in the log): there is no start.
    """
    e = explanation
    if e.signed_at is None or e.nominal_expires_at is None:
        return None
    zone = zone_name(tz)
    real_label = "real (cut short)" if e.cut_short else "real"

    def wall(moment: datetime) -> str:
        return as_utc(moment).astimezone(tz).replace(tzinfo=None).isoformat() + "Z"

    def said(moment: datetime) -> str:
        return local_and_utc(moment, tz, seconds=True)

    rows = [{"what": "nominal (promised)", "start": wall(e.signed_at), "end": wall(e.nominal_expires_at), "from": said(e.signed_at), "to": said(e.nominal_expires_at), "row": "link"}]
    if e.effective_expires_at is not None:
        rows.append({"what": real_label, "start": wall(e.signed_at), "end": wall(e.effective_expires_at), "from": said(e.signed_at), "to": said(e.effective_expires_at), "row": "link"})
    bars = pd.DataFrame(rows)
    palette = {"nominal (promised)": "#c6d4e6", "real": "#1c64b4", "real (cut short)": "#c2410c"}
    drawn = [str(row["what"]) for row in rows]
    colours = alt.Scale(domain=drawn, range=[palette[name] for name in drawn])
    def x_of(field: str) -> alt.X:  # every layer the same axis, or Vega-Lite merges in a default one
        return alt.X(field, title=zone, scale=alt.Scale(type="utc"), axis=alt.Axis(format="%d %b %H:%M", labelOverlap=True))  # a utc scale formats in UTC

    x = x_of("start:T")
    tooltip = [alt.Tooltip("what:N", title="expiry"), alt.Tooltip("from:N", title="from"), alt.Tooltip("to:N", title="to")]
    base = alt.Chart(bars).encode(
        x=x,
        x2="end:T",
        y=alt.Y("row:N", axis=None),
        color=alt.Color("what:N", scale=colours, legend=alt.Legend(title=None, orient="top", direction="horizontal", columns=2)),
        tooltip=tooltip,
    )
    nominal = base.transform_filter(alt.datum.what == "nominal (promised)").mark_bar(size=26, cornerRadius=3)
    real = base.transform_filter(alt.datum.what != "nominal (promised)").mark_bar(size=12, cornerRadius=3)
    layers: list[alt.Chart] = [nominal, real]
    at = e.at or datetime.now(UTC)
    ends = max(e.nominal_expires_at, e.effective_expires_at or e.nominal_expires_at)
    span = max(ends - e.signed_at, timedelta(minutes=1))
    # A moment years away from the link's life would squash its bars to a line: then the chart leaves it out.
    if e.signed_at - span <= at <= ends + span:
        label_text = "now" if abs(at - datetime.now(UTC)) < timedelta(minutes=2) else "chosen time"
        moment = pd.DataFrame([{"at": wall(at), "when": said(at), "label": label_text, "row": "link"}])
        layers.append(
            alt.Chart(moment).mark_rule(color="#111", strokeWidth=2, strokeDash=[4, 3]).encode(x=x_of("at:T"), tooltip=[alt.Tooltip("when:N", title=label_text)])
        )
        layers.append(alt.Chart(moment).mark_text(align="left", dx=4, dy=-18, fontSize=11, color="#111").encode(x=x_of("at:T"), text="label:N"))
    return alt.LayerChart(layer=layers, height=60)
