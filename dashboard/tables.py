"""Domain results as pandas DataFrames for display: typed columns, no formatting logic in pages."""

from __future__ import annotations

import pandas as pd

from dashboard.catalog import Listing, human_size


def listing_frame(listing: Listing, tz: str | None = None) -> pd.DataFrame:
    """One row per object of a listing page; times converted to the viewer's zone."""
    rows = [
        {
            "Name": obj.name,
            "Size": human_size(obj.size),
            "Last modified": obj.last_modified,
            "Storage class": obj.storage_class,
            "Download": "restore first" if obj.archived else "ready",
            "key": obj.key,
            "bytes": obj.size,
        }
        for obj in listing.objects
    ]
    frame = pd.DataFrame(rows, columns=["Name", "Size", "Last modified", "Storage class", "Download", "key", "bytes"])
    modified = pd.to_datetime(frame["Last modified"], utc=True)
    if tz:
        try:
            modified = modified.dt.tz_convert(tz)
        except Exception:  # an unknown zone name from the browser: keep UTC
            pass
    frame["Last modified"] = modified
    return frame
