"""The expiry model: when a shared link really stops working, and why.

A presigned link's ``X-Amz-Expires`` (or CloudFront's ``DateLessThan``) is only
a promise. A link stops working at the earliest of:

1. its nominal expiry (signing time + asked lifetime);
2. the expiry of the credentials that signed it, when they are temporary
   (``ASIA…`` keys, or a session token was present);
3. the moment the signing key or principal is revoked or deactivated;
4. a policy cap: a bucket policy's ``s3:signatureAge``, or the desk's own
   maximum lifetime for a strategy.

This module turns plain facts about a signing into the nominal expiry, the
effective one, what binds it and a one-sentence reason a support agent can
read out. It is pure (no Streamlit, boto3 or network) so the issuing pages,
the URL inspector and the command line all explain links the same way.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dashboard.durations import format_duration

__all__ = [
    "CUT_SHORT_TOLERANCE",
    "CUT_SHORT_TOLERANCES",
    "MAX_SIGV4_EXPIRES",
    "MIN_SIGV4_EXPIRES",
    "BoundBy",
    "Caps",
    "CredentialFacts",
    "CredentialKind",
    "Expiry",
    "LifetimeError",
    "SigningFacts",
    "State",
    "as_utc",
    "compute",
    "iso_z",
    "say_when",
    "state_at",
    "validate_sigv4_expires",
]

MAX_SIGV4_EXPIRES = 604800  # seconds, 7 days: S3 refuses longer X-Amz-Expires
MIN_SIGV4_EXPIRES = 1
#: How much of its promise a link may lose and still count as having run its
#: course: a 12 h link that dies 87 s early (a credential refresh a moment
#: before signing) is not what a customer calls "cut short". The desk's
#: setting SHAREDESK_CUT_SHORT_TOLERANCE overrides it (dashboard/config.py).
CUT_SHORT_TOLERANCE = timedelta(minutes=5)
#: The tolerances a desk may choose. The audit's rollup keeps lost time in
#: bins whose edges include each of these, so its cut-short counts are exact.
CUT_SHORT_TOLERANCES: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (0, 60, 120, 300, 600, 900, 1800, 3600)
)


class BoundBy(enum.StrEnum):
    """What ends a link first. Values are stored in the issuance log and printed as JSON."""

    NOMINAL = "nominal"
    CREDENTIALS = "credentials"
    SIGNATURE_AGE = "signature-age-policy"
    MAX_LIFETIME = "max-lifetime-policy"
    REVOKED = "revoked"


class CredentialKind(enum.StrEnum):
    """Whether the signing credentials can expire under the link."""

    LONG_TERM = "long-term"
    TEMPORARY = "temporary"
    UNKNOWN = "unknown"


class State(enum.StrEnum):
    """What a link does when opened at a given moment.

    ``AT_RISK`` is a live link that is going to be cut short; `state_at` gives
    it only when asked (``at_risk=True``), because the SPEC's JSON contract
    knows five states: there it reads as ``live`` (`contract`).
    """

    LIVE = "live"
    AT_RISK = "at-risk"
    EXPIRED = "expired"
    CUT_SHORT = "cut-short"
    REVOKED = "revoked"
    NOT_YET_VALID = "not-yet-valid"

    @property
    def contract(self) -> State:
        """The state as the SPEC's outputs name it (``inspect --json``): at-risk is live."""
        return State.LIVE if self is State.AT_RISK else self


class LifetimeError(ValueError):
    """A lifetime that cannot be signed or modelled; the message is a full sentence for the user."""


def as_utc(dt: datetime) -> datetime:
    """Return ``dt`` in UTC; a naive value is taken to be UTC already.

    Every time in the model is compared with every other, and mixing naive and
    aware datetimes raises, so everything is normalised on the way in.
    """
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso_z(dt: datetime | None) -> str | None:
    """ISO 8601 UTC with a ``Z`` and whole seconds, as the JSON outputs promise."""
    if dt is None:
        return None
    return as_utc(dt).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _when(dt: datetime) -> str:
    """A moment as reasons say it, ``14:05 UTC on 2 Jan 2026`` (not locale dependent)."""
    dt = as_utc(dt)
    return f"{dt:%H:%M} UTC on {dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


def say_when(dt: datetime) -> str:
    """A moment the way every reason says it: ``14:05 UTC on 2 Jan 2026``."""
    return _when(dt)


def _plural(label: str) -> bool:
    """Whether a credential label reads as plural ("credentials") or singular ("access key")."""
    head = re.split(r" (?:from|of|for|with) |[,(]", label, maxsplit=1)[0]  # "the access key from env variables" -> "key"
    words = head.split()
    last = words[-1] if words else label
    return last.endswith("s") and not last.endswith("ss")


def _verb(label: str, plural: str, singular: str) -> str:
    return plural if _plural(label) else singular


@dataclass(frozen=True)
class CredentialFacts:
    """What is known about the credentials that signed a link."""

    kind: CredentialKind
    expires_at: datetime | None = None  # aware UTC; None = no expiry (long-term) or unknown (temporary)
    method: str | None = None  # botocore credentials.method, free text
    access_key_id: str | None = None
    label: str = "credentials"  # noun phrase used in reasons
    note: str | None = None  # why they end when they do ("the desk reused a session assumed at …"), added to reasons they bind

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CredentialKind(self.kind))
        if self.expires_at is not None:
            object.__setattr__(self, "expires_at", as_utc(self.expires_at))

    @classmethod
    def from_access_key(
        cls,
        access_key_id: str | None,
        *,
        has_session_token: bool = False,
        expires_at: datetime | None = None,
        method: str | None = None,
        label: str | None = None,
        on_aws: bool = True,
    ) -> CredentialFacts:
        """Classify credentials as the server that checks them would.

        A key is temporary when it comes with a session token (or, on AWS,
        starts with ``ASIA``), and long-term otherwise. On AWS the only
        long-term key ids start with ``AKIA``, so anything else there is
        unknown rather than guessed; an S3-compatible endpoint (``on_aws``
        False: MinIO, Ceph, R2, Wasabi) follows no prefix, and its own keys
        without a session token are long-term.
        """
        key = (access_key_id or "").strip()
        if has_session_token or (on_aws and key.startswith("ASIA")):
            kind = CredentialKind.TEMPORARY
        elif key.startswith("AKIA") or (not on_aws and key):
            kind = CredentialKind.LONG_TERM
        else:
            kind = CredentialKind.UNKNOWN
        if label is None:
            label = {
                CredentialKind.TEMPORARY: "the temporary credentials",
                CredentialKind.LONG_TERM: "the long-term access key",
                CredentialKind.UNKNOWN: "the credentials",
            }[kind]
        return cls(kind=kind, expires_at=expires_at, method=method, access_key_id=access_key_id or None, label=label)


@dataclass(frozen=True)
class Caps:
    """Policy limits on a link's real life, independent of its credentials."""

    max_lifetime: timedelta | None = None  # desk/strategy policy cap on real lifetime
    signature_age: timedelta | None = None  # bucket policy s3:signatureAge cap

    def __post_init__(self) -> None:
        for name in ("max_lifetime", "signature_age"):
            value = getattr(self, name)
            if value is not None and value < timedelta(0):
                raise LifetimeError(f"A {name.replace('_', ' ')} cap cannot be negative; {format_duration(value)} below zero was given.")


@dataclass(frozen=True)
class SigningFacts:
    """Everything the model needs about one signing: plain values, no clients."""

    strategy: str  # "ambient", "role-session", "iam-user", "stable", "cloudfront", or "unknown"
    signed_at: datetime  # aware UTC
    lifetime: timedelta  # the asked/nominal lifetime
    credentials: CredentialFacts
    caps: Caps = field(default_factory=Caps)
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "signed_at", as_utc(self.signed_at))
        if self.revoked_at is not None:
            object.__setattr__(self, "revoked_at", as_utc(self.revoked_at))
        if self.lifetime < timedelta(0):
            raise LifetimeError(f"A link cannot last a negative time; {format_duration(self.lifetime)} below zero was asked.")


@dataclass(frozen=True)
class Expiry:
    """The model's answer: nominal and real expiry, what binds, and why."""

    signed_at: datetime
    nominal_expires_at: datetime
    effective_expires_at: datetime | None  # None only when temporary credentials with unknown expiry signed it
    bound_by: BoundBy
    reason: str  # one sentence a support agent understands
    tolerance: timedelta = CUT_SHORT_TOLERANCE  # what `cut_short` forgives

    @property
    def lost(self) -> timedelta:
        """How much of the asked lifetime the link never gets, whatever ends it (zero when unknown)."""
        if self.effective_expires_at is None or self.effective_expires_at >= self.nominal_expires_at:
            return timedelta(0)
        return self.nominal_expires_at - self.effective_expires_at

    @property
    def cut_short(self) -> bool:
        """True when something other than a revocation ends the link more than ``tolerance`` early.

        The one meaning of "cut short" on every page and in the audit's SQL
        (dashboard/store/audit.py): a revoked link was withdrawn, not cut, and
        a link that loses no more than the tolerance ran its course. Whether
        it *is* cut short yet, or only going to be, is `state_at`'s answer.
        """
        return self.bound_by is not BoundBy.REVOKED and self.effective_expires_at is not None and self.lost > self.tolerance


def _credential_expiry(credentials: CredentialFacts) -> datetime | None:
    """The credentials' expiry when it can end a link.

    Long-term keys do not expire (their end is a revocation). An expiry given
    for credentials of unknown kind is still an expiry, so it counts.
    """
    if credentials.kind is CredentialKind.LONG_TERM:
        return None
    return credentials.expires_at


def _reason(facts: SigningFacts, bound: BoundBy, effective: datetime, nominal: datetime) -> str:
    """One sentence saying why the link ends at ``effective``."""
    asked = format_duration(facts.lifetime)
    label = facts.credentials.label
    signed = facts.signed_at
    lost = format_duration(nominal - effective)
    if bound is BoundBy.NOMINAL:
        expiry = _credential_expiry(facts.credentials)
        if expiry is not None:
            return (
                f"Runs its full {asked}: {label}, which {_verb(label, 'expire', 'expires')} at {_when(expiry)}, "
                f"{_verb(label, 'outlive', 'outlives')} it."
            )
        if facts.credentials.kind is CredentialKind.UNKNOWN:
            return (
                f"Runs its full {asked} unless {label} {_verb(label, 'expire', 'expires')} sooner: "
                "the kind of credentials that signed it is not known."
            )
        return f"Runs its full {asked}: {label} {_verb(label, 'do', 'does')} not expire."
    if bound is BoundBy.CREDENTIALS:
        expiry = _credential_expiry(facts.credentials)
        assert expiry is not None
        if expiry <= signed:
            return _noted(
                f"Dead on arrival: {label} had already expired at {_when(expiry)}, "
                f"{format_duration(signed - expiry)} before the link was signed.",
                facts.credentials,
            )
        return _noted(
            f"Signed with {label}, which {_verb(label, 'expire', 'expires')} at {_when(expiry)}, {lost} before the {asked} asked.",
            facts.credentials,
        )
    if bound is BoundBy.SIGNATURE_AGE:
        cap = format_duration(facts.caps.signature_age or timedelta(0))
        return f"A bucket policy caps signature age at {cap}, so the link dies at {_when(effective)}, {lost} before the {asked} asked."
    if bound is BoundBy.MAX_LIFETIME:
        cap = format_duration(facts.caps.max_lifetime or timedelta(0))
        which = "this strategy" if facts.strategy in ("", "unknown") else f"the {facts.strategy} strategy"
        return f"The desk's policy caps {which} at {cap}, so the link dies at {_when(effective)}, {lost} before the {asked} asked."
    revoked = facts.revoked_at
    assert revoked is not None
    if revoked <= signed:
        return f"Revoked at {_when(revoked)}, before it was signed, so it never worked."
    return f"Revoked at {_when(revoked)}, {lost} before its nominal expiry."


def _noted(sentence: str, credentials: CredentialFacts) -> str:
    """A reason, with why the credentials end when they do, when that is known: still one sentence."""
    if not credentials.note:
        return sentence
    return f"{sentence[:-1]}: {credentials.note}."


def compute(facts: SigningFacts, *, tolerance: timedelta = CUT_SHORT_TOLERANCE) -> Expiry:
    """Work out when a link really stops working and why.

    ``tolerance`` is carried on the answer for `Expiry.cut_short` and
    `state_at`; it does not change when the link ends.

    The earliest candidate wins; ties go to the first in the order nominal,
    credentials, signature age, maximum lifetime, revocation, so a link is
    only called "cut short" when something truly ends it early. The effective
    expiry is never before signing: credentials that were already dead make
    the link dead on arrival, not dead in the past.

    When temporary credentials of unknown expiry signed the link (Lambda's
    environment credentials), the real expiry cannot be known: it is None,
    unless a revocation or policy cap is known to end the link before its
    nominal expiry, in which case that cap is reported (the credentials may
    still end it sooner, and the reason says so).
    """
    signed = facts.signed_at
    try:
        nominal = signed + facts.lifetime
    except OverflowError:
        raise LifetimeError(f"A lifetime of {format_duration(facts.lifetime)} reaches past the year 9999, which cannot be modelled.") from None
    credentials = facts.credentials
    unknown_temporary = credentials.kind is CredentialKind.TEMPORARY and credentials.expires_at is None

    # Order matters: min() keeps the first of equal candidates, which is the tie rule.
    candidates: list[tuple[datetime, BoundBy]] = [(nominal, BoundBy.NOMINAL)]
    credential_expiry = _credential_expiry(credentials)
    if credential_expiry is not None:
        candidates.append((credential_expiry, BoundBy.CREDENTIALS))
    for cap, bound in ((facts.caps.signature_age, BoundBy.SIGNATURE_AGE), (facts.caps.max_lifetime, BoundBy.MAX_LIFETIME)):
        if cap is not None:
            try:
                candidates.append((signed + cap, bound))
            except OverflowError:
                pass  # a cap beyond year 9999 never binds
    if facts.revoked_at is not None:
        candidates.append((facts.revoked_at, BoundBy.REVOKED))

    # Clamp before choosing, so a tie at the signing moment still favours the earlier kind.
    effective, bound = min(((max(signed, when), bound) for when, bound in candidates), key=lambda candidate: candidate[0])

    if unknown_temporary:
        if bound is BoundBy.NOMINAL:
            return Expiry(
                signed_at=signed,
                nominal_expires_at=nominal,
                effective_expires_at=None,
                bound_by=BoundBy.CREDENTIALS,
                reason=_noted(
                    f"Signed with {credentials.label}, whose expiry is not visible, so the link may stop working "
                    f"at any time before its nominal expiry at {_when(nominal)}.",
                    credentials,
                ),
                tolerance=tolerance,
            )
        reason = _reason(facts, bound, effective, nominal)
        reason = (
            f"{reason[:-1]}, or sooner if {credentials.label} {_verb(credentials.label, 'expire', 'expires')} first "
            f"({_verb(credentials.label, 'their', 'its')} expiry is not visible)."
        )
        return Expiry(signed, nominal, effective, bound, reason, tolerance)

    return Expiry(signed, nominal, effective, bound, _reason(facts, bound, effective, nominal), tolerance)


def state_at(expiry: Expiry, at: datetime, *, at_risk: bool = False) -> State:
    """What the link does when opened at ``at``.

    States only move forward in time: not yet valid, live, then one of cut
    short, revoked or expired, for good. *Cut short* means the link has
    stopped working, not by revocation, having lost more than the
    tolerance (`Expiry.cut_short`), and it stays cut short after its nominal
    expiry passes: the promise was broken either way. A link that loses no
    more than the tolerance is *expired* once it stops. A revoked link stays
    "revoked", the more useful thing to tell a customer. With ``at_risk``, a
    live link that is going to be cut short is `State.AT_RISK` instead of
    live; without it (the default) every answer is one of the SPEC's five.
    """
    at = as_utc(at)
    effective = expiry.effective_expires_at
    if at < expiry.signed_at:
        return State.NOT_YET_VALID
    if effective is None:
        return State.LIVE if at < expiry.nominal_expires_at else State.EXPIRED
    if at < effective:
        return State.AT_RISK if at_risk and expiry.cut_short else State.LIVE
    if expiry.bound_by is BoundBy.REVOKED:
        return State.REVOKED
    return State.CUT_SHORT if expiry.cut_short else State.EXPIRED


def validate_sigv4_expires(seconds: int | float | timedelta) -> int:
    """Check an ``X-Amz-Expires`` value before signing and return it as whole seconds.

    botocore signs any ``ExpiresIn`` without complaint, and S3 only refuses
    the link when a customer opens it; refusing here keeps that failure on
    the desk, with a sentence that says what to do instead.
    """
    if isinstance(seconds, bool):
        raise LifetimeError("A link lifetime must be a number of seconds, not true or false.")
    try:
        value = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
    except (TypeError, ValueError):
        raise LifetimeError(f"A link lifetime must be a number of seconds; {seconds!r} was given.") from None
    if not math.isfinite(value) or value != int(value):
        raise LifetimeError(f"S3 presigned links last a whole number of seconds; {value:g} seconds was asked.")
    whole = int(value)
    if whole < MIN_SIGV4_EXPIRES:
        shown = f"{whole} seconds" if whole <= 0 else format_duration(timedelta(seconds=whole))
        raise LifetimeError(f"S3 presigned links must last at least 1 second; {shown} was asked.")
    if whole > MAX_SIGV4_EXPIRES:
        raise LifetimeError(
            f"S3 presigned links can last at most 7 days ({MAX_SIGV4_EXPIRES} seconds); "
            f"{format_duration(timedelta(seconds=whole))} was asked. Use the stable or cloudfront strategy for longer links."
        )
    return whole
