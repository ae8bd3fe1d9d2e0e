"""Browse: find the customer's file, one ListObjectsV2 page at a time, and pick it for sharing."""

import streamlit as st

from dashboard import catalog
from dashboard.errors import DeskError
from dashboard.safetext import md
from dashboard.tables import listing_frame
from dashboard.ui import browse
from dashboard.ui.frame import fail, guard, viewer_tz

desk = guard()
endpoint = desk.settings.endpoint_url
tz = viewer_tz()
st.title("Browse")

try:
    buckets = browse.cached_buckets(desk, endpoint, desk.settings.buckets)
except DeskError as exc:
    fail(str(exc))
if not buckets:
    fail("The desk's credentials see no buckets: set SHAREDESK_BUCKETS to the buckets it may share from.")

bucket, prefix = browse.location(buckets)
chosen = st.selectbox("Bucket", buckets, index=buckets.index(bucket))
if chosen != bucket:
    browse.go(chosen)
    st.rerun()

crumbs = st.container(horizontal=True, gap="small")
for label, target in catalog.breadcrumb(prefix):
    label = f"{bucket}/" if target == "" else label
    if crumbs.button(md(label), key=f"crumb:{target}", type="tertiary", disabled=target == prefix, icon=":material/folder:"):
        browse.go(bucket, target)
        st.rerun()

search = browse.search_box(bucket, prefix)
tokens = browse.page_tokens((bucket, prefix, search))
try:
    listing = browse.cached_page(desk, endpoint, bucket, prefix + search, tokens[-1], desk.settings.page_size)
except DeskError as exc:
    fail(str(exc))

if listing.folders:
    st.caption("Folders")
    columns = st.columns(4)
    for index, folder in enumerate(listing.folders):
        if columns[index % 4].button(md(folder.name), key=f"folder:{folder.prefix}", icon=":material/folder:", width="stretch"):
            browse.go(bucket, folder.prefix)
            st.rerun()

table_key = f"objects:{bucket}:{prefix}{search}:{len(tokens)}"
if listing.objects:
    browse.object_table(listing, listing_frame(listing, tz), table_key, tz, prefix)
elif not listing.folders:
    st.info("Nothing here" + (f" starts with “{md(search)}”." if search else ": this folder is empty."))

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
    classes = ", ".join(md(c) for c in sorted({o.storage_class for o in archived}))
    st.caption(
        f":material/ac_unit: {len(archived)} object(s) here are in an archive storage class ({classes}): "
        "they cannot be downloaded or picked until they are restored."
    )

browse.share_picked()
browse.picked_sidebar(table_key)
browse.details_panel(desk, tz, bucket, prefix)
