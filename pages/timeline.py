"""Expiry timeline: every issued link's promised expiry against its real one, with the figures that matter.

Every filter lives in the URL (``bind="query-params"``; the widget keys are
the parameter names), so a view can be pasted into a ticket. Streamlit keeps
a parameter across a page change when the new page binds it, so no key here
may be one another page writes: Browse's ``bucket`` and ``prefix`` would
otherwise filter the timeline by the folder just browsed.
"""

from datetime import timedelta

import streamlit as st

from dashboard import audit, charts, timefmt
from dashboard.durations import format_duration
from dashboard.safetext import md
from dashboard.store import LogError
from dashboard.ui.frame import fail, guard, viewer_tz

desk = guard()
st.title("Expiry timeline")
LOG = desk.settings.database_url  # part of every cache key: one cache per log
TOLERANCE = timedelta(seconds=desk.settings.cut_short_tolerance_seconds)
tz = viewer_tz()
forgiven = f"more than {format_duration(TOLERANCE)}" if TOLERANCE else "any time at all"
st.caption(
    "Each link's promised (nominal) expiry against the moment it really stopped working. "
    f"**Cut short**: it stopped, not by revocation, {forgiven} before its promise. "
    f"**At risk**: still working, but it will be cut short. Times in your time zone, {timefmt.zone_name(tz)}."
)


# Keyed on the log's version: a new link, revocation or extension is counted at once.
@st.cache_data(ttl=3600, show_spinner=False, max_entries=16)
def filter_options(_desk, log: str, version: audit.LogVersion) -> audit.Options:
    return audit.options(_desk.log)


@st.cache_data(ttl=3600, show_spinner="Reading the issuance log…", max_entries=64)
def load(_desk, log: str, version: audit.LogVersion, f: audit.AuditFilter, zone: str, limit: int) -> audit.Timeline:
    return audit.timeline(_desk.log, f, timefmt.viewer_zone(zone), limit)


@st.fragment(run_every=3)
def chain_status() -> None:
    """The log's hash chain: verified rows, a walk still under way (rechecked every few seconds), or the first row that does not match."""
    status = desk.log.chain_status()
    if status.state == "verified":
        st.caption(f":material/verified: {md(status.message)}")
    elif status.state == "checking":
        st.caption(f":material/hourglass_top: {md(status.message)}")
    elif status.state == "broken":
        st.error(md(status.message), icon=":material/gpp_bad:")
    else:
        st.warning(md(status.message), icon=":material/help:")


chain_status()

try:
    version = audit.version(desk.log)
    choices = filter_options(desk, LOG, version)
except LogError as exc:
    fail(str(exc))

bound = {"bind": "query-params"}
wrapped = {"wrap": True}  # every option visible, on two rows if need be (a scrolled-off "1,000" is no choice)
with st.container(border=True):
    when, state, size = st.columns([3.2, 2.6, 1.2])
    window = when.segmented_control("Issued", [*audit.WINDOWS, audit.CUSTOM], default=audit.DEFAULT_WINDOW, key="window", **bound, **wrapped)
    dates = when.date_input("From – to (your time zone)", value=audit.default_dates(tz), key="dates", **bound) if window == audit.CUSTOM else ()
    status = state.segmented_control("State now", list(audit.STATE_LABELS.values()), key="state", help="Leave unselected for every state.", **bound, **wrapped)
    who, how, where, prefix, ticket = st.columns([2, 2, 2, 2, 1.4])
    issuers = who.multiselect("Issuer", choices.issuers, key="issuer", placeholder="Everyone", **bound)
    strategies = how.multiselect("Strategy", choices.strategies, key="strategy", placeholder="All strategies", **bound)
    bucket = where.selectbox("Bucket", choices.buckets, index=None, key="in_bucket", placeholder="All buckets", **bound)
    prefix = prefix.text_input("Key prefix", key="key_prefix", placeholder="customers/acme/", **bound)
    ticket = ticket.text_input("Ticket", key="ticket", placeholder="TCK-1042", **bound)
    limit = size.segmented_control("Links charted", audit.CHART_SIZES, default=audit.DEFAULT_CHART_SIZE, key="links", format_func=lambda n: f"{n:,}", **bound, **wrapped)

try:
    f = audit.build_filter(window=window or audit.DEFAULT_WINDOW, dates=tuple(dates), tz=tz, strategies=strategies, issuers=issuers,
                           bucket=bucket, prefix=prefix, ticket=ticket, state=status, tolerance=TOLERANCE, now=audit.moment(version))
    result = load(desk, LOG, version, f, timefmt.zone_name(tz), limit or audit.DEFAULT_CHART_SIZE)
except ValueError as exc:
    fail(str(exc))
except LogError as exc:
    fail(str(exc))
s = result.summary

issued, cut, lost, risk = st.columns(4)
cards = {"border": True, "height": "stretch", "delta_color": "off", "delta_arrow": "off"}
issued.metric("Links issued", f"{s.issued:,}", "matching the filters", **cards)
cut.metric("Cut short", audit.percent(s.share), f"{s.cut_short:,} links", **cards)
lost.metric("Median hours lost", audit.hours(s.median_hours_lost), "per cut-short link", help=audit.MEDIAN_HELP, **cards)
risk.metric("At risk now", f"{s.at_risk:,}", "live, but will be cut short", **cards)
st.caption(f"States as of {timefmt.local(f.now, tz, seconds=True)}, counted over every matching link.")
st.markdown("**Share cut short per day issued**")
st.altair_chart(charts.cut_short_per_day_chart(audit.per_day_frame(result.per_day)), width="stretch")
if not s.issued:
    st.info("No link matches these filters. Widen the time window or clear a filter.", icon=":material/filter_alt_off:")
    st.stop()

split_config = {
    "Links": st.column_config.NumberColumn(format="localized", width="small"),
    "Cut short": st.column_config.NumberColumn(format="localized", width="small"),
    "Share cut short": st.column_config.ProgressColumn("Share", format="%.0f%%", min_value=0, max_value=100, color="red", width="small",
                                                       help="Share of the links cut short"),
    "Median lost": st.column_config.TextColumn(width="small", help="Median hours lost by the cut-short links"),
    "At risk": st.column_config.NumberColumn(format="localized", width="small", help="Live links that will be cut short"),
}
for column, splits, name in zip(st.columns(2), (result.by_strategy, result.by_issuer), ("Strategy", "Issuer")):
    height = "auto" if len(splits) <= 8 else 35 * 9 + 3  # a longer list scrolls
    config = {name: st.column_config.TextColumn(width="medium"), **split_config}
    column.dataframe(audit.splits_frame(splits, name), hide_index=True, width="stretch", column_config=config, height=height)

st.subheader("Every link: promised against real")
frame = audit.rows_frame(result.rows, f.now, tz)
st.caption(
    (f"The **{len(frame):,} most recent** of {s.issued:,} matching links; the figures above cover all of them. " if result.partial else f"All {s.issued:,} matching links. ")
    + "Light bar: issue to nominal expiry. Solid bar: issue to when it really stops. Dark tick: cut short; dotted tick: will be. "
    + "Dashed line: now. Click a bar to inspect that link."
)
st.altair_chart(charts.timeline_chart(frame, f.now, tz), width="stretch")

stamp = timefmt.DATETIME_FORMAT
st.dataframe(
    frame,
    hide_index=True,
    width="stretch",
    column_order=["Inspect", "Issued", "File", "State", "Strategy", "Issuer", "Ticket", "Nominal expiry", "Real expiry", "Hours lost", "Life left",
                  "Object", "Why", "Log id"],
    column_config={
        "Inspect": st.column_config.LinkColumn(display_text="Inspect", help="Opens the complaint desk on this link.", width="small"),
        "File": st.column_config.TextColumn(width="medium", help="The object's name; the whole key is under Object, and in the chart's tooltip."),
        "Object": st.column_config.TextColumn(width="large"),
        "Issued": st.column_config.DatetimeColumn(format=stamp),
        "Nominal expiry": st.column_config.DatetimeColumn(format=stamp),
        "Real expiry": st.column_config.DatetimeColumn(format=stamp, help="Empty when the credentials' expiry could not be seen."),
        "Hours lost": st.column_config.NumberColumn(format="%.1f", help="Hours of its promise the link loses when it is (or will be) cut short."),
        "Life left": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100, help="Share of its real life the link still has."),
        "Why": st.column_config.TextColumn(width="large"),
        "Log id": st.column_config.NumberColumn(format="%d"),
    },
)
st.download_button(
    f"Download CSV (up to {audit.EXPORT_LIMIT:,} most recent matching links)",
    lambda: audit.export_csv(desk.log, f, tz),
    file_name="share-desk-expiry-timeline.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    key="timeline.csv",
)
