"""Share: preview every strategy's real expiry, issue through one, hand out links and a message."""

import streamlit as st

from dashboard import catalog, issuing
from dashboard.durations import DurationError, parse_duration
from dashboard.errors import DeskError
from dashboard.strategies import ShareRequest
from dashboard.tables import issued_frame, preview_frame
from dashboard.ui.frame import fail, guard, selection
from dashboard.ui.identity import identity, missing_issuer_message

desk = guard()
st.title("Share")
actor = identity(desk)
who = actor.name if actor else None
ISSUED = "sharedesk.issued"

picked = list(selection().values())
typed = st.text_input("Object", placeholder="s3://bucket/path/to/file", help="Or pick files on Browse.", disabled=bool(picked))
if picked:
    st.caption(f"{len(picked)} object(s) picked on Browse: " + ", ".join(f"`{p['key']}`" for p in picked[:5]) + (" …" if len(picked) > 5 else ""))
    targets = [(p["bucket"], p["key"]) for p in picked]
elif typed:
    try:
        targets = [catalog.parse_s3_uri(typed)]
    except DeskError as exc:
        fail(str(exc))
else:
    st.info("Pick one or more files on **Browse**, or type an `s3://bucket/key` path above.", icon=":material/info:")
    st.page_link("../../pages/browse.py", label="Go to Browse", icon=":material/folder_open:")
    st.stop()

preset = st.segmented_control("Lifetime", [*issuing.LIFETIME_PRESETS, "Custom"], default="1 d", key="share.preset")
if preset == "Custom":
    try:
        lifetime = parse_duration(st.text_input("Custom lifetime", value="3d", help="e.g. 90s, 45m, 36h, 3d, 2w"))
    except DurationError as exc:
        fail(str(exc))
else:
    lifetime = issuing.LIFETIME_PRESETS[preset or "1 d"]

left, right = st.columns(2)
filename = left.text_input("Download file name (optional)", disabled=len(targets) > 1, help="What the customer's browser saves the file as.")
ticket = right.text_input("Ticket reference", placeholder="e.g. TCK-1042")
note = st.text_input("Note (kept in the log)")

try:
    requests = [
        ShareRequest(bucket=b, key=k, lifetime=lifetime, issuer=who or "", filename=filename or None, ticket=ticket, note=note)
        for b, k in targets
    ]
except DeskError as exc:  # e.g. a control character in the ticket or note
    fail(str(exc))
options = issuing.previews(desk, requests[0], actor=actor)
advice = issuing.recommend(options, lifetime)
st.subheader("Real expiry of each strategy")
st.dataframe(
    preview_frame(options, advice.strategy),
    hide_index=True,
    width="stretch",
    column_config={
        "Real expiry": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
        "Nominal expiry": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z"),
    },
    column_order=["", "Strategy", "Real expiry", "Nominal expiry", "Real life", "Bound by"],
)
for option in options:
    st.markdown(f"**{option.strategy}** — {option.expiry.reason if option.expiry else option.unavailable} *{option.risk}*")
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
)
if not who:
    fail(missing_issuer_message(desk))

if st.button(f"Issue {len(requests)} link{'s' if len(requests) > 1 else ''}", type="primary", icon=":material/link:"):
    bar = st.progress(0.0, text="Signing…") if len(requests) > 1 else None
    try:
        st.session_state[ISSUED] = issuing.issue(
            desk,
            requests,
            chosen,
            verify_objects=not picked,
            actor=actor,
            progress=(lambda done, total: bar.progress(done / total, text=f"Signed {done} of {total}")) if bar else None,
        )
    except DeskError as exc:
        st.session_state.pop(ISSUED, None)
        fail(f"No link was issued. {exc}")

issued = st.session_state.get(ISSUED) or []
if issued:
    st.subheader("Links (recorded in the issuance log)")
    for link in issued[:50]:
        st.markdown(f"**{link.entry.key}** · {link.entry.strategy} · {link.entry.reason}")
        st.code(link.url, language=None, wrap_lines=True)
    if len(issued) > 50:
        st.caption(f"… and {len(issued) - 50} more in the CSV.")
    st.markdown("**Message for the customer**")
    st.code(issuing.customer_message(issued[:50]), language=None, wrap_lines=True)
    if len(issued) > 1:
        st.download_button(
            "Download all links (CSV)",
            issued_frame(issued).to_csv(index=False),
            file_name="share-desk-links.csv",
            mime="text/csv",
            icon=":material/download:",
        )
