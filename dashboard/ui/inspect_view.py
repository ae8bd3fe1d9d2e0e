"""How the Inspect page draws an explanation: verdict, facts, chart, the live probe and the re-issue.

Everything a link carries is outside text (its host, key, signed headers,
policy, the server's answer), and so are the log's tickets and names: it
reaches Markdown only through :func:`~dashboard.safetext.md` or
:func:`~dashboard.safetext.md_code`, and raw text only through ``st.code``,
``st.text`` and table cells. Times are the viewer's, zone named.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import inspect as inspection
from dashboard import issuing
from dashboard.aws import source_name
from dashboard.charts import link_chart
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import DeskError
from dashboard.inspect import Explanation, ReissuePlan
from dashboard.safetext import md, md_code, visible
from dashboard.timefmt import DATETIME_FORMAT, in_zone, local, zone_name
from dashboard.ui.identity import identity, missing_issuer_message
from dashboard.urlparse import LinkKind

TEXT = "inspect.text"
ENTRY = "inspect.entry"  # the log id from ?id=, shown while the box is empty
PROBES = "inspect.probes"  # {"for": <input>, "answers": {link key: (ProbeResult, probed_at)}}
REISSUED = "inspect.reissued"  # {link key: [IssuedLink, ...]}
CONFIRM = "inspect.confirm"  # the link key whose re-issue waits for a confirmation

STATES: dict[str, tuple[Any, str, Callable[..., Any]]] = {  # state -> (badge colour, icon, callout)
    "live": ("green", ":material/check_circle:", st.success),
    "at-risk": ("orange", ":material/warning:", st.warning),
    "cut-short": ("orange", ":material/content_cut:", st.warning),
    "expired": ("gray", ":material/schedule:", st.info),
    "revoked": ("red", ":material/block:", st.error),
    "not-yet-valid": ("blue", ":material/hourglass_top:", st.info),
}


def seed_from_query() -> None:
    """``?q=<ticket or link>`` fills the box and ``?id=<log id>`` opens one log entry, each time the address asks anew.

    Only a change of the address counts: once the viewer types, what they
    typed wins until they follow another link here (a timeline row, say).
    """
    asked = (st.query_params.get("q"), st.query_params.get("id"))
    if st.session_state.get("inspect.query") == asked:
        return
    st.session_state["inspect.query"] = asked
    q, entry = asked
    if entry:
        st.session_state[TEXT] = ""
        st.session_state[ENTRY] = entry
    elif q:
        st.session_state[TEXT] = q
        st.session_state.pop(ENTRY, None)


def moment(tz: tzinfo) -> datetime:
    """Now, or the moment the viewer picks (in their own zone)."""
    now = datetime.now(UTC).replace(microsecond=0)
    if not st.toggle("Judge at another moment", key="inspect.pick", help="By default the link is judged as it stands now."):
        return now
    here = now.astimezone(tz)
    st.session_state.setdefault("inspect.date", here.date())
    st.session_state.setdefault("inspect.time", here.time().replace(second=0, microsecond=0))
    day, clock = st.columns(2)
    zone = zone_name(tz)
    picked_day: date = day.date_input(f"Date ({zone})", key="inspect.date")
    picked_time: time = clock.time_input(f"Time ({zone})", key="inspect.time", step=60)
    return datetime.combine(picked_day, picked_time).replace(tzinfo=tz).astimezone(UTC)


def link_key(e: Explanation) -> str:
    """A stable, non-secret key for one link on the page (its URL is a secret: hash it)."""
    basis = e.url or (f"entry:{e.log_entry.id}" if e.log_entry else e.display_url or "")
    return hashlib.sha256(basis.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def forget_when_the_input_changes(text: str) -> None:
    """Probe answers and issued links belong to the input they were made for: a new paste clears them."""
    probes = st.session_state.get(PROBES)
    if probes is None or probes.get("for") != text:
        st.session_state[PROBES] = {"for": text, "answers": {}}
        st.session_state[REISSUED] = {}
        st.session_state.pop(CONFIRM, None)


# --------------------------------------------------------------------------- one link


def show(desk: Desk, e: Explanation, tz: tzinfo, who: str | None, *, probe_allowed: bool) -> None:
    """Everything about one link: its verdict (after the probe's answer, when there is one), facts, chart, probe, re-issue."""
    key = link_key(e)
    asked, e = e, _with_stored_answer(e, key)  # the probe asks with the explanation as the log and URL give it
    colour, icon, callout = STATES.get(str(e.state), ("gray", ":material/help:", st.info))
    if inspection.is_alive(e.state) and (e.cut_short or e.effective_expires_at is None):
        callout = st.warning  # live now, but not for as long as it promised (or nobody knows how long)
    st.badge(md(f"{e.state} at {local(e.at, tz)}"), color=colour, icon=icon)
    callout(f"**{md(inspection.headline(e, tz))}**  \n{md(e.reason)}")
    if e.model_reason is not None:
        st.caption(f"The log and the URL alone said: {md(e.model_reason)}")
    _facts(e, tz)
    chart = link_chart(e, tz)
    if chart is not None:
        st.altair_chart(chart, width="stretch", height=170)
    for note in e.found_by:
        st.caption(f":material/mail: {md(note[:1].upper() + note[1:])}")
    for warning in e.warnings:
        st.caption(f":material/warning: {md(warning)}")
    if e.log_entry is None:
        st.code(visible(e.display_url or ""), language=None, wrap_lines=True)
    else:
        _log_entry(e, tz)
    if probe_allowed and e.url is not None:
        _probe(desk, asked, e, key)
    _reissue(desk, e, key, who, tz)


def _with_stored_answer(e: Explanation, key: str) -> Explanation:
    from dashboard.verdict import reconcile

    stored = st.session_state.get(PROBES, {}).get("answers", {}).get(key)
    return reconcile(e, stored[0], stored[1]) if stored else e


def _facts(e: Explanation, tz: tzinfo) -> None:
    entry = e.log_entry
    where = f"s3://{e.bucket}/{e.key}" if e.bucket else f"{e.host}/{e.key or ''}"
    left = [f"**Kind** · {md_code(e.kind)}", f"**Object** · {md_code(where)}"]
    if e.kind is LinkKind.STABLE:
        issuer = entry.issuer if entry else "unknown"
        left += [f"**Issued by** · {md(issuer)}", "**Signed by** · each click is signed afresh by the best signer the desk has"]
    else:
        source = f", from {md(source_name(e.credential_source))}" if e.credential_source else ""
        left += [f"**Region** · {md(e.region or '—')}", f"**Signed by** · {md_code(e.access_key_id or 'unknown')} — {md(e.credential_kind)}{source}"]
    real = local(e.effective_expires_at, tz, seconds=True, missing="unknown: the desk has no record")
    if e.cut_short and e.nominal_expires_at and e.effective_expires_at:
        real += f" ({format_duration(e.nominal_expires_at - e.effective_expires_at)} early)"
    right = [
        f"**Signed at** · {md(local(e.signed_at, tz, seconds=True, missing='not in the link'))}",
        f"**Nominal expiry** · {md(local(e.nominal_expires_at, tz, seconds=True))}",
        f"**Real expiry** · {md(real)}",
        f"**Bound by** · {md(e.bound_by)}",
    ]
    if entry is not None and entry.revoked_at is not None:
        right.append(f"**Revoked** · {md(local(entry.revoked_at, tz, seconds=True))} by {md(entry.revoked_by or 'unknown')}")
    one, two = st.columns(2)
    one.markdown("  \n".join(left))
    two.markdown("  \n".join(right))


def _log_entry(e: Explanation, tz: tzinfo) -> None:
    entry = e.log_entry
    assert entry is not None
    ticket = f", ticket {entry.ticket}" if entry.ticket else ""
    label = f"Log entry {entry.id}: {entry.strategy}, issued by {entry.issuer} at {local(entry.issued_at, tz)}{ticket}"
    with st.expander(md(label)):
        fields = inspection.to_json(e)["log_entry"]
        st.dataframe([{"Field": k, "Value": "" if v is None else visible(v)} for k, v in fields.items()], hide_index=True, width="stretch")


# --------------------------------------------------------------------------- the probe


def _probe(desk: Desk, asked: Explanation, judged: Explanation, key: str) -> None:
    st.button(
        "Probe it now",
        icon=":material/network_check:",
        key=f"inspect.probe.{key}",
        on_click=_ask, args=(desk, asked, key),
        help="One ranged GET (the first byte) to the link's own server, without credentials or cookies; redirects are not "
        "followed, and hosts that are not the link's kind of server, or resolve to the desk's own network, are refused. "
        "Probing a stable link counts as a click.",
    )
    stored = st.session_state.get(PROBES, {}).get("answers", {}).get(key)
    if not stored:
        return
    answer, probed_at = stored
    head = f"{answer.status}{' ' + answer.code if answer.code else ''}" if answer.status is not None else ("Not sent" if answer.refused else "No answer")
    st.info(f"**{md(head)}** — {md(answer.meaning)}", icon=":material/network_check:")
    if answer.message:
        st.caption("The server's own words:")
        st.text(visible(answer.message))
    if judged.probe_note:
        st.caption(md(judged.probe_note))


def _ask(desk: Desk, e: Explanation, key: str) -> None:
    """Before the rerun: probe, and keep the answer (with when it was asked) until the input changes."""
    from dashboard.verdict import probe_now

    probed_at = datetime.now(UTC)
    probed = probe_now(e, desk.settings, now=probed_at)
    if probed.probe is not None:
        st.session_state.setdefault(PROBES, {"for": None, "answers": {}})["answers"][key] = (probed.probe, probed_at)


# --------------------------------------------------------------------------- re-issue


def _reissue(desk: Desk, e: Explanation, key: str, who: str | None, tz: tzinfo) -> None:
    st.subheader("Re-issue", anchor=False)
    plan = inspection.plan_reissue(desk, e, who or "", actor=identity(desk))
    st.caption(md(plan.why))
    if not plan.possible:
        return
    assert plan.request is not None
    if not who:
        st.caption(md(missing_issuer_message(desk)))
    issued = st.session_state.get(REISSUED, {}).get(key, [])
    entry = e.log_entry
    doubts = []
    if entry is not None and entry.revoked_at is not None:
        doubts.append(f"This link was revoked by {entry.revoked_by or 'someone'} at {local(entry.revoked_at, tz)}: re-issuing gives the customer access again.")
    if issued:
        doubts.append(f"A new link was already issued for it (log entry {issued[-1].entry.id}); another one makes a second working link.")
    label = f"Re-issue with {plan.strategy} for {format_duration(plan.request.lifetime)}"
    if issued:
        label = f"Issued as log entry {issued[-1].entry.id} — issue another"
    if st.session_state.get(CONFIRM) == key:
        st.warning(md(" ".join(doubts) + " Issue a new link anyway?"), icon=":material/help:")
        go, back = st.columns(2)
        go.button("Yes, issue a new link", type="primary", key=f"inspect.confirm.{key}", on_click=_issue, args=(desk, plan, key), disabled=not who)
        back.button("Cancel", key=f"inspect.cancel.{key}", on_click=st.session_state.pop, args=(CONFIRM, None))
    elif doubts:
        st.button(label, type="primary" if not issued else "secondary", icon=":material/autorenew:", key=f"inspect.reissue.{key}", disabled=not who, on_click=st.session_state.__setitem__, args=(CONFIRM, key))
    else:
        st.button(label, type="primary", icon=":material/autorenew:", key=f"inspect.reissue.{key}", disabled=not who, on_click=_issue, args=(desk, plan, key))
    failure = st.session_state.pop("inspect.failure", None)
    if failure:
        st.error(md(failure), icon=":material/error:")
    for link in issued:
        st.markdown(f"**New link** (log entry {link.entry.id}) · {md(link.entry.reason)}")
        st.code(link.url, language=None, wrap_lines=True)
        st.code(issuing.customer_message([link]), language=None, wrap_lines=True)


def _issue(desk: Desk, plan: ReissuePlan, key: str) -> None:
    st.session_state.pop(CONFIRM, None)
    try:
        link = inspection.reissue(desk, plan)
    except DeskError as exc:
        st.session_state["inspect.failure"] = f"No link was issued. {exc}"
        return
    st.session_state.setdefault(REISSUED, {}).setdefault(key, []).append(link)


# --------------------------------------------------------------------------- several links


def tab_label(number: int, e: Explanation) -> str:
    return md(f"Link {number}: {e.kind}, {e.state}")


def ticket_table(found: tuple[Explanation, ...], tz: tzinfo) -> Any:
    frame = pd.DataFrame(inspection.ticket_rows(found, tz))
    for name in ("Issued", "Real expiry", "Nominal expiry"):
        frame[name] = in_zone(frame[name], tz)
    return st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="inspect.table",
        column_config={
            **{name: st.column_config.DatetimeColumn(format=DATETIME_FORMAT) for name in ("Issued", "Real expiry", "Nominal expiry")},
            "At a glance": st.column_config.TextColumn(width="large"),
        },
        column_order=["Log id", "State", "At a glance", "Strategy", "Object", "Issued", "Issuer", "Real expiry", "Nominal expiry"],
    )

