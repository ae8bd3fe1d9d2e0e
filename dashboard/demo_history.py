"""The demo's history: a few hundred links issued over the past four weeks, the way the desk issues them.

Every past link is really signed (SigV4 with the signing clock set to its
issue time, or CloudFront) and logged through the issuing service's own row
builder, so the audit pages and the complaint desk explain true links:
ambient links die at the simulated task role's credential rotation, role
sessions at 12 h, signer-user and CloudFront links run their course.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import urlsplit

from dashboard import demo
from dashboard.aws import CredentialSnapshot, client_config
from dashboard.expiry import as_utc
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


_CLOCK_LOCK = threading.Lock()


@contextlib.contextmanager
def signing_clock(at: datetime) -> Iterator[None]:
    """Sign as if it were `at`: only the demo's history of past links does this.

    botocore reads the signing time from `botocore.auth.get_current_datetime`
    (PLATFORM.md); patching it is the documented way to reproduce a signature.
    """
    naive = as_utc(at).replace(tzinfo=None)
    with _CLOCK_LOCK, mock.patch("botocore.auth.get_current_datetime", return_value=naive):
        yield


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
        facts = credentials.facts(IAM_LABEL)
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
    # Written only if the log is still empty, decided inside the write: when
    # several processes start at once on a fresh state folder, one seeds.
    return len(desk.log.seed_once(rows))


def _credentials_of(entry: LogEntry, desk: Desk) -> tuple[CredentialSnapshot, str]:
    """The fake session (or the signer key) that signed a history row, found from its access key id."""
    if entry.strategy == "iam-user":
        return desk.aws.signer_key(), "iam-user"
    kind, method, windows = ("task", "container-role", DAYS * 4 + 8) if entry.strategy == "ambient" else ("role", "assume-role", DAYS * 2 + 4)
    for index in range(windows):
        candidate = _fake_session(kind, index, entry.credential_expires_at or entry.signed_at, method)
        if candidate.access_key_id == entry.access_key_id:
            return candidate, entry.strategy
    raise LookupError(f"log entry {entry.id} was not signed by the demo history")


def history_url(desk: Desk, entry: LogEntry) -> str:
    """Re-sign a history link exactly as it was signed (same keys, time and host), so it can be pasted.

    The demo keeps no URL (the log never stores signatures); the history's
    credentials are derived from their access key ids, so the URL can be made
    again, and its signature matches the fingerprint in the log.
    """
    if entry.strategy not in ("ambient", "role-session", "iam-user") or entry.note != "demo history":
        raise LookupError("only the demo history's S3 links can be made again")
    credentials, _ = _credentials_of(entry, desk)
    endpoint = "{0.scheme}://{0.netloc}".format(urlsplit(entry.display_url))
    client = desk.aws.session.client(
        "s3",
        endpoint_url=endpoint,
        config=client_config(desk.settings, "s3"),
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    request = ShareRequest(bucket=entry.bucket, key=entry.key, lifetime=entry.nominal_expires_at - entry.signed_at, issuer=entry.issuer)
    with signing_clock(entry.signed_at):
        return presign_get(client, request)


def cut_short_sample(desk: Desk, now: datetime | None = None) -> tuple[LogEntry, str] | None:
    """The most recent history link that is cut short right now, with its URL, for demos and tests."""
    now = now or datetime.now(timezone.utc)
    for entry in desk.log.recent(2000):
        real = entry.effective_expires_at
        if entry.note == "demo history" and entry.strategy == "ambient" and real is not None and real <= now < entry.nominal_expires_at:
            return entry, history_url(desk, entry)
    return None
