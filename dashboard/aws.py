"""The one place boto3 clients are made, and what the desk knows of its credentials.

Every client gets an explicit `botocore.config.Config` with
`signature_version="s3v4"`: without it botocore still emits SigV2 presigned
URLs for us-east-1 and custom endpoints (FACTS.md), which newer buckets refuse.
No client is made at import time, which also keeps moto's patching reliable.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from dashboard.config import Settings
from dashboard.errors import NotConfigured, from_aws
from dashboard.expiry import CredentialFacts, CredentialKind

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RETRIES = {"mode": "standard", "total_max_attempts": 4}

#: How reasons name the credentials a botocore method produced.
METHOD_LABELS = {
    "container-role": "the task role's temporary credentials",
    "iam-role": "the instance profile's temporary credentials",
    "assume-role": "the assumed role's temporary credentials",
    "assume-role-with-web-identity": "the web-identity role's temporary credentials",
    "sso": "the SSO session's temporary credentials",
}

#: Where a botocore `credentials.method` comes from, in plain words (the Signers
#: page, Inspect's reasons and the CLI name the source this way).
SOURCE_NAMES = {
    "container-role": "the ECS/Fargate task role (or EKS Pod Identity)",
    "iam-role": "the EC2 instance profile",
    "assume-role": "an assumed IAM role",
    "assume-role-with-web-identity": "a web-identity role (EKS IRSA or another OIDC provider)",
    "sso": "an IAM Identity Center (SSO) session",
    "env": "environment variables",
    "shared-credentials-file": "the shared credentials file (~/.aws/credentials)",
    "config-file": "the AWS config file (~/.aws/config)",
    "custom-process": "a credential_process command",
    "explicit": "keys given to the desk explicitly",
    "boto-config": "a boto config file",
}


def source_name(method: str | None) -> str:
    """Where credentials of this botocore `method` come from, in plain words."""
    if not method:
        return "an unknown source"
    return SOURCE_NAMES.get(method, f"the {method!r} credential provider")


#: botocore `credentials.method` values whose keys never expire.
LONG_TERM_METHODS = frozenset({"env", "shared-credentials-file", "config-file", "explicit", "boto-config", "iam-user"})


def client_config(settings: Settings, service: str) -> Config:
    s3: dict[str, Any] = {"addressing_style": "path" if settings.endpoint_url else "auto"}
    return Config(
        signature_version="s3v4" if service == "s3" else None,
        retries=RETRIES,  # type: ignore[arg-type]
        region_name=settings.region,
        connect_timeout=5,
        read_timeout=20,
        s3=s3 if service == "s3" else None,
    )


@dataclass(frozen=True)
class CredentialSnapshot:
    """A frozen set of keys plus the expiry and source of the credentials they came from.

    Signing with the snapshot (not the live, refreshable credentials) is what
    makes the recorded expiry exactly the one that signed.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)
    method: str | None = None
    expires_at: datetime | None = None
    on_aws: bool = True  # False on an S3-compatible endpoint, whose key ids follow no AWS prefix
    first_seen: datetime | None = None  # when this desk first saw this access key id (its last rotation, or the desk's start)
    rotated: bool = False  # whether the desk had seen another key from the same source before this one

    @property
    def temporary(self) -> bool:
        """A session token makes a key temporary anywhere; on AWS so does the ``ASIA`` prefix."""
        return bool(self.session_token) or (self.on_aws and self.access_key_id.startswith("ASIA"))

    @property
    def kind(self) -> str:
        if self.temporary:
            return "temporary"
        if self.access_key_id.startswith("AKIA") or self.method in LONG_TERM_METHODS or not self.on_aws:
            return "long-term"
        return "unknown"

    def facts(self, label: str | None = None, note: str | None = None) -> CredentialFacts:
        """What the expiry model needs to know of these credentials (``note``: why they end when they do)."""
        kind = CredentialKind(self.kind)
        default = {
            CredentialKind.TEMPORARY: METHOD_LABELS.get(self.method or "", "the temporary credentials"),
            CredentialKind.LONG_TERM: "the long-term access key",
            CredentialKind.UNKNOWN: "the credentials",
        }[kind]
        return CredentialFacts(
            kind=kind,
            expires_at=None if kind is CredentialKind.LONG_TERM else self.expires_at,
            method=self.method,
            access_key_id=self.access_key_id,
            label=label or default,
            note=note,
        )


def snapshot(credentials: Any, *, on_aws: bool = True) -> CredentialSnapshot:
    """Freeze botocore credentials and read their expiry (a private attribute, FACTS.md)."""
    frozen = credentials.get_frozen_credentials()
    # The expiry lives only on RefreshableCredentials._expiry_time; reading it after
    # freezing pairs it with the keys just frozen (a refresh may have happened inside).
    expiry = getattr(credentials, "_expiry_time", None)
    if isinstance(expiry, datetime):
        expiry = expiry.astimezone(timezone.utc) if expiry.tzinfo else expiry.replace(tzinfo=timezone.utc)
    else:
        expiry = None
    return CredentialSnapshot(
        access_key_id=frozen.access_key,
        secret_access_key=frozen.secret_key,
        session_token=frozen.token,
        method=getattr(credentials, "method", None),
        expires_at=expiry,
        on_aws=on_aws,
    )


class Aws:
    """Session and client factory shared by the pages, the command line and the link resolver."""

    def __init__(self, settings: Settings, session: boto3.Session | None = None) -> None:
        self.settings = settings
        self._session = session
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._signer_key: CredentialSnapshot | None = None
        self._keys_seen: dict[str, datetime] = {}  # ambient access key id -> when this desk first saw it

    @property
    def session(self) -> boto3.Session:
        with self._lock:
            if self._session is None:
                self._session = boto3.Session(region_name=self.settings.region)
            return self._session

    def client(self, service: str, credentials: CredentialSnapshot | None = None) -> Any:
        """A client for `service`, signing with the ambient credentials or with a frozen snapshot.

        Clients are cached per service and access key: creating one costs tens of
        milliseconds, signing with one costs a fraction of a millisecond.
        """
        cache_key = (service, credentials.access_key_id if credentials else None)
        session = self.session
        with self._lock:
            client = self._clients.get(cache_key)
            if client is None:
                kwargs: dict[str, Any] = {"config": client_config(self.settings, service), "region_name": self.settings.region}
                if self.settings.endpoint_url and service in ("s3", "sts", "iam", "secretsmanager"):
                    kwargs["endpoint_url"] = self.settings.endpoint_url
                if credentials is not None:
                    kwargs.update(
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key,
                        aws_session_token=credentials.session_token,
                    )
                client = session.client(service, **kwargs)
                if len(self._clients) > 64:  # role sessions rotate; keep the cache bounded
                    self._clients.clear()
                self._clients[cache_key] = client
            return client

    def s3(self, credentials: CredentialSnapshot | None = None) -> S3Client:
        return self.client("s3", credentials)

    def signer_key(self) -> CredentialSnapshot:
        """The dedicated signer user's long-term key, from settings or a Secrets Manager secret."""
        with self._lock:
            cached = self._signer_key
        if cached is not None:
            return cached
        settings = self.settings
        if settings.signer_access_key_id and settings.signer_secret_access_key:
            key_id, secret = settings.signer_access_key_id, settings.signer_secret_access_key
        elif settings.signer_secret_id:
            key_id, secret = self._signer_key_from_secret(settings.signer_secret_id)
        else:
            raise NotConfigured(
                "No signer user key is configured: set SHAREDESK_SIGNER_ACCESS_KEY_ID and SHAREDESK_SIGNER_SECRET_ACCESS_KEY "
                "(or SHAREDESK_SIGNER_SECRET_ID, a Secrets Manager secret)."
            )
        if self.on_aws and not key_id.startswith("AKIA"):
            raise NotConfigured(
                f"The signer key {key_id[:4]}… is not a long-term IAM user key (AKIA…): temporary keys would make its links die early."
            )
        # An S3-compatible endpoint's own keys follow no prefix: without a session token they are long-term.
        key = CredentialSnapshot(access_key_id=key_id, secret_access_key=secret, method="explicit", on_aws=self.on_aws)
        with self._lock:
            self._signer_key = key
        return key

    def _signer_key_from_secret(self, secret_id: str) -> tuple[str, str]:
        try:
            raw = self.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
        except Exception as exc:
            raise from_aws(exc, action=f"read the signer key secret {secret_id}") from None
        try:
            value = json.loads(raw)
            key_id, secret = str(value["access_key_id"]), str(value["secret_access_key"])
            token = value.get("session_token") or value.get("aws_session_token")
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NotConfigured(
                f"The secret {secret_id} must be JSON with access_key_id and secret_access_key: fix the secret's value."
            ) from None
        if token:
            raise NotConfigured(
                f"The secret {secret_id} holds a session token, so its key is temporary and its links would die with it: "
                "store a long-term access key of the signer user instead."
            )
        return key_id, secret

    @property
    def on_aws(self) -> bool:
        """Whether S3 is AWS's own (no custom endpoint): only there do key id prefixes mean anything."""
        return not self.settings.endpoint_url

    def ambient(self) -> CredentialSnapshot:
        """The credentials the desk runs with, frozen now."""
        try:
            credentials = self.session.get_credentials()
        except Exception as exc:  # the chain itself can fail (bad profile, IMDS down)
            raise from_aws(exc, action="load its credentials") from None
        if credentials is None:
            from botocore.exceptions import NoCredentialsError

            raise from_aws(NoCredentialsError()) from None
        frozen = snapshot(credentials, on_aws=self.on_aws)
        # Remember when each access key id first appeared: a new one means the platform rotated the credentials.
        with self._lock:
            if len(self._keys_seen) > 256:
                self._keys_seen = dict(list(self._keys_seen.items())[-16:])
            first = self._keys_seen.setdefault(frozen.access_key_id, datetime.now(timezone.utc).replace(microsecond=0))
            rotated = next(iter(self._keys_seen)) != frozen.access_key_id
        return dataclasses.replace(frozen, first_seen=first, rotated=rotated)
