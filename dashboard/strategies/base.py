"""The one small interface every sharing strategy implements.

A strategy previews (what real expiry it would give now, without signing) and
signs (a URL plus the facts the issuance log records).  It never writes the
log itself: the issuing service commits every row before any URL is shown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from dashboard.errors import BadInput
from dashboard.expiry import Caps, CredentialFacts, Expiry, SigningFacts, compute
from dashboard.store import StableSpec

#: C0 controls (NUL and tab included), DEL, C1 controls, line and paragraph
#: separators, and lone surrogates (no database or terminal can take them).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
#: The longest text the log keeps for each field a person types.
TEXT_LIMITS = {"issuer": 200, "ticket": 200, "note": 2000}
_FIELD_NAMES = {"issuer": "The issuer's name", "ticket": "The ticket reference", "note": "The note"}


def text_problem(field: str, value: str | None) -> str | None:
    """Why `value` cannot be kept as this field of the log, as one sentence; None when it can.

    Tickets, notes and names are shown on pages, in terminals and in exports:
    a control character could rewrite a terminal line, hide text or break a
    CSV row, so it is refused here, where every page and command passes.
    """
    if not value:
        return None
    label = _FIELD_NAMES[field]
    if found := _CONTROL.search(value):
        code = ord(found.group())
        shown = f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"
        return f"{label} contains a control character ({shown} at position {found.start() + 1}): remove it and type it again."
    if len(value) > TEXT_LIMITS[field]:
        return f"{label} is {len(value):,} characters long: keep it to {TEXT_LIMITS[field]:,} at most."
    return None


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
        # Refused, not cleaned: the person who typed it must see what the log would keep.
        for name in ("issuer", "ticket", "note"):
            if problem := text_problem(name, getattr(self, name)):
                raise BadInput(problem)


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
