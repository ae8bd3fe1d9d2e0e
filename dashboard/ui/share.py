"""Share-page widgets and state: the objects box, the strategy cards, issuing that asks before it repeats or falls short.

Issued links belong to the request that made them (objects, strategy,
lifetime, file name, ticket, note, issuer): when any of these changes they
disappear, so links made for one customer are never shown under another's
request. A second Issue for the same request asks first, and so does a
strategy whose real life falls short of the lifetime asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard import catalog, issuing
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import DeskError
from dashboard.identity import Identity
from dashboard.issuing import IssuedLink, Recommendation
from dashboard.safetext import csv_frame, md, md_code, visible, visible_lines
from dashboard.strategies import Preview, ShareRequest
from dashboard.tables import issued_frame
from dashboard.timefmt import local, zone_name
from dashboard.ui.frame import selection, unpick

_OBJECTS = "share.objects"
_ISSUED = "share.issued"
_PENDING = "share.pending"
_FAILED = "share.failed"

#: One request as the page asked it: every field that changes what the links are, or whom they are for.
RequestId = tuple[tuple[ShareRequest, ...], str]


@dataclass(frozen=True)
class Issued:
    request: RequestId
    links: list[IssuedLink]
    at: datetime


def request_id(requests: Sequence[ShareRequest], strategy: str) -> RequestId:
    return (tuple(requests), strategy)


def _objects_changed() -> None:
    kept = set(st.session_state.get(_OBJECTS) or [])
    for uri in list(selection()):
        if uri not in kept:
            unpick(uri)


def _object_label(uri: str) -> str:
    """The file name first, so a narrow chip still shows which file it is."""
    folder, _, name = visible(uri).removeprefix("s3://").rpartition("/")
    return f"{name} · {folder}/" if folder else name


def objects_box() -> tuple[list[tuple[str, str]], bool] | None:
    """The objects to share and whether they were picked on Browse; None when there are none yet.

    Picks show as removable chips; with no picks, an s3:// path can be typed.
    """
    picked = selection()
    if picked:
        uris = list(picked)
        if set(st.session_state.get(_OBJECTS) or []) - set(uris):
            st.session_state[_OBJECTS] = [u for u in st.session_state[_OBJECTS] if u in picked]
        st.multiselect(
            f"Objects ({len(uris)} picked on Browse)",
            uris,
            default=uris,
            format_func=_object_label,
            key=_OBJECTS,
            on_change=_objects_changed,
            help="Remove one with its ×; pick more on Browse.",
        )
        return [(picked[u]["bucket"], picked[u]["key"]) for u in uris], True
    st.session_state.pop(_OBJECTS, None)
    typed = st.text_input("Object", placeholder="s3://bucket/path/to/file", help="Or pick files on Browse.", key="share.typed")
    if not typed.strip():
        return None
    return [catalog.parse_s3_uri(typed)], False


def fact(row: DeltaGenerator, label: str, value: str, *, outside: bool = False, width: int = 150) -> DeltaGenerator:
    """One labelled value in a row that wraps: side by side on a wide screen, two to a line on a phone.

    ``outside`` text (keys, tickets, names) is escaped; the desk's own (times, durations) is shown as written.
    """
    cell = row.container(width=width, gap=None)
    cell.caption(label)
    cell.markdown(md(value) if outside else value)
    return cell


def strategy_cards(options: Sequence[Preview], advice: Recommendation, tz: tzinfo) -> None:
    """Every strategy side by side as cards (they wrap on a phone): real and nominal expiry, what binds it, why."""
    st.caption(f"Times in your time zone, {md(zone_name(tz))}.")
    for option in options:
        with st.container(border=True, key=f"share-card-{option.strategy}"):
            head = st.container(horizontal=True, vertical_alignment="center", gap="small")
            head.markdown(f"**{md(option.strategy)}**", width="content")
            if option.strategy == advice.strategy:
                head.badge("recommended", icon=":material/recommend:", color="green")
            e = option.expiry
            if e is None:
                head.badge("unavailable", color="gray")
                st.caption(md(option.unavailable or "This strategy cannot sign now."))
                continue
            if option.reaches_asked:
                head.badge("full lifetime", color="blue")
            else:
                head.badge("falls short", color="orange", icon=":material/content_cut:")
            row = st.container(horizontal=True, gap="small")
            fact(row, "Works until", local(e.effective_expires_at, tz, missing="unknown"))
            fact(row, "Promised expiry", local(e.nominal_expires_at, tz))
            fact(row, "Real life", format_duration(e.effective_expires_at - e.signed_at) if e.effective_expires_at else "unknown")
            fact(row, "Bound by", str(e.bound_by), outside=True)
            st.caption(f"{md(e.reason)} *{md(option.risk)}*")


def _short_of_promise(option: Preview, lifetime: timedelta, tz: tzinfo) -> str | None:
    """The sentence to confirm when this strategy's links die before the lifetime asked; None when they last."""
    e = option.expiry
    if e is None or option.reaches_asked:
        return None
    asked = format_duration(lifetime)
    if e.effective_expires_at is None:
        return f"**{md(option.strategy)}** links may stop working at any time before the {asked} asked: {md(e.reason)}"
    lost = format_duration(e.nominal_expires_at - e.effective_expires_at)
    return (
        f"**{md(option.strategy)}** links stop working at **{local(e.effective_expires_at, tz)}**, "
        f"{lost} before the {asked} asked. {md(e.reason)}"
    )


def _issue(desk: Desk, requests: Sequence[ShareRequest], strategy: str, verify: bool, actor: Identity | None) -> bool:
    """Sign and log the batch; the links are kept for this request only. False (and a sentence kept for the page) on failure."""
    rid = request_id(requests, strategy)
    bar = st.progress(0.0, text="Signing…") if len(requests) > 1 else None

    def signed(done: int, total: int) -> None:
        if bar is not None:
            bar.progress(done / total, text=f"Signed {done} of {total}")

    try:
        links = issuing.issue(desk, requests, strategy, verify_objects=verify, progress=signed, actor=actor)
    except DeskError as exc:
        st.session_state.pop(_ISSUED, None)
        st.session_state[_FAILED] = (rid, f"No link was issued. {exc}")
        return False
    # Kept before anything else is drawn: the log rows exist, so the page must know they were made.
    st.session_state[_ISSUED] = Issued(rid, links, issuing.utcnow())
    st.session_state.pop(_FAILED, None)
    return True


def _links_word(n: int) -> str:
    return f"{n} link{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class _Question:
    """An issue waiting for its confirmation: the request exactly as it was when Issue was clicked."""

    request: RequestId
    requests: tuple[ShareRequest, ...]
    strategy: str
    verify: bool
    actor: Identity | None
    sentences: tuple[str, ...]


@st.dialog("Issue these links?", width="medium", on_dismiss=lambda: st.session_state.pop(_PENDING, None))
def _confirm(desk: Desk) -> None:
    # The question is read from the session on every run of the dialog, never from the arguments it was
    # opened with: Streamlit may rerun a dialog of the same function from an earlier opening.
    question: _Question | None = st.session_state.get(_PENDING)
    if question is None:
        st.rerun()
        return
    for sentence in question.sentences:
        st.markdown(sentence)
    yes, no = st.columns(2)
    if yes.button(f"Issue {_links_word(len(question.requests))}", type="primary", icon=":material/link:", key="share.confirm.yes"):
        _issue(desk, question.requests, question.strategy, question.verify, question.actor)
        st.session_state.pop(_PENDING, None)
        st.rerun()
    if no.button("Cancel", key="share.confirm.no"):
        st.session_state.pop(_PENDING, None)
        st.rerun()


def _questions(done: Issued | None, option: Preview, n: int, lifetime: timedelta, tz: tzinfo) -> list[str]:
    """What to ask before issuing: the same links again, or links that die before the lifetime asked."""
    questions = []
    if done is not None:
        ids = ", ".join(str(link.entry.id) for link in done.links[:10]) + (" …" if len(done.links) > 10 else "")
        questions.append(
            f"These {_links_word(len(done.links))} were already issued at {local(done.at, tz)} (log {ids}). "
            f"Issuing again makes {_links_word(n)} more, each recorded; the first ones keep working."
        )
    if short := _short_of_promise(option, lifetime, tz):
        questions.append(short)
    return questions


def issue_button(
    desk: Desk, requests: list[ShareRequest], option: Preview, lifetime: timedelta, tz: tzinfo, *, verify: bool, actor: Identity | None
) -> None:
    """Issue once; afterwards the button says what was issued and asks before issuing the same links again."""
    rid = request_id(requests, option.strategy)
    done = current(rid)
    questions = _questions(done, option, len(requests), lifetime, tz)
    if done is None:
        label = f"Issue {_links_word(len(requests))}"
    else:
        label = f"Issued {_links_word(len(done.links))} with {option.strategy} at {local(done.at, tz)}: issue again?"
    # A fixed key: a second click that arrives after the first one's links exist is a click on "issue again?".
    if st.button(label, type="primary" if done is None else "secondary", icon=":material/link:", key="share.issue"):
        if questions:
            st.session_state[_PENDING] = _Question(rid, tuple(requests), option.strategy, verify, actor, tuple(questions))
        elif _issue(desk, requests, option.strategy, verify, actor):
            st.rerun()  # redraw the button as "Issued …" at once
    pending: _Question | None = st.session_state.get(_PENDING)
    if pending is not None and pending.request == rid:
        _confirm(desk)
    elif pending is not None:
        st.session_state.pop(_PENDING, None)  # the request changed while the question was open
    failed = st.session_state.get(_FAILED)
    if failed and failed[0] == rid:
        st.error(md(failed[1]), icon=":material/error:")


def current(rid: RequestId) -> Issued | None:
    """The links issued for exactly this request; links of any other request are dropped, never shown."""
    issued: Issued | None = st.session_state.get(_ISSUED)
    if issued is not None and issued.request != rid:
        st.session_state.pop(_ISSUED, None)
        return None
    return issued


def results(rid: RequestId, tz: tzinfo) -> None:
    done = current(rid)
    if done is None:
        return
    links = done.links
    st.subheader("Links (recorded in the issuance log)")
    for link in links[:50]:
        e = link.entry
        end = local(e.effective_expires_at, tz, missing="an unknown time (the credentials' expiry is not visible)")
        st.markdown(f"{md_code(e.key)} · {md(e.strategy)} · works until {end} · log {e.id}")
        st.code(link.url, language=None, wrap_lines=True)
    if len(links) > 50:
        st.caption(f"… and {len(links) - 50} more in the CSV.")
    st.markdown("**Message for the customer**")
    st.code(visible_lines(issuing.customer_message(links[:50])), language=None, wrap_lines=True)
    if len(links) > 1:
        st.download_button(
            "Download all links (CSV)",
            csv_frame(issued_frame(links, tz)).to_csv(index=False),
            file_name="share-desk-links.csv",
            mime="text/csv",
            icon=":material/download:",
            key="share.csv",
        )
