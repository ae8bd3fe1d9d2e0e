"""The embedded demo: moto's server on loopback, seeded the same way every time.

Seeding writes S3 objects straight into moto's in-process backend instead of
replaying thousands of PutObject calls over HTTP, so the desk and every
command-line call start in about a second.  A running desk records its demo
server in the state folder; command-line calls reuse it, so a link printed by
`python -m dashboard issue` downloads from the desk's own demo S3.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import mimetypes
import os
import socket
import threading
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from dashboard.config import Settings

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
SEED_VERSION = 3
SUPPORT_BUCKET = "sharedesk-demo-support"
EXPORTS_BUCKET = "sharedesk-demo-exports"
ARCHIVE_BUCKET = "sharedesk-demo-archive"
BUCKETS = (SUPPORT_BUCKET, EXPORTS_BUCKET, ARCHIVE_BUCKET)
BIG_PREFIX = "nightly/"
BIG_PREFIX_COUNT = 5_000
TASK_ROLE = "sharedesk-demo-task"
SIGNING_ROLE = "sharedesk-signer"
SIGNER_USER = "sharedesk-signer"
# Deterministic fake keys: moto checks no signature, and a fixed id lets a link
# issued by one command be matched by the next.  Not a secret of anything real.
SIGNER_KEY_ID = "AKIASHAREDESKDEMO001"
SIGNER_SECRET = hashlib.sha256(b"share-desk demo signer, not a real key").hexdigest()[:40]
CLOUDFRONT_DOMAIN = "d111111abcdef8.cloudfront.net"
CLOUDFRONT_KEY_PAIR_ID = "K2SHAREDESKDEMO"
#: The simulated task role's credentials expire this long after the desk starts.
TASK_CREDENTIAL_LIFETIME = timedelta(hours=2, minutes=40)
#: Seeded objects are dated back from this instant so listings look the same every run.
SEED_EPOCH = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)

UNUSUAL_KEYS = (
    "customers/acme/invoices/2026-10 invoice.pdf",
    "customers/acme/invoices/2026-11 invoice.pdf",
    "customers/acme/logs/app log 2026-11-01.txt",
    "customers/globex/exports/données clients été.csv",
    "customers/globex/exports/report+final v2.xlsx",
    "customers/initech/tickets/TCK-1042/screenshot (1).png",
    "customers/initech/tickets/TCK-1042/notes 100%.txt",
    "customers/ünïcødé/こんにちは 世界.txt",
    "manuals/user guide.pdf",
    "manuals/admin/quick start.md",
    "releases/v1.2.3/share-desk+linux.tar.gz",
    "README.txt",
)
ARCHIVED = (
    ("2019/backup-2019-01.tar", "GLACIER"),
    ("2020/backup-2020-06.tar", "DEEP_ARCHIVE"),
    ("recent/backup-2026-11.tar", "STANDARD"),
    ("recent/restore-instructions.txt", "STANDARD_IA"),
)


@dataclass(frozen=True)
class DemoServer:
    endpoint: str
    owned: bool  # started by this process (else reused from a running desk)
    desk_url: str | None = None  # where the desk that owns the server serves stable links


def demo_settings(settings: Settings, endpoint: str) -> Settings:
    """The settings a demo desk runs with: the seeded resources, on the demo endpoint."""
    return settings.replace(
        region=REGION,
        endpoint_url=endpoint,
        buckets=BUCKETS,
        signing_role_arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{SIGNING_ROLE}",
        signing_role_max_session=43200,
        # The simulated task role's credentials are temporary: assuming the signing
        # role with them would be role chaining, capped at 1 h.  The demo assumes it
        # with the signer user's key instead, so the role's full 12 h show.
        signing_role_source="signer-user",
        signer_access_key_id=SIGNER_KEY_ID,
        signer_secret_access_key=SIGNER_SECRET,
        cloudfront_domain=CLOUDFRONT_DOMAIN,
        cloudfront_key_pair_id=CLOUDFRONT_KEY_PAIR_ID,
        cloudfront_private_key=settings.cloudfront_private_key or _demo_private_key(),
    )


_KEY_LOCK = threading.Lock()
_PRIVATE_KEY: str | None = None


def _demo_private_key() -> str:
    """A CloudFront key pair made in memory for this process; never written to disk."""
    global _PRIVATE_KEY
    with _KEY_LOCK:
        if _PRIVATE_KEY is None:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _PRIVATE_KEY = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
        return _PRIVATE_KEY


# --- the server -----------------------------------------------------------------

_SERVER_LOCK = threading.Lock()
_SERVER: DemoServer | None = None


def _record_path(settings: Settings) -> Path:
    return settings.state_dir / "demo-server.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(endpoint: str) -> bool:
    try:
        probe = urllib.request.Request(f"{endpoint}/{SUPPORT_BUCKET}", method="HEAD")
        with urllib.request.urlopen(probe, timeout=2) as response:
            return bool(response.status == 200)
    except Exception:
        return False


def _running_desk_server(settings: Settings) -> dict[str, Any] | None:
    """The record of a demo server a running desk wrote, if the server still answers."""
    try:
        record = json.loads(_record_path(settings).read_text())
    except (OSError, ValueError):
        return None
    if record.get("seed") != SEED_VERSION or not isinstance(record.get("endpoint"), str):
        return None
    with contextlib.suppress(Exception):
        os.kill(int(record["pid"]), 0)
        if _answers(record["endpoint"]):
            return dict(record)
    return None


def start(settings: Settings, *, share: bool, reuse: bool, desk_url: str | None = None) -> DemoServer:
    """Start (or reuse) the demo server for this process; idempotent.

    `share=True` (the desk) records the server so command-line calls can reuse it;
    `reuse=True` (the command line) looks for such a record first.
    """
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is not None:
            return _SERVER
        if reuse and (record := _running_desk_server(settings)):
            _SERVER = DemoServer(endpoint=record["endpoint"], owned=False, desk_url=record.get("desk_url"))
            return _SERVER
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        port = _free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        endpoint = f"http://127.0.0.1:{port}"
        seed(endpoint)
        if share:
            path = _record_path(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"endpoint": endpoint, "pid": os.getpid(), "seed": SEED_VERSION, "desk_url": desk_url}))
            tmp.replace(path)
        _SERVER = DemoServer(endpoint=endpoint, owned=True, desk_url=desk_url)
        return _SERVER


# --- seeding --------------------------------------------------------------------


def body_of(key: str) -> bytes:
    """Small, deterministic content per key, so downloads can be compared byte for byte."""
    return f"Share Desk demo object\nkey: {key}\n".encode() + hashlib.sha256(key.encode()).digest() * 4


def demo_objects() -> list[tuple[str, str, str]]:
    """(bucket, key, storage class) of every seeded object, in seed order."""
    objects = [(SUPPORT_BUCKET, key, "STANDARD") for key in UNUSUAL_KEYS]
    objects += [(SUPPORT_BUCKET, f"customers/acme/reports/2026/{m:02d}/summary.pdf", "STANDARD") for m in range(1, 12)]
    objects += [(EXPORTS_BUCKET, f"{BIG_PREFIX}export-{i:05d}.csv", "STANDARD") for i in range(BIG_PREFIX_COUNT)]
    objects += [(EXPORTS_BUCKET, f"monthly/2026-{m:02d}.parquet", "STANDARD") for m in range(1, 12)]
    objects += [(ARCHIVE_BUCKET, key, storage) for key, storage in ARCHIVED]
    return objects


def seed_objects(objects: list[tuple[str, str, str]], *, account_id: str = ACCOUNT_ID) -> None:
    """Write objects straight into moto's backend (thousands per second, no HTTP)."""
    from moto.s3.models import s3_backends

    backend = s3_backends[account_id]["aws"]
    for index, (bucket, key, storage) in enumerate(objects):
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, REGION)
        stored = backend.put_object(bucket, key, body_of(key), storage=storage)
        stored.last_modified = (SEED_EPOCH - timedelta(minutes=7 * index)).replace(tzinfo=None)
        stored._metadata["Content-Type"] = mimetypes.guess_type(key)[0] or "application/octet-stream"


def _intact(backend: Any) -> bool:
    """Seeded by us, every demo bucket present, and no object disposed.

    Any S3Backend.reset() in the process closes every moto object's file, in
    every backend (moto tracks them globally), so the buckets alone prove nothing.
    """
    if getattr(backend, "_share_desk_seed", None) != SEED_VERSION:
        return False
    for name in BUCKETS:
        bucket = backend.buckets.get(name)
        if bucket is None or any(getattr(key, "disposed", False) for key in bucket.keys.values()):
            return False
    return True


def ensure_seeded(endpoint: str) -> None:
    """Seed again unless the backends are still the ones this module seeded.

    Tests that mix `mock_aws` with the demo reset or replace moto's backends,
    or write their own objects into them; a marker on the backend instance
    (wiped by any reset) tells a seeded demo from whatever is left.
    """
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT_ID]["aws"]
    if not _intact(backend):
        backend.reset()
        iam_backends[ACCOUNT_ID]["aws"].reset()
        seed(endpoint)


def seed(endpoint: str) -> None:
    """Seed S3 in-process, and IAM/STS over the API (a handful of calls)."""
    seed_objects(demo_objects())
    from moto.s3.models import s3_backends

    from dashboard import demo_listing

    demo_listing.install(s3_backends[ACCOUNT_ID]["aws"])  # S3-like listing cost: O(log n + page)
    setattr(s3_backends[ACCOUNT_ID]["aws"], "_share_desk_seed", SEED_VERSION)  # a reset wipes it
    iam = boto3.client(
        "iam", endpoint_url=endpoint, region_name=REGION, aws_access_key_id="demo", aws_secret_access_key="demo"
    )
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}, "Action": "sts:AssumeRole"}],
        }
    )
    iam.create_role(RoleName=TASK_ROLE, AssumeRolePolicyDocument=trust, MaxSessionDuration=21600)
    iam.create_role(RoleName=SIGNING_ROLE, AssumeRolePolicyDocument=trust, MaxSessionDuration=43200)
    iam.create_user(UserName=SIGNER_USER)
    iam.create_access_key(UserName=SIGNER_USER)
    from moto.iam.models import iam_backends

    user = iam_backends[ACCOUNT_ID]["aws"].users[SIGNER_USER]
    key = user.access_keys[0]
    key.access_key_id, key.secret_access_key = SIGNER_KEY_ID, SIGNER_SECRET
    key.create_date = SEED_EPOCH.replace(tzinfo=None) - timedelta(days=41)


# --- the simulated task role ----------------------------------------------------


class DemoTaskRoleProvider(CredentialProvider):
    """Credentials shaped like a Fargate task role's: temporary, expiring hours ahead.

    botocore reports them with method `container-role`, exactly as it would on ECS,
    so the desk's expiry logic runs the same code path it runs in production.
    """

    METHOD = "container-role"
    CANONICAL_NAME = "custom-share-desk-demo"

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint

    def _fetch(self) -> dict[str, Any]:
        sts = boto3.client(
            "sts", endpoint_url=self.endpoint, region_name=REGION, aws_access_key_id="demo", aws_secret_access_key="demo"
        )
        response = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{TASK_ROLE}",
            RoleSessionName="ecs-task-share-desk",
            DurationSeconds=int(TASK_CREDENTIAL_LIFETIME.total_seconds()),
        )
        creds = response["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].astimezone(timezone.utc).isoformat(),
        }

    def load(self) -> RefreshableCredentials:
        return RefreshableCredentials.create_from_metadata(self._fetch(), refresh_using=self._fetch, method=self.METHOD)


def ambient_session(endpoint: str) -> boto3.Session:
    """A boto3 session whose only credential source is the simulated task role."""
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([DemoTaskRoleProvider(endpoint)]))
    core.set_config_variable("region", REGION)
    return boto3.Session(botocore_session=core, region_name=REGION)
