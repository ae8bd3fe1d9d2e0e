"""Inspect, the complaint desk: paste a link or type a ticket; see why it stopped working, probe it, re-issue it."""

from datetime import datetime, timezone

import streamlit as st

from dashboard import inspect as inspection
from dashboard import demo_history, issuing
from dashboard.charts import link_chart
from dashboard.durations import format_duration
from dashboard.errors import DeskError
from dashboard.probe import probe
from dashboard.ui.frame import fail, guard
from dashboard.ui.identity import issuer, missing_issuer_message

desk = guard()
st.title("Inspect")
who = issuer(desk)
REISSUED = "inspect.reissued"
PROBED = "inspect.probed"
STATES = {  # state -> (badge colour, icon, callout)
    "live": ("green", ":material/check_circle:", st.success),
    "cut-short": ("orange", ":material/content_cut:", st.warning),
    "expired": ("gray", ":material/schedule:", st.info),
    "revoked": ("red", ":material/block:", st.error),
    "not-yet-valid": ("blue", ":material/hourglass_top:", st.info),
}

if "q" in st.query_params and "inspect.text" not in st.session_state:
    st.session_state["inspect.text"] = st.query_params["q"]  # the timeline links here with ?q=<ticket>
text = st.text_input(
    "Link or ticket reference",
    key="inspect.text",
    placeholder="https://…?X-Amz-Signature=…   or   TCK-1042",
    help="An S3 (SigV4 or SigV2), CloudFront or Share Desk link, exactly as the customer received it; or the ticket it was sent under.",
)
now = datetime.now(timezone.utc).replace(microsecond=0)
at = now
if st.toggle("Judge at another moment", key="inspect.pick", help="By default the link is judged as it stands now."):
    st.session_state.setdefault("inspect.date", now.date())
    st.session_state.setdefault("inspect.time", now.time().replace(second=0))
    day, clock = st.columns(2)
    at = datetime.combine(day.date_input("Date (UTC)", key="inspect.date"), clock.time_input("Time (UTC)", key="inspect.time", step=60), timezone.utc)
if not text.strip():
    st.info("Paste the link a customer says “expired early”, or type the ticket it was sent under.", icon=":material/search:")
    if desk.is_demo and (sample := demo_history.cut_short_sample(desk)):
        st.button("Try a cut-short link from the demo's history", icon=":material/science:", key="inspect.sample", on_click=st.session_state.__setitem__, args=("inspect.text", sample[1]))
    st.stop()
try:
    found = inspection.lookup(desk.log, text, at=at)
except DeskError as exc:
    fail(str(exc))


def utc(moment: datetime | None, missing: str = "—") -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else missing


def show(e: inspection.Explanation, url: str | None) -> None:
    colour, icon, callout = STATES[str(e.state)]
    if e.state == "live" and (e.cut_short or e.effective_expires_at is None):
        callout = st.warning  # live now, but not for as long as it promised (or nobody knows how long)
    where = f"s3://{e.bucket}/{e.key}" if e.bucket else f"{e.host}/{e.key or ''}"
    st.badge(f"{e.state} at {e.at:%Y-%m-%d %H:%M} UTC", color=colour, icon=icon)
    callout(f"**{inspection.headline(e)}**  \n{e.reason}")
    left, right = st.columns(2)
    left.markdown(
        f"**Kind** · `{e.kind}`  \n**Object** · `{where}`  \n**Region** · {e.region or '—'}  \n"
        f"**Signed by** · `{e.access_key_id or 'unknown'}` ({e.credential_kind})"
    )
    real = utc(e.effective_expires_at, "unknown: the desk has no record")
    if e.cut_short and e.nominal_expires_at and e.effective_expires_at:
        real += f" ({format_duration(e.nominal_expires_at - e.effective_expires_at)} early)"
    right.markdown(
        f"**Signed at** · {utc(e.signed_at, 'not in the link')}  \n**Nominal expiry** · {utc(e.nominal_expires_at)}  \n"
        f"**Real expiry** · {real}  \n**Bound by** · {e.bound_by}"
    )
    chart = link_chart(e)
    if chart is not None:
        st.altair_chart(chart, width="stretch")
    for warning in e.warnings:
        st.caption(f":material/warning: {warning}")
    if e.log_entry is None:
        st.caption(f"`{e.display_url}`")
    else:
        ticket = f", ticket {e.log_entry.ticket}" if e.log_entry.ticket else ""
        with st.expander(f"Log entry {e.log_entry.id}: {e.log_entry.strategy}, issued by {e.log_entry.issuer} at {utc(e.log_entry.issued_at)}{ticket}"):
            st.dataframe([{"Field": k, "Value": "" if v is None else str(v)} for k, v in inspection.to_json(e)["log_entry"].items()], hide_index=True, width="stretch")
    if url is not None:
        if st.button("Probe it now", icon=":material/network_check:", key="inspect.probe", help="One ranged GET (the first byte) to the link, without credentials or cookies; redirects are not followed. Probing a stable link counts as a click."):
            st.session_state[PROBED] = (url, probe(url))
        probed = st.session_state.get(PROBED)
        if probed and probed[0] == url:
            answer = probed[1]
            st.info(f"**{answer.status or 'No answer'}{' ' + answer.code if answer.code else ''}** — {answer.meaning}", icon=":material/network_check:")
    reissue_panel(e)


def reissue_panel(e: inspection.Explanation) -> None:
    st.subheader("Re-issue")
    plan = inspection.plan_reissue(desk, e, who or "")
    st.caption(plan.why)
    if not plan.possible:
        return
    assert plan.request is not None
    if not who:
        st.caption(missing_issuer_message(desk))
    label = f"Re-issue with {plan.strategy} for {format_duration(plan.request.lifetime)}"
    if st.button(label, type="primary", icon=":material/autorenew:", key="inspect.reissue", disabled=not who):
        try:
            st.session_state[REISSUED] = (e.log_entry.id if e.log_entry else e.display_url, inspection.reissue(desk, plan))
        except DeskError as exc:
            fail(f"No link was issued. {exc}")
    done = st.session_state.get(REISSUED)
    if done and done[0] == (e.log_entry.id if e.log_entry else e.display_url):
        link = done[1]
        st.markdown(f"**New link** (log entry {link.entry.id}) · {link.entry.reason}")
        st.code(link.url, language=None, wrap_lines=True)
        st.code(issuing.customer_message([link]), language=None, wrap_lines=True)


if not inspection.is_ticket_reference(text):
    show(found[0], text.strip())
    st.stop()
if not found:
    fail(f"No link in the log has the ticket reference {text.strip()[:64]!r}: check it, or paste the link itself.")
under = f"under {text.strip()}" if found[0].log_entry and found[0].log_entry.ticket == text.strip() else "for that token"  # never echo a token
st.caption(f"{len(found)} link(s) {under}, newest first. Select one to see it in full.")
table = st.dataframe(
    inspection.ticket_rows(found),
    hide_index=True,
    width="stretch",
    on_select="rerun",
    selection_mode="single-row",
    key="inspect.table",
    column_config={
        **{name: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z") for name in ("Issued", "Real expiry", "Nominal expiry")},
        "At a glance": st.column_config.TextColumn(width="large"),
    },
    column_order=["Log id", "State", "At a glance", "Strategy", "Object", "Issued", "Issuer", "Real expiry", "Nominal expiry"],
)
rows = table.selection.rows or ([0] if len(found) == 1 else [])
if rows:
    show(found[rows[0]], None)
