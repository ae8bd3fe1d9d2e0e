"""Managing stable links: list, revoke, extend within policy (same service for page and CLI).

Who may revoke or extend which link is the sharing policy's call
(dashboard/policy.py): a role may act on nobody's links, its own, or anyone's.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dashboard import policy as sharing
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import BadInput, NotAllowed
from dashboard.identity import Identity, named
from dashboard.store import StableLink


def live_links(desk: Desk, now: datetime | None = None, limit: int = 500) -> list[StableLink]:
    return desk.log.stable_links(live_at=now or datetime.now(timezone.utc), limit=limit)


def _actor(by: str | Identity) -> Identity | None:
    if isinstance(by, Identity):
        return by
    return named(by) if by and by.strip() else None


def revoke(desk: Desk, link_id: int, by: str | Identity, now: datetime | None = None) -> StableLink:
    """Revoke at once: the resolver checks the log on every click, in every process.

    The log records it as a revoke event in its hash chain (the link's row is never rewritten).
    """
    actor = _actor(by)
    if actor is None:
        raise BadInput("The desk does not know who is revoking this link: sign in or type your name first.")
    link = desk.log.get_stable(link_id)
    if link is None:
        raise BadInput(f"Link {link_id} is not a stable link: only stable links can be revoked one by one.")
    sharing.policy_for(desk.settings).check_rights(actor, "revoke", link.entry.issuer)
    desk.log.revoke(link_id, at=now or datetime.now(timezone.utc), by=actor.name)
    found = desk.log.get_stable(link_id)
    assert found is not None
    return found


def extend(desk: Desk, link_id: int, by: str | Identity, until: datetime, now: datetime | None = None) -> StableLink:
    """Move a live link's expiry, never past the desk's longest life nor the role's, counted from its issue.

    Recorded as an extend event in the log's hash chain, by the actor at ``now``.
    """
    now = now or datetime.now(timezone.utc)
    actor = _actor(by)
    if actor is None:
        raise BadInput("The desk does not know who is extending this link: sign in or type your name first.")
    link = desk.log.get_stable(link_id)
    if link is None:
        raise BadInput(f"Link {link_id} is not a stable link.")
    if not link.live_at(now):
        raise NotAllowed("Only a live link can be extended: issue a new link instead.")
    rules = sharing.policy_for(desk.settings)
    rules.check_rights(actor, "extend", link.entry.issuer)
    latest = link.entry.issued_at + timedelta(days=desk.settings.stable_max_days)
    if until > latest:
        raise NotAllowed(
            f"The desk's policy keeps a stable link for at most {desk.settings.stable_max_days} days after it was issued, "
            f"so this one can run until {latest:%Y-%m-%d %H:%M} UTC at the latest."
        )
    if until <= now:
        raise BadInput("The new expiry is in the past: choose a later time.")
    sharing.check_extension(rules, actor, link.entry.issuer, until - link.entry.issued_at)
    reason = f"Extended by {actor.name} to run {format_duration(until - link.entry.issued_at)} in all; a stable link ends only at its own expiry or when revoked."
    return desk.log.extend_stable(link_id, until, reason, by=actor.name, at=now)
