"""Managing stable links: list, revoke, extend within policy (same service for page and CLI)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import BadInput, NotAllowed
from dashboard.store import StableLink


def live_links(desk: Desk, now: datetime | None = None, limit: int = 500) -> list[StableLink]:
    return desk.log.stable_links(live_at=now or datetime.now(timezone.utc), limit=limit)


def revoke(desk: Desk, link_id: int, by: str, now: datetime | None = None) -> StableLink:
    """Revoke at once: the resolver checks the log on every click, in every process.

    The log records it as a revoke event in its hash chain (the link's row is never rewritten).
    """
    if not by:
        raise BadInput("The desk does not know who is revoking this link: sign in or type your name first.")
    if desk.log.get_stable(link_id) is None:
        raise BadInput(f"Link {link_id} is not a stable link: only stable links can be revoked one by one.")
    desk.log.revoke(link_id, at=now or datetime.now(timezone.utc), by=by)
    link = desk.log.get_stable(link_id)
    assert link is not None
    return link


def extend(desk: Desk, link_id: int, by: str, until: datetime, now: datetime | None = None) -> StableLink:
    """Move a live link's expiry, never past the policy's longest life counted from its issue.

    Recorded as an extend event in the log's hash chain, by ``by`` at ``now``.
    """
    now = now or datetime.now(timezone.utc)
    link = desk.log.get_stable(link_id)
    if link is None:
        raise BadInput(f"Link {link_id} is not a stable link.")
    if not link.live_at(now):
        raise NotAllowed("Only a live link can be extended: issue a new link instead.")
    latest = link.entry.issued_at + timedelta(days=desk.settings.stable_max_days)
    if until > latest:
        raise NotAllowed(
            f"The desk's policy keeps a stable link for at most {desk.settings.stable_max_days} days after it was issued, "
            f"so this one can run until {latest:%Y-%m-%d %H:%M} UTC at the latest."
        )
    if until <= now:
        raise BadInput("The new expiry is in the past: choose a later time.")
    reason = f"Extended by {by} to run {format_duration(until - link.entry.issued_at)} in all; a stable link ends only at its own expiry or when revoked."
    return desk.log.extend_stable(link_id, until, reason, by=by, at=now)
