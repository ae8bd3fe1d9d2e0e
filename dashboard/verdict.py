"""Probe and verdict agree, or the page says why: the server's own answer reconciled with the expiry model.

The model knows what the log and the URL say; the server knows what it does
now. When they agree, the answer confirms the verdict. When they contradict
each other (the file downloads although the log calls the link dead;
``ExpiredToken`` for a link whose credentials the URL alone cannot date;
``InvalidAccessKeyId`` for a key that was deleted), the verdict for *now*
follows the server, state and ``bound_by``, and the reason says what the
server said and what it implies; the model's own reason is kept beside it.
An answer about now never rewrites a verdict asked for another moment, and
a refusal that is not about expiry (an altered signature, a deleted object)
leaves the verdict as it is and says so. Pure, but for :func:`probe_now`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from dashboard.expiry import BoundBy, State, as_utc
from dashboard.inspect import Explanation, is_alive, moment_text
from dashboard.probe import ProbeResult, probe
from dashboard.probe_policy import Resolver, Targets
from dashboard.urlparse import LinkKind

if TYPE_CHECKING:
    from dashboard.config import Settings

__all__ = ["NOW_TOLERANCE", "probe_now", "reconcile"]

#: How far the chosen moment may be from the probe's and still count as "now".
NOW_TOLERANCE = timedelta(minutes=2)
_CREDENTIAL_CODES = ("ExpiredToken", "InvalidToken", "TokenRefreshRequired")


def probe_now(
    explanation: Explanation, settings: Settings, *, resolver: Resolver | None = None, now: datetime | None = None, timeout: float | None = None
) -> Explanation:
    """Probe the pasted link (only its own kind of server, see :mod:`dashboard.probe_policy`) and reconcile the answer."""
    if explanation.url is None:
        return explanation  # a log row alone: the log keeps no working link to ask with
    kwargs = {"timeout": timeout} if timeout is not None else {}
    result = probe(explanation.url, Targets.from_settings(settings), kind=explanation.kind, resolver=resolver, **kwargs)
    return reconcile(explanation, result, now or datetime.now(UTC))


def reconcile(e: Explanation, answer: ProbeResult, probed_at: datetime) -> Explanation:
    """The explanation with the server's answer, its state and reason following that answer where they contradict."""
    probed_at = as_utc(probed_at)
    who = _server(e.kind)
    base = replace(e, probe=answer)
    if answer.refused:
        return replace(base, probe_note="The probe was not sent, so the verdict rests on the log and the URL alone.")
    if not answer.answered:
        return replace(base, probe_note="The probe got no answer, so the verdict rests on the log and the URL alone.")
    if e.at is None or abs(as_utc(e.at) - probed_at) > NOW_TOLERANCE:
        return replace(
            base,
            probe_note=f"{who}'s answer tells how the link stands now ({moment_text(probed_at)}); the verdict above is for "
            f"{moment_text(e.at) if e.at else 'another moment'}, so the answer does not change it.",
        )
    said = _said(answer)
    alive = is_alive(e.state)
    nominal = e.nominal_expires_at
    before_nominal = nominal is None or probed_at < nominal

    if answer.works:
        if alive:
            left = f"; when its credentials end is still unknown, at the latest {moment_text(nominal)}" if e.effective_expires_at is None and nominal else ""
            return replace(base, probe_note=f"{who} served it just now ({said}), as the verdict says{left}.")
        return _override(e, answer, State.LIVE, BoundBy.NOMINAL, None, f"{who} {said} at {moment_text(probed_at)} although {_expected(e)}: {_why_alive(e, probed_at)}.")

    code = answer.code
    message = f" (“{answer.message}”)" if answer.message else ""
    if code in _CREDENTIAL_CODES:
        if not alive:
            return replace(base, probe_note=f"{who}'s answer, {code}{message}, confirms it: the session token that signed it has ended.")
        if e.log_entry is not None and e.effective_expires_at is not None:
            since = f"; the log expected them to last until {moment_text(e.effective_expires_at)}, so the session ended early (revoked, or cut by its platform)"
        else:
            since = "; exactly when is not in the URL, and the desk has no record of these credentials"
        state = State.CUT_SHORT if before_nominal else State.EXPIRED
        end = f" before its nominal expiry at {moment_text(nominal)}" if nominal and before_nominal else ""
        return _override(e, answer, state, BoundBy.CREDENTIALS, None, f"{who} answered {code}{message} at {moment_text(probed_at)}: the temporary credentials that signed the link have expired, so it died with its session token{end}{since}.")
    if code == "InvalidAccessKeyId":
        if not alive:
            return replace(base, probe_note=f"{who}'s answer, {code}{message}, agrees that it is dead: the key that signed it no longer exists.")
        key = f" {e.access_key_id}" if e.access_key_id else ""
        end = f", before its nominal expiry at {moment_text(nominal)}" if nominal and before_nominal else ""
        return _override(e, answer, State.REVOKED, BoundBy.REVOKED, None, f"{who} answered {code}{message} at {moment_text(probed_at)}: it does not know the access key{key} that signed the link, so the key was deleted (or its session is gone) and every link it signed is dead{end}.")
    lowered = (answer.message or "").lower()
    if code == "AccessDenied" and "request has expired" in lowered:
        if e.state is State.EXPIRED or (not alive and not before_nominal):
            return replace(base, probe_note=f"{who}'s answer, {code}{message}, confirms it: the link's own expiry has passed.")
        if not alive:
            return replace(base, probe_note=f"{who} says the link's own expiry has passed ({code}{message}); it died earlier still, as the verdict says.")
        clocks = f" (S3's clock: {answer.server_time})" if answer.server_time else ""
        return _override(e, answer, State.EXPIRED, BoundBy.NOMINAL, nominal, f"{who} answered {code}{message}{clocks} at {moment_text(probed_at)}: by S3's clock the link's own expiry has passed, so the desk's clock, or the URL's X-Amz-Date, disagrees with S3's.")
    if code == "AccessDenied" and "not yet valid" in lowered:
        if e.state is State.NOT_YET_VALID:
            return replace(base, probe_note=f"{who}'s answer, {code}{message}, confirms it: the link is not valid yet.")
        return _override(e, answer, State.NOT_YET_VALID, e.bound_by, e.effective_expires_at, f"{who} answered {code}{message} at {moment_text(probed_at)}: by S3's clock the link was signed in the future, so the signer's clock ran ahead of S3's.")
    if code == "AccessDenied":
        if not alive:
            return replace(base, probe_note=f"{who}'s answer, {code}{message}, agrees that it does not work.")
        end = f", before its nominal expiry at {moment_text(nominal)}" if nominal and before_nominal else ""
        return _override(e, answer, State.REVOKED, BoundBy.REVOKED, None, f"{who} answered {code}{message} at {moment_text(probed_at)}: the link has not expired, yet S3 refuses it, so the signing key was deactivated, its sessions were revoked, or a bucket policy (such as an s3:signatureAge cap) refuses it now{end}.")
    # Refusals that are not about expiry: the verdict stands, and the page says why the link fails anyway.
    if alive:
        return replace(base, probe_note=f"{who} refuses it for a reason that is not its expiry ({said}): {answer.meaning} The expiry verdict stands, but the link does not work as pasted.")
    return replace(base, probe_note=f"{who} answered {said}: {answer.meaning}")


def _override(e: Explanation, answer: ProbeResult, state: State, bound: BoundBy | str, effective: datetime | None, reason: str) -> Explanation:
    return replace(
        e,
        probe=answer,
        state=state,
        bound_by=bound,
        effective_expires_at=effective,
        reason=reason,
        model_reason=e.reason,
        probe_note=f"The verdict follows {_server(e.kind)}'s own answer: the log and the URL alone said “{e.reason}”",
    )


def _server(kind: LinkKind) -> str:
    if kind is LinkKind.CLOUDFRONT:
        return "CloudFront"
    if kind is LinkKind.STABLE:
        return "The desk's resolver"
    return "S3"


def _said(answer: ProbeResult) -> str:
    if answer.works and answer.status is not None and 300 <= answer.status < 400:
        return f"redirected to a fresh download ({answer.status})"
    if answer.works:
        return f"served the first byte ({answer.status})"
    return f"{answer.status} {answer.code}" if answer.code else f"{answer.status}"


def _expected(e: Explanation) -> str:
    if e.state is State.REVOKED:
        return "the log says it was revoked"
    if e.effective_expires_at is not None:
        return f"the desk expected it dead since {moment_text(e.effective_expires_at)}"
    return "the desk expected it dead"


def _why_alive(e: Explanation, probed_at: datetime) -> str:
    """What it implies that a link the model calls dead still works."""
    nominal = e.nominal_expires_at
    if e.kind is LinkKind.STABLE:
        return "the resolver that answered does not read this log (another desk, or a copy of it)"
    if nominal is not None and probed_at >= nominal:
        return (
            "the server does not enforce the link's own expiry, which S3 always does, so it is not AWS's S3 "
            "(a test or S3-compatible server) or its clock is wrong; the customer's complaint is not about expiry here"
        )
    if e.bound_by is BoundBy.CREDENTIALS:
        latest = f"; it works until its nominal expiry at {moment_text(nominal)} at the latest" if nominal else ""
        return (
            "the credentials that signed it are still accepted, so the server does not check their expiry (a test server "
            f"or an S3-compatible store), or they lasted longer than the desk recorded{latest}"
        )
    return "the cause the desk recorded has not taken effect on this server"
