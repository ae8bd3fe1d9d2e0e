"""`stable`: a desk link, `<public base>/s/<token>`, that mints a fresh presigned URL on every click.

Nothing long-lived is handed to the customer: the link lives as long as the
desk says (policy-capped), can be revoked one by one, and each click gets a
minutes-long URL signed by the best signer available at that moment.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.expiry import Caps, CredentialFacts, CredentialKind, Expiry
from dashboard.store import StableSpec, fingerprint
from dashboard.strategies.base import Preview, ShareRequest, Signed, expiry_for, lifetime_refusal, preview_from

TOKEN_BYTES = 24  # 192 bits from `secrets`, URL-safe base64: 32 characters
STABLE_PATH = "/s/"


def stable_credentials() -> CredentialFacts:
    return CredentialFacts(kind=CredentialKind.LONG_TERM, method="stable-link", label="the desk's stable link")


class Stable:
    name = "stable"
    title = "Stable desk link"
    risk = "Revocable one by one; works only while the desk's link resolver is reachable."
    risk_rank = 2

    def __init__(self, desk: Desk) -> None:
        self.desk = desk

    @property
    def cap(self) -> timedelta:
        return timedelta(days=self.desk.settings.stable_max_days)

    def _problem(self, request: ShareRequest) -> str | None:
        if not self.desk.settings.public_base_url:
            return "Stable links need the resolver's public address: set SHAREDESK_PUBLIC_BASE_URL."
        if problem := lifetime_refusal(request):
            return problem
        if request.lifetime > self.cap:
            return f"The desk's policy allows stable links of at most {self.desk.settings.stable_max_days} days: ask for less."
        return None

    def _expiry(self, request: ShareRequest, now: datetime) -> Expiry:
        expiry = expiry_for(self.name, request, now, stable_credentials(), Caps(max_lifetime=self.cap))
        # The generic sentence would say the link "does not expire" (its signer is long-term); it does, at its own expiry.
        end = expiry.nominal_expires_at.astimezone(timezone.utc)
        reason = (
            f"Works for the full {format_duration(request.lifetime)}, until {end:%H:%M} UTC on {end.day} {end:%b %Y}, then stops: "
            f"each click mints a fresh URL that lasts {format_duration(timedelta(seconds=self.desk.settings.stable_mint_seconds))}, "
            "so no credential cuts it short; it can be revoked or extended until then."
        )
        return replace(expiry, reason=reason)

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if problem := self._problem(request):
            return preview_from(self, unavailable=problem)
        return preview_from(self, self._expiry(request, now))

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        if problem := self._problem(request):
            from dashboard.errors import BadInput

            raise BadInput(problem)
        signed_at = now.astimezone(timezone.utc).replace(microsecond=0)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        base = f"{self.desk.settings.public_base_url}{STABLE_PATH}"
        expiry = self._expiry(request, signed_at)
        return Signed(
            url=base + token,
            expiry=expiry,
            credentials=stable_credentials(),
            fingerprint=fingerprint(token),
            display_url=base + "…",
            stable=StableSpec(expires_at=expiry.nominal_expires_at, mint_seconds=self.desk.settings.stable_mint_seconds),
        )


def build(desk: Desk) -> Stable:
    return Stable(desk)
