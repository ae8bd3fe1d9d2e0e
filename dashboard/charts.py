"""Altair chart builders: a DataFrame in, a chart out, no Streamlit and no queries.

Times arrive timezone-aware and are sent to Vega-Lite as ISO strings with
their offset, so the browser draws them in the viewer's own time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

import altair as alt
import pandas as pd

from dashboard import timefmt
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


def _wall_clock(values: pd.Series, tz: tzinfo) -> pd.Series:
    """Moments as the viewer's wall-clock time, written as if UTC (``…Z``).

    Vega-Lite draws times in the *browser's* zone unless told to use UTC.
    Shifting into the viewer's zone here and drawing on a UTC scale shows
    exactly the zone the page names, whatever the browser thinks.
    """
    shown = pd.to_datetime(values, utc=True).dt.tz_convert(tz).dt.tz_localize(None)
    return shown.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _at_wall_clock(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%SZ")


#: Every zoom shows the date with the time, so no tick reads as a bare "06 PM".
_AXIS_FORMAT = "%d %b %H:%M"


def timeline_chart(frame: pd.DataFrame, now: datetime, tz: tzinfo = UTC) -> alt.LayerChart:
    """One row per link, newest at the top, from `dashboard.audit.rows_frame`.

    A light bar runs from issue to nominal expiry, a solid bar from issue to
    when the link really stops working; a dark tick marks where a cut-short
    link was cut, a hollow one where an at-risk link will be; a dashed rule
    marks now. Clicking a bar opens Inspect on that link. Times are the
    viewer's (``tz``, named under the axis); tooltips say them locally and in
    UTC, and every text in them is data (Vega's tooltip escapes it).
    """
    data = frame.assign(row=range(len(frame)))
    now_ts = pd.Timestamp(now)
    start = data["Issued"].min() if len(data) else now_ts - timedelta(days=1)
    latest = data["Nominal expiry"].max() if len(data) else now_ts
    end = min(max(latest, now_ts), now_ts + HORIZON)
    pad = (end - start) * 0.03
    for column in ("Issued", "Nominal expiry", "ends"):
        data[column] = _wall_clock(data[column], tz)
    x_scale = alt.Scale(type="utc", domain=[_at_wall_clock(start.to_pydatetime(), tz), _at_wall_clock((end + pad).to_pydatetime(), tz)])
    # utcFormat in a label expression, not format/formatType: Streamlit's Vega drops a "utc" formatType
    # back to its zoom-dependent default ("06 PM"), which loses the date.
    axis = alt.Axis(labelExpr=f"utcFormat(datum.value, '{_AXIS_FORMAT}')", labelOverlap=True, orient="top", grid=True, gridOpacity=0.4, labelFlush=True)
    y = alt.Y("row:O", axis=None, title=None)
    color = alt.Color(
        "Strategy:N",
        scale=strategy_scale(tuple(data["Strategy"].unique())),
        legend=alt.Legend(orient="bottom", direction="horizontal", columns=3, title=None, symbolOpacity=1, labelLimit=120),
    )
    tooltip = [
        alt.Tooltip("Object:N"),
        alt.Tooltip("Strategy:N"),
        alt.Tooltip("Issuer:N"),
        alt.Tooltip("Ticket:N"),
        alt.Tooltip("State:N"),
        alt.Tooltip("issued_text:N", title="Issued"),
        alt.Tooltip("nominal_text:N", title="Nominal expiry"),
        alt.Tooltip("ends_text:N", title="Stops working"),
        alt.Tooltip("Hours lost:Q", format=".1f"),
        alt.Tooltip("Why:N"),
        alt.Tooltip("Log id:Q", format="d", title="Log id (click: Inspect)"),
    ]
    base = alt.Chart(data).encode(y=y, color=color, tooltip=tooltip, href=alt.Href("Inspect:N"))
    x_title = f"Your time zone: {timefmt.zone_name(tz)}"
    nominal = base.mark_bar(opacity=0.35, clip=True, cursor="pointer").encode(
        x=alt.X("Issued:T", scale=x_scale, title=x_title, axis=axis), x2="Nominal expiry:T"
    )
    real = base.mark_bar(clip=True, cursor="pointer").encode(x=alt.X("Issued:T", scale=x_scale, title=x_title, axis=axis), x2="ends:T")
    cut = (
        alt.Chart(data)
        .transform_filter(alt.datum.cut_short)
        .mark_tick(color=_CUT_MARK, thickness=2, clip=True)
        .encode(x=alt.X("ends:T", scale=x_scale, title=x_title, axis=axis), y=y, tooltip=tooltip, href=alt.Href("Inspect:N"))
    )
    risk = (
        alt.Chart(data)
        .transform_filter(alt.datum.at_risk)
        .mark_tick(color=_CUT_MARK, thickness=1, opacity=0.6, strokeDash=[2, 2], clip=True)
        .encode(x=alt.X("ends:T", scale=x_scale, title=x_title, axis=axis), y=y, tooltip=tooltip, href=alt.Href("Inspect:N"))
    )
    rule_data = pd.DataFrame({"now": [_at_wall_clock(now, tz)], "label": ["now"]})
    at_now = alt.X("now:T", scale=x_scale, title=x_title, axis=axis)
    rule = alt.Chart(rule_data).mark_rule(color="#555", strokeDash=[4, 3]).encode(x=at_now)
    label = (
        alt.Chart(rule_data)
        .mark_text(align="left", dx=4, dy=-4, baseline="bottom", color="#555", fontSize=11)
        .encode(x=at_now, y=alt.value(0), text="label:N")
    )
    return alt.LayerChart(layer=[nominal, real, cut, risk, rule, label], height=_height(len(data)))


def cut_short_per_day_chart(frame: pd.DataFrame) -> alt.Chart:
    """Share of links cut short per day, from `dashboard.audit.per_day_frame`.

    Days are calendar days in the viewer's zone already, so they are drawn
    as UTC dates (a browser west of Greenwich must not shift them a day
    back), on a band per day so the first and last bars are whole. The bars
    are red: a share cut short is a bad figure, never the brand's green.
    """
    return (
        alt.Chart(frame)
        .mark_bar(color=STRATEGY_COLORS["ambient"], opacity=0.85)
        .encode(
            x=alt.X(
                "day:O",
                title=None,
                sort="ascending",
                axis=alt.Axis(labelExpr="utcFormat(toDate(datum.value + 'T00:00:00Z'), '%d %b')", labelOverlap=True, labelAngle=0),
            ),
            y=alt.Y("share:Q", title="Cut short", axis=alt.Axis(format="%", tickCount=3), scale=alt.Scale(domain=[0, 1])),
            tooltip=[
                alt.Tooltip("day:N", title="Day (your time zone)"),
                alt.Tooltip("issued:Q", title="Links issued", format=","),
                alt.Tooltip("cut_short:Q", title="Cut short now", format=","),
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
