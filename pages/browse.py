"""Browse: find the customer's file, one ListObjectsV2 page at a time, and pick it for sharing."""

import streamlit as st

from dashboard import catalog
from dashboard.errors import DeskError
from dashboard.tables import listing_frame
from dashboard.ui import browse
from dashboard.ui.frame import fail, guard, selection

desk = guard()
endpoint = desk.settings.endpoint_url
st.title("Browse")

try:
    buckets = browse.cached_buckets(desk, endpoint, desk.settings.buckets)
except DeskError as exc:
    fail(str(exc))
if not buckets:
    fail("The desk's credentials see no buckets: set SHAREDESK_BUCKETS to the buckets it may share from.")

bucket, prefix = browse.location()
if bucket not in buckets:
    bucket, prefix = buckets[0], ""
chosen = st.selectbox("Bucket", buckets, index=buckets.index(bucket))
if chosen != bucket:
    browse.go(chosen)
    st.rerun()

crumbs = st.container(horizontal=True, gap="small")
for label, target in catalog.breadcrumb(prefix):
    label = f"{bucket}/" if target == "" else label
    if crumbs.button(label, key=f"crumb:{target}", type="tertiary", disabled=target == prefix, icon=":material/folder:"):
        browse.go(bucket, target)
        st.rerun()

search = st.text_input("Search this folder", key="browse.search", placeholder="Name starts with…", help="A prefix search: S3 matches the start of the name.")
tokens = browse.page_tokens((bucket, prefix, search))
try:
    listing = browse.cached_page(desk, endpoint, bucket, prefix + search, tokens[-1], desk.settings.page_size)
except DeskError as exc:
    fail(str(exc))

if listing.folders:
    st.caption("Folders")
    columns = st.columns(4)
    for index, folder in enumerate(listing.folders):
        if columns[index % 4].button(folder.name, key=f"folder:{folder.prefix}", icon=":material/folder:", width="stretch"):
            browse.go(bucket, folder.prefix)
            st.rerun()

frame = listing_frame(listing, st.context.timezone)
table_key = f"objects:{bucket}:{prefix}{search}:{len(tokens)}"


def _pick() -> None:
    """Merge this page's picks into the selection; archived objects cannot be shared yet."""
    rows = set(st.session_state[table_key].selection.rows)
    picked = selection()
    for index, obj in enumerate(listing.objects):
        if index in rows and not obj.archived:
            picked[obj.s3_uri] = {"bucket": obj.bucket, "key": obj.key, "size": obj.size, "storage_class": obj.storage_class}
        else:
            picked.pop(obj.s3_uri, None)


if listing.objects:
    st.dataframe(
        frame,
        key=table_key,
        on_select=_pick,
        selection_mode="multi-row",
        hide_index=True,
        width="stretch",
        column_order=["Name", "Size", "Last modified", "Storage class", "Download"],
        column_config={"Last modified": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm z")},
    )
elif not listing.folders:
    st.info("Nothing here" + (f" starts with “{search}”." if search else ": this folder is empty."))

page_number = len(tokens)
counts = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((len(listing.folders), "folder"), (len(listing.objects), "object")) if n]
if page_number > 1 or listing.has_more:
    pager = st.container(horizontal=True, vertical_alignment="center")
    if pager.button("Previous page", disabled=page_number == 1, icon=":material/chevron_left:"):
        tokens.pop()
        st.rerun()
    pager.caption(f"Page {page_number} · " + ", ".join(counts) + " on this page")
    if pager.button("Next page", disabled=not listing.has_more, icon=":material/chevron_right:"):
        tokens.append(listing.next_token)
        st.rerun()
elif counts:
    st.caption(", ".join(counts))

archived = [obj for obj in listing.objects if obj.archived]
if archived:
    st.warning(
        f"{len(archived)} object(s) here are in an archive storage class ({', '.join(sorted({o.storage_class for o in archived}))}) "
        "and cannot be downloaded until they are restored; they cannot be picked for sharing."
    )

picked = selection()
with st.sidebar:
    st.subheader(f"Picked for sharing ({len(picked)})")
    if not picked:
        st.caption("Tick rows in the table to pick files, then open Share.")
    else:
        st.page_link("../../pages/share.py", label="Share the picked files", icon=":material/share:")
    for uri in list(picked)[:20]:
        st.caption(uri)
    if len(picked) > 20:
        st.caption(f"… and {len(picked) - 20} more")
    if picked and st.button("Clear the selection", icon=":material/clear_all:"):
        picked.clear()
        st.rerun()

if len(picked) == 1:
    only = next(iter(picked.values()))
    try:
        details = catalog.head(desk.aws.s3(), only["bucket"], only["key"])
    except DeskError as exc:
        st.warning(str(exc))
    else:
        st.subheader("Object details")
        st.json(
            {
                "object": details.info.s3_uri,
                "size": catalog.human_size(details.info.size),
                "content type": details.content_type,
                "storage class": details.info.storage_class,
                "version": details.version_id or "unversioned",
                "downloadable": details.downloadable,
            },
            expanded=True,
        )
