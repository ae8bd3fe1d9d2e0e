"""The demo's S3 refuses what S3 refuses: presigned requests checked over real HTTP against the running demo.

Every request here goes through a socket to the demo server this test
process runs (the same one the AppTest pages use); the checker's clock is
set with `demo.clock_at`, so expiry needs no waiting.  Each refusal is read
from S3's own XML error document.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import quote, urlsplit
from xml.etree import ElementTree

import boto3
import pytest
from botocore.config import Config

from dashboard import demo, demo_history, demo_sessions, issuing
from dashboard.strategies import ShareRequest

# AWS's documented example ("Authenticating Requests: Using Query Parameters (AWS Signature Version 4)").
EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_HOST = "examplebucket.s3.amazonaws.com"
EXAMPLE_AT = datetime(2013, 5, 24, tzinfo=timezone.utc)
EXAMPLE_SIGNATURE = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
EXAMPLE_QUERY = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=" + EXAMPLE_SIGNATURE
)
EXAMPLE_BODY = b"Welcome to Amazon S3."
KEY = "customers/acme/invoices/2026-10 invoice.pdf"


class Answer:
    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body
        self.error = ElementTree.fromstring(body) if body.startswith(b"<?xml") else None

    def field(self, name: str) -> str | None:
        return None if self.error is None else self.error.findtext(name)

    @property
    def code(self) -> str | None:
        return self.field("Code")

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:300]!r})"


def fetch(url: str, *, host: str | None = None, method: str = "GET", headers: dict[str, str] | None = None) -> Answer:
    """One real HTTP request to the URL's server (optionally with another Host header, as a virtual-hosted client sends)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.request(method, parts.path + ("?" + parts.query if parts.query else ""), headers={**({"Host": host} if host else {}), **(headers or {})})
        response = connection.getresponse()
        return Answer(response.status, response.read())
    finally:
        connection.close()


def with_param(url: str, name: str, value: str) -> str:
    """The same URL with one query parameter's value replaced, without signing it again."""
    changed, count = re.subn(rf"([?&]{re.escape(name)}=)[^&]*", lambda m: m.group(1) + value, url)
    assert count == 1, f"{name} not in the URL"
    return changed


def presign(client, key: str = KEY, expires: int = 3600, bucket: str = demo.SUPPORT_BUCKET, at: datetime | None = None) -> str:
    if at is None:
        return str(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires))
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.astimezone(timezone.utc).replace(tzinfo=None)):
        return str(client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires))


@pytest.fixture
def endpoint(demo_desk) -> str:
    return str(demo_desk.demo.endpoint)


def client_for(endpoint: str, key_id: str, secret: str, token: str | None = None, version: str = "s3v4"):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=demo.REGION,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(signature_version=version, s3={"addressing_style": "path"}),
    )


@pytest.fixture
def signer(endpoint):
    """A client signing with the demo signer user's long-term key (registered in the demo's IAM)."""
    return client_for(endpoint, demo.SIGNER_KEY_ID, demo.SIGNER_SECRET)


@pytest.fixture
def example_key(endpoint) -> Iterator[None]:
    """AWS's example key registered in the demo's IAM, and the example's bucket and object in its S3."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="x", aws_secret_access_key="x")
    iam.create_user(UserName="aws-doc-example")
    iam.create_access_key(UserName="aws-doc-example")
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    key = iam_backends[demo.ACCOUNT_ID]["aws"].users["aws-doc-example"].access_keys[0]
    key.access_key_id, key.secret_access_key = EXAMPLE_KEY_ID, EXAMPLE_SECRET
    backend = s3_backends[demo.ACCOUNT_ID]["aws"]
    backend.create_bucket("examplebucket", demo.REGION)
    backend.put_object("examplebucket", "test.txt", EXAMPLE_BODY)
    try:
        yield
    finally:
        backend.delete_object("examplebucket", "test.txt")
        backend.delete_bucket("examplebucket")
        iam_backends[demo.ACCOUNT_ID]["aws"].users.pop("aws-doc-example", None)


# --- AWS's own example -----------------------------------------------------------------


def test_aws_documented_sigv4_example_verifies_with_the_example_key_at_its_own_time(endpoint, example_key):
    url = f"{endpoint}/test.txt?{EXAMPLE_QUERY}"
    with demo.clock_at(EXAMPLE_AT):
        answer = fetch(url, host=EXAMPLE_HOST)
    assert answer.status == 200, answer
    assert answer.body == EXAMPLE_BODY


def test_aws_documented_example_is_expired_a_day_later(endpoint, example_key):
    with demo.clock_at(EXAMPLE_AT + timedelta(seconds=86401)):
        answer = fetch(f"{endpoint}/test.txt?{EXAMPLE_QUERY}", host=EXAMPLE_HOST)
    assert answer.status == 403 and answer.code == "AccessDenied", answer
    assert answer.field("Message") == "Request has expired"
    assert answer.field("X-Amz-Expires") == "86400"
    assert answer.field("Expires") == "2013-05-25T00:00:00Z"
    assert answer.field("ServerTime") == "2013-05-25T00:00:01Z"
    assert answer.field("RequestId") and answer.field("HostId")


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Amz-Signature", "0" * 64), ("X-Amz-Expires", "86401"), ("X-Amz-Date", "20130524T000001Z")],
    ids=["forged-signature", "lifetime-changed", "date-changed"],
)
def test_aws_documented_example_tampered_without_resigning_does_not_match(endpoint, example_key, name, value):
    url = with_param(f"{endpoint}/test.txt?{EXAMPLE_QUERY}", name, value)
    with demo.clock_at(EXAMPLE_AT + timedelta(minutes=5)):
        answer = fetch(url, host=EXAMPLE_HOST)
    assert answer.status == 403 and answer.code == "SignatureDoesNotMatch", answer
    assert answer.field("AWSAccessKeyId") == EXAMPLE_KEY_ID
    assert answer.field("SignatureProvided") == (value if name == "X-Amz-Signature" else EXAMPLE_SIGNATURE)
    assert answer.field("StringToSign").startswith("AWS4-HMAC-SHA256\n")
    assert answer.field("CanonicalRequest").startswith("GET\n/test.txt\n")


def test_the_example_signature_is_what_botocore_makes_and_what_the_checker_recomputes(endpoint, example_key):
    # botocore's own presigning at the documented time gives the documented URL, which the demo accepts.
    client = boto3.client(
        "s3", region_name="us-east-1", aws_access_key_id=EXAMPLE_KEY_ID, aws_secret_access_key=EXAMPLE_SECRET,
        config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}),
    )  # fmt: skip
    with mock.patch("botocore.auth.get_current_datetime", return_value=EXAMPLE_AT.replace(tzinfo=None)):
        url = client.generate_presigned_url("get_object", Params={"Bucket": "examplebucket", "Key": "test.txt"}, ExpiresIn=86400)
    assert url.endswith("X-Amz-Signature=" + EXAMPLE_SIGNATURE)
    with demo.clock_at(EXAMPLE_AT + timedelta(hours=23)):
        assert fetch(f"{endpoint}{urlsplit(url).path}?{urlsplit(url).query}", host=EXAMPLE_HOST).status == 200


# --- the desk's own links --------------------------------------------------------------


def test_a_fresh_link_of_each_s3_strategy_downloads_then_is_refused_once_dead(demo_desk, endpoint):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(days=1), issuer="checker-test")
    for strategy in ("ambient", "role-session", "iam-user"):
        link = issuing.issue(demo_desk, [request], strategy)[0]
        assert fetch(link.url).body == demo.body_of(KEY), strategy
        real = link.entry.effective_expires_at
        assert real is not None
        with demo.clock_at(real + timedelta(seconds=1)):
            answer = fetch(link.url)
        if link.entry.bound_by == "credentials":  # the session ended before the URL's own window
            assert (answer.status, answer.code) == (400, "ExpiredToken"), (strategy, answer)
            assert answer.field("Message") == "The provided token has expired."
        else:
            assert (answer.status, answer.code, answer.field("Message")) == (403, "AccessDenied", "Request has expired"), strategy


def test_an_ended_sts_session_answers_expired_token(endpoint):
    sts = boto3.client(
        "sts", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="x", aws_secret_access_key="x",
        config=Config(parameter_validation=False),
    )  # fmt: skip
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{demo.ACCOUNT_ID}:role/{demo.SIGNING_ROLE}", RoleSessionName="short", DurationSeconds=900)["Credentials"]
    client = client_for(endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    url = presign(client, expires=3600)
    assert fetch(url).status == 200
    ended = creds["Expiration"].astimezone(timezone.utc) + timedelta(seconds=1)
    with demo.clock_at(ended):
        answer = fetch(url)
    assert (answer.status, answer.code) == (400, "ExpiredToken"), answer
    assert answer.field("Token-0") == creds["SessionToken"]
    # Once the URL's own window has passed too, S3 says so first: the window is judged before any key.
    with demo.clock_at(ended + timedelta(hours=1)):
        answer = fetch(url)
    assert (answer.status, answer.code, answer.field("Message")) == (403, "AccessDenied", "Request has expired")


def test_a_session_key_without_its_token_or_with_another_token_is_refused(endpoint):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="x", aws_secret_access_key="x")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{demo.ACCOUNT_ID}:role/{demo.SIGNING_ROLE}", RoleSessionName="tokens")["Credentials"]
    no_token = presign(client_for(endpoint, creds["AccessKeyId"], creds["SecretAccessKey"]))
    assert fetch(no_token).code == "InvalidAccessKeyId"
    other = presign(client_for(endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], "not-the-session-token"))
    answer = fetch(other)
    assert (answer.status, answer.code) == (400, "InvalidToken"), answer


def test_an_unknown_key_is_refused(endpoint):
    answer = fetch(presign(client_for(endpoint, "AKIANOBODYISSUEDTHIS", "x" * 40)))
    assert (answer.status, answer.code) == (403, "InvalidAccessKeyId"), answer
    assert answer.field("Message") == "The AWS Access Key Id you provided does not exist in our records."
    assert answer.field("AWSAccessKeyId") == "AKIANOBODYISSUEDTHIS"


def test_a_deactivated_key_is_refused(endpoint):
    iam = boto3.client("iam", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="x", aws_secret_access_key="x")
    iam.create_user(UserName="leaver")
    try:
        key = iam.create_access_key(UserName="leaver")["AccessKey"]
        url = presign(client_for(endpoint, key["AccessKeyId"], key["SecretAccessKey"]))
        assert fetch(url).status == 200
        iam.update_access_key(UserName="leaver", AccessKeyId=key["AccessKeyId"], Status="Inactive")
        assert fetch(url).code == "InvalidAccessKeyId"
    finally:
        from moto.iam.models import iam_backends

        iam_backends[demo.ACCOUNT_ID]["aws"].users.pop("leaver", None)


def test_a_signing_time_in_the_future_is_not_yet_valid(signer):
    signed_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
    url = presign(signer, expires=900, at=signed_at)
    answer = fetch(url)
    assert (answer.status, answer.code, answer.field("Message")) == (403, "AccessDenied", "Request is not yet valid"), answer
    assert answer.field("X-Amz-Date") == str(int(signed_at.timestamp()) * 1000)  # S3 echoes epoch milliseconds
    assert answer.field("Expires") == f"{signed_at + timedelta(seconds=900):%Y-%m-%dT%H:%M:%SZ}"
    with demo.clock_at(signed_at):
        assert fetch(url).status == 200


@pytest.mark.parametrize(("expires", "message"), [(604801, "must be less than a week"), (-1, "must be non-negative")])
def test_an_x_amz_expires_outside_a_week_is_a_query_parameters_error(signer, expires, message):
    url = presign(signer, expires=604800)  # botocore would sign -1 or 604801 too; S3 refuses them before the signature
    answer = fetch(with_param(url, "X-Amz-Expires", str(expires)))
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError"), answer
    assert message in (answer.field("Message") or "")


def test_a_signed_604801_second_lifetime_is_refused_even_with_a_good_signature(signer):
    answer = fetch(presign(signer, expires=604801))
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError"), answer


def test_a_zero_second_lifetime_has_already_expired(signer):
    answer = fetch(presign(signer, expires=0))
    assert (answer.status, answer.code, answer.field("Message")) == (403, "AccessDenied", "Request has expired")
    assert answer.field("X-Amz-Expires") == "0"


def test_a_wrong_region_in_the_credential_scope_names_the_right_one(endpoint):
    client = boto3.client(
        "s3", endpoint_url=endpoint, region_name="eu-west-1", aws_access_key_id=demo.SIGNER_KEY_ID,
        aws_secret_access_key=demo.SIGNER_SECRET, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip
    answer = fetch(presign(client))
    assert (answer.status, answer.code) == (400, "AuthorizationQueryParametersError")
    assert answer.field("Region") == "us-east-1" and "'eu-west-1' is wrong" in (answer.field("Message") or "")


def test_a_changed_key_in_the_path_does_not_match(signer, endpoint):
    url = presign(signer)
    other = url.replace(quote(KEY), quote("customers/acme/invoices/2026-11 invoice.pdf"))
    assert other != url
    assert fetch(other).code == "SignatureDoesNotMatch"


def test_a_head_with_a_get_link_is_refused_without_a_body(signer):
    answer = fetch(presign(signer), method="HEAD")
    assert answer.status == 403 and answer.body == b""


def test_query_and_header_authentication_together_are_refused(signer):
    answer = fetch(presign(signer), headers={"Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request"})
    assert (answer.status, answer.code) == (400, "InvalidArgument")


def test_header_authenticated_calls_are_untouched(demo_desk):
    s3 = demo_desk.aws.s3()
    page = s3.list_objects_v2(Bucket=demo.SUPPORT_BUCKET, Prefix="customers/acme/invoices/")
    assert [item["Key"] for item in page["Contents"]] == ["customers/acme/invoices/2026-10 invoice.pdf", "customers/acme/invoices/2026-11 invoice.pdf"]
    assert s3.head_object(Bucket=demo.SUPPORT_BUCKET, Key=KEY)["ContentLength"] == len(demo.body_of(KEY))


def test_response_content_disposition_is_signed_and_served(signer):
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": demo.SUPPORT_BUCKET, "Key": KEY, "ResponseContentDisposition": 'attachment; filename="a.pdf"'}, ExpiresIn=60
    )
    assert fetch(url).status == 200
    assert fetch(url.replace("a.pdf", "b.pdf")).code == "SignatureDoesNotMatch"


# --- SigV2 -------------------------------------------------------------------------------


def test_sigv2_links_verify_then_expire_and_forgeries_do_not_match(endpoint):
    client = client_for(endpoint, demo.SIGNER_KEY_ID, demo.SIGNER_SECRET, version="s3")
    url = presign(client, expires=60)
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    assert fetch(url).body == demo.body_of(KEY)

    forged = with_param(url, "Signature", quote("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", safe=""))
    answer = fetch(forged)
    assert (answer.status, answer.code) == (403, "SignatureDoesNotMatch"), answer
    assert answer.field("StringToSign").startswith("GET\n")

    expires = int(re.search(r"Expires=(\d+)", url).group(1))  # type: ignore[union-attr]
    later = datetime.fromtimestamp(expires + 1, timezone.utc)
    with demo.clock_at(later):
        answer = fetch(url)
    assert (answer.status, answer.code, answer.field("Message")) == (403, "AccessDenied", "Request has expired"), answer
    assert answer.field("Expires") == f"{datetime.fromtimestamp(expires, timezone.utc):%Y-%m-%dT%H:%M:%SZ}"
    assert answer.field("ServerTime") == f"{later:%Y-%m-%dT%H:%M:%SZ}"


def test_sigv2_with_a_session_token_verifies_and_ends_with_the_session(endpoint):
    sts = boto3.client("sts", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="x", aws_secret_access_key="x")
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{demo.ACCOUNT_ID}:role/{demo.SIGNING_ROLE}", RoleSessionName="v2", DurationSeconds=900)["Credentials"]
    url = presign(client_for(endpoint, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"], version="s3"), expires=3600)
    assert fetch(url).status == 200
    with demo.clock_at(creds["Expiration"].astimezone(timezone.utc) + timedelta(seconds=1)):
        assert fetch(url).code == "ExpiredToken"


# --- the demo history --------------------------------------------------------------------


def test_a_cut_short_history_link_answers_expired_token_and_worked_before_its_session_ended(demo_desk):
    sample = demo_history.cut_short_sample(demo_desk)
    assert sample is not None
    entry, url = sample
    assert urlsplit(url).netloc == urlsplit(demo_desk.demo.endpoint).netloc  # today's demo S3, not the seeding desk's
    answer = fetch(url)
    assert (answer.status, answer.code) == (400, "ExpiredToken"), answer
    assert entry.credential_expires_at is not None
    with demo.clock_at(entry.credential_expires_at - timedelta(minutes=1)):
        assert fetch(url).body == demo.body_of(entry.key)


def test_history_sessions_are_judged_from_the_key_id_alone():
    ends = datetime(2026, 11, 20, 6, 0, tzinfo=timezone.utc)
    made = demo_sessions.session("task", ends)
    again = demo_sessions.recognise(made.access_key_id)
    assert again == made and again.expires_at == ends
    assert re.fullmatch(r"ASIA[A-Z2-7]{16}", made.access_key_id)
    assert demo_sessions.session("role", ends).access_key_id != made.access_key_id
    tampered = made.access_key_id[:-1] + ("A" if made.access_key_id[-1] != "A" else "B")
    assert demo_sessions.recognise(tampered) is None
    assert demo_sessions.recognise("ASIAIOSFODNN7EXAMPLE") is None


def test_the_desks_sessions_still_verify_after_a_moto_reset_in_the_same_process(demo_desk):
    """A `mock_aws` test resets every moto backend, STS included; the demo's own sessions must not vanish with it."""
    from moto import mock_aws

    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(hours=1), issuer="reset-test")
    before = {strategy: issuing.issue(demo_desk, [request], strategy)[0].url for strategy in ("ambient", "role-session")}
    with mock_aws():
        pass  # start and stop: every backend in the process is reset
    demo.ensure_seeded(demo_desk.demo.endpoint)
    for strategy, url in before.items():
        assert fetch(url).body == demo.body_of(KEY), strategy
        again = issuing.issue(demo_desk, [request], strategy)[0].url  # the cached session signs on
        assert fetch(again).body == demo.body_of(KEY), strategy
