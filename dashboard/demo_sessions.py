"""The demo history's temporary credentials: everything about them follows from the access key id.

The demo's history holds links signed weeks ago with sessions that no STS
ever issued (the task role's rotations, the signing role's 12-hour
sessions).  The demo S3 must still judge those links as S3 would: a valid
signature made with a session that has since ended is `ExpiredToken`.  No
record of the sessions is kept anywhere; instead the access key id itself
carries the session's kind and end, sealed with a MAC under a fixed demo
seed, and the secret key and session token are derived from the key id.
So any process (the desk that seeded the log, a desk restarted later, the
command line) recognises such a key, re-derives its secret and token, and
knows when its session ended.

An id looks like a real one: `ASIA` and 16 characters of base32 (A–Z, 2–7)
over 10 bytes: kind (1), session end in epoch seconds (4), MAC (5).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime, timezone

__all__ = ["KINDS", "HistorySession", "recognise", "session"]

#: Public on purpose, like `demo.SIGNER_SECRET`: these keys open nothing but the embedded demo.
SEED = b"share-desk demo history sessions, not a real key, v1"
KINDS = {"task": 1, "role": 2}
_PREFIX = "ASIA"
_MAC_BYTES = 5


@dataclass(frozen=True)
class HistorySession:
    """One past session of the demo history, as STS would have issued it."""

    kind: str
    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expires_at: datetime


def _mac(label: bytes, data: bytes) -> bytes:
    return hmac.new(SEED, label + b"\0" + data, hashlib.sha256).digest()


def _derive(kind: str, access_key_id: str, expires_at: datetime) -> HistorySession:
    raw = access_key_id.encode()
    secret = base64.b64encode(_mac(b"secret", raw)[:30]).decode()  # 40 characters, like AWS's
    token = base64.b64encode(_mac(b"token-1", raw) + _mac(b"token-2", raw) + _mac(b"token-3", raw)).decode()
    return HistorySession(kind=kind, access_key_id=access_key_id, secret_access_key=secret, session_token=token, expires_at=expires_at)


def session(kind: str, expires_at: datetime) -> HistorySession:
    """The session of `kind` ("task" or "role") that ends at `expires_at` (whole seconds, UTC)."""
    end = int(expires_at.astimezone(timezone.utc).timestamp())
    body = bytes([KINDS[kind]]) + end.to_bytes(4, "big")
    key_id = _PREFIX + base64.b32encode(body + _mac(b"id", body)[:_MAC_BYTES]).decode()
    return _derive(kind, key_id, datetime.fromtimestamp(end, timezone.utc))


def recognise(access_key_id: str) -> HistorySession | None:
    """The history session behind this access key id, or None when the demo history never made it."""
    if len(access_key_id) != 20 or not access_key_id.startswith(_PREFIX):
        return None
    try:
        sealed = base64.b32decode(access_key_id[len(_PREFIX) :])
    except ValueError:
        return None
    body, mac = sealed[:-_MAC_BYTES], sealed[-_MAC_BYTES:]
    if len(body) != 5 or not hmac.compare_digest(mac, _mac(b"id", body)[:_MAC_BYTES]):
        return None
    kind = next((name for name, code in KINDS.items() if code == body[0]), None)
    if kind is None:
        return None
    end = datetime.fromtimestamp(int.from_bytes(body[1:], "big"), timezone.utc)
    return _derive(kind, access_key_id, end)
