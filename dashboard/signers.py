"""Credential health for the Signers page: what the desk signs with, what each strategy can give now, what is at risk.

Every AWS read the desk may lack permission for (iam:GetRole,
iam:GetAccessKeyLastUsed, iam:ListAccessKeys) comes back as a `Denied`
finding that says which permission is missing, never as an error: an
engineer on a least-privilege desk still gets the rest of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from dashboard import issuing
from dashboard.aws import source_name
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import DeskError, from_aws
from dashboard.identity import Identity
from dashboard.store import LogEntry
from dashboard.strategies import Preview, ShareRequest
from dashboard.strategies.role_session import CHAINED_MAX

#: A live link losing less than this to its credentials is not called at risk (the audit's cut-short tolerance).
AT_RISK_TOLERANCE = timedelta(minutes=5)
#: SigV4 links live at most 7 days, so every S3 link still alive was issued within this window.
S3_WINDOW = timedelta(days=7)
#: Warn when the desk's own credentials end sooner than this.
SOON = timedelta(hours=1)
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
S3_STRATEGIES = ("ambient", "role-session", "iam-user")


@dataclass(frozen=True)
class Denied:
    """The desk may not read this: the permission it lacks, in one sentence."""

    permission: str
    sentence: str


def _denied_or_raise(exc: Exception, permission: str, what: str) -> Denied:
    if isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in DENIED_CODES:
        return Denied(permission, f"The desk may not read {what}: its role lacks {permission}. Grant it to see this here.")
    raise from_aws(exc, action=f"read {what}") from None


@dataclass(frozen=True)
class Ambient:
    method: str | None
    source: str  # in plain words
    access_key_id: str | None
    kind: str  # long-term, temporary, unknown
    expires_at: datetime | None
    problem: str | None = None  # the desk has no usable credentials

    def left(self, now: datetime) -> timedelta | None:
        return None if self.expires_at is None else self.expires_at - now


@dataclass(frozen=True)
class Role:
    arn: str | None  # None: no signing role configured
    max_session: int | None  # seconds, from iam:GetRole
    denied: Denied | None  # iam:GetRole refused: the configured fallback stands in
    fallback: int  # SHAREDESK_SIGNING_ROLE_MAX_SESSION
    source: str  # "ambient" or "signer-user": whose credentials assume it
    chained: bool  # assumed with temporary credentials: role chaining, 1 h at most

    @property
    def session_seconds(self) -> int:
        longest = self.max_session if self.max_session is not None else self.fallback
        return min(longest, CHAINED_MAX) if self.chained else longest


@dataclass(frozen=True)
class SignerKey:
    access_key_id: str | None  # None: no signer key configured
    user: str | None = None
    status: str | None = None  # Active / Inactive
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    denied: Denied | None = None
    problem: str | None = None  # e.g. the key is configured but its secret cannot be read

    def age(self, now: datetime) -> timedelta | None:
        return None if self.created_at is None else now - self.created_at


@dataclass(frozen=True)
class CloudFrontKey:
    key_pair_id: str | None
    domain: str | None
    max_days: int


@dataclass(frozen=True)
class Reach:
    """The longest real lifetime a strategy could give a link issued now, and why."""

    strategy: str
    title: str
    asked: timedelta  # the strategy's own ceiling, which the preview was asked for
    longest: timedelta | None  # None: unavailable, or the real expiry cannot be known
    real_expires_at: datetime | None
    why: str
    available: bool = True


@dataclass(frozen=True)
class Health:
    checked_at: datetime
    ambient: Ambient
    role: Role
    signer: SignerKey
    cloudfront: CloudFrontKey
    reach: tuple[Reach, ...]
    warnings: tuple[str, ...]


# --- reading what the desk signs with ------------------------------------------------


def ambient(desk: Desk) -> Ambient:
    try:
        snap = desk.aws.ambient()
    except DeskError as exc:
        return Ambient(None, source_name(None), None, "unknown", None, problem=str(exc))
    return Ambient(snap.method, source_name(snap.method), snap.access_key_id, snap.kind, snap.expires_at)


def role(desk: Desk, ambient_now: Ambient) -> Role:
    settings = desk.settings
    source = settings.signing_role_source
    if not settings.signing_role_arn:
        return Role(None, None, None, settings.signing_role_max_session, source, chained=False)
    if source == "signer-user":
        chained = False  # a long-term key assumes it: the role's whole MaxSessionDuration is available
    else:
        chained = ambient_now.kind == "temporary"
    name = settings.signing_role_arn.rsplit("/", 1)[-1]
    try:
        found = desk.aws.client("iam").get_role(RoleName=name)["Role"]
        return Role(settings.signing_role_arn, int(found.get("MaxSessionDuration", 3600)), None, settings.signing_role_max_session, source, chained)
    except Exception as exc:
        denied = _denied_or_raise(exc, "iam:GetRole", f"the signing role {name}")
        return Role(settings.signing_role_arn, None, denied, settings.signing_role_max_session, source, chained)


def signer_key(desk: Desk) -> SignerKey:
    settings = desk.settings
    key_id = settings.signer_access_key_id
    if not key_id and settings.signer_secret_id:
        try:
            key_id = desk.aws.signer_key().access_key_id
        except DeskError as exc:
            return SignerKey(None, problem=str(exc))
    if not key_id:
        return SignerKey(None)
    iam = desk.aws.client("iam")
    try:
        used = iam.get_access_key_last_used(AccessKeyId=key_id)
    except Exception as exc:
        return SignerKey(key_id, denied=_denied_or_raise(exc, "iam:GetAccessKeyLastUsed", f"which user owns the signer key {key_id}"))
    user = used.get("UserName")
    last = (used.get("AccessKeyLastUsed") or {}).get("LastUsedDate")
    try:
        listed = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    except Exception as exc:
        return SignerKey(key_id, user=user, last_used_at=_utc(last), denied=_denied_or_raise(exc, "iam:ListAccessKeys", f"the access keys of {user}"))
    mine = next((k for k in listed if k.get("AccessKeyId") == key_id), None)
    if mine is None:
        return SignerKey(key_id, user=user, last_used_at=_utc(last), problem=f"The signer key {key_id} is no longer among {user}'s access keys: it was deleted, so iam-user links fail.")
    return SignerKey(key_id, user=user, status=mine.get("Status"), created_at=_utc(mine.get("CreateDate")), last_used_at=_utc(last))


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def cloudfront_key(desk: Desk) -> CloudFrontKey:
    s = desk.settings
    return CloudFrontKey(s.cloudfront_key_pair_id, s.cloudfront_domain, s.cloudfront_max_days)


def ceiling(desk: Desk, strategy: str) -> timedelta:
    """The longest lifetime a strategy is allowed to be asked for."""
    if strategy == "stable":
        return timedelta(days=desk.settings.stable_max_days)
    if strategy == "cloudfront":
        return timedelta(days=desk.settings.cloudfront_max_days)
    return S3_WINDOW


def reach(desk: Desk, now: datetime) -> tuple[Reach, ...]:
    """For each strategy: preview a link asked for its own ceiling, and read how long it would really live."""
    bucket = desk.settings.buckets[0] if desk.settings.buckets else "example-bucket"
    found: list[Reach] = []
    for name, strategy in desk.strategies.items():
        asked = ceiling(desk, name)
        request = ShareRequest(bucket=bucket, key="signers-page/probe", lifetime=asked, issuer="signers-page")
        try:
            preview: Preview = strategy.preview(request, now)
        except DeskError as exc:
            found.append(Reach(name, strategy.title, asked, None, None, str(exc), available=False))
            continue
        expiry = preview.expiry
        if expiry is None:
            found.append(Reach(name, strategy.title, asked, None, None, preview.unavailable or "Unavailable.", available=False))
            continue
        real = expiry.effective_expires_at
        found.append(Reach(name, strategy.title, asked, None if real is None else real - expiry.signed_at, real, expiry.reason))
    return tuple(found)


def warnings(health_parts: tuple[Ambient, Role, SignerKey], found: Sequence[Reach], desk: Desk, now: datetime) -> tuple[str, ...]:
    amb, rol, key = health_parts
    out: list[str] = []
    left = amb.left(now)
    if amb.problem:
        out.append(amb.problem)
    elif left is not None and left <= SOON:
        out.append(f"Ambient credentials expire in {format_duration(max(left, timedelta(0)), parts=2)}: links signed with them now die then.")
    if rol.arn and rol.chained:
        out.append("The signing role is assumed with temporary credentials (role chaining): its sessions last 1 hour at most, whatever its MaxSessionDuration.")
    if key.status == "Inactive":
        out.append(f"The signer key {key.access_key_id} is inactive: every iam-user link signed with it fails now.")
    age = key.age(now)
    if age is not None and age > timedelta(days=desk.settings.signer_key_max_age_days):
        out.append(f"The signer key {key.access_key_id} is {age.days} days old (more than {desk.settings.signer_key_max_age_days}): rotate it, after checking the links that depend on it below.")
    if key.problem:
        out.append(key.problem)
    return tuple(out)


def health(desk: Desk, now: datetime | None = None) -> Health:
    now = now or datetime.now(UTC).replace(microsecond=0)
    amb = ambient(desk)
    rol = role(desk, amb)
    key = signer_key(desk)
    found = reach(desk, now)
    return Health(now, amb, rol, key, cloudfront_key(desk), found, warnings((amb, rol, key), found, desk, now))


# --- links at risk and what a rotation would kill ----------------------------------------


@dataclass(frozen=True)
class AtRisk:
    entry: LogEntry
    dies_at: datetime  # when its credentials end
    promised: datetime  # its nominal expiry
    lost: timedelta


def at_risk(desk: Desk, now: datetime | None = None, limit: int = 2000) -> list[AtRisk]:
    """Live links whose credentials will end before their promise (by more than the tolerance), soonest first."""
    now = now or datetime.now(UTC)
    found = []
    for entry in desk.log.live_entries(now, strategies=S3_STRATEGIES, since=now - S3_WINDOW, limit=limit):
        real = entry.effective_expires_at
        if real is not None and now < real and entry.nominal_expires_at - real > AT_RISK_TOLERANCE:
            found.append(AtRisk(entry, real, entry.nominal_expires_at, entry.nominal_expires_at - real))
    return sorted(found, key=lambda r: (r.dies_at, r.entry.id))


@dataclass(frozen=True)
class Rotation:
    """Live links that depend on one key: deactivating or rotating it ends exactly these."""

    what: str  # "the signer user's key" / "the CloudFront key pair"
    key_id: str | None
    links: tuple[LogEntry, ...]


def rotation_impact(desk: Desk, now: datetime | None = None, limit: int = 10_000) -> tuple[Rotation, Rotation]:
    now = now or datetime.now(UTC)
    settings = desk.settings
    signer = settings.signer_access_key_id
    if not signer and settings.signer_secret_id:
        try:
            signer = desk.aws.signer_key().access_key_id
        except DeskError:
            signer = None
    signer_links = tuple(
        e for e in desk.log.live_entries(now, strategies=("iam-user",), since=now - S3_WINDOW, limit=limit) if signer and e.access_key_id == signer
    )
    pair = settings.cloudfront_key_pair_id
    cf_since = now - timedelta(days=max(settings.cloudfront_max_days, 1))
    cf_links = tuple(e for e in desk.log.live_entries(now, strategies=("cloudfront",), since=cf_since, limit=limit) if pair and e.access_key_id == pair)
    return Rotation("the signer user's key", signer, signer_links), Rotation("the CloudFront key pair", pair, cf_links)


# --- re-issuing an at-risk link ----------------------------------------------------------


@dataclass(frozen=True)
class Rescue:
    """What re-issuing an at-risk link would do: the same object, ticket and file name, for the rest of its promise."""

    source: LogEntry
    request: ShareRequest | None
    strategy: str | None
    why: str

    @property
    def possible(self) -> bool:
        return self.request is not None and self.strategy is not None


def plan_rescue(desk: Desk, entry: LogEntry, actor: Identity | None, now: datetime | None = None) -> Rescue:
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    left = entry.nominal_expires_at - now
    if left < timedelta(minutes=1):
        return Rescue(entry, None, None, "Its promise ends within a minute: there is nothing left to re-issue.")
    if actor is None:
        return Rescue(entry, None, None, "Sign in first: the new link records who issued it.")
    request = ShareRequest(
        bucket=entry.bucket,
        key=entry.key,
        lifetime=timedelta(seconds=int(left.total_seconds())),
        issuer=actor.name,
        filename=entry.filename,
        ticket=entry.ticket,
        note=f"re-issued from log entry {entry.id}: its credentials end before its promise",
    )
    advice = issuing.recommend(issuing.previews(desk, request, now, actor=actor), request.lifetime)
    if advice.strategy is None:
        return Rescue(entry, None, None, advice.why)
    return Rescue(entry, request, advice.strategy, advice.why)


def rescue(desk: Desk, plan: Rescue, actor: Identity) -> issuing.IssuedLink:
    """Issue the planned link (logged before it is returned, like any other)."""
    if not plan.possible:
        raise DeskError(plan.why)
    assert plan.request is not None and plan.strategy is not None
    return issuing.issue(desk, [plan.request], plan.strategy, verify_objects=True, actor=actor)[0]
