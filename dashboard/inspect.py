"""Explain a pasted link (or a ticket's links): what it is, when it really stops working, and why.

The complaint desk starts from whatever the customer sent back: the links
are recovered from the paste by :mod:`dashboard.paste` (sentences, e-mails,
wrappers) and read by :mod:`dashboard.urlparse`; each signature (or stable token) is hashed
and looked up in the issuance log, whose row knows what the URL cannot: the
real expiry of the credentials that signed it. A link the log does not know
is explained as far as its URL allows, and says so, rather than guessed.

No Streamlit and no network here: the Inspect page (:func:`inspect_input`),
``python -m dashboard inspect`` and the tests all explain links the same way;
the live probe and its reconciliation with the verdict live in
:mod:`dashboard.verdict`. Re-issuing goes through the issuing service, like
any other link (log first, then the link).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from dashboard.durations import format_duration
from dashboard.errors import BadInput, DeskError
from dashboard.expiry import (
    BoundBy,
    CredentialFacts,
    CredentialKind,
    Expiry,
    LifetimeError,
    SigningFacts,
    State,
    as_utc,
    compute,
    iso_z,
    state_at,
)
from dashboard.paste import MAX_LINKS, Found, find_links
from dashboard.store import LogEntry, LogError, fingerprint
from dashboard.urlparse import MAX_SIGV4_EXPIRES, LinkKind, LinkParseError, ParsedLink

if TYPE_CHECKING:
    from dashboard.desk import Desk
    from dashboard.identity import Identity
    from dashboard.issuing import IssuedLink
    from dashboard.probe import ProbeResult
    from dashboard.store import IssuanceLog, StableLink
    from dashboard.strategies import ShareRequest

__all__ = [
    "CONTRACT_FIELDS",
    "Explanation",
    "Inspection",
    "ReissuePlan",
    "explain",
    "explain_entry",
    "explain_id",
    "explain_paste",
    "explain_ticket",
    "headline",
    "inspect_input",
    "is_alive",
    "is_bare_token",
    "is_ticket_reference",
    "moment_text",
    "lookup",
    "plan_reissue",
    "reissue",
    "ticket_rows",
    "to_json",
]

#: The keys of ``inspect --json``, in order (SPEC.md, "Command line").
CONTRACT_FIELDS = (
    "kind",
    "bucket",
    "key",
    "region",
    "access_key_id",
    "credential_kind",
    "signed_at",
    "nominal_expires_at",
    "effective_expires_at",
    "bound_by",
    "state",
    "reason",
    "log_entry",
)

# Ticket references as people type them (TCK-1042, INC0012345, JIRA-7, #1042): one short token, no scheme.
_TICKET_RE = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}")
_STABLE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_CREDENTIAL_REGION_RE = re.compile(r"X-Amz-Credential=[^&/%]+(?:%2F|/)\d{8}(?:%2F|/)([a-z0-9-]+)(?:%2F|/)", re.IGNORECASE)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_NOT_IN_LOG = (
    "This link is not in this desk's issuance log (issued elsewhere, by the console, the AWS CLI or another desk, "
    "or altered since): everything shown is read from the URL alone."
)


@dataclass(frozen=True)
class Explanation:
    """Everything the desk can say about one link at one moment.

    ``effective_expires_at`` is None where the real expiry cannot be known
    (temporary credentials the desk has no record of); ``signed_at`` is None
    for kinds of link that do not carry it (SigV2, CloudFront). The first
    thirteen fields are the JSON contract; the rest serve the page.
    """

    kind: LinkKind
    bucket: str | None
    key: str | None
    region: str | None
    access_key_id: str | None
    credential_kind: CredentialKind
    signed_at: datetime | None
    nominal_expires_at: datetime | None
    effective_expires_at: datetime | None
    bound_by: BoundBy | str
    state: State
    reason: str
    log_entry: LogEntry | None
    display_url: str | None = None
    warnings: tuple[str, ...] = ()
    host: str | None = None
    at: datetime | None = None  # the moment ``state`` describes
    not_before: datetime | None = None  # CloudFront custom policy DateGreaterThan
    url: str | None = field(default=None, repr=False, compare=False)  # the link as pasted and recovered: secret, for the probe only
    found_by: tuple[str, ...] = ()  # how the link was recovered from the paste ("unwrapped from ...")
    probe: ProbeResult | None = None  # the server's own answer, when it was asked
    probe_note: str | None = None  # how that answer relates to the model's verdict
    model_reason: str | None = None  # the model's reason, when the server's answer overrode it
    credential_source: str | None = None  # botocore's credentials.method, from the log ("container-role"...)

    @property
    def lifetime(self) -> timedelta | None:
        """The lifetime the link was asked for (nominal minus signing time), when both are known."""
        if self.signed_at is None or self.nominal_expires_at is None:
            return None
        return self.nominal_expires_at - self.signed_at

    @property
    def cut_short(self) -> bool:
        return (
            self.effective_expires_at is not None
            and self.nominal_expires_at is not None
            and self.effective_expires_at < self.nominal_expires_at
        )


def headline(e: Explanation, tz: tzinfo = UTC) -> str:
    """The state at the chosen moment as one short sentence, with the times that matter for it (in ``tz``, named).

    The reason says why a link ends when it does; this says where the chosen
    moment falls: a link that is live now but dies in two hours must not read
    as good news.
    """
    nominal, effective = e.nominal_expires_at, e.effective_expires_at
    lost = format_duration(nominal - effective) if nominal is not None and effective is not None and e.cut_short else ""

    def when(moment: datetime) -> str:
        return moment_text(moment, tz)

    if e.model_reason is not None and e.probe is not None and e.probe.status is not None:
        said = f"{e.probe.status}{' ' + e.probe.code if e.probe.code else ''}"
        if is_alive(e.state):
            ends = f" until {when(nominal)} at the latest" if nominal is not None else ""
            return f"Works now, says the server ({said}), though the desk expected it dead; it can work{ends}."
        if effective is None:
            return f"Dead now, says the server ({said}); when exactly it died is not known."
    if e.state is State.NOT_YET_VALID:
        start = e.not_before or e.signed_at
        return f"Not valid yet: it starts working at {when(start)}." if start else "Not valid yet."
    if e.state is State.REVOKED:
        return f"Revoked at {when(effective)}: the customer gets a 'withdrawn' page." if effective else "Revoked."
    if nominal is None:
        return f"{str(e.state).capitalize()}."
    if is_alive(e.state):
        if effective is None:
            return f"May still work until {when(nominal)}, but the real expiry is unknown: probe it to ask S3."
        if lost:
            return f"Works until {when(effective)}, then dies {lost} before the expiry it promised."
        return f"Works until {when(effective)}, as promised."
    if e.state is State.CUT_SHORT:
        if effective is None:
            return f"Dead before the expiry it promised ({when(nominal)}); when exactly is not known."
        return f"Dead since {when(effective)}, {lost} before the expiry it promised ({when(nominal)})."
    if lost:
        assert effective is not None
        return f"Dead since {when(effective)}, {lost} early; its promised expiry ({when(nominal)}) has passed too."
    if effective is None:
        return f"Dead since {when(nominal)} at the latest; it may have died sooner, and the desk cannot tell when."
    return f"Expired at {when(nominal)}, as promised."


def is_alive(state: State) -> bool:
    """Live, or live but at risk (a state the audit may add): the link opens at that moment."""
    return state is State.LIVE or str(state) == "at-risk"


# --------------------------------------------------------------------------- entry points


def explain(log: IssuanceLog, text: str, *, at: datetime | None = None, stable_prefix: str = "/s/") -> Explanation:
    """Explain the (first) link in a paste as it stands at ``at`` (default: now).

    Raises :class:`~dashboard.errors.BadInput` carrying one sentence when the
    text holds no link, and for a stable link whose token this desk never
    issued (its URL says nothing else).
    """
    return explain_paste(log, text, at=at, stable_prefix=stable_prefix)[0]


def explain_paste(log: IssuanceLog, text: str, *, at: datetime | None = None, stable_prefix: str = "/s/") -> list[Explanation]:
    """Every link found in what was pasted (a link, a sentence, an e-mail...), each explained, in the order they appear.

    A stable link this desk never issued is left out when other links were
    found, and is the one-sentence :class:`BadInput` when it is all there is.
    """
    moment = _moment(at)
    try:
        found = find_links(text, stable_prefix=stable_prefix)
    except LinkParseError as exc:
        raise BadInput(str(exc)) from None
    explanations: list[Explanation] = []
    unknown_stable: BadInput | None = None
    for item in found[:MAX_LINKS]:
        try:
            explanations.append(_explain_found(log, item, moment))
        except BadInput as exc:
            unknown_stable = unknown_stable or exc
    if not explanations:
        assert unknown_stable is not None
        raise unknown_stable
    return explanations


def _explain_found(log: IssuanceLog, item: Found, at: datetime) -> Explanation:
    """The reading of the link the log knows (a wrapped link may be read several ways), else the best reading from its URL."""
    try:
        for link in (item.link, *item.alternatives):
            if link.kind is LinkKind.STABLE:
                assert link.token is not None
                stable = log.find_stable(fingerprint(link.token))
                if stable is not None:
                    return _with_paste(_from_entry(stable.entry, at, link=link, stable=stable), link, item)
                continue
            entry = log.find_by_fingerprint(fingerprint(link.signature)) if link.signature else None
            if entry is not None:
                return _with_paste(_from_entry(entry, at, link=link), link, item)
    except LogError as exc:
        raise DeskError(str(exc)) from None
    if item.link.kind is LinkKind.STABLE:
        raise BadInput(
            "No stable link in this desk's log has that token, so the resolver answers 'Link not found': "
            "it was cut off or mistyped, or another desk issued it."
        )
    return _with_paste(_from_url(item.link, at), item.link, item)


def _with_paste(explanation: Explanation, link: ParsedLink, item: Found) -> Explanation:
    return replace(explanation, url=link.url, found_by=item.notes)


def explain_entry(log: IssuanceLog, entry: LogEntry, at: datetime | None = None) -> Explanation:
    """Explain a log row without its URL (the log never keeps one)."""
    stable = log.get_stable(entry.id) if entry.strategy == "stable" else None
    return _from_entry(entry, _moment(at), stable=stable)


def explain_id(log: IssuanceLog, text: str, at: datetime | None = None) -> Explanation:
    """Explain the log entry with this id (``/inspect?id=42``, the timeline's links), or say in one sentence why not."""
    from dashboard.store import LogEntryNotFound

    raw = (text or "").strip().lstrip("#")
    if not raw.isdigit() or len(raw) > 18:
        raise BadInput(f"{raw[:20]!r} is not a log entry id: ids are whole numbers, as the Expiry timeline shows them.")
    try:
        entry = log.get(int(raw))
        return explain_entry(log, entry, at)
    except LogEntryNotFound:
        raise BadInput(f"The issuance log has no entry {int(raw)}: check the id, or paste the link itself.") from None
    except LogError as exc:
        raise DeskError(str(exc)) from None


def explain_ticket(log: IssuanceLog, ticket: str, at: datetime | None = None) -> list[Explanation]:
    """Every link issued under ``ticket``, newest first, explained from their log rows."""
    try:
        entries = log.find_by_ticket(ticket.strip())
        return [explain_entry(log, entry, at) for entry in entries]
    except LogError as exc:
        raise DeskError(str(exc)) from None


def is_ticket_reference(text: str) -> bool:
    """True for a short reference such as ``TCK-1042``; anything with a scheme or spaces is a link attempt."""
    stripped = (text or "").strip()
    return "://" not in stripped and bool(_TICKET_RE.fullmatch(stripped))


def lookup(log: IssuanceLog, text: str, *, at: datetime | None = None, stable_prefix: str = "/s/") -> list[Explanation]:
    """What the Inspect page and the command line are given: a paste with links, a ticket reference, or a bare stable token.

    Returns the explanations of every link found in a paste, or a ticket's
    links (possibly none) for a reference; raises :class:`BadInput` with one
    sentence otherwise.
    """
    stripped = (text or "").strip()
    if not stripped:
        raise BadInput("Nothing was pasted: paste the link the customer received, or type a ticket reference such as TCK-1042.")
    if _STABLE_TOKEN_RE.fullmatch(stripped):
        # A bare token may start with '-' or '_', which no ticket does: look it up before reading it as a ticket.
        try:
            stable = log.find_stable(fingerprint(stripped))
        except LogError as exc:
            raise DeskError(str(exc)) from None
        if stable is not None:
            return [_from_entry(stable.entry, _moment(at), stable=stable)]
    if is_ticket_reference(stripped):
        return explain_ticket(log, stripped, at)
    return explain_paste(log, stripped, at=at, stable_prefix=stable_prefix)


@dataclass(frozen=True)
class Inspection:
    """What the Inspect page shows for its input: the links of a paste, a ticket's links, one log entry, or nothing yet."""

    what: str  # "links", "ticket", "entry", "token" or "empty"
    explanations: tuple[Explanation, ...] = ()
    ticket: str | None = None  # the reference, when the input was one

    @property
    def first(self) -> Explanation | None:
        return self.explanations[0] if self.explanations else None


def inspect_input(
    log: IssuanceLog, text: str, *, entry_id: str | None = None, at: datetime | None = None, stable_prefix: str = "/s/"
) -> Inspection:
    """The page's one service: explain what was pasted or typed, or the log entry an Expiry timeline row links to."""
    stripped = (text or "").strip()
    if not stripped:
        if entry_id:
            return Inspection("entry", (explain_id(log, entry_id, at),))
        return Inspection("empty")
    if is_bare_token(log, stripped):
        return Inspection("token", tuple(lookup(log, stripped, at=at, stable_prefix=stable_prefix)))
    if is_ticket_reference(stripped):
        return Inspection("ticket", tuple(explain_ticket(log, stripped, at)), ticket=stripped)
    return Inspection("links", tuple(explain_paste(log, stripped, at=at, stable_prefix=stable_prefix)))


def is_bare_token(log: IssuanceLog, text: str) -> bool:
    """Whether ``text`` is a stable link's token this desk issued (never echoed back: it is a secret)."""
    stripped = (text or "").strip()
    if not _STABLE_TOKEN_RE.fullmatch(stripped):
        return False
    try:
        return log.find_stable(fingerprint(stripped)) is not None
    except LogError:
        return False


def ticket_rows(explanations: list[Explanation] | tuple[Explanation, ...], tz: tzinfo = UTC) -> list[dict[str, Any]]:
    """One row per link of a ticket, for a table: the log's facts and the verdict at the chosen moment."""
    rows = []
    for e in explanations:
        entry = e.log_entry
        rows.append(
            {
                "Log id": entry.id if entry else None,
                "Issued": entry.issued_at if entry else None,
                "Issuer": entry.issuer if entry else "",
                "Strategy": entry.strategy if entry else "",
                "Object": f"s3://{e.bucket}/{e.key}" if e.bucket else (e.key or ""),
                "State": str(e.state),
                "Real expiry": e.effective_expires_at,
                "Nominal expiry": e.nominal_expires_at,
                "At a glance": headline(e, tz),
            }
        )
    return rows


def to_json(explanation: Explanation) -> dict[str, Any]:
    """The JSON contract: exactly :data:`CONTRACT_FIELDS`, times ISO 8601 UTC with a Z."""
    e = explanation
    return {
        "kind": str(e.kind),
        "bucket": e.bucket,
        "key": e.key,
        "region": e.region,
        "access_key_id": e.access_key_id,
        "credential_kind": str(e.credential_kind),
        "signed_at": iso_z(e.signed_at),
        "nominal_expires_at": iso_z(e.nominal_expires_at),
        "effective_expires_at": iso_z(e.effective_expires_at),
        "bound_by": str(e.bound_by) if e.bound_by is not None else None,
        "state": str(e.state),
        "reason": e.reason,
        "log_entry": _entry_json(e.log_entry) if e.log_entry is not None else None,
    }


def _entry_json(entry: LogEntry) -> dict[str, Any]:
    """A log row as JSON: every field (none is secret), times as ISO Z."""
    return {f.name: iso_z(v) if isinstance(v, datetime) else v for f in fields(entry) for v in [getattr(entry, f.name)]}


# --------------------------------------------------------------------------- from the log


def _from_entry(entry: LogEntry, at: datetime, *, link: ParsedLink | None = None, stable: StableLink | None = None) -> Explanation:
    """The log row is the truth: it recorded the real expiry of the credentials when the link was signed."""
    kind = _kind_of(entry.strategy, link)
    warnings = list(link.warnings) if link is not None else []
    signed = entry.signed_at
    nominal = stable.expires_at if stable is not None else entry.nominal_expires_at
    effective = entry.effective_expires_at
    if stable is not None and effective is not None:
        effective = min(effective, stable.expires_at)
    bound: BoundBy | str = _bound(entry.bound_by)
    reason = entry.reason
    revoked = entry.revoked_at
    if revoked is not None and kind is LinkKind.STABLE:
        if effective is None or revoked < effective:
            # compute() words revocations like every other reason the desk gives.
            facts = SigningFacts(
                strategy=entry.strategy,
                signed_at=signed,
                lifetime=max(nominal - signed, timedelta(0)),
                credentials=CredentialFacts(kind=CredentialKind.LONG_TERM, label="the desk's stable link"),
                revoked_at=revoked,
            )
            model = compute(facts)
            effective, bound = model.effective_expires_at, model.bound_by
            by = f" by {entry.revoked_by}" if entry.revoked_by else ""
            reason = model.reason[:-1].replace("Revoked at", f"Revoked{by} at", 1) + ": the desk's resolver answers a 'withdrawn' page."
    elif revoked is not None:
        warnings.append(
            f"The log marks this link revoked at {moment_text(revoked)}, but a presigned link cannot be revoked one by one: "
            "it keeps working until it expires unless its signing key is deactivated."
        )
    if link is not None and kind is not LinkKind.STABLE and link.nominal_expires_at is not None:
        if abs(link.nominal_expires_at - entry.nominal_expires_at) > timedelta(seconds=1):
            warnings.append(
                "The expiry in this URL differs from the one recorded when it was issued: the link was edited, "
                "so S3 refuses it (SignatureDoesNotMatch)."
            )
    model_expiry = Expiry(signed, nominal, effective, bound if isinstance(bound, BoundBy) else BoundBy.NOMINAL, reason)
    state = state_at(model_expiry, at)
    not_before = link.not_before if link is not None else None
    if not_before is not None and at < not_before:
        state = State.NOT_YET_VALID
    return Explanation(
        kind=kind,
        bucket=entry.bucket,
        key=entry.key,
        region=(link.region if link is not None else None) or _region_from_display(entry.display_url),
        access_key_id=entry.access_key_id or (link.access_key_id if link is not None else None),
        credential_kind=_credential_kind(entry.credential_kind),
        signed_at=signed,
        nominal_expires_at=nominal,
        effective_expires_at=effective,
        bound_by=bound,
        state=state,
        reason=reason,
        log_entry=entry,
        display_url=link.display_url if link is not None else entry.display_url,
        warnings=tuple(warnings),
        host=link.host if link is not None else _host_of(entry.display_url),
        at=at,
        not_before=not_before,
        credential_source=entry.credential_source,
    )


def _kind_of(strategy: str, link: ParsedLink | None) -> LinkKind:
    if link is not None:
        return link.kind
    if strategy == "stable":
        return LinkKind.STABLE
    if strategy == "cloudfront":
        return LinkKind.CLOUDFRONT
    return LinkKind.S3_SIGV4  # the desk signs every S3 link with SigV4


def _bound(value: str) -> BoundBy | str:
    try:
        return BoundBy(value)
    except ValueError:
        return value  # a value a newer desk wrote: shown as stored


def _credential_kind(value: str | None) -> CredentialKind:
    try:
        return CredentialKind(value or "unknown")
    except ValueError:
        return CredentialKind.UNKNOWN


def _region_from_display(display_url: str) -> str | None:
    match = _CREDENTIAL_REGION_RE.search(display_url or "")
    return match.group(1) if match else None


def _host_of(display_url: str) -> str | None:
    rest = (display_url or "").partition("://")[2]
    return rest.split("/", 1)[0].rpartition("@")[2].lower() or None


# --------------------------------------------------------------------------- from the URL alone


def _from_url(link: ParsedLink, at: datetime) -> Explanation:
    """A link the desk has no record of: only what its URL says, and what follows from it."""
    warnings = [*link.warnings, _NOT_IN_LOG]
    if link.kind is LinkKind.S3_SIGV4:
        signed, nominal, effective, bound, reason, credentials = _sigv4_facts(link)
    elif link.kind is LinkKind.S3_SIGV2:
        signed, nominal, effective, bound, reason, credentials = _sigv2_facts(link)
    else:
        signed, nominal, effective, bound, reason, credentials = _cloudfront_facts(link)
    if link.ip_range:
        warnings.append(f"The CloudFront policy only lets the range {link.ip_range} download it: anyone else gets 403.")
    if link.version_id is None and link.kind is not LinkKind.CLOUDFRONT:
        warnings.append(
            "No versionId was signed: if the object was overwritten the link serves the new bytes, and if it was deleted "
            "S3 answers NoSuchKey (not an expiry; the live probe shows it)."
        )
    # Kinds that do not carry a signing time are valid from the start of time as far as we can tell.
    floor = signed or link.not_before or datetime.min.replace(tzinfo=UTC)
    state = state_at(Expiry(floor, nominal, effective, bound, reason), at)
    if link.not_before is not None and at < link.not_before:
        state = State.NOT_YET_VALID
    return Explanation(
        kind=link.kind,
        bucket=link.bucket,
        key=link.key,
        region=link.region,
        access_key_id=link.key_pair_id if link.kind is LinkKind.CLOUDFRONT else link.access_key_id,
        credential_kind=credentials,
        signed_at=signed,
        nominal_expires_at=nominal,
        effective_expires_at=effective,
        bound_by=bound,
        state=state,
        reason=reason,
        log_entry=None,
        display_url=link.display_url,
        warnings=tuple(warnings),
        host=link.host,
        at=at,
        not_before=link.not_before,
    )


_Facts = tuple[datetime | None, datetime, datetime | None, BoundBy, str, CredentialKind]


def _sigv4_facts(link: ParsedLink) -> _Facts:
    assert link.signed_at is not None and link.nominal_expires_at is not None and link.expires_seconds is not None
    signed, nominal, seconds = link.signed_at, link.nominal_expires_at, link.expires_seconds
    credentials = CredentialFacts.from_access_key(link.access_key_id, has_session_token=link.has_session_token, on_aws=link.on_aws)
    key = link.access_key_id or "unknown key"
    if not 1 <= seconds <= MAX_SIGV4_EXPIRES:
        return (
            signed,
            nominal,
            signed,
            BoundBy.MAX_LIFETIME,
            f"S3 refuses an X-Amz-Expires of {seconds} seconds outright (it accepts 1 to 604800, 7 days), "
            "so this link never worked: re-issue it, with the stable or cloudfront strategy for more than 7 days.",
            credentials.kind,
        )
    try:
        model = compute(SigningFacts("unknown", signed, timedelta(seconds=seconds), credentials))
    except LifetimeError as exc:
        raise BadInput(str(exc)) from None
    asked = format_duration(timedelta(seconds=seconds))
    if credentials.kind is CredentialKind.TEMPORARY:
        reason = (
            f"Signed with temporary credentials ({key}), so it may have died before its nominal expiry at {moment_text(nominal)}; "
            "the desk has no record of when they expired (the live probe asks S3)."
        )
        return signed, nominal, None, BoundBy.CREDENTIALS, reason, credentials.kind
    if credentials.kind is CredentialKind.LONG_TERM:
        where = "" if link.on_aws else " of the S3-compatible endpoint (no session token came with it)"
        reason = (
            f"Signed with a long-term access key{where} ({key}), so it runs its full {asked}, until {moment_text(nominal)}, "
            "unless that key was deactivated or deleted meanwhile."
        )
        return signed, nominal, model.effective_expires_at, model.bound_by, reason, credentials.kind
    reason = (
        f"Signed with credentials of an unknown kind ({key} is not an AWS key id), so it lasts at most its {asked}, "
        f"until {moment_text(nominal)}, and ends sooner if they expire; the desk has no record of when."
    )
    return signed, nominal, None, BoundBy.NOMINAL, reason, credentials.kind


def _sigv2_facts(link: ParsedLink) -> _Facts:
    assert link.nominal_expires_at is not None
    nominal = link.nominal_expires_at
    credentials = CredentialFacts.from_access_key(link.access_key_id, has_session_token=link.has_session_token, on_aws=link.on_aws)
    legacy = "A legacy SigV2 link (refused by buckets created after 2020-06-24 and by SSE-KMS objects)"
    if credentials.kind is CredentialKind.TEMPORARY:
        reason = (
            f"{legacy} signed with temporary credentials: it may have died before its nominal expiry at {moment_text(nominal)}, "
            "and the desk has no record of when."
        )
        return None, nominal, None, BoundBy.CREDENTIALS, reason, credentials.kind
    if credentials.kind is CredentialKind.LONG_TERM:
        reason = f"{legacy} signed with a long-term access key: it works until {moment_text(nominal)} unless that key was deactivated."
        return None, nominal, nominal, BoundBy.NOMINAL, reason, credentials.kind
    reason = f"{legacy} signed with credentials of an unknown kind: it works at most until {moment_text(nominal)}."
    return None, nominal, None, BoundBy.NOMINAL, reason, credentials.kind


def _cloudfront_facts(link: ParsedLink) -> _Facts:
    assert link.nominal_expires_at is not None
    nominal = link.nominal_expires_at
    policy = "custom-policy" if link.policy is not None else "canned-policy"
    start = f" from {moment_text(link.not_before)}" if link.not_before is not None else ""
    reason = (
        f"A CloudFront {policy} link (key pair {link.key_pair_id}): no AWS credentials can cut it short, so it works{start} "
        f"until {moment_text(nominal)} unless that public key leaves the distribution's trusted key group."
    )
    return None, nominal, nominal, BoundBy.NOMINAL, reason, CredentialKind.LONG_TERM


def moment_text(dt: datetime, tz: tzinfo = UTC) -> str:
    """A moment as the expiry model's reasons say it: ``14:05 UTC on 2 Jan 2026`` (or ``15:05 CET on …`` in ``tz``)."""
    dt = as_utc(dt).astimezone(tz)
    return f"{dt:%H:%M} {dt.tzname() or 'UTC'} on {dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


def _moment(at: datetime | None) -> datetime:
    return as_utc(at) if at is not None else datetime.now(UTC)


# --------------------------------------------------------------------------- re-issue


@dataclass(frozen=True)
class ReissuePlan:
    """What a one-click re-issue would do, or why it cannot (``request`` or ``strategy`` None)."""

    request: ShareRequest | None
    strategy: str | None
    why: str
    actor: Identity | None = None  # the verified person re-issuing: their groups give the policy role

    @property
    def possible(self) -> bool:
        return self.request is not None and self.strategy is not None


def plan_reissue(
    desk: Desk, explanation: Explanation, issuer: str, *, now: datetime | None = None, actor: Identity | None = None
) -> ReissuePlan:
    """The same object, the same lifetime as first asked, with the strategy the desk recommends now."""
    from dashboard import catalog, issuing
    from dashboard.strategies import ShareRequest

    e = explanation
    if not e.bucket or not e.key:
        return ReissuePlan(None, None, "The desk cannot tell which S3 object this link serves, so it cannot re-issue it: share the file again from Browse.")
    try:
        catalog.check_allowed(e.bucket, desk.settings.buckets)
    except DeskError as exc:
        return ReissuePlan(None, None, str(exc))
    lifetime = e.lifetime if e.lifetime is not None and e.lifetime > timedelta(0) else None
    guessed = lifetime is None
    lifetime = lifetime or timedelta(days=1)
    entry = e.log_entry
    try:
        request = ShareRequest(
            bucket=e.bucket,
            key=e.key,
            lifetime=lifetime,
            issuer=issuer,
            filename=entry.filename if entry else None,
            ticket=entry.ticket if entry else None,
            note=f"re-issue of link {entry.id}" if entry else "re-issue of a link not in the log",
        )
    except DeskError as exc:  # a ticket or name the log kept from before control characters were refused
        return ReissuePlan(None, None, f"The desk cannot re-issue this link as it stands: {exc}")
    advice = issuing.recommend(issuing.previews(desk, request, now, actor=actor), lifetime)
    if guessed:
        return ReissuePlan(request, advice.strategy, f"The link does not say how long it was meant to last, so 1 day is asked. {advice.why}", actor)
    return ReissuePlan(request, advice.strategy, advice.why, actor)


def reissue(desk: Desk, plan: ReissuePlan) -> IssuedLink:
    """Issue the planned link through the issuing service (logged before it is returned)."""
    from dashboard import issuing

    if plan.request is None or plan.strategy is None:
        raise BadInput(plan.why)
    return issuing.issue(desk, [plan.request], plan.strategy, actor=plan.actor)[0]
