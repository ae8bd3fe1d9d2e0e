"""The demo's CloudFront edge is as strict as CloudFront: signed URLs checked over real HTTP on loopback.

Links are signed the way the desk signs them (botocore's CloudFrontSigner
with the demo key pair) and fetched from the edge this test process serves;
`demo.clock_at` moves the edge's clock, so nothing waits.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import pytest
from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from dashboard import demo, demo_keys, issuing
from dashboard.strategies import ShareRequest
from tests.desk_server import ROOT

KEY = "manuals/user guide.pdf"


def sign_with(private_key: rsa.RSAPrivateKey, key_pair_id: str = demo.CLOUDFRONT_KEY_PAIR_ID) -> CloudFrontSigner:
    return CloudFrontSigner(key_pair_id, lambda message: private_key.sign(message, padding.PKCS1v15(), hashes.SHA1()))


@pytest.fixture
def edge(demo_desk) -> str:
    base = demo_desk.settings.cloudfront_domain
    assert base == demo_desk.demo.cloudfront_url and base.startswith("http://127.0.0.1:")
    return str(base)


@pytest.fixture
def signer() -> CloudFrontSigner:
    return sign_with(demo_keys.private_key())


def now() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def get(url: str, **kwargs) -> httpx.Response:
    return httpx.get(url, timeout=10, **kwargs)


def refused(response: httpx.Response, code: str, message: str) -> bool:
    return (
        response.status_code == 403
        and response.headers["content-type"] == "text/xml"
        and f"<Code>{code}</Code><Message>{message}</Message>" in response.text
        and response.headers["x-cache"] == "Error from cloudfront"
    )


def test_a_canned_policy_link_serves_the_objects_bytes(edge, signer):
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=now() + timedelta(hours=1))
    response = get(url)
    assert response.status_code == 200 and response.content == demo.body_of(KEY)
    assert response.headers["x-cache"] == "Miss from cloudfront"


def test_a_custom_policy_with_a_wildcard_resource_start_time_and_the_clients_ip_passes(edge, signer):
    policy = signer.build_policy(
        f"{edge}/manuals/*", now() + timedelta(hours=1), date_greater_than=now() - timedelta(minutes=1), ip_address="127.0.0.0/8"
    )
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", policy=policy)
    assert "Policy=" in url and "Expires=" not in url
    assert get(url).content == demo.body_of(KEY)


def test_an_object_in_another_bucket_is_served_through_its_behaviour(edge, signer):
    key = "monthly/2026-03.parquet"  # in the exports bucket
    url = signer.generate_presigned_url(f"{edge}/{key}", date_less_than=now() + timedelta(hours=1))
    assert get(url).content == demo.body_of(key)


def test_a_forged_signature_is_refused(edge, signer):
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=now() + timedelta(hours=1))
    head, _, tail = url.partition("Signature=")
    forged = head + "Signature=" + ("A" if tail[0] != "A" else "B") + tail[1:]
    assert refused(get(forged), "AccessDenied", "Access denied")


def test_a_link_signed_with_another_key_is_refused(edge):
    stranger = sign_with(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    url = stranger.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=now() + timedelta(hours=1))
    assert refused(get(url), "AccessDenied", "Access denied")


def test_an_expiry_changed_without_resigning_is_refused(edge, signer):
    expires = int((now() + timedelta(hours=1)).timestamp())
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=datetime.fromtimestamp(expires, timezone.utc))
    assert get(url).status_code == 200
    assert refused(get(url.replace(f"Expires={expires}", f"Expires={expires + 86400}")), "AccessDenied", "Access denied")


def test_an_expired_link_is_refused(edge, signer):
    ends = now() + timedelta(hours=1)
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=ends)
    with demo.clock_at(ends - timedelta(seconds=1)):
        assert get(url).status_code == 200
    with demo.clock_at(ends):
        assert refused(get(url), "AccessDenied", "Access denied")


def test_a_link_before_its_start_time_is_refused(edge, signer):
    starts = now() + timedelta(hours=2)
    policy = signer.build_policy(f"{edge}/{quote(KEY)}", starts + timedelta(hours=1), date_greater_than=starts)
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", policy=policy)
    assert refused(get(url), "AccessDenied", "Access denied")
    with demo.clock_at(starts):
        assert get(url).status_code == 200


def test_a_link_for_another_ip_range_is_refused(edge, signer):
    policy = signer.build_policy(f"{edge}/{quote(KEY)}", now() + timedelta(hours=1), ip_address="203.0.113.0/24")
    assert refused(get(signer.generate_presigned_url(f"{edge}/{quote(KEY)}", policy=policy)), "AccessDenied", "Access denied")


def test_a_link_whose_policy_covers_another_resource_is_refused(edge, signer):
    policy = signer.build_policy(f"{edge}/customers/*", now() + timedelta(hours=1))
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", policy=policy)
    assert refused(get(url), "AccessDenied", "Access denied")


def test_a_canned_link_moved_to_another_object_is_refused(edge, signer):
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=now() + timedelta(hours=1))
    assert refused(get(url.replace(quote(KEY), "README.txt")), "AccessDenied", "Access denied")


def test_missing_unknown_key_and_malformed_policy_get_cloudfronts_own_codes(edge, signer):
    url = signer.generate_presigned_url(f"{edge}/{quote(KEY)}", date_less_than=now() + timedelta(hours=1))
    without_key = url.rpartition("&Key-Pair-Id=")[0]
    assert refused(get(without_key), "MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
    assert refused(get(url.replace(demo.CLOUDFRONT_KEY_PAIR_ID, "K3SOMEONEELSE")), "InvalidKey", "Unknown Key")
    signature = url.partition("Signature=")[2].partition("&")[0]
    bad_policy = f"{edge}/{quote(KEY)}?Policy=bm90IGpzb24_&Signature={signature}&Key-Pair-Id={demo.CLOUDFRONT_KEY_PAIR_ID}"
    assert refused(get(bad_policy), "MalformedPolicy", "Malformed Policy")


def test_the_desks_cloudfront_link_names_the_download_and_serves_ranges(demo_desk, edge):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(days=30), issuer="edge-test", filename="Guide (v2).pdf")
    link = issuing.issue(demo_desk, [request], "cloudfront")[0]
    assert link.url.startswith(edge + "/")
    response = get(link.url)
    assert response.content == demo.body_of(KEY)
    assert response.headers["content-disposition"] == 'attachment; filename="Guide (v2).pdf"'
    ranged = get(link.url, headers={"Range": "bytes=0-4"})
    assert ranged.status_code == 206 and ranged.content == demo.body_of(KEY)[:5]
    with demo.clock_at(link.entry.nominal_expires_at):
        assert refused(get(link.url), "AccessDenied", "Access denied")


def test_a_missing_object_gets_the_origins_own_answer(edge, signer):
    url = signer.generate_presigned_url(f"{edge}/manuals/no-such-file.pdf", date_less_than=now() + timedelta(hours=1))
    response = get(url)
    assert response.status_code == 404 and "<Code>NoSuchKey</Code>" in response.text
    assert response.headers["x-cache"] == "Error from cloudfront"


# --- the key pair ------------------------------------------------------------------------


def test_the_demo_key_pair_is_the_same_in_every_process_and_never_on_disk(demo_desk):
    here = demo_keys.private_pem()
    script = "from dashboard import demo_keys; import sys; sys.stdout.write(demo_keys.private_pem())"
    there = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True).stdout
    assert there == here
    assert demo_keys.private_key().key_size == 2048 and demo_keys.public_key().public_numbers().e == 65537
    # The running demo's state folder (its record, its log) holds no trace of the private key.
    body = "".join(here.splitlines()[1:-1])
    for path in demo_desk.settings.state_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data and body[:64].encode() not in data, path


def test_the_recorded_search_steps_are_where_the_full_search_ends():
    # The key is derived with a full prime search once; `_STEPS` shortcuts it. This proves the shortcut.
    assert demo_keys._STEPS == {label: demo_keys.search(label, demo_keys.KEY_BITS // 2) for label in (b"p", b"q")}
