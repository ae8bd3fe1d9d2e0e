"""Who is issuing: the OIDC user, a trusted proxy's header, or (demo only) a typed name."""

from __future__ import annotations

import streamlit as st

from dashboard.desk import Desk

_TYPED = "sharedesk.issuer"


def issuer(desk: Desk) -> str | None:
    """The signed-in person, or None when nobody is (the page then says how to sign in)."""
    header = desk.settings.identity_header
    if header:
        value = st.context.headers.get(header)
        if value:
            return value.strip()
    try:
        if st.user.is_logged_in:
            return str(st.user.get("email") or st.user.get("name") or st.user.get("sub"))
    except Exception:  # authentication not configured
        pass
    if desk.is_demo:
        with st.sidebar:
            name = st.text_input("Your name (demo)", key=_TYPED, placeholder="e.g. alice", help="Recorded as the issuer of every link you make.")
        return name.strip() or None
    return None


def missing_issuer_message(desk: Desk) -> str:
    if desk.is_demo:
        return "Type your name in the sidebar first: every link is recorded with who issued it."
    return (
        "The desk cannot tell who you are, and every link must record its issuer: configure sign-in (st.login with OIDC) "
        "or set SHAREDESK_IDENTITY_HEADER to the header your proxy sets."
    )
