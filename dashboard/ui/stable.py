"""Stable-links widgets: one card per link (it wraps on a phone), and revoke or extend only after a dialog that names it.

A revoke or extend is asked for by the card's button and done only from the
dialog, which names the link's object, ticket and issuer; nothing stays
selected afterwards, so no other customer's link is one click from being cut.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal

import streamlit as st

from dashboard import stable_admin
from dashboard.desk import Desk
from dashboard.errors import DeskError
from dashboard.identity import Identity
from dashboard.policy import policy_for
from dashboard.safetext import md, md_code
from dashboard.store import StableLink
from dashboard.tables import click_lines, stable_facts
from dashboard.timefmt import local, zone_name
from dashboard.ui.share import fact

_PENDING = "stable.pending"  # ("revoke" | "extend", link id)
_FLASH = "stable.flash"
_PAGE = "stable.page"
PER_PAGE = 20
BADGES: dict[str, Literal["green", "gray", "red"]] = {"live": "green", "expired": "gray", "revoked": "red"}
#: Facts typed by people (or sent by a proxy), shown escaped.
OUTSIDE = frozenset({"Ticket", "Issued by", "Revoked by"})


def flash() -> None:
    """The outcome of the last revoke or extend, once."""
    message = st.session_state.pop(_FLASH, None)
    if message:
        st.success(message, icon=":material/check_circle:")


def page_of(links: list[StableLink], listing: str) -> list[StableLink]:
    """The cards of the current page, with a pager when there are more than PER_PAGE."""
    pages = max(1, -(-len(links) // PER_PAGE))
    state = st.session_state.setdefault(_PAGE, {"listing": listing, "page": 0})
    if state["listing"] != listing:
        state.update(listing=listing, page=0)
    state["page"] = min(state["page"], pages - 1)
    if pages > 1:
        pager = st.container(horizontal=True, vertical_alignment="center")
        if pager.button("Newer", icon=":material/chevron_left:", disabled=state["page"] == 0, key="stable.newer"):
            state["page"] -= 1
            st.rerun()
        pager.caption(f"Page {state['page'] + 1} of {pages}")
        if pager.button("Older", icon=":material/chevron_right:", disabled=state["page"] == pages - 1, key="stable.older"):
            state["page"] += 1
            st.rerun()
    start = state["page"] * PER_PAGE
    return links[start : start + PER_PAGE]


def _ask(action: str, link_id: int) -> None:
    st.session_state[_PENDING] = (action, link_id)


def _refusal(desk: Desk, who: Identity | None, action: str, link: StableLink) -> str | None:
    """Why the sharing policy will not let this person revoke or extend this link, or None."""
    if who is None:
        return "The desk does not know who you are: the log records who revoked or extended a link, so sign in (or type your name) first."
    try:
        policy_for(desk.settings).check_rights(who, action, link.entry.issuer)
    except DeskError as exc:
        return str(exc)
    return None


def card(desk: Desk, link: StableLink, now: datetime, tz: tzinfo, who: Identity | None) -> None:
    e = link.entry
    state = stable_admin.state_of(link, now)
    with st.container(border=True, key=f"stable-card-{e.id}"):
        head = st.container(horizontal=True, vertical_alignment="center", gap="small")
        head.markdown(f"**Link {e.id}**", width="content")
        head.badge(state, color=BADGES[state])
        st.markdown(md_code(f"s3://{e.bucket}/{e.key}"))
        row = st.container(horizontal=True, gap="small")
        for label, value in stable_facts(link, now, tz):
            fact(row, label, value, outside=label in OUTSIDE, width=155)
        if state == "live":
            actions = st.container(horizontal=True, gap="small")
            for action, label, icon in (("revoke", "Revoke…", ":material/block:"), ("extend", "Extend…", ":material/update:")):
                why = _refusal(desk, who, action, link)
                actions.button(label, icon=icon, key=f"stable.{action}.{e.id}", on_click=_ask, args=(action, e.id), disabled=why is not None, help=md(why) if why else None)
        if link.clicks:
            with st.expander(f"Recent clicks ({min(link.clicks, 20)} of {link.clicks:,})"):
                for when, client in click_lines(desk.log.clicks_for(e.id, limit=20), tz):
                    st.markdown(f"{md(when)}  \n{md(client)}")


def _naming(link: StableLink, tz: tzinfo) -> str:
    e = link.entry
    ticket = f"ticket {md(e.ticket)}" if e.ticket else "no ticket"
    return (
        f"**Link {e.id}** for {md_code(f's3://{e.bucket}/{e.key}')}, {ticket}, issued by **{md(e.issuer)}** "
        f"on {local(e.issued_at, tz)}."
    )


def _done(message: str) -> None:
    st.session_state.pop(_PENDING, None)
    st.session_state[_FLASH] = message
    st.rerun()


def _cancel() -> None:
    st.session_state.pop(_PENDING, None)


def _asked(action: str) -> int:
    """The link the open dialog is about, read from the session on every run of the dialog.

    Never from the arguments the dialog was opened with: Streamlit may rerun a
    dialog of the same function from an earlier opening, and that one was about
    another link (a revoke must never fall on the link before).
    """
    pending = st.session_state.get(_PENDING)
    if pending is None or pending[0] != action:
        st.rerun()
    return int(pending[1])


@st.dialog("Revoke this link?", width="medium", on_dismiss=_cancel)
def _revoke_dialog(desk: Desk, who: Identity, tz: tzinfo) -> None:
    link_id = _asked("revoke")
    link = desk.log.get_stable(link_id)
    if link is None or link.entry.revoked_at is not None:
        st.info("This link is already revoked: nothing to do.", icon=":material/info:")
        if st.button("Close", key="stable.revoke.close"):
            _cancel()
            st.rerun()
        return
    st.markdown(_naming(link, tz))
    st.markdown(f"Its next click gets a “withdrawn” page instead of the file. This cannot be undone; it is recorded as revoked by **{md(who.name)}**.")
    yes, no = st.columns(2)
    if yes.button(f"Revoke link {link_id}", type="primary", icon=":material/block:", key="stable.revoke.confirm"):
        try:
            revoked = stable_admin.revoke(desk, link_id, who)
        except DeskError as exc:
            st.error(md(str(exc)), icon=":material/error:")
            return
        _done(f"Link {link_id} revoked by {md(who.name)} at {local(revoked.entry.revoked_at, tz)}: its next click gets a “withdrawn” page.")
    if no.button("Cancel", key="stable.revoke.cancel"):
        _cancel()
        st.rerun()


def extension_end(day: date, tz: tzinfo, latest: datetime) -> datetime:
    """The end of `day` in the viewer's zone, or the policy's latest moment when that comes first."""
    end = datetime.combine(day, time(23, 59), tzinfo=tz).astimezone(timezone.utc)
    return min(end, latest)


@st.dialog("Extend this link?", width="medium", on_dismiss=_cancel)
def _extend_dialog(desk: Desk, who: Identity, tz: tzinfo) -> None:
    link_id = _asked("extend")
    link = desk.log.get_stable(link_id)
    now = datetime.now(timezone.utc)
    if link is None or not link.live_at(now):
        st.info("Only a live link can be extended: issue a new link instead.", icon=":material/info:")
        if st.button("Close", key="stable.extend.close"):
            _cancel()
            st.rerun()
        return
    latest = stable_admin.latest_expiry(desk, link)
    first, last = now.astimezone(tz).date(), latest.astimezone(tz).date()
    suggested = min(max((link.expires_at + timedelta(days=7)).astimezone(tz).date(), first), last)
    st.markdown(_naming(link, tz))
    st.markdown(f"It works until **{local(link.expires_at, tz)}** now; the desk's policy allows at most **{local(latest, tz)}**.")
    day = st.date_input(f"New last day (your time zone, {zone_name(tz)})", value=suggested, min_value=first, max_value=last, key="stable.extend.day")
    until = extension_end(day, tz, latest)
    shown = local(until, tz)
    st.markdown(f"Link {link_id} will then work **until {shown}**, unless revoked.")
    yes, no = st.columns(2)
    if yes.button(f"Extend until {shown}", type="primary", icon=":material/update:", key="stable.extend.confirm"):
        try:
            stable_admin.extend(desk, link_id, who, until)
        except DeskError as exc:
            st.error(md(str(exc)), icon=":material/error:")
            return
        _done(f"Link {link_id} now works until {shown} (extended by {md(who.name)}).")
    if no.button("Cancel", key="stable.extend.cancel"):
        _cancel()
        st.rerun()


def dialogs(desk: Desk, who: Identity | None, tz: tzinfo) -> None:
    """Open the dialog a card's button asked for (one per run)."""
    pending = st.session_state.get(_PENDING)
    if pending is None:
        return
    if not who:
        _cancel()
        return
    (_revoke_dialog if pending[0] == "revoke" else _extend_dialog)(desk, who, tz)
