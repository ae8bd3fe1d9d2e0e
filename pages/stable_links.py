"""Stable links: the live desk links, their clicks, revoke and extend."""

from datetime import datetime, timedelta, timezone

import streamlit as st

from dashboard import stable_admin
from dashboard.errors import DeskError
from dashboard.tables import stable_frame
from dashboard.ui.frame import fail, guard
from dashboard.ui.identity import identity, missing_issuer_message

desk = guard()
st.title("Stable links")
who = identity(desk)
now = datetime.now(timezone.utc)

links = stable_admin.live_links(desk, now)
if not links:
    st.info("No stable link is live. Issue one on **Share** with the `stable` strategy.", icon=":material/info:")
    st.stop()

st.caption(f"{len(links)} live stable link(s), newest first. Select one to revoke or extend it.")
table = st.dataframe(
    stable_frame(links, now),
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="stable.table",
    column_config={
        "id": st.column_config.NumberColumn("Log id", format="%d"),
        "Issued": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Expires": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Last click": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
    },
)
rows = table.selection.rows
if not rows:
    st.stop()
link = links[rows[0]]
st.subheader(f"Link {link.entry.id}: {link.entry.key}")
st.caption(link.entry.reason)
clicks = desk.log.clicks_for(link.entry.id, limit=20)
if clicks:
    st.dataframe(
        [{"At": c.at, "Status": c.status, "Client IP": c.client_ip or "", "User agent": c.user_agent or ""} for c in clicks],
        hide_index=True,
        width="stretch",
        column_config={"At": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss z")},
    )
if not who:
    st.info(missing_issuer_message(desk), icon=":material/badge:")
    st.stop()

left, right = st.columns(2)
with left:
    if st.button("Revoke now", type="primary", icon=":material/block:", key="stable.revoke"):
        try:
            stable_admin.revoke(desk, link.entry.id, who)
        except DeskError as exc:
            fail(str(exc))
        st.toast(f"Link {link.entry.id} revoked: its next click gets a 'withdrawn' page.")
        st.rerun()
with right:
    days = st.number_input("Extend to (days from now)", min_value=1, max_value=desk.settings.stable_max_days, value=7, key="stable.days")
    if st.button("Extend", icon=":material/update:", key="stable.extend"):
        try:
            stable_admin.extend(desk, link.entry.id, who, now + timedelta(days=int(days)))
        except DeskError as exc:
            fail(str(exc))
        st.toast(f"Link {link.entry.id} now runs {int(days)} more day(s).")
        st.rerun()
