"""Sharing strategies against moto: always SigV4, signed by the right key, with the real expiry recorded.

Each test builds a `Desk` the way production does (settings + `Aws` + a boto3
session) inside `mock_aws`, with a signing role (MaxSessionDuration 12 h), a
signer IAM user and its access key, a bucket with objects, a Secrets Manager
secret and a CloudFront RSA key made with `cryptography`.  The "ambient"
credentials are botocore `RefreshableCredentials` with a known expiry, shaped
like a Fargate task role's, so the expiry the desk records can be compared
with the one that really signed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
import botocore.session
import pytest
from botocore.credentials import CredentialProvider, CredentialResolver, RefreshableCredentials
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import given, settings as hypothesis_settings, strategies as st
from moto import mock_aws

from dashboard.aws import Aws
from dashboard.config import Settings
from dashboard.desk import Desk
from dashboard.errors import DeskError, NotAllowed, NotConfigured
from dashboard.expiry import LifetimeError
from dashboard.strategies import ShareRequest, strategy_modules
from dashboard.strategies.s3links import content_disposition

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = "share-desk-files"
OTHER_BUCKET = "share-desk-private"
ROLE_NAME = "sharedesk-signer"
USER_NAME = "sharedesk-signer"
SECRET_NAME = "sharedesk/signer-key"
CF_DOMAIN = "d111111abcdef8.cloudfront.net"
CF_KEY_PAIR_ID = "K2TESTKEYPAIR"
PUBLIC_BASE_URL = "https://share.example.com"
KEY = "reports/2026/summary.pdf"
ODD_KEY = "customers/globex/données été + final (1).csv"
ARCHIVED_KEY = "archive/backup-2019.tar"
OBJECTS = {KEY: "STANDARD", ODD_KEY: "STANDARD", ARCHIVED_KEY: "GLACIER"} | {f"bulk/file-{i:03d}.txt": "STANDARD" for i in range(60)}
S3_STRATEGIES = ("ambient", "role-session", "iam-user")

# One CloudFront key pair for the whole module: RSA key generation is the slow part.
CF_PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
CF_PEM = CF_PRIVATE_KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
CF_PUBLIC_KEY = CF_PRIVATE_KEY.public_key()


# --- the world the desk runs in ----------------------------------------------------


@dataclass(frozen=True)
class AmbientCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None
    expires_at: datetime | None
    method: str


@dataclass(frozen=True)
class World:
    """What `build_world` created in moto; the signer key is a real moto access key."""

    role_arn: str
    signer_key_id: str
    signer_secret: str
    secret_arn: str
    admin: boto3.Session


def build_world() -> World:
    """Create the role, the user and its key, the buckets and objects, and the secret (inside mock_aws)."""
    admin = boto3.Session(aws_access_key_id="AKIAWORLDBUILDER0001", aws_secret_access_key="builder", region_name=REGION)
    iam = admin.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}],
        }
    )
    role = iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=trust, MaxSessionDuration=43200)["Role"]
    iam.create_user(UserName=USER_NAME)
    key = iam.create_access_key(UserName=USER_NAME)["AccessKey"]
    s3 = admin.client("s3")
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    for name, storage in OBJECTS.items():
        s3.put_object(Bucket=BUCKET, Key=name, Body=f"content of {name}".encode(), StorageClass=storage)
    s3.put_object(Bucket=OTHER_BUCKET, Key=KEY, Body=b"private")
    secret = admin.client("secretsmanager").create_secret(
        Name=SECRET_NAME,
        SecretString=json.dumps({"access_key_id": key["AccessKeyId"], "secret_access_key": key["SecretAccessKey"]}),
    )
    return World(
        role_arn=role["Arn"],
        signer_key_id=key["AccessKeyId"],
        signer_secret=key["SecretAccessKey"],
        secret_arn=secret["ARN"],
        admin=admin,
    )


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def task_role_credentials(lifetime: timedelta = timedelta(hours=2)) -> AmbientCredentials:
    """Temporary credentials like a Fargate task role's (ASIA key, session token, known expiry)."""
    return AmbientCredentials(
        access_key_id="ASIATASKROLEEXAMPLE1",
        secret_access_key="task-role-secret-0123456789abcdefghijklmn",
        session_token="task-role-session-token-FQoGZXIvYXdzEXAMPLE/+=",
        expires_at=utcnow() + lifetime,
        method="container-role",
    )


def long_term_credentials() -> AmbientCredentials:
    return AmbientCredentials(
        access_key_id="AKIAAMBIENTLONGTERM1",
        secret_access_key="ambient-long-term-secret-0123456789abcdef",
        session_token=None,
        expires_at=None,
        method="env",
    )


class _FixedProvider(CredentialProvider):
    """A credential provider that hands out one fixed set, refreshable when it has an expiry."""

    CANONICAL_NAME = "custom-share-desk-tests"

    def __init__(self, credentials: AmbientCredentials) -> None:
        super().__init__()
        self.credentials = credentials
        self.METHOD = credentials.method

    def _metadata(self) -> dict[str, Any]:
        c = self.credentials
        assert c.expires_at is not None
        return {"access_key": c.access_key_id, "secret_key": c.secret_access_key, "token": c.session_token, "expiry_time": c.expires_at.isoformat()}

    def load(self) -> Any:
        from botocore.credentials import Credentials

        c = self.credentials
        if c.expires_at is None:
            return Credentials(c.access_key_id, c.secret_access_key, c.session_token, method=c.method)
        return RefreshableCredentials.create_from_metadata(self._metadata(), refresh_using=self._metadata, method=c.method)


def session_with(credentials: AmbientCredentials) -> boto3.Session:
    """A boto3 session whose only credential source is `credentials` (as `demo.ambient_session` does)."""
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([_FixedProvider(credentials)]))
    core.set_config_variable("region", REGION)
    return boto3.Session(botocore_session=core, region_name=REGION)


def make_desk(world: World, tmp_path: Any, ambient: AmbientCredentials | None = None, **overrides: Any) -> Desk:
    settings = Settings(
        demo=False,
        region=REGION,
        buckets=(BUCKET,),
        signing_role_arn=world.role_arn,
        signer_access_key_id=world.signer_key_id,
        signer_secret_access_key=world.signer_secret,
        cloudfront_domain=CF_DOMAIN,
        cloudfront_key_pair_id=CF_KEY_PAIR_ID,
        cloudfront_private_key=CF_PEM,
        public_base_url=PUBLIC_BASE_URL,
        database_url=str(tmp_path / "log.sqlite3"),
        state_dir=tmp_path,
    ).replace(**overrides)
    return Desk(settings=settings, aws=Aws(settings, session_with(ambient or task_role_credentials())))


def request(lifetime: timedelta = timedelta(hours=1), key: str = KEY, **kwargs: Any) -> ShareRequest:
    return ShareRequest(bucket=BUCKET, key=key, lifetime=lifetime, issuer=kwargs.pop("issuer", "ann@example.com"), **kwargs)


def query(url: str) -> dict[str, str]:
    """The URL's query parameters, decoded, one value each."""
    parsed = parse_qs(urlsplit(url).query, keep_blank_values=True)
    assert all(len(v) == 1 for v in parsed.values()), url
    return {k: v[0] for k, v in parsed.items()}


def amz_date(url: str) -> datetime:
    return datetime.strptime(query(url)["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)


def assert_sigv4(url: str, *, key_id: str, lifetime: timedelta) -> dict[str, str]:
    params = query(url)
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert "AWSAccessKeyId" not in params and "Signature" not in params and "Expires" not in params
    credential = params["X-Amz-Credential"].split("/")
    assert credential[0] == key_id
    assert credential[2:] == [REGION, "s3", "aws4_request"]
    assert credential[1] == params["X-Amz-Date"][:8]
    assert params["X-Amz-Expires"] == str(int(lifetime.total_seconds()))
    assert params["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", params["X-Amz-Signature"])
    return params


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """One moto account for the module (building it is the slow part); tests add, never change, resources."""
    with mock_aws():
        yield build_world()


def add_secret(world: World, name: str, value: str) -> str:
    world.admin.client("secretsmanager").create_secret(Name=name, SecretString=value)
    return name


@pytest.fixture
def desk(world, tmp_path) -> Desk:
    return make_desk(world, tmp_path)


class Calls:
    """Records the API calls a botocore client makes (parameters as sent)."""

    def __init__(self, client: Any, event: str) -> None:
        self.params: list[dict[str, Any]] = []
        client.meta.events.register(event, self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.params.append(dict(params.get("body") or {}))

    def __len__(self) -> int:
        return len(self.params)


def assume_role_calls(desk: Desk) -> Calls:
    """AssumeRole calls on the STS client the role-session strategy will use (the desk's cached one)."""
    strategy = desk.strategies["role-session"]
    return Calls(desk.aws.client("sts", strategy._source()), "before-call.sts.AssumeRole")


# --- every S3 strategy: SigV4, the right key, the token exactly when temporary ------


def test_strategies_are_discovered_from_their_modules_safest_first(desk):
    assert set(strategy_modules()) >= {"ambient", "role_session", "iam_user", "cloudfront"}
    names = list(desk.strategies)
    assert names[:2] == ["ambient", "role-session"]
    assert set(names) >= {"ambient", "role-session", "iam-user", "cloudfront"}
    ranks = [s.risk_rank for s in desk.strategies.values()]
    assert ranks == sorted(ranks)


@pytest.mark.parametrize("name", S3_STRATEGIES)
def test_every_s3_strategy_signs_sigv4_and_never_sigv2(desk, name):
    lifetime = timedelta(minutes=45)
    signed = desk.strategies[name].sign(request(lifetime), utcnow())
    assert signed.url.startswith(f"https://{BUCKET}.s3.amazonaws.com/reports/2026/summary.pdf?")
    assert_sigv4(signed.url, key_id=signed.credentials.access_key_id, lifetime=lifetime)


def test_a_custom_endpoint_gets_path_style_sigv4_links(world, tmp_path):
    """botocore would emit SigV2 for a custom endpoint without signature_version (FACTS.md)."""
    desk = make_desk(world, tmp_path, endpoint_url="https://s3.storage.example.internal")
    signed = desk.strategies["iam-user"].sign(request(timedelta(hours=2)), utcnow())
    assert signed.url.startswith(f"https://s3.storage.example.internal/{BUCKET}/reports/2026/summary.pdf?")
    assert_sigv4(signed.url, key_id=world.signer_key_id, lifetime=timedelta(hours=2))


def test_ambient_link_carries_the_temporary_key_and_its_session_token(world, tmp_path):
    creds = task_role_credentials()
    desk = make_desk(world, tmp_path, ambient=creds)
    signed = desk.strategies["ambient"].sign(request(), utcnow())
    params = assert_sigv4(signed.url, key_id=creds.access_key_id, lifetime=timedelta(hours=1))
    assert params["X-Amz-Security-Token"] == creds.session_token
    assert signed.credentials.kind == "temporary" and signed.credentials.method == "container-role"


def test_ambient_link_signed_with_a_long_term_key_has_no_session_token(world, tmp_path):
    creds = long_term_credentials()
    desk = make_desk(world, tmp_path, ambient=creds)
    signed = desk.strategies["ambient"].sign(request(timedelta(days=2)), utcnow())
    params = assert_sigv4(signed.url, key_id=creds.access_key_id, lifetime=timedelta(days=2))
    assert "X-Amz-Security-Token" not in params
    assert signed.credentials.kind == "long-term" and signed.credentials.expires_at is None
    assert signed.expiry.bound_by == "nominal" and not signed.expiry.cut_short


def test_iam_user_link_carries_the_signer_users_akia_key_and_no_session_token(world, desk):
    signed = desk.strategies["iam-user"].sign(request(timedelta(days=7)), utcnow())
    params = assert_sigv4(signed.url, key_id=world.signer_key_id, lifetime=timedelta(days=7))
    assert world.signer_key_id.startswith("AKIA")
    assert "X-Amz-Security-Token" not in params
    assert signed.credentials.kind == "long-term" and signed.credentials.expires_at is None
    assert signed.expiry.effective_expires_at == amz_date(signed.url) + timedelta(days=7)


def test_role_session_link_carries_the_assumed_sessions_key_and_token(desk):
    strategy = desk.strategies["role-session"]
    signed = strategy.sign(request(), utcnow())
    session = strategy._session
    assert session.access_key_id.startswith("ASIA")
    params = assert_sigv4(signed.url, key_id=session.access_key_id, lifetime=timedelta(hours=1))
    assert params["X-Amz-Security-Token"] == session.session_token
    assert signed.credentials.method == "assume-role" and signed.credentials.kind == "temporary"


def test_a_link_never_carries_a_secret_key(world, tmp_path):
    creds = task_role_credentials()
    desk = make_desk(world, tmp_path, ambient=creds)
    urls = [desk.strategies[name].sign(request(), utcnow()).url for name in S3_STRATEGIES]
    secrets = (creds.secret_access_key, world.signer_secret, desk.strategies["role-session"]._session.secret_access_key)
    for url in urls:
        for secret in secrets:
            assert secret not in url and secret not in unquote(url)


def test_signed_repr_keeps_the_signature_out(desk):
    signed = desk.strategies["iam-user"].sign(request(), utcnow())
    signature = query(signed.url)["X-Amz-Signature"]
    assert signature not in repr(signed)
    assert signature not in signed.display_url and "X-Amz-Signature=…" in signed.display_url


# --- the recorded expiry is the expiry of the credentials that signed ---------------


def test_ambient_link_is_cut_at_credential_expiry(world, tmp_path):
    creds = task_role_credentials(timedelta(hours=2))
    desk = make_desk(world, tmp_path, ambient=creds)
    signed = desk.strategies["ambient"].sign(request(timedelta(hours=3)), utcnow())
    signed_at = amz_date(signed.url)
    assert signed.credentials.expires_at == creds.expires_at
    assert signed.expiry.signed_at == signed_at
    assert signed.expiry.nominal_expires_at == signed_at + timedelta(hours=3)
    assert signed.expiry.effective_expires_at == creds.expires_at
    assert signed.expiry.bound_by == "credentials" and signed.expiry.cut_short
    assert "task role" in signed.expiry.reason


def test_ambient_link_shorter_than_its_credentials_runs_its_nominal_life(world, tmp_path):
    creds = task_role_credentials(timedelta(hours=2))
    desk = make_desk(world, tmp_path, ambient=creds)
    signed = desk.strategies["ambient"].sign(request(timedelta(minutes=30)), utcnow())
    assert signed.credentials.expires_at == creds.expires_at
    assert signed.expiry.effective_expires_at == amz_date(signed.url) + timedelta(minutes=30)
    assert signed.expiry.bound_by == "nominal" and not signed.expiry.cut_short


def test_ambient_snapshot_reads_the_refreshable_credentials_expiry(world, tmp_path):
    creds = task_role_credentials(timedelta(hours=2, minutes=40))
    desk = make_desk(world, tmp_path, ambient=creds)
    snapshot = desk.aws.ambient()
    assert snapshot.access_key_id == creds.access_key_id
    assert snapshot.session_token == creds.session_token
    assert snapshot.expires_at == creds.expires_at and snapshot.expires_at.tzinfo is not None
    assert snapshot.method == "container-role"
    assert snapshot.temporary and snapshot.kind == "temporary"
    assert creds.secret_access_key not in repr(snapshot) and creds.session_token not in repr(snapshot)


def test_ambient_preview_shows_the_cut_before_signing(world, tmp_path):
    creds = task_role_credentials(timedelta(hours=2))
    desk = make_desk(world, tmp_path, ambient=creds)
    now = utcnow()
    preview = desk.strategies["ambient"].preview(request(timedelta(days=1)), now)
    assert preview.available and not preview.reaches_asked
    assert preview.expiry.nominal_expires_at == now + timedelta(days=1)
    assert preview.expiry.effective_expires_at == creds.expires_at


def test_role_session_link_expiry_is_the_session_expiry(desk):
    strategy = desk.strategies["role-session"]
    signed = strategy.sign(request(timedelta(days=3)), utcnow())
    session = strategy._session
    assert signed.credentials.expires_at == session.expires_at
    assert signed.credentials.access_key_id == session.access_key_id
    assert signed.expiry.effective_expires_at == session.expires_at
    assert signed.expiry.bound_by == "credentials"


# --- lifetimes S3 cannot sign are refused before anything is signed -----------------


@pytest.fixture
def presign_calls(monkeypatch) -> list[Any]:
    """The X-Amz-Expires of every link signed: by the desk's SigV4 signer, or by botocore (its endpoint probe included)."""
    from botocore.signers import RequestSigner

    from dashboard.strategies import sigv4

    calls: list[Any] = []
    by_botocore = RequestSigner.generate_presigned_url
    by_desk = sigv4.presign

    def botocore_spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("botocore", kwargs.get("expires_in")))
        return by_botocore(self, *args, **kwargs)

    def desk_spy(endpoint: Any, keys: Any, key: str, query: Any, expires: int, at: Any) -> str:
        calls.append(("desk", expires))
        return by_desk(endpoint, keys, key, query, expires, at)

    monkeypatch.setattr(RequestSigner, "generate_presigned_url", botocore_spy)
    monkeypatch.setattr(sigv4, "presign", desk_spy)
    return calls


@pytest.mark.parametrize("name", S3_STRATEGIES)
@pytest.mark.parametrize(("seconds", "message"), [(0, "at least 1 second"), (604801, "at most 7 days")])
def test_s3_lifetimes_outside_one_second_to_seven_days_are_refused_before_signing(desk, presign_calls, name, seconds, message):
    strategy = desk.strategies[name]
    with pytest.raises(LifetimeError, match=message):
        strategy.sign(request(timedelta(seconds=seconds)), utcnow())
    assert presign_calls == []
    preview = strategy.preview(request(timedelta(seconds=seconds)), utcnow())
    assert not preview.available and message in preview.unavailable


@pytest.mark.parametrize("name", S3_STRATEGIES)
def test_s3_strategies_sign_the_exact_limits_of_one_second_and_seven_days(desk, presign_calls, name):
    for seconds in (1, 604800):
        signed = desk.strategies[name].sign(request(timedelta(seconds=seconds)), utcnow())
        assert query(signed.url)["X-Amz-Expires"] == str(seconds)
    assert [expires for signer, expires in presign_calls if signer == "desk"] == [1, 604800]


def test_iam_user_preview_for_30_days_is_unavailable_with_a_sentence(desk):
    preview = desk.strategies["iam-user"].preview(request(timedelta(days=30)), utcnow())
    assert preview.expiry is None and not preview.reaches_asked
    assert preview.unavailable.startswith("S3 presigned links can last at most 7 days")
    assert "30 days" in preview.unavailable and preview.unavailable.endswith(".")
    assert "cloudfront" in preview.unavailable


# --- role-session: the role's whole MaxSessionDuration, one session for many links ---


def test_role_session_reads_max_session_duration_and_asks_sts_for_it(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    get_role = Calls(desk.aws.client("iam"), "before-call.iam.GetRole")
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    before = utcnow()
    signed = strategy.sign(request(timedelta(hours=12), issuer="ann o'hara/support"), before)
    assert [c["RoleName"] for c in get_role.params] == [ROLE_NAME]
    assert len(assume) == 1
    assert assume.params[0]["DurationSeconds"] == 43200
    assert assume.params[0]["RoleArn"] == world.role_arn
    assert re.fullmatch(r"share-desk-[\w+=,.@-]+", assume.params[0]["RoleSessionName"])
    assert strategy.assumed == 1
    session_end = signed.credentials.expires_at
    assert before + timedelta(hours=12) <= session_end <= utcnow() + timedelta(hours=12, seconds=1)
    # A 12 h link from a fresh 12 h session: it ends with the session, which was assumed a moment
    # before the URL's X-Amz-Date (whole seconds), so at most a second short of its nominal expiry.
    assert signed.expiry.effective_expires_at == min(signed.expiry.nominal_expires_at, session_end)
    assert signed.expiry.nominal_expires_at - signed.expiry.effective_expires_at < timedelta(seconds=1)


def test_role_session_is_reused_for_a_second_link_and_for_a_bulk_of_links(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    now = utcnow()
    first = strategy.sign(request(timedelta(hours=6)), now)
    second = strategy.sign(request(timedelta(hours=6), key=ODD_KEY), now)
    bulk = [strategy.sign(request(timedelta(hours=6), key=f"bulk/file-{i:03d}.txt"), now) for i in range(40)]
    assert len(assume) == 1 and strategy.assumed == 1
    keys = {s.credentials.access_key_id for s in [first, second, *bulk]}
    assert keys == {strategy._session.access_key_id}
    assert len({s.fingerprint for s in [first, second, *bulk]}) == 42


def test_role_session_renews_when_the_cached_session_has_too_little_life_left(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    now = utcnow()
    strategy.sign(request(timedelta(hours=1)), now)
    old = strategy._session
    # Two minutes left: not enough for an hour-long link.
    strategy._session = dataclasses.replace(old, expires_at=now + timedelta(minutes=2))
    signed = strategy.sign(request(timedelta(hours=1)), now)
    assert len(assume) == 2 and strategy.assumed == 2
    assert signed.credentials.access_key_id == strategy._session.access_key_id != old.access_key_id
    assert signed.expiry.bound_by == "nominal"


def test_role_session_renews_when_asked_long_after_the_session_was_assumed(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user")
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    now = utcnow()
    strategy.sign(request(), now)
    strategy.sign(request(), now + timedelta(hours=13))  # the first session is dead by then
    assert len(assume) == 2


def test_role_session_falls_back_to_the_configured_maximum_when_get_role_is_denied(world, tmp_path, monkeypatch):
    desk = make_desk(world, tmp_path, signing_role_source="signer-user", signing_role_max_session=7200)
    denied: list[str] = []

    class DeniedIam:
        def get_role(self, RoleName: str) -> Any:  # noqa: N803 - boto3's parameter name
            denied.append(RoleName)
            raise ClientError(
                {"Error": {"Code": "AccessDenied", "Message": "not authorized to perform: iam:GetRole"}}, "GetRole"
            )

    real_client = desk.aws.client
    monkeypatch.setattr(desk.aws, "client", lambda service, credentials=None: DeniedIam() if service == "iam" else real_client(service, credentials))
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    now = utcnow()
    preview = strategy.preview(request(timedelta(hours=12)), now)
    assert preview.expiry.effective_expires_at == now + timedelta(hours=2) and preview.expiry.cut_short
    strategy.sign(request(timedelta(hours=12)), now)
    assert denied == [ROLE_NAME]
    assert [c["DurationSeconds"] for c in assume.params] == [7200]


def test_role_session_is_capped_at_one_hour_when_the_source_credentials_are_temporary(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=task_role_credentials(timedelta(hours=5)))  # source: ambient, temporary
    assume = assume_role_calls(desk)
    strategy = desk.strategies["role-session"]
    now = utcnow()
    preview = strategy.preview(request(timedelta(hours=12)), now)
    assert preview.expiry.effective_expires_at == now + timedelta(hours=1)
    assert not preview.reaches_asked
    signed = strategy.sign(request(timedelta(hours=12)), now)
    assert [c["DurationSeconds"] for c in assume.params] == [3600]
    assert signed.expiry.bound_by == "credentials" and signed.expiry.cut_short
    assert signed.credentials.expires_at <= utcnow() + timedelta(hours=1, seconds=1)


def test_role_session_from_long_term_ambient_keys_asks_for_the_full_twelve_hours(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=long_term_credentials())
    assume = assume_role_calls(desk)
    desk.strategies["role-session"].sign(request(timedelta(hours=12)), utcnow())
    assert [c["DurationSeconds"] for c in assume.params] == [43200]


def test_role_session_retries_with_one_hour_when_aws_refuses_a_chained_session(world, tmp_path):
    desk = make_desk(world, tmp_path, ambient=long_term_credentials())
    strategy = desk.strategies["role-session"]
    sts = desk.aws.client("sts", strategy._source())
    asked: list[int] = []

    def refuse_long_chained(params: dict[str, Any], **_: Any) -> Any:
        asked.append(params["body"]["DurationSeconds"])
        if params["body"]["DurationSeconds"] > 3600:
            message = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
            response = {"Error": {"Code": "ValidationError", "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            return SimpleNamespace(status_code=400, headers={}, content=b""), response
        return None

    sts.meta.events.register("before-call.sts.AssumeRole", refuse_long_chained)
    signed = strategy.sign(request(timedelta(hours=12)), utcnow())
    assert asked == [43200, 3600]
    assert signed.expiry.bound_by == "credentials"


def test_role_session_without_a_role_is_not_configured_with_a_sentence(world, tmp_path):
    desk = make_desk(world, tmp_path, signing_role_arn=None)
    strategy = desk.strategies["role-session"]
    preview = strategy.preview(request(), utcnow())
    assert preview.unavailable == "No signing role is configured: set SHAREDESK_SIGNING_ROLE_ARN."
    with pytest.raises(NotConfigured, match="SHAREDESK_SIGNING_ROLE_ARN"):
        strategy.sign(request(), utcnow())


# --- iam-user: the key from settings or a secret, and only a long-term one ----------


def test_iam_user_key_can_come_from_a_secrets_manager_secret(world, tmp_path):
    desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None, signer_secret_id=SECRET_NAME)
    signed = desk.strategies["iam-user"].sign(request(timedelta(days=3)), utcnow())
    assert_sigv4(signed.url, key_id=world.signer_key_id, lifetime=timedelta(days=3))
    assert desk.aws.signer_key().secret_access_key == world.signer_secret


def test_iam_user_without_a_key_is_not_configured_with_a_sentence(world, tmp_path):
    desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None)
    strategy = desk.strategies["iam-user"]
    with pytest.raises(NotConfigured) as raised:
        strategy.sign(request(), utcnow())
    message = str(raised.value)
    assert message.startswith("No signer user key is configured") and "SHAREDESK_SIGNER_ACCESS_KEY_ID" in message
    assert "SHAREDESK_SIGNER_SECRET_ID" in message and message.endswith(".")
    assert strategy.preview(request(), utcnow()).unavailable == message


@pytest.mark.parametrize("source", ["settings", "secret"])
def test_iam_user_refuses_a_key_that_is_not_a_long_term_akia_key(world, tmp_path, source):
    if source == "settings":
        desk = make_desk(world, tmp_path, signer_access_key_id="ASIATEMPORARYKEY0001", signer_secret_access_key="s3cr3t")
    else:
        value = json.dumps({"access_key_id": "ASIATEMPORARYKEY0001", "secret_access_key": "s3cr3t"})
        secret = add_secret(world, "sharedesk/temporary-key", value)
        desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None, signer_secret_id=secret)
    strategy = desk.strategies["iam-user"]
    with pytest.raises(NotConfigured, match=r"ASIA… is not a long-term IAM user key \(AKIA…\)"):
        strategy.sign(request(), utcnow())
    assert "not a long-term IAM user key" in strategy.preview(request(), utcnow()).unavailable


def test_iam_user_secret_that_is_not_the_expected_json_is_named_in_the_sentence(world, tmp_path):
    secret = add_secret(world, "sharedesk/not-json", "AKIAEXAMPLE:not-json")
    desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None, signer_secret_id=secret)
    with pytest.raises(NotConfigured, match=f"The secret {secret} must be JSON with access_key_id and secret_access_key"):
        desk.aws.signer_key()


def test_iam_user_secret_that_does_not_exist_is_a_desk_error_not_a_traceback(world, tmp_path):
    desk = make_desk(world, tmp_path, signer_access_key_id=None, signer_secret_access_key=None, signer_secret_id="no/such/secret")
    preview = desk.strategies["iam-user"].preview(request(), utcnow())
    assert preview.unavailable and "no/such/secret" in preview.unavailable
    with pytest.raises(DeskError):
        desk.strategies["iam-user"].sign(request(), utcnow())


# --- cloudfront: canned or custom policy, verifiable with the public key ------------


def cf_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'."""
    return base64.b64decode(text.replace("-", "+").replace("_", "=").replace("~", "/"))


def cf_params(url: str) -> tuple[str, dict[str, str]]:
    """(the resource that was signed, the CloudFront parameters) of a signed URL."""
    marker = min(i for i in (url.find("?Expires="), url.find("&Expires="), url.find("?Policy="), url.find("&Policy=")) if i >= 0)
    resource = url[:marker]
    params = dict(part.split("=", 1) for part in url[marker + 1 :].split("&"))
    return resource, params


def verify_cf_signature(signature: str, message: bytes) -> None:
    CF_PUBLIC_KEY.verify(cf_b64decode(signature), message, padding.PKCS1v15(), hashes.SHA1())


def test_cloudfront_canned_url_signature_verifies_with_the_public_key(desk):
    now = utcnow()
    signed = desk.strategies["cloudfront"].sign(request(timedelta(days=30), key=ODD_KEY), now)
    resource, params = cf_params(signed.url)
    assert resource == f"https://{CF_DOMAIN}/customers/globex/donn%C3%A9es%20%C3%A9t%C3%A9%20%2B%20final%20%281%29.csv"
    assert list(params) == ["Expires", "Signature", "Key-Pair-Id"]
    expires = int(params["Expires"])
    assert expires == int((now + timedelta(days=30)).timestamp())
    assert params["Key-Pair-Id"] == CF_KEY_PAIR_ID
    canned = '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}' % (resource, expires)
    verify_cf_signature(params["Signature"], canned.encode())
    assert signed.expiry.nominal_expires_at == signed.expiry.effective_expires_at == now + timedelta(days=30)
    assert signed.expiry.bound_by == "nominal"
    assert signed.credentials.access_key_id == CF_KEY_PAIR_ID and signed.credentials.expires_at is None


def test_cloudfront_signature_fails_to_verify_for_a_tampered_expiry(desk):
    from cryptography.exceptions import InvalidSignature

    signed = desk.strategies["cloudfront"].sign(request(timedelta(days=1)), utcnow())
    resource, params = cf_params(signed.url)
    canned = '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%d}}}]}' % (resource, int(params["Expires"]) + 86400)
    with pytest.raises(InvalidSignature):
        verify_cf_signature(params["Signature"], canned.encode())


def test_cloudfront_download_name_is_part_of_the_signed_resource(desk):
    signed = desk.strategies["cloudfront"].sign(request(timedelta(hours=4), filename='Q3 "final" report.pdf'), utcnow())
    resource, params = cf_params(signed.url)
    assert "?response-content-disposition=" in resource
    disposition = unquote(resource.partition("response-content-disposition=")[2])
    assert disposition == content_disposition('Q3 "final" report.pdf')
    canned = '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%s}}}]}' % (resource, params["Expires"])
    verify_cf_signature(params["Signature"], canned.encode())


@pytest.mark.parametrize(
    ("not_before", "ip_range", "expected_ip"),
    [
        (datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc), None, None),
        (None, "192.0.2.0/24", "192.0.2.0/24"),
        (datetime(2026, 12, 1, 8, 0, tzinfo=timezone.utc), "198.51.100.7", "198.51.100.7/32"),
    ],
)
def test_cloudfront_uses_a_custom_policy_for_a_start_time_or_ip_range(desk, not_before, ip_range, expected_ip):
    now = utcnow()
    signed = desk.strategies["cloudfront"].sign(request(timedelta(days=60), not_before=not_before, ip_range=ip_range), now)
    resource, params = cf_params(signed.url)
    assert list(params) == ["Policy", "Signature", "Key-Pair-Id"]
    policy_bytes = cf_b64decode(params["Policy"])
    verify_cf_signature(params["Signature"], policy_bytes)
    (statement,) = json.loads(policy_bytes)["Statement"]
    assert statement["Resource"] == resource == f"https://{CF_DOMAIN}/{KEY}"
    condition = statement["Condition"]
    assert condition["DateLessThan"] == {"AWS:EpochTime": int((now + timedelta(days=60)).timestamp())}
    if not_before:
        assert condition["DateGreaterThan"] == {"AWS:EpochTime": int(not_before.timestamp())}
    else:
        assert "DateGreaterThan" not in condition
    if expected_ip:
        assert condition["IpAddress"] == {"AWS:SourceIp": expected_ip}
    else:
        assert "IpAddress" not in condition
    assert "Policy=…" in signed.display_url and params["Signature"] not in signed.display_url


def test_cloudfront_refuses_an_ip_range_that_is_not_an_ip_network(desk):
    with pytest.raises(DeskError, match="not-an-ip"):
        desk.strategies["cloudfront"].sign(request(timedelta(days=1), ip_range="not-an-ip"), utcnow())


def test_cloudfront_refuses_a_lifetime_beyond_its_cap(world, tmp_path):
    desk = make_desk(world, tmp_path, cloudfront_max_days=30)
    strategy = desk.strategies["cloudfront"]
    preview = strategy.preview(request(timedelta(days=31)), utcnow())
    assert preview.unavailable == "The desk signs CloudFront links for at most 30 days: ask for less."
    with pytest.raises(NotAllowed, match="at most 30 days"):
        strategy.sign(request(timedelta(days=31)), utcnow())
    # Exactly the cap is fine, and runs its full life.
    signed = strategy.sign(request(timedelta(days=30)), utcnow())
    assert signed.expiry.bound_by == "nominal"


def test_cloudfront_signs_beyond_seven_days_up_to_the_default_cap(desk):
    now = utcnow()
    preview = desk.strategies["cloudfront"].preview(request(timedelta(days=365)), now)
    assert preview.reaches_asked and preview.expiry.effective_expires_at == now + timedelta(days=365)
    assert desk.strategies["cloudfront"].preview(request(timedelta(days=366)), now).unavailable


def test_cloudfront_not_configured_says_which_settings_are_missing(world, tmp_path):
    desk = make_desk(world, tmp_path, cloudfront_private_key=None)
    strategy = desk.strategies["cloudfront"]
    preview = strategy.preview(request(), utcnow())
    assert preview.unavailable.startswith("CloudFront is not configured")
    assert "SHAREDESK_CLOUDFRONT_PRIVATE_KEY" in preview.unavailable
    with pytest.raises(NotConfigured, match="CloudFront is not configured"):
        strategy.sign(request(), utcnow())


def test_cloudfront_unreadable_private_key_is_not_configured(world, tmp_path):
    desk = make_desk(world, tmp_path, cloudfront_private_key="-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    with pytest.raises(NotConfigured, match="not a readable, unencrypted PEM private key"):
        desk.strategies["cloudfront"].sign(request(), utcnow())


# --- Content-Disposition: safe for any file name (RFC 6266 / RFC 5987) ---------------

_HEADER = re.compile(r"""attachment; filename="([^"\\\r\n]*)"(?:; filename\*=UTF-8''([A-Za-z0-9!#$&+.^_`|~%-]+))?""")


def download_name(header: str) -> str:
    """The name a browser saves as: the UTF-8 filename* when present, else the ASCII fallback."""
    match = _HEADER.fullmatch(header)
    assert match, header
    return unquote(match.group(2), errors="strict") if match.group(2) else match.group(1)


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("report.pdf", 'attachment; filename="report.pdf"'),
        ("Q3 report (final).xlsx", 'attachment; filename="Q3 report (final).xlsx"'),
        ('say "hi".txt', "attachment; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt"),
        ("back\\slash.txt", 'attachment; filename="back_slash.txt"'),
        ("../../etc/passwd", 'attachment; filename="_.._etc_passwd"'),
        ("a\r\nSet-Cookie: x=1.txt", "attachment; filename=\"aSet-Cookie_ x=1.txt\"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1.txt"),
        ("données été.csv", "attachment; filename=\"donnees ete.csv\"; filename*=UTF-8''donn%C3%A9es%20%C3%A9t%C3%A9.csv"),
        ("こんにちは.txt", "attachment; filename=\"konnichiha.txt\"; filename*=UTF-8''%E3%81%93%E3%82%93%E3%81%AB%E3%81%A1%E3%81%AF.txt"),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
        ("", 'attachment; filename="download"'),
        ("\n\t", 'attachment; filename="download"'),
    ],
)
def test_content_disposition_examples(name, header):
    assert content_disposition(name) == header


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_content_disposition_never_breaks_out_of_the_header(name):
    header = content_disposition(name)
    assert header.isascii()
    assert "\r" not in header and "\n" not in header
    match = _HEADER.fullmatch(header)
    assert match, header
    assert header.count('"') == 2  # only the pair around the ASCII fallback
    assert match.group(1).strip() != ""
    download_name(header)  # the UTF-8 name is valid percent-encoded UTF-8


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=60).filter(lambda n: n.isprintable() and n == n.strip().strip(".") and n.strip() and not {"/", "\\"} & set(n)))
def test_content_disposition_round_trips_a_printable_utf8_name(name):
    assert download_name(content_disposition(name)) == name


def test_s3_link_asks_s3_for_the_safe_download_name(desk):
    signed = desk.strategies["iam-user"].sign(request(filename='Rapport "été"\n2026.pdf'), utcnow())
    disposition = query(signed.url)["response-content-disposition"]
    # The request already dropped the newline; the header is the strategy's safe encoding of the rest.
    assert disposition == content_disposition('Rapport "été"2026.pdf')
    assert download_name(disposition) == 'Rapport "été"2026.pdf'


def test_share_request_keeps_paths_and_control_characters_out_of_file_names():
    req = request(filename="  ../secret/\x00pass\twd.txt  ", ticket="  ", note=" checked ")
    assert req.filename == ".._secret_passwd.txt"
    assert req.ticket is None and req.note == "checked"
    assert request(filename="\n\r").filename is None
