"""Inspect, the complaint desk: paste a link, an e-mail or a ticket; see why it stopped working, probe it, re-issue it."""

import streamlit as st

from dashboard import demo_history
from dashboard import inspect as inspection
from dashboard.errors import DeskError
from dashboard.safetext import md
from dashboard.ui import inspect_view as view
from dashboard.ui.frame import fail, guard, viewer_tz
from dashboard.ui.identity import issuer

desk = guard()
st.title("Inspect", anchor=False)  # a heading anchor fetches its icon from fonts.gstatic.com: nothing leaves the desk
who = issuer(desk)
tz = viewer_tz()
view.seed_from_query()
text = st.text_area(
    "Link or ticket reference",
    key=view.TEXT,
    height=90,
    placeholder="https://…?X-Amz-Signature=…   or   TCK-1042   (a whole e-mail works too)",
    help="An S3 (SigV4 or SigV2), CloudFront or Share Desk link as the customer received it, even inside an e-mail, "
    "a chat message or a Safe Links / URL Defense wrapper; or the ticket it was sent under. Ctrl+Enter to inspect.",
)
at = view.moment(tz)
if text.strip():
    st.session_state.pop(view.ENTRY, None)  # a paste replaces the log entry a timeline link opened
view.forget_when_the_input_changes(text or f"id:{st.session_state.get(view.ENTRY)}")
try:
    found = inspection.inspect_input(desk.log, text, entry_id=st.session_state.get(view.ENTRY), at=at)
except DeskError as exc:
    fail(md(str(exc)))

if found.what == "empty":
    st.info("Paste the link a customer says “expired early” (or the whole e-mail), or type the ticket it was sent under.", icon=":material/search:")
    if desk.is_demo and (sample := demo_history.cut_short_sample(desk)):
        st.button("Try a cut-short link from the demo's history", icon=":material/science:", key="inspect.sample", on_click=st.session_state.__setitem__, args=(view.TEXT, sample[1]))
    st.stop()
if found.what == "entry":
    st.caption(md(f"Log entry {found.explanations[0].log_entry.id}, as the link you followed names it."))
    view.show(desk, found.explanations[0], tz, who, probe_allowed=False)
    st.stop()
if found.what == "links":
    if len(found.explanations) == 1:
        view.show(desk, found.explanations[0], tz, who, probe_allowed=True)
        st.stop()
    st.caption(f"{len(found.explanations)} links found in what was pasted; each is explained in its own tab.")
    for tab, (number, e) in zip(st.tabs([view.tab_label(n, e) for n, e in enumerate(found.explanations, 1)]), enumerate(found.explanations, 1)):
        with tab:
            view.show(desk, e, tz, who, probe_allowed=True)
    st.stop()
if not found.explanations:
    fail(md(f"No link in the log has the ticket reference {text.strip()[:64]!r}: check it, or paste the link itself."))
under = f"under {md(found.ticket)}" if found.what == "ticket" else "for that token"  # never echo a token
st.caption(f"{len(found.explanations)} link(s) {under}, newest first. Select one to see it in full.")
table = view.ticket_table(found.explanations, tz)
rows = table.selection.rows or ([0] if len(found.explanations) == 1 else [])
if rows:
    view.show(desk, found.explanations[rows[0]], tz, who, probe_allowed=False)
