"""Who is issuing, read at the Streamlit edge: the OIDC user, the request's headers, the demo's typed name.

The decision itself (order, ALB token verification) is dashboard/identity.py;
this module only gathers what Streamlit knows and draws the prompt.  The
typed name's widget is drawn by the navigation script on every run, before
the page, so it belongs to every page and keeps its value across them
(PLATFORM.md); a page only reads it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.desk import Desk
from dashboard.identity import AlbKeys, Identity, Offered, Resolution, Source, region_of_arn, resolve
from dashboard.identity import IdentityError
from dashboard.safetext import md

#: Session-state key of the demo's typed name (the widget drawn by the navigation script).
TYPED_KEY = "sharedesk.issuer"


def auth_configured() -> bool:
    """`[auth]` in secrets.toml: Streamlit's st.login is set up."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _oidc_claims() -> dict[str, Any] | None:
    try:
        if st.user.is_logged_in:
            return dict(st.user.to_dict())
    except Exception:  # authentication not configured or not available
        return None
    return None


def _headers() -> dict[str, str]:
    try:
        return {str(k): str(v) for k, v in st.context.headers.items()}
    except Exception:  # no request context (a bare script run)
        return {}


@st.cache_resource(show_spinner=False)
def _alb_keys(region: str, source: str | None) -> AlbKeys:
    # One key cache per process: a kid's key never changes, so every session shares it.
    return AlbKeys(region, source)


def resolution(desk: Desk) -> Resolution:
    """The issuer of this rerun, or why there is none; verified on every run (an ES256 check costs well under a millisecond)."""
    settings = desk.settings
    configured = auth_configured()
    offered = Offered(
        oidc_configured=configured,
        oidc_claims=_oidc_claims() if configured else None,
        headers=_headers(),
        typed=st.session_state.get(TYPED_KEY),
    )
    keys = None
    if settings.alb_arn:
        try:
            keys = _alb_keys(region_of_arn(settings.alb_arn), settings.alb_public_keys)
        except IdentityError as exc:
            return Resolution(None, str(exc))
    return resolve(settings, offered, demo=desk.is_demo, alb_keys=keys)


def identity(desk: Desk) -> Identity | None:
    """The verified person using the desk (or the demo's typed name); None when nobody is known."""
    return resolution(desk).identity


def issuer(desk: Desk) -> str | None:
    """The name every log row records as the issuer, or None (the page then says how to sign in)."""
    who = identity(desk)
    return who.name if who else None


def missing_issuer_message(desk: Desk) -> str:
    return resolution(desk).problem or "The desk does not know who you are: sign in first."


def prompt(desk: Desk) -> None:
    """Drawn by the navigation script before the page: who is signed in, or the way to become known.

    The demo's name box sits at the top of the page while it is empty (so a
    phone with the sidebar collapsed reaches it) and in the sidebar once a
    name is typed; with a key, Streamlit keeps one widget state wherever it is drawn.
    """
    found = resolution(desk)
    who = found.identity
    demo_name = desk.is_demo and (who is None or who.source is Source.DEMO)
    if demo_name:
        place = st.sidebar if who is not None else st.container()
        place.text_input(
            "Your name (demo)",
            key=TYPED_KEY,
            max_chars=64,
            placeholder="e.g. alice",
            help="Recorded as the issuer of every link you make. In the demo, a typed name stands in for signing in.",
        )
        if who is None:
            return
    if who is not None and who.source is not Source.DEMO:
        st.sidebar.caption(f":material/badge: Signed in as **{md(who.name)}** · {md(who.source_label)}")
        if who.source is Source.OIDC:
            st.sidebar.button("Sign out", on_click=st.logout, icon=":material/logout:", key="sharedesk.logout")
        return
    if who is None and auth_configured():
        st.sidebar.button("Sign in", on_click=st.login, icon=":material/login:", key="sharedesk.login", type="primary")
