"""Synthetic issuance history for benches and tests: `bulk_fill` writes realistic rows fast.

Not used by the desk itself. The rows follow the demo history's mix (see
`bulk_fill`) but nothing is signed and no secret exists: fingerprints are
random hex and display URLs are made up.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dashboard.store.entries import to_epoch

if TYPE_CHECKING:
    from dashboard.store.log import IssuanceLog

__all__ = ["bulk_fill"]

_FILL_STRATEGIES = (("ambient", 40), ("role-session", 20), ("iam-user", 20), ("cloudfront", 12), ("stable", 8))
_HOUR, _DAY = 3600, 86400
_S3_LIFETIMES = ((_HOUR, 15), (12 * _HOUR, 20), (_DAY, 25), (3 * _DAY, 15), (7 * _DAY, 25))
_LONG_LIFETIMES = ((_DAY, 30), (7 * _DAY, 40), (30 * _DAY, 20), (90 * _DAY, 10))
_FILL_ISSUERS = (
    "alice", "bob", "chen", "dana", "emeka", "farah", "goran", "hana", "ines", "jonas",
    "kofi", "lena", "mateo", "nadia", "oskar", "priya", "quinn", "rosa", "sven", "tariq",
)
_FILL_BUCKETS = ("sharedesk-demo-support", "sharedesk-demo-exports", "sharedesk-demo-archive")
_CUSTOMERS = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell")
_FOLDERS = ("reports", "exports", "tickets", "invoices", "logs")
_TASK_ROTATION = 6 * _HOUR  # the simulated task role's credentials, back to back (as in demo_history)
_ROLE_SESSION = 12 * _HOUR
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _span(seconds: float) -> str:
    """A lost or asked lifetime in words, as the reasons say it (to the minute, no timedelta)."""
    days, rest = divmod(int(seconds), _DAY)
    hours, rest = divmod(rest, _HOUR)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{v} {unit}{'s' if v != 1 else ''}" for v, unit in parts if v][:2]
    return " ".join(words) or "under a minute"


def _moment(epoch: float) -> str:
    dt = datetime.fromtimestamp(epoch, tz=UTC)
    return f"{dt:%H:%M} UTC on {dt.day} {_MONTHS[dt.month - 1]} {dt.year}"


class _Words(dict[Any, str]):
    """A memo of ``make(key)``: reasons repeat the same few moments and durations."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> str:
        value = self[key] = self.make(key)
        return value


_REBUILD_AT = 100_000


def bulk_fill(
    log: IssuanceLog,
    n: int,
    *,
    seed: int,
    now: datetime | None = None,
    days: int = 28,
    batch: int = 50_000,
) -> int:
    """Append ``n`` synthetic but realistic links issued over the ``days`` before ``now``; return ``n``.

    For benches and tests only. The mix follows the demo history: ambient
    links die at a 6-hourly credential rotation (1% were signed with
    credentials of unknown expiry), role sessions at 12 h, signer-user,
    CloudFront and stable links run their course, and a fifth of stable links
    are revoked. Nothing is signed: fingerprints are random hex, display URLs
    synthetic, and no secret exists. Rows go in oldest first with
    ``executemany``, ``batch`` rows per transaction; one seed gives one
    history. Filling at least 100,000 rows into a smaller log rebuilds its
    indexes and the audit rollup instead of growing them (see
    `IssuanceLog.bulk_load`); smaller fills go through the rollup's triggers
    like any other write. Every row is hash-chained like any the desk writes.
    """
    if n < 0:
        raise ValueError(f"n must be zero or more, not {n}.")
    end = to_epoch(now or datetime.now(UTC)) or 0.0
    batches = _fill_batches(seed, n, end, days, batch)
    rebuild = n >= _REBUILD_AT and n > log.count()
    log.bulk_load(batches, rebuild_indexes=rebuild)  # chained like any row the desk writes
    return n


def _fill_batches(seed: int, n: int, end: float, days: int, batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of `bulk_fill`, ``batch`` at a time, in issue order.

    Each kind of draw has its own random stream, so the rows depend on the
    seed alone and not on how they are cut into batches.
    """
    rng, when, what, who, short, long = (
        random.Random(f"{seed}:{part}") for part in ("row", "time", "strategy", "issuer", "short", "long")
    )
    start = end - days * _DAY
    span = end - start - 60  # the newest link is at least a minute old
    names = [s for s, _ in _FILL_STRATEGIES]
    weights = [w for _, w in _FILL_STRATEGIES]
    issuer_weights = [1 / (i + 1) for i in range(len(_FILL_ISSUERS))]
    spans = _Words(lambda minutes: _span(minutes * 60))
    moments = _Words(_moment)
    first_ticket = 100_000 + rng.randrange(100_000)
    done = 0
    while done < n:
        size = min(batch, n - done)
        # One link per slot of span / n, somewhere inside it: already in order.
        times = [start + span * (i + when.random()) / n for i in range(done, done + size)]
        chosen = what.choices(names, weights, k=size)
        people = who.choices(_FILL_ISSUERS, issuer_weights, k=size)
        lifetimes = short.choices([t for t, _ in _S3_LIFETIMES], [w for _, w in _S3_LIFETIMES], k=size)
        longer = long.choices([t for t, _ in _LONG_LIFETIMES], [w for _, w in _LONG_LIFETIMES], k=size)
        rows = []
        for i in range(size):
            number = done + i
            issued, strategy, issuer = times[i], chosen[i], people[i]
            lifetime = longer[i] if strategy in ("cloudfront", "stable") else lifetimes[i]
            nominal = issued + lifetime
            effective: float | None = nominal
            bound = "nominal"
            credential_end: float | None = None
            revoked_at: float | None = None
            revoked_by: str | None = None
            asked = spans[lifetime // 60]
            bucket = _FILL_BUCKETS[number % 7 % 3]
            key = f"customers/{_CUSTOMERS[rng.getrandbits(3)]}/{_FOLDERS[number % 5]}/{number % 997:03d}/file-{number}.csv"
            if strategy == "ambient" or strategy == "role-session":
                ambient = strategy == "ambient"
                period = _TASK_ROTATION if ambient else _ROLE_SESSION
                window = int(issued // period)
                label = "the task role's temporary credentials" if ambient else "a session of the signing role"
                source = "container-role" if ambient else "assume-role"
                key_id = f"ASIA{'T' if ambient else 'R'}{window:015d}"
                kind = "temporary"
                if ambient and rng.random() < 0.01:
                    effective, bound = None, "credentials"
                    reason = (
                        f"Signed with {label}, whose expiry is not visible, so the link may stop working "
                        f"at any time before its nominal expiry at {moments[nominal // 60 * 60]}."
                    )
                else:
                    credential_end = float((window + 1) * period)
                    if credential_end < nominal:
                        effective, bound = credential_end, "credentials"
                        verb = "expire" if ambient else "expires"
                        lost = spans[int(nominal - credential_end) // 60]
                        reason = f"Signed with {label}, which {verb} at {moments[credential_end]}, {lost} before the {asked} asked."
                    else:
                        reason = f"Runs its full {asked}: {label}, which {'expire' if ambient else 'expires'} at {moments[credential_end]}, {'outlive' if ambient else 'outlives'} it."
                display = f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Credential={key_id}&X-Amz-Expires={lifetime}&X-Amz-Signature=…"
            elif strategy == "iam-user":
                source, key_id, kind = "explicit", "AKIASHAREDESKBENCH01", "long-term"
                reason = f"Runs its full {asked}: the signer user's long-term access key does not expire."
                display = f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Credential={key_id}&X-Amz-Expires={lifetime}&X-Amz-Signature=…"
            elif strategy == "cloudfront":
                source, key_id, kind = "cloudfront-key-pair", "K2SHAREDESKBENCH", "long-term"
                reason = f"Runs its full {asked}: the CloudFront key pair does not expire."
                display = f"https://d111111bench.cloudfront.net/{key}?Expires={int(nominal)}&Signature=…&Key-Pair-Id=K2SHAREDESKBENCH"
            else:
                source, key_id, kind = "stable-link", None, "long-term"
                reason = f"Runs its full {asked}: the desk's stable link does not expire."
                display = "https://desk.example.com/s/…"
                if rng.random() < 0.2:
                    at = issued + rng.random() * lifetime
                    if at < end:
                        revoked_at, revoked_by = at, issuer
            rows.append(
                (
                    issued, issuer, strategy, bucket, key, None,
                    None if number % 10 == 9 else f"TCK-{first_ticket + number // 3}",
                    "bulk fill", issued, nominal, effective, bound, reason, source, key_id, kind,
                    credential_end, f"{rng.getrandbits(256):064x}", display, revoked_at, revoked_by,
                )
            )
        yield rows
        done += size

