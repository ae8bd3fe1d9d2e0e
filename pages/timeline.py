"""Expiry timeline: every issued link's promised expiry against its real one, with the figures that matter."""

import streamlit as st

from dashboard import audit, charts
from dashboard.store import LogError
from dashboard.ui.frame import fail, guard

desk = guard()
st.title("Expiry timeline")
st.caption("Each link's promised (nominal) expiry against the moment it really stopped working, and how often links were cut short.")
LOG = desk.settings.database_url  # part of every cache key: one cache per log
tz = audit.viewer_zone(st.context.timezone)


@st.cache_data(ttl=300, show_spinner=False)
def filter_options(_desk, log: str) -> audit.Options:
    return audit.options(_desk.log)


@st.cache_data(ttl=60, show_spinner="Reading the issuance log…", max_entries=64)
def load(_desk, log: str, f: audit.AuditFilter, zone: str, limit: int) -> audit.Timeline:
    return audit.timeline(_desk.log, f, audit.viewer_zone(zone), limit)


choices = filter_options(desk, LOG)
with st.container(border=True):
    when, state = st.columns([3, 2])
    window = when.segmented_control("Issued", [*audit.WINDOWS, audit.CUSTOM], default=audit.DEFAULT_WINDOW, key="timeline.window")
    dates = when.date_input("From – to (your time zone)", value=audit.default_dates(tz), key="timeline.dates") if window == audit.CUSTOM else ()
    status = state.segmented_control("State now", list(audit.STATE_LABELS.values()), key="timeline.state", help="Leave unselected for every state.")
    who, how, where, prefix, ticket = st.columns([2, 2, 2, 2, 1.4])
    issuers = who.multiselect("Issuer", choices.issuers, key="timeline.issuers", placeholder="Everyone")
    strategies = how.multiselect("Strategy", choices.strategies, key="timeline.strategies", placeholder="All strategies")
    bucket = where.selectbox("Bucket", choices.buckets, index=None, key="timeline.bucket", placeholder="All buckets")
    prefix = prefix.text_input("Key prefix", key="timeline.prefix", placeholder="customers/acme/")
    ticket = ticket.text_input("Ticket", key="timeline.ticket", placeholder="TCK-1042")
size = st.session_state.get("timeline.size") or audit.DEFAULT_CHART_SIZE

try:
    f = audit.build_filter(window=window or audit.DEFAULT_WINDOW, dates=tuple(dates), tz=tz, strategies=strategies, issuers=issuers,
                           bucket=bucket, prefix=prefix, ticket=ticket, state=status)
except ValueError as exc:
    fail(str(exc))
try:
    result = load(desk, LOG, f, str(tz), size)
except LogError as exc:
    fail(str(exc))
s = result.summary

issued, cut, lost, daily = st.columns([1, 1, 1, 2.2])
issued.metric("Links issued", f"{s.issued:,}", border=True)
cut.metric("Cut short", audit.percent(s.share), f"{s.cut_short:,} links", delta_color="off", delta_arrow="off", border=True)
lost.metric("Median hours lost", audit.hours(s.median_hours_lost), "per cut-short link", delta_color="off", delta_arrow="off", border=True)
with daily:
    st.markdown("**Share cut short per day**")
    st.altair_chart(charts.cut_short_per_day_chart(audit.per_day_frame(result.per_day)), width="stretch")
if not s.issued:
    st.info("No link matches these filters. Widen the time window or clear a filter.", icon=":material/filter_alt_off:")
    st.stop()

split_config = {
    "Links": st.column_config.NumberColumn(format="localized"),
    "Cut short": st.column_config.NumberColumn(format="localized"),
    "Share cut short": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100),
    "Median lost": st.column_config.TextColumn(help="Median hours lost by the cut-short links"),
}
for column, splits, name in zip(st.columns(2), (result.by_strategy, result.by_issuer), ("Strategy", "Issuer")):
    height = "auto" if len(splits) <= 8 else 35 * 9 + 3  # a longer list scrolls
    column.dataframe(audit.splits_frame(splits, name), hide_index=True, width="stretch", column_config=split_config, height=height)

st.subheader("Every link: promised against real")
frame = audit.rows_frame(result.rows, f.now, tz)
shown, picker = st.columns([4, 1.2])
shown.caption(
    (f"The **{len(frame):,} most recent** of {s.issued:,} matching links; the figures above cover all of them. " if result.partial else f"All {s.issued:,} matching links. ")
    + "Light bar: issue to nominal expiry. Solid bar: issue to when it really stopped. Dark tick: cut short. Dashed line: now."
)
picker.segmented_control("Links charted", audit.CHART_SIZES, default=audit.DEFAULT_CHART_SIZE, key="timeline.size", format_func=lambda n: f"{n:,}")
st.altair_chart(charts.timeline_chart(frame, f.now), width="stretch")

st.dataframe(
    frame,
    hide_index=True,
    width="stretch",
    column_order=["Issued", "Object", "Strategy", "Issuer", "Ticket", "State", "Nominal expiry", "Real expiry", "Hours lost", "Life left", "Why", "Inspect", "Log id"],
    column_config={
        "Object": st.column_config.TextColumn(width="medium"),
        "Issued": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Nominal expiry": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Real expiry": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z", help="Empty when the credentials' expiry could not be seen."),
        "Hours lost": st.column_config.NumberColumn(format="%.1f"),
        "Life left": st.column_config.ProgressColumn(format="%.0f%%", min_value=0, max_value=100, help="Share of its real life the link still has."),
        "Inspect": st.column_config.LinkColumn(display_text="Inspect ticket", help="Opens the complaint desk on this link's ticket."),
        "Log id": st.column_config.NumberColumn(format="%d"),
    },
)
st.download_button(
    f"Download CSV (up to {audit.EXPORT_LIMIT:,} most recent matching links)",
    lambda: audit.export_csv(desk.log, f),
    file_name="share-desk-expiry-timeline.csv",
    mime="text/csv",
    icon=":material/download:",
    on_click="ignore",
    key="timeline.csv",
)
