"""Signers: what the desk signs with, what each strategy can give now, which live links are at risk, what a rotation would kill."""

from datetime import UTC, datetime, timedelta

import streamlit as st

from dashboard import issuing, signers
from dashboard.durations import format_duration
from dashboard.errors import DeskError
from dashboard.safetext import md, md_code
from dashboard.signers_view import Line, ambient_lines, at_risk_frame, cloudfront_lines, countdown, links_frame, reach_frame, reach_lines, role_lines, signer_lines
from dashboard.timefmt import DATETIME_FORMAT, local, zone_name
from dashboard.ui.frame import fail, guard, viewer_tz
from dashboard.ui.identity import identity, missing_issuer_message

desk = guard()
st.title("Signers")
st.caption("The credentials behind every link the desk signs, how long each strategy can make a link last right now, and which live links depend on what.")
tz = viewer_tz()
RESCUED = "signers.rescued"
ASKING = "signers.asking"
try:
    health = signers.health(desk)
    risky = signers.at_risk(desk, health.checked_at)
    signer_rotation, cloudfront_rotation = signers.rotation_impact(desk, health.checked_at)
except DeskError as exc:
    fail(str(exc))
for warning in health.warnings:
    st.warning(md(warning), icon=":material/warning:")


def lines(found: list[Line]) -> None:
    st.markdown("  \n".join(f"**{md(label)}** · {md_code(value) if code else md(value)}" for label, value, code in found))


left, right = st.columns(2)
with left.container(border=True):
    st.subheader("The desk's own credentials")
    a = health.ambient
    if a.problem:
        st.info(md(a.problem), icon=":material/key_off:")
    else:
        lines(ambient_lines(health))

        @st.fragment(run_every=timedelta(seconds=1))
        def ticking() -> None:
            st.metric("Expires in", countdown(a.expires_at, datetime.now(UTC)), local(a.expires_at, tz, missing="") or None, delta_color="off", delta_arrow="off")

        ticking()
with right.container(border=True):
    st.subheader("Signing role")
    lines(role_lines(health, tz))
    if health.role.denied:
        st.info(md(health.role.denied.sentence), icon=":material/lock:")
with left.container(border=True):
    st.subheader("Signer user's key")
    lines(signer_lines(health.signer, health.checked_at, tz))
    if health.signer.denied:
        st.info(md(health.signer.denied.sentence), icon=":material/lock:")
with right.container(border=True):
    st.subheader("CloudFront key pair")
    lines(cloudfront_lines(health))

st.subheader("What each strategy can give a link issued now")
st.dataframe(
    reach_frame(health.reach, tz),
    hide_index=True,
    width="stretch",
    column_config={"Real expiry": st.column_config.DatetimeColumn(format=DATETIME_FORMAT)},
)
for strategy, why, _ in reach_lines(health.reach):
    st.caption(f"**{md(strategy)}** — {md(why)}")

st.subheader(f"Links at risk ({len(risky)})")
st.caption(f"Live links whose credentials end before their promise, soonest first. Times in {zone_name(tz)}.")
if not risky:
    st.success("No live link will be cut short by its credentials.", icon=":material/verified:")
else:
    table = st.dataframe(
        at_risk_frame(risky, health.checked_at, tz),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="signers.at_risk",
        column_order=["Log id", "Dies at", "Left", "Lost", "Object", "Ticket", "Issuer", "Strategy", "Promised until"],
        column_config={c: st.column_config.DatetimeColumn(format=DATETIME_FORMAT) for c in ("Dies at", "Promised until")},
    )
    rows = table.selection.rows
    if not rows:
        st.caption("Select a link to re-issue it with the recommended strategy for the rest of its promise.")
    else:
        chosen = risky[rows[0]].entry
        actor = identity(desk)
        plan = signers.plan_rescue(desk, chosen, actor, health.checked_at)
        st.caption(md(plan.why))
        if not actor:
            st.info(md(missing_issuer_message(desk)), icon=":material/badge:")
        elif plan.possible:
            assert plan.request is not None

            @st.dialog("Re-issue this link?", on_dismiss=lambda: st.session_state.pop(ASKING, None))
            def confirm() -> None:
                st.markdown(f"**Object** · {md_code(f's3://{chosen.bucket}/{chosen.key}')}  \n**Ticket** · {md(chosen.ticket or 'none')}  \n**Issued by** {md(chosen.issuer)}, re-issued by {md(actor.name)}")
                st.markdown(f"A new **{md(plan.strategy)}** link for {md(format_duration(plan.request.lifetime))}, recorded in the log before it is shown.")
                go, cancel = st.columns(2)
                if go.button("Issue the new link", type="primary", key="signers.issue"):
                    try:
                        st.session_state[RESCUED] = (chosen.id, signers.rescue(desk, plan, actor))
                    except DeskError as exc:
                        st.session_state[RESCUED] = (chosen.id, str(exc))
                    st.session_state.pop(ASKING, None)
                    st.rerun()
                if cancel.button("Cancel", key="signers.cancel"):
                    st.session_state.pop(ASKING, None)
                    st.rerun()

            earlier = st.session_state.get(RESCUED)
            again = f" again (already re-issued as log entry {earlier[1].entry.id})" if earlier and earlier[0] == chosen.id and not isinstance(earlier[1], str) else ""
            if st.button(f"Re-issue link {chosen.id} with {plan.strategy}{again}…", icon=":material/autorenew:", key=f"signers.rescue:{chosen.id}"):
                st.session_state[ASKING] = chosen.id
            if st.session_state.get(ASKING) == chosen.id:
                confirm()
        done = st.session_state.get(RESCUED)
        if done and done[0] == chosen.id:  # never under another link
            if isinstance(done[1], str):
                st.error(md(f"No link was issued. {done[1]}"), icon=":material/error:")
            else:
                st.markdown(f"**New link** (log entry {done[1].entry.id}) · {md(done[1].entry.reason)}")
                st.code(done[1].url, language=None, wrap_lines=True)
                st.code(issuing.customer_message([done[1]]), language=None, wrap_lines=True)

st.subheader("Rotation impact")
for rotation, column in zip((signer_rotation, cloudfront_rotation), st.columns(2)):
    with column:
        st.metric(f"Live links that depend on {rotation.what}", f"{len(rotation.links):,}", rotation.key_id or "not configured", delta_color="off", delta_arrow="off", border=True)
        if rotation.links:
            with st.expander(f"Deactivating or rotating it ends these {len(rotation.links):,} links"):
                st.dataframe(links_frame(rotation.links, tz), hide_index=True, width="stretch", column_config={c: st.column_config.DatetimeColumn(format=DATETIME_FORMAT) for c in ("Issued", "Expires")})
st.caption("Stable links are not listed: each click mints a fresh URL with the key the desk holds at that moment, so they keep working once the desk has the new key.")
