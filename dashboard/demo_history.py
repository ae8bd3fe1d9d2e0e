"""The demo's history: a few hundred links issued over the past four weeks, the way the desk issues them.

Every past link is really signed (SigV4 with the signing clock set to its
issue time, or CloudFront) and logged through the issuing service's own row
builder, so the audit pages and the complaint desk explain true links:
ambient links die at the simulated task role's credential rotation, role
sessions at 12 h, signer-user and CloudFront links run their course.

The sessions those links were signed with are `demo_sessions`: their access
key ids carry when they ended, so the demo S3 (in whichever process serves
it, before or after a restart) refuses a cut-short link with `ExpiredToken`
exactly when the log says it died.
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta, timezone

from dashboard import demo, demo_sessions
from dashboard.aws import CredentialSnapshot
from dashboard.desk import Desk
from dashboard.issuing import log_row
from dashboard.store import LogEntry
from dashboard.strategies import ShareRequest, Signed
from dashboard.strategies.iam_user import LABEL as IAM_LABEL
from dashboard.strategies.role_session import LABEL as ROLE_LABEL
from dashboard.strategies.s3links import presign_get, s3_caps, signed_s3_link

DAYS = 28
COUNT = 320
TASK_ROTATION = timedelta(hours=6)  # the simulated task role's sessions, back to back
ROLE_SESSION = timedelta(hours=12)
ISSUERS = ("alice", "bob", "chen", "dana")
STRATEGIES = (("ambient", 45), ("role-session", 20), ("iam-user", 20), ("cloudfront", 15))
LIFETIMES = ((timedelta(hours=1), 15), (timedelta(hours=12), 20), (timedelta(days=1), 25), (timedelta(days=3), 15), (timedelta(days=7), 25))


_METHODS = {"task": "container-role", "role": "assume-role"}


def _snapshot(found: demo_sessions.HistorySession) -> CredentialSnapshot:
    return CredentialSnapshot(
        access_key_id=found.access_key_id,
        secret_access_key=found.secret_access_key,
        session_token=found.session_token,
        method=_METHODS[found.kind],
        expires_at=found.expires_at,
    )


def _past_session(kind: str, expires_at: datetime) -> CredentialSnapshot:
    """The temporary credentials the desk held back then, the same every time they are made again."""
    return _snapshot(demo_sessions.session(kind, expires_at))


def _window(at: datetime, base: datetime, length: timedelta) -> tuple[int, datetime]:
    index = int((at - base) / length)
    return index, base + length * (index + 1)


def _sign_at(desk: Desk, strategy: str, request: ShareRequest, at: datetime, base: datetime) -> Signed:
    if strategy == "cloudfront":
        return desk.strategies["cloudfront"].sign(request, at)
    if strategy == "ambient":
        _, ends = _window(at, base, TASK_ROTATION)
        credentials = _past_session("task", ends)
        facts = credentials.facts()
    elif strategy == "role-session":
        _, ends = _window(at, base, ROLE_SESSION)
        credentials = _past_session("role", ends)
        facts = credentials.facts(ROLE_LABEL)
    else:
        credentials = desk.aws.signer_key()
        facts = credentials.facts(IAM_LABEL)
    url = presign_get(desk.aws.s3(credentials), credentials, request, at)
    return signed_s3_link(strategy, request, url, facts, s3_caps(desk.settings))


def seed_history(desk: Desk, now: datetime | None = None, count: int = COUNT) -> int:
    """Log `count` past links when the demo's log is empty; returns how many were written."""
    if desk.log.count():
        return 0
    now = (now or datetime.now(timezone.utc)).replace(minute=0, second=0, microsecond=0)
    base = now - timedelta(days=DAYS)
    rng = random.Random(20261129)
    keys = [(b, k) for b, k, storage in demo.demo_objects() if storage == "STANDARD" and not k.startswith(demo.BIG_PREFIX)]
    times = sorted(base + timedelta(seconds=rng.randrange(int((now - base).total_seconds()) - 3600)) for _ in range(count))
    rows = []
    for number, at in enumerate(times):
        strategy = rng.choices([s for s, _ in STRATEGIES], weights=[w for _, w in STRATEGIES])[0]
        lifetime = rng.choices([t for t, _ in LIFETIMES], weights=[w for _, w in LIFETIMES])[0]
        bucket, key = rng.choice(keys)
        request = ShareRequest(
            bucket=bucket,
            key=key,
            lifetime=lifetime,
            issuer=rng.choice(ISSUERS),
            ticket=f"TCK-{1000 + number}",
            note="demo history",
        )
        rows.append(log_row(request, strategy, _sign_at(desk, strategy, request, at, base), at))
    # Written only if the log is still empty, decided inside the write: when
    # several processes start at once on a fresh state folder, one seeds.
    return len(desk.log.seed_once(rows))


def _credentials_of(entry: LogEntry, desk: Desk) -> CredentialSnapshot:
    """The past session (or the signer key) that signed a history row, known from its access key id alone."""
    if entry.strategy == "iam-user":
        return desk.aws.signer_key()
    found = demo_sessions.recognise(entry.access_key_id or "")
    if found is None or _METHODS[found.kind] != ("container-role" if entry.strategy == "ambient" else "assume-role"):
        raise LookupError(f"log entry {entry.id} was not signed by the demo history")
    return _snapshot(found)


def history_url(desk: Desk, entry: LogEntry) -> str:
    """Re-sign a history link exactly as it was signed (same keys and time), on today's demo S3, so it can be pasted.

    The demo keeps no URL (the log never stores signatures); the history's
    credentials follow from their access key ids, so the URL can be made
    again.  It points at the demo endpoint that runs now (a restarted desk
    may have another port); on the port the history was seeded on, which a
    restarted demo takes again when it is free, its signature is the very
    one the log fingerprinted.
    """
    if entry.strategy not in ("ambient", "role-session", "iam-user") or entry.note != "demo history":
        raise LookupError("only the demo history's S3 links can be made again")
    credentials = _credentials_of(entry, desk)
    request = ShareRequest(bucket=entry.bucket, key=entry.key, lifetime=entry.nominal_expires_at - entry.signed_at, issuer=entry.issuer)
    return presign_get(desk.aws.s3(credentials), credentials, request, entry.signed_at)


def cut_short_sample(desk: Desk, now: datetime | None = None) -> tuple[LogEntry, str] | None:
    """The most recent history link that is cut short right now, with its URL, for demos and tests.

    A demo log seeded by an older version holds sessions this one cannot make
    again (their key ids carry no end): those rows are passed over.
    """
    now = now or datetime.now(timezone.utc)
    for entry in desk.log.recent(2000):
        real = entry.effective_expires_at
        if entry.note == "demo history" and entry.strategy == "ambient" and real is not None and real <= now < entry.nominal_expires_at:
            with contextlib.suppress(LookupError):
                return entry, history_url(desk, entry)
    return None
