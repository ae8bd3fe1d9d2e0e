"""Stable links: every desk link by state (live, expired, revoked), its clicks, and revoke or extend after a dialog."""

from datetime import datetime, timezone

import streamlit as st

from dashboard import stable_admin
from dashboard.ui import stable
from dashboard.ui.frame import guard, viewer_tz
from dashboard.ui.identity import issuer
from dashboard.timefmt import zone_name

desk = guard()
tz = viewer_tz()
st.title("Stable links")
who = issuer(desk)
now = datetime.now(timezone.utc)
stable.flash()

counts = stable_admin.counts(desk, now)
listing = st.segmented_control(
    "Show", stable_admin.LISTINGS, default="live", key="stable.listing", format_func=lambda name: f"{name.capitalize()} ({counts[name]:,})"
) or "live"
links = stable_admin.links(desk, listing, now)
if not links:
    if listing == "live":
        st.info("No stable link is live. Issue one on **Share** with the `stable` strategy.", icon=":material/info:")
    else:
        st.info(f"No stable link is {listing if listing != 'all' else 'recorded'} yet.", icon=":material/info:")
    st.stop()

shown = f"the newest {len(links):,} of {counts[listing]:,}" if counts[listing] > len(links) else f"{len(links):,}"
st.caption(f"{shown.capitalize()} {listing if listing != 'all' else ''} stable link(s), newest first. Times in your time zone, {zone_name(tz)}.")
if not who:
    st.info("Type your name in the sidebar to revoke or extend a link: the log records who did.", icon=":material/badge:")
for link in stable.page_of(links, listing):
    stable.card(desk, link, now, tz, who)
stable.dialogs(desk, who, tz)
