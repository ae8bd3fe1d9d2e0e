"""Domain results shaped for display (DataFrames, labelled facts, text lines) in the viewer's zone: no formatting logic in pages."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING

import pandas as pd

from dashboard.catalog import Listing, human_size
from dashboard.durations import format_duration
from dashboard.expiry import iso_z
from dashboard.safetext import visible
from dashboard.timefmt import in_zone, local, zone_name

if TYPE_CHECKING:
    from dashboard.issuing import IssuedLink
    from dashboard.store import Click, StableLink


def listing_frame(listing: Listing, tz: tzinfo = UTC) -> pd.DataFrame:
    """One row per object of a listing page; times in the viewer's zone; a Details button label per row."""
    rows = [
        {
            "Name": visible(obj.name),  # a key's control characters show as escapes, even in a cell
            "Size": human_size(obj.size),
            "Last modified": obj.last_modified,
            "Storage class": obj.storage_class,
            "Download": "restore first" if obj.archived else "ready",
            "Details": "Details",
        }
        for obj in listing.objects
    ]
    frame = pd.DataFrame(rows, columns=["Name", "Size", "Last modified", "Storage class", "Download", "Details"])
    frame["Last modified"] = in_zone(frame["Last modified"], tz)
    return frame


def issued_frame(links: list[IssuedLink], tz: tzinfo = UTC) -> pd.DataFrame:
    """Issued links for the CSV download (the only place a full URL is written, on the agent's request).

    Expiries in the viewer's zone (ISO 8601 with its offset) and in UTC; pass the
    frame through ``safetext.csv_frame`` before writing it.
    """
    zone = zone_name(tz)
    return pd.DataFrame(
        [
            {
                "log_id": link.entry.id,
                "object": visible(f"s3://{link.entry.bucket}/{link.entry.key}"),
                "strategy": link.entry.strategy,
                "url": link.url,
                f"real_expiry ({zone})": _iso_in(link.entry.effective_expires_at, tz),
                "real_expiry_utc": iso_z(link.entry.effective_expires_at),
                f"nominal_expiry ({zone})": _iso_in(link.entry.nominal_expires_at, tz),
                "nominal_expiry_utc": iso_z(link.entry.nominal_expires_at),
                "bound_by": link.entry.bound_by,
                "ticket": link.entry.ticket or "",
                "issuer": link.entry.issuer,
            }
            for link in links
        ]
    )


def _iso_in(moment: datetime | None, tz: tzinfo) -> str | None:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else None


def shown_ip(ip: str | None) -> str:
    """A client address as people read it: an IPv4-mapped IPv6 address (``::ffff:192.0.2.1``) is the IPv4 it carries."""
    if not ip:
        return "unknown"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return str(mapped or address)


def stable_facts(link: StableLink, now: datetime, tz: tzinfo) -> list[tuple[str, str]]:
    """A stable link's columns as (label, text) pairs in the viewer's zone, for cards that wrap on a phone."""
    e = link.entry
    live = e.revoked_at is None and now < link.expires_at
    expires = local(link.expires_at, tz)
    facts = [
        ("Ticket", e.ticket or "none"),
        ("Issued by", e.issuer),
        ("Issued", local(e.issued_at, tz)),
        ("Expires" if live else "Was to expire" if e.revoked_at else "Expired", expires),
        *([("Left", format_duration(link.expires_at - now, parts=2))] if live else []),
        ("Clicks", f"{link.clicks:,}"),
        ("Last click", local(link.last_click_at, tz, missing="never")),
    ]
    if e.revoked_at is not None:
        facts += [("Revoked", local(e.revoked_at, tz)), ("Revoked by", e.revoked_by or "unknown")]
    return facts


def click_lines(clicks: Sequence[Click], tz: tzinfo) -> list[tuple[str, str]]:
    """Recent clicks as (when and answer, client) text, newest first; the client's own words (user agent) are data."""
    return [
        (f"{local(c.at, tz, seconds=True)} · HTTP {c.status} · {shown_ip(c.client_ip)}", c.user_agent or "no user agent")
        for c in clicks
    ]
