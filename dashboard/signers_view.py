"""The Signers page's tables and phrases: plain values and DataFrames in, nothing drawn.

Outside text (keys, tickets, issuers) stays in DataFrame cells; times are
moved to the viewer's zone here so the page only passes `viewer_tz()` in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

import pandas as pd

from dashboard.durations import format_duration
from dashboard.signers import AtRisk, Health, Reach, SignerKey
from dashboard.store import LogEntry
from dashboard.timefmt import in_zone, local

__all__ = ["Line", "ambient_lines", "at_risk_frame", "cloudfront_lines", "countdown", "links_frame", "reach_frame", "reach_lines", "role_lines", "signer_lines"]


def countdown(expires_at: datetime | None, now: datetime) -> str:
    """`2 h 14 min 05 s left`, `ended 3 min ago`, or `never (long-term)`."""
    if expires_at is None:
        return "no expiry the desk can see"
    left = expires_at - now
    if left <= timedelta(0):
        return f"ended {format_duration(-left, parts=2)} ago"
    seconds = int(left.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s left" if hours else f"{minutes} min {secs:02d} s left"


def _life(r: Reach) -> str:
    if not r.available:
        return "unavailable"
    return format_duration(r.longest, parts=2) if r.longest is not None else "unknown"


def reach_frame(found: Sequence[Reach], tz: tzinfo) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "Strategy": r.strategy,
                "Longest real life now": _life(r),
                "Real expiry": r.real_expires_at,
            }
            for r in found
        ]
    )
    if not frame.empty:
        frame["Real expiry"] = in_zone(frame["Real expiry"], tz)
    return frame


#: (label, value, shown as code): identifiers are code spans, phrases are words.
Line = tuple[str, str, bool]


def reach_lines(found: Sequence[Reach]) -> list[Line]:
    """Why each strategy reaches as far as it does, asked for its own ceiling."""
    return [(r.strategy, f"asked for {format_duration(r.asked)}: {r.why}", False) for r in found]


def role_lines(health: Health, tz: tzinfo) -> list[Line]:
    role = health.role
    if role.arn is None:
        return [("Signing role", "not configured (SHAREDESK_SIGNING_ROLE_ARN)", False)]
    if role.denied:
        longest = f"unknown ({role.denied.permission} denied); the desk assumes {format_duration(timedelta(seconds=role.fallback))} (SHAREDESK_SIGNING_ROLE_MAX_SESSION)"
    else:
        longest = format_duration(timedelta(seconds=role.max_session or 0))
    assumed = "the signer user's long-term key" if role.source == "signer-user" else "the desk's own credentials"
    chained = "yes: role chaining caps each session at 1 hour" if role.chained else "no: sessions get the full MaxSessionDuration"
    return [
        ("Role ARN", role.arn, True),
        ("MaxSessionDuration", longest, False),
        ("Assumed with", assumed, False),
        ("Assumed with temporary credentials", chained, False),
        ("A fresh session lasts", format_duration(timedelta(seconds=role.session_seconds)), False),
    ]


def signer_lines(key: SignerKey, now: datetime, tz: tzinfo) -> list[Line]:
    if key.access_key_id is None:
        return [("Signer key", "not configured (SHAREDESK_SIGNER_ACCESS_KEY_ID or SHAREDESK_SIGNER_SECRET_ID)", False)]
    lines: list[Line] = [("Access key id", key.access_key_id, True)]
    if key.user:
        lines.append(("IAM user", key.user, True))
    if key.status:
        lines.append(("Status", key.status, False))
    age = key.age(now)
    if age is not None and key.created_at is not None:
        lines.append(("Created", f"{local(key.created_at, tz)} ({age.days} days ago)", False))
    if key.user and not key.denied and key.status:
        lines.append(("Last used", local(key.last_used_at, tz, missing="never recorded"), False))
    return lines


def ambient_lines(health: Health) -> list[Line]:
    a = health.ambient
    return [("From", a.source, False), ("botocore method", a.method or "unknown", True), ("Access key id", a.access_key_id or "—", True), ("Kind", a.kind, False)]


def cloudfront_lines(health: Health) -> list[Line]:
    cf = health.cloudfront
    return [
        ("Key pair id", cf.key_pair_id or "not configured", bool(cf.key_pair_id)),
        ("Distribution", cf.domain or "not configured", bool(cf.domain)),
        ("Longest link the desk signs", f"{cf.max_days} days", False),
    ]


def at_risk_frame(found: Sequence[AtRisk], now: datetime, tz: tzinfo) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "Log id": r.entry.id,
                "Object": f"s3://{r.entry.bucket}/{r.entry.key}",
                "Ticket": r.entry.ticket or "",
                "Issuer": r.entry.issuer,
                "Strategy": r.entry.strategy,
                "Dies at": r.dies_at,
                "Promised until": r.promised,
                "Left": format_duration(max(r.dies_at - now, timedelta(0)), parts=2),
                "Lost": format_duration(r.lost, parts=2),
            }
            for r in found
        ],
        columns=["Log id", "Object", "Ticket", "Issuer", "Strategy", "Dies at", "Promised until", "Left", "Lost"],
    )
    for column in ("Dies at", "Promised until"):
        frame[column] = in_zone(frame[column], tz)
    return frame


def links_frame(links: Sequence[LogEntry], tz: tzinfo) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {
                "Log id": e.id,
                "Object": f"s3://{e.bucket}/{e.key}",
                "Ticket": e.ticket or "",
                "Issuer": e.issuer,
                "Issued": e.issued_at,
                "Expires": e.effective_expires_at or e.nominal_expires_at,
            }
            for e in links
        ],
        columns=["Log id", "Object", "Ticket", "Issuer", "Issued", "Expires"],
    )
    for column in ("Issued", "Expires"):
        frame[column] = in_zone(frame[column], tz)
    return frame
