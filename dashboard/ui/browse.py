"""Browse-page state kept in the URL and the session: bucket, folder, search, page tokens."""

from __future__ import annotations

import streamlit as st

from dashboard import catalog
from dashboard.desk import Desk
from dashboard.identity import Identity
from dashboard.policy import Policy, policy_for
from dashboard.ui.identity import identity


@st.cache_data(ttl=30, show_spinner=False, max_entries=512)
def _page(_desk: Desk, endpoint: str | None, bucket: str, prefix: str, token: str | None, page_size: int, who: Identity | None, rules: Policy) -> catalog.Listing:
    # `endpoint` is part of the cache key so two demo servers never share entries; `who` and `rules`
    # so a listing filtered for one person (or an older policy) is never served to another.
    return catalog.list_browsable_page(_desk.aws.s3(), rules, who, bucket, prefix, token=token, page_size=page_size)


@st.cache_data(ttl=60, show_spinner=False)
def _buckets(_desk: Desk, endpoint: str | None, allowed: tuple[str, ...], who: Identity | None, rules: Policy) -> list[str]:
    return catalog.browsable_buckets(_desk.aws.s3(), allowed, rules, who)


def cached_page(desk: Desk, endpoint: str | None, bucket: str, prefix: str, token: str | None, page_size: int) -> catalog.Listing:
    """One page of the folder as the sharing policy lets the current person see it."""
    return _page(desk, endpoint, bucket, prefix, token, page_size, identity(desk), policy_for(desk.settings))


def cached_buckets(desk: Desk, endpoint: str | None, allowed: tuple[str, ...]) -> list[str]:
    return _buckets(desk, endpoint, allowed, identity(desk), policy_for(desk.settings))


def location() -> tuple[str | None, str]:
    """The bucket and folder in the address bar, so a folder can be linked to."""
    return st.query_params.get("bucket"), st.query_params.get("prefix", "")


def go(bucket: str, prefix: str = "") -> None:
    st.query_params["bucket"] = bucket
    st.query_params["prefix"] = prefix
    st.session_state.pop("browse.search", None)


def page_tokens(scope: tuple) -> list[str | None]:
    """The continuation tokens that lead to each page seen so far in this scope."""
    state = st.session_state.setdefault("browse.tokens", {})
    if state.get("scope") != scope:
        state.clear()
        state.update(scope=scope, tokens=[None])
    return state["tokens"]
