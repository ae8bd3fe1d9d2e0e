"""Who holds which secret in the embedded demo: the access keys the demo's S3 checker verifies against.

Real S3 asks IAM and STS; the demo asks the same fake services moto runs in
this process (IAM users' access keys, STS assumed-role sessions), then the
demo history's sessions, which need no state at all (see `demo_sessions`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from dashboard import demo_sessions

__all__ = ["Credential", "Keyring", "demo_keyring", "history_keyring", "moto_keyring"]


@dataclass(frozen=True)
class Credential:
    """What S3 knows of an access key id: its secret, and for a session its token and end."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)  # None: a long-term IAM user key
    expires_at: datetime | None = None  # when the session ends (never for a long-term key)
    active: bool = True  # an IAM key can be deactivated

    @property
    def temporary(self) -> bool:
        return self.session_token is not None


#: Looks an access key id up; None when nobody issued it.
Keyring = Callable[[str], "Credential | None"]


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _backends(backend_dict: Any) -> Iterable[Any]:
    # list() first: other threads (the demo server's) may add accounts meanwhile (moto does the same, #5881)
    for _, account in list(backend_dict.items()):
        for _, backend in list(account.items()):
            yield backend


def moto_keyring(access_key_id: str) -> Credential | None:
    """The key as moto's STS (assumed-role sessions) and IAM (users' access keys) hold it right now."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for backend in _backends(sts_backends):
        for role in list(backend.assumed_roles):
            if role.access_key_id == access_key_id:
                return Credential(access_key_id, role.secret_access_key, role.session_token, _utc(role.expiration))
    for backend in _backends(iam_backends):
        for user in list(backend.users.values()):
            for key in list(user.access_keys):
                if key.access_key_id == access_key_id:
                    return Credential(access_key_id, key.secret_access_key, active=key.status == "Active")
    return None


def history_keyring(access_key_id: str) -> Credential | None:
    """A session of the demo history, recognised from its access key id alone."""
    found = demo_sessions.recognise(access_key_id)
    if found is None:
        return None
    return Credential(access_key_id, found.secret_access_key, found.session_token, found.expires_at)


def demo_keyring(access_key_id: str) -> Credential | None:
    """Every key the demo knows: moto's live IAM and STS first, then the history's past sessions."""
    return moto_keyring(access_key_id) or history_keyring(access_key_id)
