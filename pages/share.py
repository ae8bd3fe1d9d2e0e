"""Share: preview every strategy's real expiry, issue through one, hand out links and a message."""

import streamlit as st

from dashboard import issuing
from dashboard.durations import DurationError, parse_duration
from dashboard.errors import DeskError
from dashboard.strategies import ShareRequest
from dashboard.ui import share
from dashboard.ui.frame import fail, guard, viewer_tz
from dashboard.ui.identity import identity, missing_issuer_message

desk = guard()
tz = viewer_tz()
st.title("Share")
actor = identity(desk)
who = actor.name if actor else None

try:
    chosen_objects = share.objects_box()
except DeskError as exc:
    fail(str(exc))
if chosen_objects is None:
    st.info("Pick one or more files on **Browse**, or type an `s3://bucket/key` path above.", icon=":material/info:")
    st.page_link("../../pages/browse.py", label="Go to Browse", icon=":material/folder_open:")
    st.stop()
targets, picked = chosen_objects

preset = st.segmented_control("Lifetime", [*issuing.LIFETIME_PRESETS, "Custom"], default="1 d", key="share.preset")
if preset == "Custom":
    try:
        lifetime = parse_duration(st.text_input("Custom lifetime", value="3d", help="e.g. 90s, 45m, 36h, 3d, 2w", key="share.custom"))
    except DurationError as exc:
        fail(str(exc))
else:
    lifetime = issuing.LIFETIME_PRESETS[preset or "1 d"]

left, right = st.columns(2)
filename = left.text_input("Download file name (optional)", disabled=len(targets) > 1, help="What the customer's browser saves the file as.", key="share.filename")
ticket = right.text_input("Ticket reference", placeholder="e.g. TCK-1042", key="share.ticket")
note = st.text_input("Note (kept in the log)", key="share.note")

try:
    requests = [
        ShareRequest(bucket=b, key=k, lifetime=lifetime, issuer=who or "", filename=(filename if len(targets) == 1 else None) or None, ticket=ticket, note=note)
        for b, k in targets
    ]
except DeskError as exc:  # e.g. a control character in the ticket or note
    fail(str(exc))
options = issuing.previews(desk, requests[0], actor=actor)
advice = issuing.recommend(options, lifetime)
st.subheader("Real expiry of each strategy")
share.strategy_cards(options, advice, tz)
if advice.strategy:
    st.success(advice.why, icon=":material/recommend:")
else:
    st.warning(advice.why, icon=":material/warning:")

available = [p.strategy for p in options if p.available]
if not available:
    fail("No strategy can issue this link: see the reasons above.")
chosen = st.radio(
    "Strategy",
    available,
    index=available.index(advice.strategy) if advice.strategy in available else 0,
    horizontal=True,
    key="share.strategy",
)
rid = share.request_id(requests, chosen)
if not who:
    share.current(rid)  # links issued under another name are dropped, not kept for later
    fail(missing_issuer_message(desk))

option = next(p for p in options if p.strategy == chosen)
share.issue_button(desk, requests, option, lifetime, tz, verify=not picked, actor=actor)
share.results(rid, tz)
