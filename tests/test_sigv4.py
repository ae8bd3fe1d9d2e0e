"""The desk's own SigV4 presigner writes the URL botocore writes, byte for byte, and S3 (the demo's checker) accepts it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.aws import CredentialSnapshot
from dashboard.strategies import ShareRequest, sigv4
from dashboard.strategies.s3links import content_disposition, presign_get

AT = datetime(2013, 5, 24, 0, 0, 0, tzinfo=timezone.utc)
LONG_TERM = CredentialSnapshot(access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
TEMPORARY = CredentialSnapshot(access_key_id="ASIAEXAMPLE", secret_access_key="secret/+=", session_token="FQoG/ZXIvYXdz+EXAMPLE==")

#: (endpoint_url, region, addressing style): AWS's global and regional endpoints, virtual-hosted and
#: path-style, and a custom endpoint with a port, as the demo and S3-compatible stores have.
ENDPOINTS = [
    (None, "us-east-1", "auto"),
    (None, "eu-west-1", "auto"),
    (None, "ap-southeast-2", "virtual"),
    (None, "eu-central-1", "path"),
    ("http://127.0.0.1:5123", "us-east-1", "path"),
    ("https://s3.example.test", "eu-west-1", "auto"),
    ("https://s3.example.test:443", "eu-west-1", "path"),
]


def client(endpoint: str | None, region: str, style: str, keys: CredentialSnapshot):
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=keys.access_key_id,
        aws_secret_access_key=keys.secret_access_key,
        aws_session_token=keys.session_token,
        config=Config(signature_version="s3v4", s3={"addressing_style": style}),
    )


def botocore_url(s3, bucket: str, key: str, filename: str | None, version: str | None, expires: int) -> str:
    params = {"Bucket": bucket, "Key": key}
    if filename:
        params["ResponseContentDisposition"] = content_disposition(filename)
    if version:
        params["VersionId"] = version
    with mock.patch("botocore.auth.get_current_datetime", return_value=AT.replace(tzinfo=None)):
        return str(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))


CLIENTS = {(e, keys.access_key_id): client(*e, keys) for e in ENDPOINTS for keys in (LONG_TERM, TEMPORARY)}

keys_text = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=st.sampled_from(ENDPOINTS),
    keys=st.sampled_from([LONG_TERM, TEMPORARY]),
    bucket=st.sampled_from(["sharedesk-demo-support", "my.dotted.bucket", "b12"]),
    key=keys_text | st.sampled_from(["/leading", "a//b", "../up", "./here", "a b+c%20d", "trailing/", "~tilde*'()!$&,;=:@?#[]"]),
    filename=st.none() | st.text(min_size=1, max_size=40),
    version=st.none() | st.text(st.characters(codec="ascii", exclude_categories=("Cc",)), min_size=1, max_size=40),
    expires=st.integers(min_value=1, max_value=604800),
)
def test_the_desk_signs_exactly_what_botocore_signs(endpoint, keys, bucket, key, filename, version, expires):
    s3 = CLIENTS[(endpoint, keys.access_key_id)]
    request = ShareRequest(bucket=bucket, key=key, lifetime=timedelta(seconds=expires), issuer="t", filename=filename, version_id=version)
    assert presign_get(s3, keys, request, AT) == botocore_url(s3, bucket, key, request.filename, version, expires)


def test_aws_documented_example_signature():
    """AWS's own SigV4 query-string example (GET /test.txt, examplebucket, 86400 s) has this signature."""
    s3 = client(None, "us-east-1", "virtual", LONG_TERM)
    request = ShareRequest(bucket="examplebucket", key="test.txt", lifetime=timedelta(seconds=86400), issuer="t")
    url = presign_get(s3, LONG_TERM, request, AT)
    assert url.startswith("https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    assert url.endswith("&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


def test_a_probe_with_a_parameter_the_desk_does_not_know_leaves_the_bucket_to_botocore():
    readable = "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"
    assert sigv4.read_probe(readable) == sigv4.Endpoint(base="https://b.s3.amazonaws.com/", path="/", host="b.s3.amazonaws.com", region="us-east-1")
    assert sigv4.read_probe(readable.replace("X-Amz-Expires", "x-amz-s3session-token=t&X-Amz-Expires")) is None
    assert sigv4.read_probe(readable.replace("%2Fs3%2F", "%2Fs3express%2F")) is None
    assert sigv4.read_probe(readable.replace("SignedHeaders=host", "SignedHeaders=host%3Bx-amz-acl")) is None
    assert sigv4.read_probe(readable.replace("/k?", "/other?")) is None


def test_when_botocore_signs_a_past_signing_time_is_refused_not_faked():
    s3 = client(None, "us-east-1", "virtual", LONG_TERM)
    request = ShareRequest(bucket="fallback-bucket", key="a.txt", lifetime=timedelta(hours=1), issuer="t")
    with mock.patch.object(sigv4, "read_probe", return_value=None):
        now_url = presign_get(s3, LONG_TERM, request)
        assert now_url.startswith("https://fallback-bucket.s3.amazonaws.com/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&")
        with pytest.raises(ValueError, match="past time"):
            presign_get(s3, LONG_TERM, request, AT)
        # An issue's `now`, a few seconds old when the batch's last link is signed, is botocore's present.
        recent = presign_get(s3, LONG_TERM, request, datetime.now(timezone.utc) - timedelta(seconds=5))
        assert recent.startswith("https://fallback-bucket.s3.amazonaws.com/a.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&")


def test_the_demo_s3_accepts_what_the_desk_signs_and_refuses_a_changed_key(demo_desk):
    import httpx

    credentials = demo_desk.aws.signer_key()
    s3 = demo_desk.aws.s3(credentials)
    from dashboard import demo

    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(minutes=5), issuer="t", filename="Grüße.txt")
    url = presign_get(s3, credentials, request)
    answer = httpx.get(url, timeout=10)
    assert answer.status_code == 200, answer.text
    assert "Grusse.txt" in answer.headers["content-disposition"]
    forged = httpx.get(url.replace("/README.txt?", "/readme.txt?"), timeout=10)
    assert forged.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in forged.text
