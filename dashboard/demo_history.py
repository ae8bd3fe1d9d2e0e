"""The demo's history: a few hundred links issued over the past four weeks, the way the desk issues them.

Every past link is really signed (SigV4 with the signing clock set to its
issue time, or CloudFront) and logged through the issuing service's own row
builder, so the audit pages and the complaint desk explain true links:
ambient links die at the simulated task role's credential rotation, role
sessions at 12 h, signer-user and CloudFront links run their course.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta, timezone

from dashboard import demo
from dashboard.aws import CredentialSnapshot
from dashboard.desk import Desk
from dashboard.issuing import log_row
from dashboard.strategies import ShareRequest, Signed
from dashboard.strategies.role_session import LABEL as ROLE_LABEL
from dashboard.strategies.s3links import presign_get, s3_caps, signed_s3_link, signing_clock

DAYS = 28
COUNT = 320
TASK_ROTATION = timedelta(hours=6)  # the simulated task role's sessions, back to back
ROLE_SESSION = timedelta(hours=12)
ISSUERS = ("alice", "bob", "chen", "dana")
STRATEGIES = (("ambient", 45), ("role-session", 20), ("iam-user", 20), ("cloudfront", 15))
LIFETIMES = ((timedelta(hours=1), 15), (timedelta(hours=12), 20), (timedelta(days=1), 25), (timedelta(days=3), 15), (timedelta(days=7), 25))


def _fake_session(kind: str, index: int, expires_at: datetime, method: str) -> CredentialSnapshot:
    """Deterministic stand-ins for the temporary credentials the desk held back then."""
    digest = hashlib.sha256(f"{kind}-{index}".encode()).hexdigest().upper()
    return CredentialSnapshot(
        access_key_id="ASIA" + digest[:16],
        secret_access_key=digest[16:56],
        session_token=hashlib.sha256(f"token-{kind}-{index}".encode()).hexdigest(),
        method=method,
        expires_at=expires_at,
    )


def _window(at: datetime, base: datetime, length: timedelta) -> tuple[int, datetime]:
    index = int((at - base) / length)
    return index, base + length * (index + 1)


def _sign_at(desk: Desk, strategy: str, request: ShareRequest, at: datetime, base: datetime) -> Signed:
    if strategy == "cloudfront":
        return desk.strategies["cloudfront"].sign(request, at)
    if strategy == "ambient":
        index, ends = _window(at, base, TASK_ROTATION)
        credentials = _fake_session("task", index, ends, "container-role")
        facts = credentials.facts()
    elif strategy == "role-session":
        index, ends = _window(at, base, ROLE_SESSION)
        credentials = _fake_session("role", index, ends, "assume-role")
        facts = credentials.facts(ROLE_LABEL)
    else:
        credentials = desk.aws.signer_key()
        facts = credentials.facts("the signer user's long-term access key")
    with signing_clock(at):
        url = presign_get(desk.aws.s3(credentials), request)
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
    desk.log.record_many(rows)
    return len(rows)
