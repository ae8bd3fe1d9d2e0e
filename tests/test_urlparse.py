"""The link parser reads every kind of pasted link, and fails only with one clear sentence.

Real URLs come from boto3/botocore (presigning is offline: fake keys, no
network), so the parser is checked against what AWS's own SDK emits, not
against our idea of it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dashboard.urlparse import LinkKind, LinkParseError, ParsedLink, parse_link, strip_secrets

AKID = "AKIAIOSFODNN7EXAMPLE"
TEMP_AKID = "ASIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE+/tokenWith=Specials//"

AWS_DOC_SIGNATURE = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
AWS_DOC_URL = (
    "https://examplebucket.s3.amazonaws.com/test.txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z"
    "&X-Amz-Expires=86400"
    "&X-Amz-SignedHeaders=host"
    f"&X-Amz-Signature={AWS_DOC_SIGNATURE}"
)

STABLE_TOKEN = "Zq3xV9_kT2-mPa8Lr5Ny"


def sigv4_url(**overrides: str | None) -> str:
    """The AWS documentation example with some parameters replaced (None drops one)."""
    params: dict[str, str | None] = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request",
        "X-Amz-Date": "20130524T000000Z",
        "X-Amz-Expires": "86400",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": AWS_DOC_SIGNATURE,
    }
    host = overrides.pop("host", None) or "examplebucket.s3.amazonaws.com"
    path = overrides.pop("path", None) or "/test.txt"
    params.update(overrides)
    query = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    return f"https://{host}{path}?{query}"


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Presigning must never pick up a developer's real profile or credentials."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))


def s3_client(
    *,
    region: str = "eu-west-1",
    token: str | None = None,
    akid: str = AKID,
    endpoint_url: str | None = None,
    addressing_style: str = "auto",
    signature_version: str = "s3v4",
) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=akid, aws_secret_access_key=SECRET, aws_session_token=token, region_name=region
    )
    config = Config(signature_version=signature_version, s3={"addressing_style": addressing_style})
    return session.client("s3", config=config, endpoint_url=endpoint_url)


def presign(client: Any, bucket: str, key: str, expires_in: int = 3600, **params: str) -> str:
    url: str = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires_in
    )
    return url


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def cloudfront_signer(rsa_key: rsa.RSAPrivateKey) -> CloudFrontSigner:
    def sign(message: bytes) -> bytes:
        return rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA1())  # CloudFront signs with SHA-1

    return CloudFrontSigner("K2JCJMDEHXQW5F", sign)


def cloudfront_b64decode(value: str) -> bytes:
    return base64.b64decode(value.translate(str.maketrans("-_~", "+=/")))


# --------------------------------------------------------------------------- SigV4


def test_aws_documented_sigv4_example_is_read_exactly() -> None:
    link = parse_link(AWS_DOC_URL)

    assert link == ParsedLink(
        kind=LinkKind.S3_SIGV4,
        url=AWS_DOC_URL,
        host="examplebucket.s3.amazonaws.com",
        bucket="examplebucket",
        key="test.txt",
        region="us-east-1",
        access_key_id="AKIAIOSFODNN7EXAMPLE",
        has_session_token=False,
        signed_at=datetime(2013, 5, 24, tzinfo=UTC),
        nominal_expires_at=datetime(2013, 5, 25, tzinfo=UTC),
        expires_seconds=86400,
        signature=AWS_DOC_SIGNATURE,
        extra_params={},
        warnings=(),
    )
    assert link.kind == "s3-sigv4"
    assert link.signed_at is not None and link.signed_at.tzinfo is not None


def test_surrounding_whitespace_is_stripped_but_the_url_is_kept_as_given() -> None:
    link = parse_link(f"  \n{AWS_DOC_URL}\t ")
    assert link.url == AWS_DOC_URL


@pytest.mark.parametrize("style", ["virtual", "path"])
def test_boto3_presigned_url_is_read_in_both_addressing_styles(style: str) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    url = presign(s3_client(addressing_style=style), "share-desk-files", "reports/q1.pdf", expires_in=900)
    link = parse_link(url)

    assert link.kind is LinkKind.S3_SIGV4
    assert link.bucket == "share-desk-files"
    assert link.key == "reports/q1.pdf"
    assert link.region == "eu-west-1"
    assert link.access_key_id == AKID
    assert link.has_session_token is False
    assert link.expires_seconds == 900
    assert link.signed_at is not None and before <= link.signed_at <= datetime.now(UTC)
    assert link.nominal_expires_at == link.signed_at + timedelta(seconds=900)
    assert link.signature is not None and len(link.signature) == 64
    assert link.warnings == ()
    if style == "virtual":
        assert link.host == "share-desk-files.s3.eu-west-1.amazonaws.com"
    else:
        assert link.host == "s3.eu-west-1.amazonaws.com"


def test_session_token_marks_the_link_as_signed_with_temporary_credentials() -> None:
    url = presign(s3_client(token=SESSION_TOKEN, akid=TEMP_AKID), "bkt", "a.txt")
    link = parse_link(url)

    assert link.has_session_token is True
    assert link.access_key_id == TEMP_AKID
    assert link.warnings == ()


@pytest.mark.parametrize(
    "key",
    ["folder/with space/report final.pdf", "unicodé/日本語/файл.txt", "a+b/c++.zip", "100%/odd&key=1?#.bin", "x/ /y"],
)
@pytest.mark.parametrize("style", ["virtual", "path"])
def test_keys_with_spaces_unicode_and_plus_are_decoded_exactly(key: str, style: str) -> None:
    url = presign(s3_client(addressing_style=style), "bkt", key)
    link = parse_link(url)
    assert link.bucket == "bkt"
    assert link.key == key


def test_custom_endpoint_is_read_as_path_style_and_keeps_its_port() -> None:
    url = presign(s3_client(endpoint_url="http://127.0.0.1:5000", region="us-east-1"), "demo-bucket", "a+b c.txt")
    link = parse_link(url)

    assert link.kind is LinkKind.S3_SIGV4
    assert link.host == "127.0.0.1:5000"
    assert (link.bucket, link.key, link.region) == ("demo-bucket", "a+b c.txt", "us-east-1")


def test_named_s3_compatible_endpoint_is_read_as_path_style() -> None:
    url = presign(s3_client(endpoint_url="https://minio.example.com", addressing_style="path"), "media", "v/1.mp4")
    link = parse_link(url)
    assert (link.host, link.bucket, link.key) == ("minio.example.com", "media", "v/1.mp4")


def test_cname_bucket_domain_uses_the_host_name_as_bucket() -> None:
    link = parse_link(sigv4_url(host="files.example.com", path="/docs/manual.pdf"))
    assert (link.bucket, link.key) == ("files.example.com", "docs/manual.pdf")


def test_response_content_disposition_and_version_id_are_exposed() -> None:
    disposition = 'attachment; filename="Q1 report.pdf"; filename*=UTF-8\'\'Q1%20r%C3%A9port.pdf'
    url = presign(
        s3_client(), "bkt", "q1.pdf", ResponseContentDisposition=disposition, VersionId="3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    )
    link = parse_link(url)

    assert link.version_id == "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert link.extra_params == {"response-content-disposition": disposition}


@pytest.mark.parametrize(
    ("host", "path", "bucket", "key", "region"),
    [
        ("examplebucket.s3.amazonaws.com", "/test.txt", "examplebucket", "test.txt", "us-east-1"),
        ("examplebucket.s3.us-east-1.amazonaws.com", "/test.txt", "examplebucket", "test.txt", "us-east-1"),
        ("examplebucket.s3-us-east-1.amazonaws.com", "/test.txt", "examplebucket", "test.txt", "us-east-1"),
        ("examplebucket.s3.dualstack.us-east-1.amazonaws.com", "/t.txt", "examplebucket", "t.txt", "us-east-1"),
        ("my.dotted.bucket.s3.us-east-1.amazonaws.com", "/a/b", "my.dotted.bucket", "a/b", "us-east-1"),
        ("s3-logs.s3.amazonaws.com", "/x", "s3-logs", "x", "us-east-1"),
        ("s3.amazonaws.com", "/examplebucket/test.txt", "examplebucket", "test.txt", "us-east-1"),
        ("s3.us-east-1.amazonaws.com", "/examplebucket/dir/test.txt", "examplebucket", "dir/test.txt", "us-east-1"),
        ("s3.us-east-1.amazonaws.com", "/examplebucket", "examplebucket", None, "us-east-1"),
        ("localhost:4566", "/bkt/k", "bkt", "k", "us-east-1"),
        ("[::1]:9000", "/bkt/k", "bkt", "k", "us-east-1"),
    ],
)
def test_every_s3_addressing_style_yields_bucket_and_key(
    host: str, path: str, bucket: str, key: str | None, region: str
) -> None:
    link = parse_link(sigv4_url(host=host, path=path))
    assert (link.bucket, link.key, link.region) == (bucket, key, region)
    assert link.warnings == ()


def test_access_point_host_does_not_pretend_to_know_the_bucket() -> None:
    link = parse_link(sigv4_url(host="finance-ap-123456789012.s3-accesspoint.us-east-1.amazonaws.com", path="/q/1.csv"))
    assert (link.bucket, link.key, link.region) == (None, "q/1.csv", "us-east-1")


def test_parameter_names_are_recognised_in_any_case() -> None:
    url = AWS_DOC_URL.replace("X-Amz-", "x-amz-")
    link = parse_link(url)
    assert link.kind is LinkKind.S3_SIGV4
    assert link.signature == AWS_DOC_SIGNATURE


def test_credential_date_that_differs_from_signing_date_is_a_warning() -> None:
    link = parse_link(sigv4_url(**{"X-Amz-Date": "20130525T000000Z"}))
    assert any("does not match X-Amz-Date" in w for w in link.warnings)


def test_expires_above_seven_days_warns_that_s3_will_refuse_it() -> None:
    link = parse_link(sigv4_url(**{"X-Amz-Expires": "604801"}))
    assert link.expires_seconds == 604801
    assert (
        "X-Amz-Expires is above 604800: S3 will refuse this link with AuthorizationQueryParametersError."
        in link.warnings
    )


def test_region_that_differs_from_the_endpoint_is_a_warning() -> None:
    link = parse_link(sigv4_url(host="bkt.s3.eu-west-1.amazonaws.com"))
    assert link.region == "us-east-1"
    assert any("eu-west-1 endpoint" in w for w in link.warnings)


def test_temporary_key_without_session_token_is_a_warning() -> None:
    credential = "ASIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    link = parse_link(sigv4_url(**{"X-Amz-Credential": credential}))
    assert any("no X-Amz-Security-Token" in w for w in link.warnings)


def test_signed_headers_beyond_host_warn_that_a_browser_click_fails() -> None:
    link = parse_link(sigv4_url(**{"X-Amz-SignedHeaders": "host%3Bx-amz-server-side-encryption-customer-algorithm"}))
    assert any("browser will not send them" in w for w in link.warnings)


def test_sigv4a_link_takes_its_region_from_the_region_set() -> None:
    der_signature = "3045022100" + "ab" * 32 + "0220" + "cd" * 32
    url = sigv4_url(
        host="mfzwi23gnjvgw.mrap.accesspoint.s3-global.amazonaws.com",
        **{
            "X-Amz-Algorithm": "AWS4-ECDSA-P256-SHA256",
            "X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fs3%2Faws4_request",
            "X-Amz-Region-Set": "eu-central-1",
            "X-Amz-Signature": der_signature,
        },
    )
    link = parse_link(url)
    assert link.kind is LinkKind.S3_SIGV4
    assert link.region == "eu-central-1"
    assert link.bucket is None  # a multi-region access point does not reveal the bucket
    assert link.key == "test.txt"
    assert link.signature == der_signature
    assert "X-Amz-Region-Set" not in link.extra_params


@pytest.mark.parametrize(
    "missing",
    ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"],
)
def test_missing_sigv4_parameter_is_named_in_the_error(missing: str) -> None:
    # Keep at least one other SigV4 parameter so the kind is still recognisable.
    with pytest.raises(LinkParseError, match=missing):
        parse_link(sigv4_url(**{missing: None}))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"X-Amz-Date": "2026-13-45"}, "X-Amz-Date"),
        ({"X-Amz-Date": "20261345T000000Z"}, "X-Amz-Date"),
        ({"X-Amz-Expires": "soon"}, "X-Amz-Expires"),
        ({"X-Amz-Expires": "-5"}, "X-Amz-Expires"),
        ({"X-Amz-Signature": "zz" * 32}, "64 hexadecimal"),
        ({"X-Amz-Signature": AWS_DOC_SIGNATURE[:40]}, "64 hexadecimal"),
        ({"X-Amz-Signature": ""}, "X-Amz-Signature"),
        ({"X-Amz-Algorithm": "AWS4-HMAC-MD5"}, "X-Amz-Algorithm"),
        ({"X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2F20130524"}, "X-Amz-Credential"),
        ({"X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2F2013XX24%2Fus-east-1%2Fs3%2Faws4_request"}, "X-Amz-Credential"),
        ({"X-Amz-Credential": "AKIAIOSFODNN7EXAMPLE%2"}, "%-escape"),
        ({"X-Amz-Expires": "9" * 12}, "year 9999"),
    ],
)
def test_damaged_sigv4_values_are_refused_with_a_sentence(overrides: dict[str, str], fragment: str) -> None:
    with pytest.raises(LinkParseError, match=fragment) as caught:
        parse_link(sigv4_url(**overrides))
    assert AWS_DOC_SIGNATURE not in str(caught.value)
    assert str(caught.value).endswith(".")


def test_query_cut_off_mid_parameter_name_is_refused_naming_what_is_missing() -> None:
    truncated = AWS_DOC_URL[: AWS_DOC_URL.index("X-Amz-Signature") + 7]
    with pytest.raises(LinkParseError, match="X-Amz-Signature"):
        parse_link(truncated)


def test_parameter_given_twice_is_refused() -> None:
    with pytest.raises(LinkParseError, match="appears twice"):
        parse_link(AWS_DOC_URL + "&x-amz-date=20130524T000000Z")


# --------------------------------------------------------------------------- SigV2


def test_boto3_sigv2_url_is_recognised_as_legacy_sigv2() -> None:
    url = presign(s3_client(region="us-east-1", signature_version="s3"), "bkt", "a+b c.txt", expires_in=600)
    link = parse_link(url)

    assert "AWSAccessKeyId=" in url
    assert link.kind is LinkKind.S3_SIGV2
    assert (link.bucket, link.key, link.access_key_id) == ("bkt", "a+b c.txt", AKID)
    assert link.signed_at is None
    assert link.expires_seconds is None
    assert link.nominal_expires_at is not None
    assert abs(link.nominal_expires_at - (datetime.now(UTC) + timedelta(seconds=600))) < timedelta(seconds=30)
    assert link.signature is not None and len(link.signature) == 28
    assert any("2020-06-24" in w and "legacy" in w for w in link.warnings)


def test_sigv2_session_token_is_detected() -> None:
    url = presign(
        s3_client(region="us-east-1", signature_version="s3", token=SESSION_TOKEN, akid=TEMP_AKID), "bkt", "k"
    )
    link = parse_link(url)
    assert "x-amz-security-token=" in url
    assert link.kind is LinkKind.S3_SIGV2
    assert link.has_session_token is True


def test_sigv2_region_comes_from_the_regional_host() -> None:
    url = "https://bkt.s3.eu-west-1.amazonaws.com/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1700000000&Signature=abc%3D"
    assert parse_link(url).region == "eu-west-1"


def test_sigv2_signature_with_unencoded_plus_is_restored() -> None:
    url = "https://bkt.s3.amazonaws.com/k?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1700000000&Signature=ab+cd/ef=="
    link = parse_link(url)
    assert link.signature == "ab+cd/ef=="
    assert link.nominal_expires_at == datetime.fromtimestamp(1700000000, UTC)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=tomorrow&Signature=abc%3D", "Expires"),
        ("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=abc%3D", "missing Expires"),
        ("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1700000000", "missing Signature"),
        ("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1700000000&Signature=%21%21", "not base64"),
        ("AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=999999999999&Signature=abc%3D", "date"),
    ],
)
def test_damaged_sigv2_links_are_refused(query: str, fragment: str) -> None:
    with pytest.raises(LinkParseError, match=fragment):
        parse_link(f"https://bkt.s3.amazonaws.com/k?{query}")


# --------------------------------------------------------------------------- CloudFront


def test_cloudfront_canned_policy_url_from_botocore_is_read(
    cloudfront_signer: CloudFrontSigner, rsa_key: rsa.RSAPrivateKey
) -> None:
    expires = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    url = cloudfront_signer.generate_presigned_url(
        "https://d111111abcdef8.cloudfront.net/media/clip%20one.mp4", date_less_than=expires
    )
    link = parse_link(url)

    assert link.kind is LinkKind.CLOUDFRONT
    assert link.host == "d111111abcdef8.cloudfront.net"
    assert link.key == "media/clip one.mp4"
    assert link.key_pair_id == "K2JCJMDEHXQW5F"
    assert link.nominal_expires_at == expires
    assert link.policy is None and link.not_before is None and link.ip_range is None
    assert link.bucket is None and link.access_key_id is None and link.region is None
    assert link.signed_at is None
    assert link.warnings == ()
    # The raw signature is kept intact: it still verifies against the canned policy.
    assert link.signature is not None
    canned = (
        '{"Statement":[{"Resource":"https://d111111abcdef8.cloudfront.net/media/clip%20one.mp4",'
        f'"Condition":{{"DateLessThan":{{"AWS:EpochTime":{int(expires.timestamp())}}}}}}}]}}'
    )
    rsa_key.public_key().verify(
        cloudfront_b64decode(link.signature), canned.encode(), padding.PKCS1v15(), hashes.SHA1()
    )


def test_cloudfront_custom_policy_url_from_botocore_is_read(cloudfront_signer: CloudFrontSigner) -> None:
    start = datetime(2030, 6, 1, tzinfo=UTC)
    end = datetime(2031, 6, 1, tzinfo=UTC)
    resource = "https://d111111abcdef8.cloudfront.net/private/*"
    policy = cloudfront_signer.build_policy(resource, end, date_greater_than=start, ip_address="192.0.2.0/24")
    url = cloudfront_signer.generate_presigned_url(
        "https://d111111abcdef8.cloudfront.net/private/report.pdf?lang=en", policy=policy
    )
    link = parse_link(url)

    assert link.kind is LinkKind.CLOUDFRONT
    assert link.nominal_expires_at == end
    assert link.not_before == start
    assert link.ip_range == "192.0.2.0/24"
    assert link.policy == json.loads(policy)
    assert link.key == "private/report.pdf"
    assert link.extra_params == {"lang": "en"}
    assert link.warnings == ()


def test_cloudfront_policy_whose_resource_does_not_cover_the_url_is_a_warning(
    cloudfront_signer: CloudFrontSigner,
) -> None:
    policy = cloudfront_signer.build_policy("https://d111111abcdef8.cloudfront.net/other/*", datetime(2031, 1, 1, tzinfo=UTC))
    url = cloudfront_signer.generate_presigned_url("https://d111111abcdef8.cloudfront.net/private/a.pdf", policy=policy)
    assert any("does not cover this URL" in w for w in parse_link(url).warnings)


def test_cloudfront_signed_url_on_a_custom_domain_is_recognised(cloudfront_signer: CloudFrontSigner) -> None:
    url = cloudfront_signer.generate_presigned_url(
        "https://downloads.example.com/a.zip", date_less_than=datetime(2031, 1, 1, tzinfo=UTC)
    )
    link = parse_link(url)
    assert link.kind is LinkKind.CLOUDFRONT
    assert link.host == "downloads.example.com"


CF_DOC_SIGNATURE = (
    "nitfHRCrtziwO2HwPfWw~yYDhUF5EwRunQA-j19DzZrvDh6hQ73lDx~-ar3UocvvRQVw6EkC~GdpGQyyOSKQim-TxAnW7d8F5Kkai9HVx0FIu"
    "-5jcQb0UEmatEXAMPLE3ReXySpLSMj0yCd3ZAB4UcBCAqEijkytL6f3fVYNGQI6"
)
# The documented custom policy, with the "EXAMPLE" AWS splices into it replaced by the original bytes.
CF_DOC_POLICY = (
    "eyANCiAgICJTdGF0ZW1lbnQiOiBbeyANCiAgICAgICJSZXNvdXJjZSI6Imh0dHA6Ly9kemJlc3FtN3VuMW0wLmNsb3VkZnJvbnQubmV0L2RlbW8u"
    "cGhwIiwgDQogICAgICAiQ29uZGl0aW9uIjp7IA0KICAgICAgICAgIklwQWRkcmVzcyI6eyJBV1M6U291cmNlSXAiOiIyMDcuMTcxLjE4MC4xMDEv"
    "MzIifSwNCiAgICAgICAgICJEYXRlR3JlYXRlclRoYW4iOnsiQVdTOkVwb2NoVGltZSI6MTI5Njg2MDE3Nn0sDQogICAgICAgICAiRGF0ZUxlc3NU"
    "aGFuIjp7IkFXUzpFcG9jaFRpbWUiOjEyOTY4NjAyMjZ9DQogICAgICB9IA0KICAgfV0gDQp9DQo"
)


def test_aws_documented_cloudfront_canned_example_is_read() -> None:
    url = (
        "https://d111111abcdef8.cloudfront.net/image.jpg?color=red&size=medium&Expires=1767290400"
        f"&Signature={CF_DOC_SIGNATURE}&Key-Pair-Id=K2JCJMDEHXQW5F"
    )
    link = parse_link(url)
    assert link.kind is LinkKind.CLOUDFRONT
    assert link.nominal_expires_at == datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    assert link.extra_params == {"color": "red", "size": "medium"}
    assert link.key == "image.jpg"


def test_aws_documented_cloudfront_custom_policy_example_is_read_without_padding() -> None:
    url = (
        f"https://d111111abcdef8.cloudfront.net/image.jpg?color=red&size=medium&Policy={CF_DOC_POLICY}"
        f"&Signature={CF_DOC_SIGNATURE}&Key-Pair-Id=K2JCJMDEHXQW5F"
    )
    link = parse_link(url)
    assert link.not_before == datetime.fromtimestamp(1296860176, UTC)
    assert link.nominal_expires_at == datetime.fromtimestamp(1296860226, UTC)
    assert link.ip_range == "207.171.180.101/32"
    # The documentation signs a different resource (demo.php) than the URL it shows.
    assert any("does not cover this URL" in w for w in link.warnings)


def test_aws_documented_policy_with_example_marker_is_refused_as_invalid() -> None:
    spliced = CF_DOC_POLICY.replace("ICJTdGF0ZW1", "ICEXAMPLEW1")
    url = f"https://d111111abcdef8.cloudfront.net/image.jpg?Policy={spliced}&Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F"
    with pytest.raises(LinkParseError, match="Policy"):
        parse_link(url)


def policy_param(document: Any) -> str:
    raw = base64.b64encode(json.dumps(document).encode()).decode()
    return raw.translate(str.maketrans("+=/", "-_~"))


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("!!!notbase64", "URL-safe base64"),
        ("bm90IGpzb24_", "JSON"),
        (policy_param([1, 2]), "not a policy"),
        (policy_param({"Statement": []}), "Statement"),
        (policy_param({"Statement": [{"Resource": "*"}]}), "Condition"),
        (policy_param({"Statement": [{"Resource": "*", "Condition": {}}]}), "DateLessThan"),
        (
            policy_param({"Statement": [{"Condition": {"DateLessThan": {"AWS:EpochTime": "soon"}}}]}),
            "whole number",
        ),
        (
            policy_param({"Statement": [{"Condition": {"DateLessThan": {"AWS:EpochTime": 10**20}}}]}),
            "not a date",
        ),
        (policy_param({"Statement": [{"Condition": {"DateLessThan": {"AWS:EpochTime": True}}}]}), "whole number"),
        (
            policy_param(
                {"Statement": [{"Condition": {"DateLessThan": {"AWS:EpochTime": 1}, "IpAddress": {"x": 1}}}]}
            ),
            "SourceIp",
        ),
        (policy_param({"Statement": "everything"}), "Statement"),
    ],
)
def test_invalid_cloudfront_policies_are_refused(policy: str, fragment: str) -> None:
    url = f"https://d111111abcdef8.cloudfront.net/a.jpg?Policy={policy}&Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F"
    with pytest.raises(LinkParseError, match=fragment):
        parse_link(url)


def test_deeply_nested_policy_json_is_refused_not_crashed() -> None:
    raw = base64.b64encode(b"[" * 9000).decode().translate(str.maketrans("+=/", "-_~"))
    url = f"https://d111111abcdef8.cloudfront.net/a.jpg?Policy={raw}&Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F"
    with pytest.raises(LinkParseError):
        parse_link(url)


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F", "neither Expires nor Policy"),
        ("Expires=1767290400&Key-Pair-Id=K2JCJMDEHXQW5F", "missing Signature"),
        ("Expires=next-week&Signature=abc&Key-Pair-Id=K2JCJMDEHXQW5F", "Expires"),
        ("Expires=1767290400&Signature=a%25b&Key-Pair-Id=K2JCJMDEHXQW5F", "base64"),
        ("Expires=1767290400&Signature=abc&Key-Pair-Id=K2%2FJ", "Key-Pair-Id"),
        ("Expires=1767290400&Signature=abc", "Key-Pair-Id"),
        ("Policy=abcd&Signature=abc", "Key-Pair-Id"),
    ],
)
def test_damaged_cloudfront_links_are_refused(query: str, fragment: str) -> None:
    with pytest.raises(LinkParseError, match=fragment):
        parse_link(f"https://d111111abcdef8.cloudfront.net/a.jpg?{query}")


# --------------------------------------------------------------------------- stable links


def test_stable_link_yields_its_token() -> None:
    link = parse_link(f"https://desk.example.com/s/{STABLE_TOKEN}")
    assert link.kind is LinkKind.STABLE
    assert link.token == STABLE_TOKEN
    assert link.host == "desk.example.com"
    assert link.bucket is None and link.key is None and link.signature is None
    assert link.nominal_expires_at is None


def test_stable_link_under_a_configured_prefix_is_recognised() -> None:
    link = parse_link(f"http://localhost:8501/links/s/{STABLE_TOKEN}", stable_prefix="/links/s/")
    assert link.token == STABLE_TOKEN
    with pytest.raises(LinkParseError):
        parse_link(f"http://localhost:8501/s/{STABLE_TOKEN}", stable_prefix="/links/s/")


@pytest.mark.parametrize(
    "path",
    [
        "/s/",
        "/s",
        "/s/short",
        "/s/" + "a" * 129,
        "/s/" + "a" * 10_000,
        f"/s/{STABLE_TOKEN}%00",
        f"/s/../{STABLE_TOKEN}",
        f"/s/{STABLE_TOKEN}/..",
        "/s/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"/s/{STABLE_TOKEN}é",
        "/s/ÄÖÜäöüßÄÖÜäöüßÄÖÜ",
        f"/s/{STABLE_TOKEN}/extra",
        f"/s/{STABLE_TOKEN}.",
    ],
)
def test_bad_stable_tokens_are_refused_as_invalid_tokens(path: str) -> None:
    with pytest.raises(LinkParseError, match="not a valid Share Desk link token"):
        parse_link(f"https://desk.example.com{path}")


# --------------------------------------------------------------------------- not a link


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "Nothing was pasted"),
        ("   \n\t ", "Nothing was pasted"),
        ("the link you sent me expired", "spaces"),
        ("hello", "not a web link"),
        ("ftp://files.example.com/a.txt", "not a web link"),
        ("s3://bucket/key.txt", "s3://"),
        ("https://", "not a web link"),
        ("https://[::1/a", "malformed"),
        ("https://example.com:99999/a", "malformed"),
        ("https://example.com/some/page", "S3 presigned link"),
        ("https://bucket.s3.amazonaws.com/key.txt", "no signature"),
        ("https://example.com/a?Expires=1700000000", "no signature"),
        ("https://example.com/a?Signature=abc&Expires=1700000000", "neither AWSAccessKeyId"),
        ("https://example.com/a%ZZ?x=1", "S3 presigned link"),
        ("https://example.com/a?x=%ff", "UTF-8"),
        ("https://" + "a" * 20_000, "16 KB"),
    ],
)
def test_text_that_is_not_a_link_is_refused_with_what_to_paste(text: str, fragment: str) -> None:
    with pytest.raises(LinkParseError, match=fragment) as caught:
        parse_link(text)
    assert "paste" in str(caught.value)


def test_link_parse_error_is_a_value_error() -> None:
    assert issubclass(LinkParseError, ValueError)


# --------------------------------------------------------------------------- secrets masking


def secrets_of(link: ParsedLink) -> list[str]:
    return [s for s in (link.signature, link.token) if s]


def test_display_url_masks_signature_and_session_token() -> None:
    url = presign(s3_client(token=SESSION_TOKEN, akid=TEMP_AKID), "bkt", "a.txt")
    link = parse_link(url)
    shown = link.display_url

    assert link.signature and link.signature not in shown
    assert "tokenWith" not in shown and "IQoJb3JpZ2lu" not in shown
    assert "X-Amz-Signature=…" in shown and "X-Amz-Security-Token=…" in shown
    assert "X-Amz-Credential=" in shown  # the access key id is not a secret and helps support
    assert shown == strip_secrets(url)


def test_display_url_masks_sigv2_signature_and_lowercase_token() -> None:
    url = presign(s3_client(region="us-east-1", signature_version="s3", token=SESSION_TOKEN, akid=TEMP_AKID), "b", "k")
    link = parse_link(url)
    shown = link.display_url
    assert "Signature=…" in shown and "x-amz-security-token=…" in shown
    assert "tokenWith" not in shown


def test_display_url_masks_cloudfront_policy_and_signature(cloudfront_signer: CloudFrontSigner) -> None:
    policy = cloudfront_signer.build_policy("https://d1.cloudfront.net/*", datetime(2031, 1, 1, tzinfo=UTC))
    url = cloudfront_signer.generate_presigned_url("https://d1.cloudfront.net/a.jpg", policy=policy)
    link = parse_link(url)
    shown = link.display_url

    assert link.signature and link.signature not in shown
    assert "Policy=…" in shown and "Signature=…" in shown and "Key-Pair-Id=K2JCJMDEHXQW5F" in shown


def test_display_url_masks_the_stable_token_even_under_a_custom_prefix() -> None:
    link = parse_link(f"https://desk.example.com/share/{STABLE_TOKEN}?utm=mail", stable_prefix="/share/")
    assert STABLE_TOKEN not in link.display_url
    assert link.display_url == "https://desk.example.com/share/…?utm=mail"
    assert strip_secrets(f"https://desk.example.com/s/{STABLE_TOKEN}") == "https://desk.example.com/s/…"


def test_strip_secrets_masks_a_password_in_the_url() -> None:
    assert strip_secrets("https://user:hunter2@minio.local/b/k") == "https://user:…@minio.local/b/k"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a url",
        "https://x/?Signature",
        "https://x/?=&&&X-Amz-Signature=%zz",
        "https://x/s/",
        "?Policy=abc#frag",
        "https://[::1/a?X-Amz-Signature=deadbeef",
    ],
)
def test_strip_secrets_never_fails_on_odd_text(text: str) -> None:
    shown = strip_secrets(text)
    assert "deadbeef" not in shown and "abc" not in shown


# --------------------------------------------------------------------------- fuzz


def valid_urls() -> Iterator[str]:
    yield AWS_DOC_URL
    yield (
        "https://bkt.s3.amazonaws.com/a%2Bb%20c?AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE"
        "&Signature=01otV%2F%2FauaQh5rndwqIIsEsJ0zc%3D&x-amz-security-token=FQoG%2B%2Ftok%3D&Expires=1795943133"
    )
    yield (
        f"https://d111111abcdef8.cloudfront.net/image.jpg?color=red&Policy={CF_DOC_POLICY}"
        f"&Signature={CF_DOC_SIGNATURE}&Key-Pair-Id=K2JCJMDEHXQW5F"
    )
    yield (
        "https://d111111abcdef8.cloudfront.net/image.jpg?Expires=1767290400"
        f"&Signature={CF_DOC_SIGNATURE}&Key-Pair-Id=K2JCJMDEHXQW5F"
    )
    yield f"https://desk.example.com/s/{STABLE_TOKEN}"


VALID_URLS = list(valid_urls())
URL_ALPHABET = st.sampled_from(list("%&=?/#:@.+-_~*[]{}0123456789abcdefXYZ \x00é\n") + ["%2", "%F", "%00", "%zz"])


def assert_only_link_parse_error(text: str) -> None:
    try:
        link = parse_link(text)
    except LinkParseError as error:
        assert str(error)
        return
    assert isinstance(link, ParsedLink)
    for secret in secrets_of(link):
        if len(secret) > 4:
            assert secret not in link.display_url
    strip_secrets(text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_only_ever_raises_link_parse_error(text: str) -> None:
    assert_only_link_parse_error(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID_URLS), st.data())
def test_truncated_valid_links_only_ever_raise_link_parse_error(url: str, data: st.DataObject) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(url)))
    assert_only_link_parse_error(url[:cut])


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(VALID_URLS), st.data())
def test_mutated_valid_links_only_ever_raise_link_parse_error(url: str, data: st.DataObject) -> None:
    mutated = url
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        position = data.draw(st.integers(min_value=0, max_value=len(mutated)))
        replacement = data.draw(st.one_of(URL_ALPHABET, st.text(max_size=3)))
        width = data.draw(st.integers(min_value=0, max_value=3))
        mutated = mutated[:position] + replacement + mutated[position + width :]
    assert_only_link_parse_error(mutated)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(VALID_URLS),
    st.sampled_from(["X-Amz-Expires", "Expires", "X-Amz-Date", "EpochTime", "X-Amz-Credential"]),
    st.text(alphabet="0123456789-TZ%/:", max_size=30),
)
def test_any_value_in_date_and_expiry_fields_only_ever_raises_link_parse_error(
    url: str, name: str, value: str
) -> None:
    if f"{name}=" in url:
        head, _, tail = url.partition(f"{name}=")
        rest = tail.partition("&")[2]
        url = f"{head}{name}={value}" + (f"&{rest}" if rest else "")
    assert_only_link_parse_error(url)
