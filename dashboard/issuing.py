"""Issuing links: preview every strategy, recommend one, sign, log, and only then hand out.

The log is written before any link is returned.  A link that leaves the desk
unaudited is exactly the complaint this product exists to explain, so if the
log cannot be written, no link is shown at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dashboard import catalog
from dashboard import policy as sharing
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import BadInput, DeskError
from dashboard.expiry import LifetimeError
from dashboard.identity import Identity, named
from dashboard.safetext import one_line
from dashboard.store import LogEntry, LogError, LogLocationError, NewLink
from dashboard.strategies import Preview, ShareRequest, Signed
from dashboard.strategies.base import preview_from


#: The lifetimes the Share page offers first (label -> lifetime).
LIFETIME_PRESETS: dict[str, timedelta] = {
    "15 min": timedelta(minutes=15),
    "1 h": timedelta(hours=1),
    "12 h": timedelta(hours=12),
    "1 d": timedelta(days=1),
    "7 d": timedelta(days=7),
    "30 d": timedelta(days=30),
}


@dataclass(frozen=True)
class Recommendation:
    strategy: str | None
    why: str


@dataclass(frozen=True)
class IssuedLink:
    url: str
    entry: LogEntry

    def __repr__(self) -> str:  # the URL carries the signature: keep it out of reprs and tracebacks
        return f"IssuedLink(id={self.entry.id}, display_url={self.entry.display_url!r})"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def actor_of(request: ShareRequest, actor: Identity | None) -> Identity | None:
    """Who the policy judges: the verified identity the caller passes, else the request's issuer by name alone.

    A name alone carries no groups, so it can never earn more than the
    policy's rules for that name (or its default role) give.
    """
    if actor is not None:
        return actor
    return named(request.issuer) if request.issuer.strip() else None


def previews(desk: Desk, request: ShareRequest, now: datetime | None = None, *, actor: Identity | None = None) -> list[Preview]:
    """What each strategy would give for this request now, safest first; failures and policy refusals become reasons."""
    now = now or utcnow()
    rules = sharing.policy_for(desk.settings)
    who = actor_of(request, actor)
    result = []
    for strategy in desk.strategies.values():
        if who is not None and (refusal := rules.share_refusal(who, request.bucket, request.key, strategy.name, request.lifetime)):
            result.append(preview_from(strategy, unavailable=refusal))
            continue
        try:
            result.append(strategy.preview(request, now))
        except DeskError as exc:
            result.append(preview_from(strategy, unavailable=str(exc)))
    return result


def recommend(options: Sequence[Preview], lifetime: timedelta) -> Recommendation:
    """The safest strategy whose real expiry reaches the asked lifetime; else the longest-lived one."""
    asked = format_duration(lifetime)
    reaching = sorted((p for p in options if p.reaches_asked), key=lambda p: p.risk_rank)
    if reaching:
        best = reaching[0]
        others = [p.strategy for p in reaching[1:]]
        also = f"; {', '.join(others)} would also last, with more standing risk" if others else ""
        return Recommendation(best.strategy, f"{best.strategy} lasts the full {asked} asked with the least standing risk ({best.risk.rstrip('.').lower()}){also}.")
    known = [p for p in options if p.expiry is not None and p.expiry.effective_expires_at is not None]
    if not known:
        return Recommendation(None, f"No configured strategy can sign a link for {asked}: shorten the lifetime or configure another strategy.")
    best = max(known, key=lambda p: (p.expiry.effective_expires_at, -p.risk_rank))  # type: ignore[union-attr]
    assert best.expiry is not None and best.expiry.effective_expires_at is not None
    real = format_duration(best.expiry.effective_expires_at - best.expiry.signed_at)
    return Recommendation(best.strategy, f"No strategy reaches the {asked} asked; {best.strategy} lasts longest ({real}).")


def log_row(request: ShareRequest, strategy: str, signed: Signed, issued_at: datetime) -> NewLink:
    expiry, credentials = signed.expiry, signed.credentials
    assert expiry is not None and credentials is not None
    return NewLink(
        issued_at=issued_at,
        issuer=request.issuer,
        strategy=strategy,
        bucket=request.bucket,
        key=request.key,
        filename=request.filename,
        ticket=request.ticket,
        note=request.note,
        signed_at=expiry.signed_at,
        nominal_expires_at=expiry.nominal_expires_at,
        effective_expires_at=expiry.effective_expires_at,
        bound_by=str(expiry.bound_by),
        reason=expiry.reason,
        credential_source=credentials.method,
        access_key_id=credentials.access_key_id,
        credential_kind=str(credentials.kind),
        credential_expires_at=credentials.expires_at,
        fingerprint=signed.fingerprint,
        display_url=signed.display_url,
    )


def check_request(
    desk: Desk, request: ShareRequest, *, verify_object: bool, strategy: str | None = None, actor: Identity | None = None
) -> None:
    """Refuse what the desk may not share, before anything is signed: settings, then the sharing policy, then the object."""
    if not request.issuer.strip():
        raise BadInput("The desk does not know who is issuing this link: sign in or type your name first.")
    if actor is not None and actor.name != request.issuer:
        raise BadInput("The link's issuer is not the person signed in: issue it as yourself.")
    catalog.validate_bucket_name(request.bucket)
    catalog.check_allowed(request.bucket, desk.settings.buckets)
    if not request.key:
        raise BadInput(f"s3://{request.bucket}/ names no object: give the full key of the file to share.")
    sharing.policy_for(desk.settings).check_share(actor_of(request, actor), request.bucket, request.key, strategy, request.lifetime if strategy else None)
    if verify_object:
        details = catalog.head(desk.aws.s3(), request.bucket, request.key)
        if not details.downloadable:
            raise BadInput(
                f"{details.info.s3_uri} is in {details.info.storage_class} and cannot be downloaded until it is restored: "
                "restore it first, then share it."
            )


def issue(
    desk: Desk,
    requests: Sequence[ShareRequest],
    strategy_name: str,
    *,
    verify_objects: bool = True,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    actor: Identity | None = None,
) -> list[IssuedLink]:
    """Sign every request with one strategy, commit the whole batch to the log, then return the links.

    `actor` is the verified person issuing (its groups give the policy role);
    without it each request's issuer is judged by name alone.
    """
    strategy = desk.strategies.get(strategy_name)
    if strategy is None:
        raise BadInput(f"Unknown strategy {strategy_name!r}: choose one of {', '.join(desk.strategies)}.")
    for request in requests:
        check_request(desk, request, verify_object=verify_objects, strategy=strategy_name, actor=actor)
    try:
        log = desk.log  # opened before anything is signed: a log that cannot keep a row stops here
    except LogLocationError as exc:
        raise BadInput(str(exc)) from None
    except LogError as exc:
        raise DeskError(str(exc)) from None
    issued_at = now or utcnow()
    signed: list[tuple[ShareRequest, Signed]] = []
    for done, request in enumerate(requests, start=1):
        try:
            signed.append((request, strategy.sign(request, issued_at)))
        except LifetimeError as exc:
            raise BadInput(str(exc)) from None
        if progress:
            progress(done, len(requests))
    try:
        entries = log.record_many([log_row(r, strategy.name, s, issued_at) for r, s in signed], [s.stable for _, s in signed])
    except LogError as exc:
        raise DeskError(str(exc)) from None
    return [IssuedLink(url=s.url, entry=e) for (_, s), e in zip(signed, entries)]


def customer_message(links: Sequence[IssuedLink], now: datetime | None = None) -> str:
    """A ready-to-paste message stating each link's real expiry in the customer's terms."""
    now = now or utcnow()
    lines = ["Hello,", "", "Here is your download link." if len(links) == 1 else "Here are your download links.", ""]
    for link in links:
        entry = link.entry
        name = one_line(entry.filename or entry.key.rsplit("/", 1)[-1])  # a key's own line break cannot split the message
        end = entry.effective_expires_at
        if end is None:
            when = "for a limited time (we cannot say exactly how long)"
        elif end <= now:
            lines += [f"{name}:", link.url, f"This link already stopped working at {end:%A %d %B %Y, %H:%M} UTC: ask us for a new one.", ""]
            continue
        else:
            when = f"until {end:%A %d %B %Y, %H:%M} UTC ({format_duration(end - now, parts=2)} from now)"
        lines += [f"{name}:", link.url, f"This link works {when}.", ""]
    lines.append("If a link stops working, reply to this message and we will send a new one.")
    return "\n".join(lines)
