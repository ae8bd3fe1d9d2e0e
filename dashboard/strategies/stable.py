"""`stable`: a desk link, `<public base>/s/<token>`, that mints a fresh presigned URL on every click.

Nothing long-lived is handed to the customer: the link lives as long as the
desk says (policy-capped), can be revoked one by one, and each click gets a
minutes-long URL signed by the best signer available at that moment.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

from dashboard.desk import Desk
from dashboard.expiry import Caps, CredentialFacts, CredentialKind
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

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if problem := self._problem(request):
            return preview_from(self, unavailable=problem)
        return preview_from(self, expiry_for(self.name, request, now, stable_credentials(), Caps(max_lifetime=self.cap)))

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        if problem := self._problem(request):
            from dashboard.errors import BadInput

            raise BadInput(problem)
        signed_at = now.astimezone(timezone.utc).replace(microsecond=0)
        token = secrets.token_urlsafe(TOKEN_BYTES)
        base = f"{self.desk.settings.public_base_url}{STABLE_PATH}"
        expiry = expiry_for(self.name, request, signed_at, stable_credentials(), Caps(max_lifetime=self.cap))
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
