"""The catalog against moto, and against small fakes where moto cannot fail the way S3 does."""

from __future__ import annotations

import http.server
import threading
from datetime import datetime, timezone

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import CredentialResolver
from botocore.exceptions import ClientError

from dashboard import catalog, demo
from dashboard.aws import Aws, client_config
from dashboard.errors import AccessDenied, BadInput, NotAllowed, NoCredentials, NotFound, Throttled, Unreachable


@pytest.fixture
def seeded(s3):
    """The demo's own objects, seeded the way the demo seeds them."""
    demo.seed_objects(demo.demo_objects())
    return s3


def _count_calls(s3, operation: str) -> list[int]:
    calls: list[int] = []
    s3.meta.events.register(f"before-call.s3.{operation}", lambda **_: calls.append(1))
    return calls


def test_pagination_walks_the_5000_object_prefix_one_call_per_page(seeded):
    calls = _count_calls(seeded, "ListObjectsV2")
    keys: list[str] = []
    token = None
    pages = 0
    while True:
        page = catalog.list_page(seeded, demo.EXPORTS_BUCKET, demo.BIG_PREFIX, token=token, page_size=1000)
        pages += 1
        assert len(page.objects) <= 1000
        keys += [o.key for o in page.objects]
        token = page.next_token
        if token is None:
            break
    assert pages == 5 and len(calls) == 5
    assert len(keys) == demo.BIG_PREFIX_COUNT == len(set(keys))
    assert keys == sorted(keys)


def test_a_page_never_holds_more_than_the_page_size(seeded):
    page = catalog.list_page(seeded, demo.EXPORTS_BUCKET, demo.BIG_PREFIX, page_size=100)
    assert len(page.objects) == 100 and page.has_more


def test_folders_come_back_as_common_prefixes(seeded):
    root = catalog.list_page(seeded, demo.SUPPORT_BUCKET, "")
    assert [f.prefix for f in root.folders] == ["customers/", "manuals/", "releases/"]
    assert [o.key for o in root.objects] == ["README.txt"]
    nested = catalog.list_page(seeded, demo.SUPPORT_BUCKET, "customers/")
    assert "customers/ünïcødé/" in [f.prefix for f in nested.folders]
    assert nested.folders[0].name == "acme/"


@pytest.mark.parametrize(
    "key",
    ["customers/globex/exports/données clients été.csv", "customers/globex/exports/report+final v2.xlsx", "customers/ünïcødé/こんにちは 世界.txt"],
)
def test_keys_with_spaces_unicode_and_plus_list_exactly(seeded, key):
    folder = key.rsplit("/", 1)[0] + "/"
    page = catalog.list_page(seeded, demo.SUPPORT_BUCKET, folder)
    assert key in [o.key for o in page.objects]
    assert catalog.head(seeded, demo.SUPPORT_BUCKET, key).info.key == key


def test_prefix_search_matches_the_start_of_names(seeded):
    page = catalog.list_page(seeded, demo.SUPPORT_BUCKET, "customers/globex/exports/rep")
    assert [o.name for o in page.objects] == ["report+final v2.xlsx"]


def test_archived_objects_are_marked_not_downloadable(seeded):
    glacier = catalog.list_page(seeded, demo.ARCHIVE_BUCKET, "2019/").objects[0]
    assert glacier.storage_class == "GLACIER" and glacier.archived
    details = catalog.head(seeded, demo.ARCHIVE_BUCKET, glacier.key)
    assert not details.downloadable
    ready = catalog.head(seeded, demo.ARCHIVE_BUCKET, "recent/restore-instructions.txt")
    assert ready.downloadable and not ready.info.archived


def test_head_reports_the_content_type(seeded):
    details = catalog.head(seeded, demo.SUPPORT_BUCKET, "manuals/user guide.pdf")
    assert details.content_type == "application/pdf"
    assert details.info.size == len(demo.body_of("manuals/user guide.pdf"))


def test_allowed_buckets_limit_what_is_listed(seeded):
    assert catalog.list_buckets(seeded) == sorted(demo.BUCKETS)
    assert catalog.list_buckets(seeded, ("sharedesk-demo-support",)) == ["sharedesk-demo-support"]
    with pytest.raises(NotAllowed, match="not allowed to share from bucket"):
        catalog.check_allowed("other-bucket", ("sharedesk-demo-support",))


def test_missing_bucket_is_a_sentence(s3):
    with pytest.raises(NotFound, match="does not exist"):
        catalog.list_page(s3, "no-such-bucket-here")


def test_missing_object_is_a_sentence(seeded):
    with pytest.raises(NotFound, match="does not exist"):
        catalog.head(seeded, demo.SUPPORT_BUCKET, "nope.txt")


@pytest.mark.parametrize("name", ["", "ab", "Upper", "bad_name", "a..b", "x" * 64, "192.168.0.1", "-leading"])
def test_invalid_bucket_names_are_refused_before_any_call(name):
    class NoCalls:
        def list_objects_v2(self, **kwargs):
            raise AssertionError("no call should be made")

    with pytest.raises(BadInput, match="not a valid bucket name"):
        catalog.list_page(NoCalls(), name)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "   ", "http://example.com/x", "s3://Bad_Bucket/x"])
def test_bad_s3_paths_are_refused(text):
    with pytest.raises(BadInput):
        catalog.parse_s3_uri(text)


def test_s3_paths_split_into_bucket_and_prefix():
    assert catalog.parse_s3_uri("s3://my-bucket/a/b/") == ("my-bucket", "a/b/")
    assert catalog.parse_s3_uri("my-bucket") == ("my-bucket", "")


class _FailingClient:
    """Raises what S3 raises when moto cannot: AccessDenied on a bucket policy, throttling."""

    def __init__(self, code: str, status: int) -> None:
        self.error = ClientError({"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "ListObjectsV2")

    def list_objects_v2(self, **kwargs):
        raise self.error

    def list_buckets(self):
        raise self.error


def test_access_denied_says_who_to_ask():
    with pytest.raises(AccessDenied, match="ask a platform engineer"):
        catalog.list_page(_FailingClient("AccessDenied", 403), "some-bucket")  # type: ignore[arg-type]


def test_throttling_says_to_wait():
    with pytest.raises(Throttled, match="wait a minute"):
        catalog.list_buckets(_FailingClient("SlowDown", 503))  # type: ignore[arg-type]


class _SlowDownHandler(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 - http.server's naming
        type(self).hits += 1
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_throttling_is_retried_by_botocore_then_explained(settings):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowDownHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        aws = Aws(settings.replace(endpoint_url=endpoint), boto3.Session(region_name="us-east-1"))
        with pytest.raises(Throttled, match="even after retries"):
            catalog.list_page(aws.s3(), "some-bucket")
        assert _SlowDownHandler.hits == 4  # the factory's standard retry mode: 4 attempts
    finally:
        server.shutdown()


def test_unreachable_endpoint_is_a_sentence(settings):
    aws = Aws(settings.replace(endpoint_url="http://127.0.0.1:9"), boto3.Session(region_name="us-east-1"))
    client = aws.session.client(
        "s3", endpoint_url="http://127.0.0.1:9", config=client_config(aws.settings, "s3").merge(Config(retries={"total_max_attempts": 1}))
    )
    with pytest.raises(Unreachable, match="Could not connect to http://127.0.0.1:9"):
        catalog.list_page(client, "some-bucket")


def test_no_credentials_is_a_sentence(settings):
    core = botocore.session.get_session()
    core.register_component("credential_provider", CredentialResolver([]))
    aws = Aws(settings, boto3.Session(botocore_session=core, region_name="us-east-1"))
    with pytest.raises(NoCredentials, match="found no AWS credentials"):
        catalog.list_page(aws.s3(), "some-bucket")
    with pytest.raises(NoCredentials):
        aws.ambient()


def test_every_client_signs_sigv4(aws):
    s3 = aws.s3()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "b-b-b", "Key": "k"})
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "AWSAccessKeyId" not in url


def test_breadcrumb_and_sizes():
    assert catalog.breadcrumb("a/b/") == [("/", ""), ("a/", "a/"), ("b/", "a/b/")]
    assert catalog.breadcrumb("a/b/par") == [("/", ""), ("a/", "a/"), ("b/", "a/b/")]
    assert catalog.human_size(0) == "0 B"
    assert catalog.human_size(1536) == "1.5 KB"
    assert catalog.human_size(5 * 1024**3) == "5.0 GB"


def test_demo_seed_dates_are_deterministic(seeded):
    first = catalog.list_page(seeded, demo.SUPPORT_BUCKET, "").objects[0]
    assert first.last_modified.tzinfo is not None
    assert first.last_modified <= datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
