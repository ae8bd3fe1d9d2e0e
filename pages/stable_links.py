"""Stable links: every desk link by state (live, expired, revoked), its clicks, and revoke or extend after a dialog."""

from datetime import datetime, timezone

import streamlit as st

from dashboard import stable_admin
from dashboard.safetext import md
from dashboard.store import LogError
from dashboard.timefmt import zone_name
from dashboard.ui import stable
from dashboard.ui.frame import fail, guard, viewer_tz
from dashboard.ui.identity import identity, missing_issuer_message

desk = guard()
tz = viewer_tz()
st.title("Stable links")
who = identity(desk)
now = datetime.now(timezone.utc)
stable.flash()

try:
    counts = stable_admin.counts(desk, now)
    listing = st.segmented_control(
        "Show", stable_admin.LISTINGS, default="live", required=True, key="stable.listing",
        format_func=lambda name: f"{name.capitalize()} ({counts[name]:,})",
    )  # fmt: skip
    links = stable_admin.links(desk, listing, now)
except LogError as exc:
    fail(str(exc))
if not links:
    st.info(
        "No stable link is live. Issue one on **Share** with the `stable` strategy." if listing == "live" else f"No {listing} stable link.",
        icon=":material/info:",
    )
    st.stop()

shown = f"The newest {len(links):,} of {counts[listing]:,}" if counts[listing] > len(links) else f"{len(links):,}"
st.caption(f"{shown} {'' if listing == 'all' else listing + ' '}stable link(s), newest first. Times in your time zone, {zone_name(tz)}.")
if not who:
    st.info(md(missing_issuer_message(desk)), icon=":material/badge:")
try:
    for link in stable.page_of(links, listing):
        stable.card(desk, link, now, tz, who)
except LogError as exc:
    fail(str(exc))
stable.dialogs(desk, who, tz)
