"""Browse-page state and widgets: where you are, the pages seen, the picks, the object you clicked.

The address bar holds the bucket and folder, so a folder can be linked to; the
session remembers them too, so coming back from Share returns to the folder
you left. Picks live in the session (``frame.selection()``) and are drawn back
into each table page, so ticks survive paging back and forth.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo

import pandas as pd
import streamlit as st

from dashboard import catalog
from dashboard.desk import Desk
from dashboard.errors import DeskError
from dashboard.identity import Identity
from dashboard.policy import Policy, policy_for
from dashboard.safetext import md, md_code, visible
from dashboard.timefmt import DATETIME_FORMAT, local, zone_name
from dashboard.ui.frame import pick, selection
from dashboard.ui.identity import identity

#: (bucket, prefix, search) last shown on Browse in this session.
_LAST = "browse.last"
_SEARCH = "browse.search"
#: The object whose details panel is open: (bucket, key, folder it was clicked in).
_DETAIL = "browse.detail"
#: Names refused by the last tick (archived objects), to say why once.
_REFUSED = "browse.refused"
_DETAILS_CLICK = "browse.details_click"


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


def location(buckets: list[str]) -> tuple[str, str]:
    """The bucket and folder to show: the address bar's, else the ones left in this session, else the first bucket."""
    if "bucket" in st.query_params:
        bucket, prefix = st.query_params.get("bucket"), st.query_params.get("prefix", "")
    else:
        bucket, prefix, _ = st.session_state.get(_LAST) or (None, "", "")
    if bucket not in buckets:
        bucket, prefix = buckets[0], ""
    # Put it (back) in the address bar: the page can be linked to as shown.
    if st.query_params.get("bucket") != bucket or st.query_params.get("prefix", "") != prefix:
        st.query_params["bucket"] = bucket
        st.query_params["prefix"] = prefix
    return bucket, prefix


def go(bucket: str, prefix: str = "") -> None:
    """Open a folder: a fresh search, and the details of an object elsewhere are closed."""
    st.query_params["bucket"] = bucket
    st.query_params["prefix"] = prefix
    st.session_state.pop(_SEARCH, None)
    st.session_state[_LAST] = (bucket, prefix, "")
    detail = st.session_state.get(_DETAIL)
    if detail and (detail[0], detail[2]) != (bucket, prefix):
        st.session_state.pop(_DETAIL, None)


def search_box(bucket: str, prefix: str) -> str:
    """The prefix search, restored when coming back to the folder it was typed in."""
    last = st.session_state.get(_LAST)
    if _SEARCH not in st.session_state and last and last[:2] == (bucket, prefix):
        st.session_state[_SEARCH] = last[2]
    search = st.text_input("Search this folder", key=_SEARCH, placeholder="Name starts with…", help="A prefix search: S3 matches the start of the name.")
    st.session_state[_LAST] = (bucket, prefix, search)
    return search


def page_tokens(scope: tuple[str, str, str]) -> list[str | None]:
    """The continuation tokens that lead to each page seen so far in this scope."""
    state = st.session_state.setdefault("browse.tokens", {})
    if state.get("scope") != scope:
        state.clear()
        state.update(scope=scope, tokens=[None])
    tokens: list[str | None] = state["tokens"]
    return tokens


def _ticked(table_key: str, listing: catalog.Listing) -> None:
    """Merge this page's ticks into the picks; an archived object is unticked again, and the page says why."""
    rows = set(st.session_state[table_key].selection.rows)
    picked = selection()
    refused = []
    for index, obj in enumerate(listing.objects):
        if index in rows and obj.archived:
            refused.append(obj)
            picked.pop(obj.s3_uri, None)
        elif index in rows:
            pick(obj.bucket, obj.key, obj.size, obj.storage_class)
        else:
            picked.pop(obj.s3_uri, None)
    if refused:
        # Setting the table's own state from its callback unticks the row in the browser too.
        st.session_state[table_key] = {"selection": {"rows": picked_rows(listing)}}
        st.session_state[_REFUSED] = [(obj.name, obj.storage_class) for obj in refused]


def _details_clicked(listing: catalog.Listing, folder: str) -> None:
    click = st.session_state.get(_DETAILS_CLICK)
    if click is not None and 0 <= click["row"] < len(listing.objects):
        obj = listing.objects[click["row"]]
        st.session_state[_DETAIL] = (obj.bucket, obj.key, folder)


def picked_rows(listing: catalog.Listing) -> list[int]:
    picked = selection()
    return [index for index, obj in enumerate(listing.objects) if obj.s3_uri in picked and not obj.archived]


def object_table(listing: catalog.Listing, frame: pd.DataFrame, table_key: str, tz: tzinfo, folder: str) -> None:
    """The page's objects: tick to pick (ticks come back when you return), Details to open the panel."""
    st.dataframe(
        frame,
        key=table_key,
        on_select=_callback(_ticked, table_key, listing),
        selection_mode="multi-row",
        selection_default={"selection": {"rows": picked_rows(listing)}},
        hide_index=True,
        width="stretch",
        column_order=["Name", "Size", "Last modified", "Storage class", "Download", "Details"],
        column_config={
            "Name": st.column_config.TextColumn(width="medium", pinned=True),  # stays in view when a phone scrolls the table
            "Last modified": st.column_config.DatetimeColumn(format=DATETIME_FORMAT, help=f"In your time zone, {zone_name(tz)}."),
            "Download": st.column_config.TextColumn(help="Objects in an archive storage class must be restored before anyone can download them."),
            "Details": st.column_config.ButtonColumn(
                "Details", type="tertiary", key=_DETAILS_CLICK, on_click=_callback(_details_clicked, listing, folder), width="small"
            ),
        },
    )
    refused = st.session_state.pop(_REFUSED, None)
    if refused:
        names = ", ".join(f"{md_code(name)} ({md(storage)})" for name, storage in refused)
        st.warning(
            f"Not picked: {names} cannot be downloaded until restored from its archive storage class. Restore it first, then pick it.",
            icon=":material/ac_unit:",
        )


def _callback(function: Callable[..., None], *args: object) -> Callable[[], None]:
    return lambda: function(*args)


def clear_picks(table_key: str) -> None:
    selection().clear()
    st.session_state[table_key] = {"selection": {"rows": []}}


def share_picked() -> None:
    """Under the table, the way on to Share once something is picked (a phone's collapsed sidebar hides the list)."""
    count = len(selection())
    if count:
        st.page_link("../../pages/share.py", label=f"Share {count} picked file{'' if count == 1 else 's'}", icon=":material/share:")


def picked_sidebar(table_key: str) -> None:
    picked = selection()
    with st.sidebar:
        st.subheader(f"Picked for sharing ({len(picked)})")
        if not picked:
            st.caption("Tick rows in the table to pick files, then open Share.")
            return
        st.page_link("../../pages/share.py", label="Share the picked files", icon=":material/share:")
        for uri in list(picked)[:20]:
            st.caption(md_code(uri))
        if len(picked) > 20:
            st.caption(f"… and {len(picked) - 20} more")
        st.button("Clear the selection", icon=":material/clear_all:", on_click=clear_picks, args=(table_key,), key="browse.clear")


def details_panel(desk: Desk, tz: tzinfo, bucket: str, prefix: str) -> None:
    """A readable panel of the object whose Details you clicked in this folder."""
    detail = st.session_state.get(_DETAIL)
    if not detail or (detail[0], detail[2]) != (bucket, prefix):
        return
    try:
        details = catalog.head(desk.aws.s3(), detail[0], detail[1])
    except DeskError as exc:
        st.warning(md(str(exc)), icon=":material/warning:")
        return
    info = details.info
    with st.container(border=True, key="browse-details"):
        head, close = st.columns([5, 1], vertical_alignment="center")
        head.subheader("Object details")
        if close.button("Close", icon=":material/close:", key="browse.details.close", type="tertiary"):
            st.session_state.pop(_DETAIL, None)
            st.rerun()
        st.text(visible(info.s3_uri))
        facts = [  # (label, value, outside text?)
            ("Size", f"{catalog.human_size(info.size)} ({info.size:,} bytes)", False),
            ("Last modified", local(info.last_modified, tz), False),
            ("Content type", details.content_type, True),
            ("Storage class", info.storage_class, True),
            ("Version", details.version_id or "unversioned bucket", details.version_id is not None),
            ("Download", "ready" if details.downloadable else "restore first: it is in an archive storage class", False),
        ]
        for column, (label, value, outside) in zip(st.columns(3) + st.columns(3), facts):
            column.caption(label)
            column.markdown(md(value) if outside else value)
