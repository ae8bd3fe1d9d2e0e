"""The one small interface every sharing strategy implements.

A strategy previews (what real expiry it would give now, without signing) and
signs (a URL plus the facts the issuance log records).  It never writes the
log itself: the issuing service commits every row before any URL is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from dashboard.expiry import Caps, CredentialFacts, Expiry, SigningFacts, compute
from dashboard.store import StableSpec



@dataclass(frozen=True)
class ShareRequest:
    bucket: str
    key: str
    lifetime: timedelta
    issuer: str
    filename: str | None = None
    ticket: str | None = None
    note: str | None = None
    version_id: str | None = None
    not_before: datetime | None = None  # CloudFront custom policy only
    ip_range: str | None = None  # CloudFront custom policy only

    def __post_init__(self) -> None:
        # A file name ends up in a header and in messages: no control characters, no paths.
        if self.filename is not None:
            clean = "".join(ch for ch in self.filename if ch.isprintable()).replace("/", "_").replace("\\", "_").strip()
            object.__setattr__(self, "filename", clean[:200] or None)
        for name in ("ticket", "note"):
            value = getattr(self, name)
            object.__setattr__(self, name, (value or "").strip() or None)


@dataclass(frozen=True)
class Preview:
    """What a strategy would give for a request right now."""

    strategy: str
    title: str
    expiry: Expiry | None  # None when unavailable
    unavailable: str | None  # the sentence saying why
    risk: str  # the standing risk a link of this kind carries
    risk_rank: int  # lower is safer; breaks ties in the recommendation

    @property
    def available(self) -> bool:
        return self.expiry is not None

    @property
    def reaches_asked(self) -> bool:
        return self.expiry is not None and not self.expiry.cut_short and self.expiry.effective_expires_at is not None


@dataclass(frozen=True)
class Signed:
    """A signed link and what the log must know of it; `url` is shown once and never stored."""

    url: str = ""
    expiry: Expiry | None = None
    credentials: CredentialFacts | None = None
    fingerprint: str = ""
    display_url: str = ""
    stable: StableSpec | None = None  # set by strategies whose links the desk resolves itself

    def __repr__(self) -> str:  # keep the URL (it carries the signature) out of logs and tracebacks
        return f"Signed(display_url={self.display_url!r})"


@runtime_checkable
class Strategy(Protocol):
    name: str
    title: str
    risk: str
    risk_rank: int

    def preview(self, request: ShareRequest, now: datetime) -> Preview: ...

    def sign(self, request: ShareRequest, now: datetime) -> Signed: ...


def lifetime_refusal(request: ShareRequest) -> str | None:
    """Every strategy refuses a link that would be dead on arrival."""
    if request.lifetime <= timedelta(0):
        return "A link must last at least one second: ask for a positive lifetime such as 15m, 1h or 7d."
    return None


def expiry_for(strategy: str, request: ShareRequest, now: datetime, credentials: CredentialFacts, caps: Caps) -> Expiry:
    return compute(SigningFacts(strategy=strategy, signed_at=now, lifetime=request.lifetime, credentials=credentials, caps=caps))


def preview_from(strategy: Strategy, expiry: Expiry | None = None, unavailable: str | None = None) -> Preview:
    return Preview(
        strategy=strategy.name,
        title=strategy.title,
        expiry=expiry,
        unavailable=unavailable,
        risk=strategy.risk,
        risk_rank=strategy.risk_rank,
    )
