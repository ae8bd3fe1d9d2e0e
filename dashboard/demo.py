"""The embedded demo: moto's server on loopback, seeded the same way every time, refusing what AWS refuses.

Seeding writes S3 objects straight into moto's in-process backend instead of
replaying thousands of PutObject calls over HTTP, so the desk and every
command-line call start in about a second.  A running desk records its demo
server in the state folder; command-line calls reuse it, so a link printed by
`python -m dashboard issue` downloads from the desk's own demo S3.

moto alone serves any presigned URL, expired or forged.  The demo's S3 is
moto behind `demo_s3auth.QueryAuthMiddleware`, which checks every
query-authenticated request as S3 does first; and the demo's CloudFront is a
loopback edge (`demo_edge`) that checks signed URLs as CloudFront does and
serves the bytes from the demo S3.  Both live in the process that started
the demo, beside moto's backends they read.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import mimetypes
import os
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import botocore.session
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials

from dashboard import demo_edge, demo_keyring, demo_keys, demo_s3auth
from dashboard.config import Settings

ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"
SEED_VERSION = 4  # 4: the demo S3 checks presigned requests and the record names the CloudFront edge
SUPPORT_BUCKET = "sharedesk-demo-support"
EXPORTS_BUCKET = "sharedesk-demo-exports"
ARCHIVE_BUCKET = "sharedesk-demo-archive"
BUCKETS = (SUPPORT_BUCKET, EXPORTS_BUCKET, ARCHIVE_BUCKET)
BIG_PREFIX = "nightly/"
BIG_PREFIX_COUNT = 5_000
TASK_ROLE = "sharedesk-demo-task"
SIGNING_ROLE = "sharedesk-signer"
SIGNER_USER = "sharedesk-signer"
# Deterministic fake keys: a fixed id lets a link issued by one command be
# matched (and verified by the demo S3) in the next.  Not a secret of anything real.
SIGNER_KEY_ID = "AKIASHAREDESKDEMO001"
SIGNER_SECRET = hashlib.sha256(b"share-desk demo signer, not a real key").hexdigest()[:40]
#: The demo distribution's trusted key; its key pair is derived from a fixed seed (`demo_keys`).
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
    cloudfront_url: str | None = None  # the demo CloudFront edge's base URL


def demo_settings(settings: Settings, endpoint: str, cloudfront_url: str | None = None) -> Settings:
    """The settings a demo desk runs with: the seeded resources, on the demo endpoint and edge."""
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
        # The demo distribution, its trusted key pair id and that key pair's private
        # key belong together: the edge trusts the derived demo key and no other.
        cloudfront_domain=cloudfront_url,
        cloudfront_key_pair_id=CLOUDFRONT_KEY_PAIR_ID,
        cloudfront_private_key=demo_keys.private_pem(),
    )


# --- the servers ----------------------------------------------------------------

_SERVER_LOCK = threading.Lock()
_SERVER: DemoServer | None = None


@dataclass
class _Running:
    """What this process serves for the demo: moto behind the S3 checker, and the CloudFront edge."""

    s3: Any  # werkzeug BaseWSGIServer
    edge: Any
    checker: demo_s3auth.QueryAuthChecker
    cloudfront: demo_edge.CloudFrontEdge


_RUNNING: _Running | None = None


def _record_path(settings: Settings) -> Path:
    return settings.state_dir / "demo-server.json"


def _port_path(settings: Settings) -> Path:
    return settings.state_dir / "demo-s3-port"


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
    if record.get("seed") != SEED_VERSION or not isinstance(record.get("endpoint"), str) or not isinstance(record.get("cloudfront"), str):
        return None
    with contextlib.suppress(Exception):
        os.kill(int(record["pid"]), 0)
        if _answers(record["endpoint"]):
            return dict(record)
    return None


def _listening_socket(preferred: int | None) -> socket.socket:
    """A loopback socket listening on `preferred` when it is free, else on a port the system picks.

    Binding first (instead of asking werkzeug for a port) means a taken port is
    a fallback, never a crash: werkzeug exits the process when it cannot bind.
    """
    for port in ([preferred] if preferred else []) + [0]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(128)
            return sock
        except OSError:
            sock.close()
    raise OSError("no loopback port is free for the demo")


def _serve(app: Callable[..., Any], preferred: int | None, handler: Any = None) -> Any:
    """A threaded werkzeug server for `app` on loopback, serving from a daemon thread."""
    from werkzeug.serving import make_server

    sock = _listening_socket(preferred)
    try:
        server = make_server("127.0.0.1", sock.getsockname()[1], app, threaded=True, request_handler=handler, fd=sock.fileno())
    finally:
        sock.close()  # werkzeug serves a duplicate of it
    thread = threading.Thread(target=server.serve_forever, name=f"demo-server-{server.port}", daemon=True)
    thread.start()
    return server


def _preferred_port(settings: Settings) -> int | None:
    """The port the state folder's demo S3 first ran on: history links keep their host across restarts.

    The log keeps no URL, so a history link is signed again to be shown; with
    the same host it carries the very signature the log fingerprinted.
    """
    try:
        port = int(_port_path(settings).read_text().strip())
    except (OSError, ValueError):
        return None
    return port if 1024 <= port <= 65535 else None


def _remember_port(settings: Settings, port: int) -> None:
    path = _port_path(settings)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("x") as handle:  # first writer wins: the history was signed on that port
            handle.write(str(port))


def start(settings: Settings, *, share: bool, reuse: bool, desk_url: str | None = None) -> DemoServer:
    """Start (or reuse) the demo server for this process; idempotent.

    `share=True` (the desk) records the server so command-line calls can reuse it;
    `reuse=True` (the command line) looks for such a record first.
    """
    global _SERVER, _RUNNING
    with _SERVER_LOCK:
        # The state folder names the demo to join, so a process that runs its own
        # demo still joins the desk recorded in another folder (and a joined demo
        # never becomes this process's own).
        if reuse and (record := _running_desk_server(settings)) and record.get("pid") != os.getpid():
            return DemoServer(endpoint=record["endpoint"], owned=False, desk_url=record.get("desk_url"), cloudfront_url=record["cloudfront"])
        if _SERVER is not None:
            return _SERVER
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

        checker = demo_s3auth.QueryAuthChecker(demo_keyring.demo_keyring, region=REGION)
        middleware = demo_s3auth.QueryAuthMiddleware(DomainDispatcherApplication(create_backend_app), checker)
        s3 = _serve(middleware, _preferred_port(settings), MotoRequestHandler)
        endpoint = f"http://127.0.0.1:{s3.port}"
        _remember_port(settings, s3.port)
        seed(endpoint)
        cloudfront = demo_edge.CloudFrontEdge(
            trusted_keys={CLOUDFRONT_KEY_PAIR_ID: demo_keys.public_key()},
            origin=demo_edge.S3Origin(endpoint, origin_bucket, REGION),
        )
        edge = _serve(cloudfront, None)
        cloudfront_url = f"http://127.0.0.1:{edge.port}"
        _RUNNING = _Running(s3=s3, edge=edge, checker=checker, cloudfront=cloudfront)
        if share:
            path = _record_path(settings)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(
                json.dumps({"endpoint": endpoint, "cloudfront": cloudfront_url, "pid": os.getpid(), "seed": SEED_VERSION, "desk_url": desk_url})
            )
            tmp.replace(path)
        _SERVER = DemoServer(endpoint=endpoint, owned=True, desk_url=desk_url, cloudfront_url=cloudfront_url)
        return _SERVER


@contextlib.contextmanager
def clock_at(moment: datetime | Callable[[], datetime]) -> Iterator[None]:
    """Judge requests to this process's demo S3 and CloudFront as if it were `moment` (tests)."""
    running = _RUNNING
    if running is None:
        raise RuntimeError("this process serves no demo: start one first")
    clock = moment if callable(moment) else (lambda: moment)
    saved = running.checker.clock, running.cloudfront.clock
    running.checker.clock = running.cloudfront.clock = clock
    try:
        yield
    finally:
        running.checker.clock, running.cloudfront.clock = saved


def origin_bucket(key: str) -> str:
    """The demo distribution's cache behaviours: each seeded top-level folder (`customers/*`, …) to its bucket.

    A CloudFront URL names no bucket; a distribution routes paths to origins.
    Anything else goes to the default behaviour, the support bucket.
    """
    return _behaviours().get(key.partition("/")[0] if "/" in key else key, SUPPORT_BUCKET)


@functools.lru_cache(maxsize=1)
def _behaviours() -> dict[str, str]:
    return {(key.partition("/")[0] if "/" in key else key): bucket for bucket, key, _ in demo_objects()}


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


#: The assumed-role sessions the demo's STS has issued.  A reset of moto's
#: backends (any `mock_aws` test in the same process) forgets them, yet the
#: desk still holds and signs with them; `seed` hands them to the new STS
#: backend so the demo S3 keeps judging those links by their real sessions.
_STS_SESSIONS: list[Any] = []


def _carry_sts_sessions() -> None:
    global _STS_SESSIONS
    from moto.sts.models import sts_backends

    current = sts_backends[ACCOUNT_ID]["aws"].assumed_roles
    if current is not _STS_SESSIONS:
        known = {id(role) for role in current}
        current.extend(role for role in _STS_SESSIONS if id(role) not in known)
        _STS_SESSIONS = current  # the live list: sessions assumed from now on land in it


def seed(endpoint: str) -> None:
    """Seed S3 in-process, and IAM/STS over the API (a handful of calls)."""
    _carry_sts_sessions()
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
