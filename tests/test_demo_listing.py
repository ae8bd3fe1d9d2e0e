"""The demo's indexed ListObjectsV2 returns exactly what moto's own returns, page by page."""

from __future__ import annotations

import functools
import random
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend, s3_backends
from moto.s3.utils import _VersionedKeyStore

from dashboard import demo, demo_listing

ACCOUNT = "000000000042"  # a backend of its own, never the demo's
# '/' and its neighbours ('.' before it, '0' right after it), unicode, and the last code
# point (the index skips a folder by bisecting to the least string past it).
ALPHABET = "ab0./é☃\U0001f600\U0010ffff"
DELIMITERS = [None, "", "/", "/", "/", "b/", "é", "\U0010ffff"]
RELAXED = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

names = st.text(alphabet=ALPHABET, min_size=1, max_size=7)


# --- helpers -------------------------------------------------------------------


@pytest.fixture
def backend() -> Iterator[S3Backend]:
    made: list[S3Backend] = []
    yield _new_backend(made)
    for b in made:
        b.reset()  # closes the keys' files, forgets the bucket names


def _new_backend(made: list[S3Backend] | None = None) -> S3Backend:
    b = S3Backend("us-east-1", ACCOUNT)
    if made is not None:
        made.append(b)
    return b


def _bucket(b: S3Backend, versioned: bool) -> str:
    name = f"listing-{uuid.uuid4().hex[:20]}"
    bucket = b.create_bucket(name, "us-east-1")
    if versioned:
        bucket.versioning_status = "Enabled"
    return name


def _describe(items: list[Any]) -> list[tuple[str, str, int]]:
    """A page's items, keys by identity (so the very same version must come back)."""
    described = []
    for item in items:
        if isinstance(item, FakeKey):
            described.append(("key", item.name, id(item)))
        else:
            assert isinstance(item, str), item
            described.append(("folder", item, 0))
    return described


def _walk(
    list_v2: Callable[..., Any],
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    max_keys: int,
    start_after: str | None = None,
    max_pages: int | None = None,
) -> list[tuple[list[tuple[str, str, int]], bool, str | None]]:
    """Every page, following continuation tokens the way a client does (StartAfter sent each time)."""
    pages = []
    token = None
    seen: set[str] = set()
    while True:
        items, truncated, token = list_v2(
            bucket=bucket, prefix=prefix, delimiter=delimiter, continuation_token=token, start_after=start_after, max_keys=max_keys
        )
        pages.append((_describe(items), truncated, token))
        if not truncated or (max_pages is not None and len(pages) >= max_pages):
            return pages
        assert token and token not in seen, f"page {len(pages)} hands out a token again: the walk would never end"
        seen.add(token)


def _assert_same_pages(b: S3Backend, bucket_name: str, queries: list[tuple[Any, ...]], max_pages: int | None = None) -> None:
    bucket = b.get_bucket(bucket_name)
    assert demo_listing.installed(b) and b.list_objects_v2.__func__ is not S3Backend.list_objects_v2  # type: ignore[attr-defined]
    motos_own = functools.partial(S3Backend.list_objects_v2, b)
    for prefix, delimiter, max_keys, start_after in queries:
        expected = _walk(motos_own, bucket, prefix, delimiter, max_keys, start_after, max_pages)
        got = _walk(b.list_objects_v2, bucket, prefix, delimiter, max_keys, start_after, max_pages)
        assert got == expected, (prefix, delimiter, max_keys, start_after)


def _apply(b: S3Backend, bucket_name: str, operations: list[tuple[str, str]]) -> None:
    """Puts and deletes the way moto's API handlers make them (delete markers on versioned buckets)."""
    bucket = b.get_bucket(bucket_name)
    for op, key in operations:
        if op == "put":
            b.put_object(bucket_name, key, key.encode())
        elif key in bucket.keys:
            if op == "delete":
                b.delete_object(bucket_name, key)
            else:  # delete the latest version (or delete marker): an older one shows again
                b.delete_object(bucket_name, key, version_id=str(bucket.keys[key].version_id))


def _queries(data: st.DataObject, keys: list[str], count: int, max_keys: st.SearchStrategy[int]) -> list[tuple[Any, ...]]:
    heads = sorted({k[:i] for k in keys for i in range(len(k) + 1)}) or [""]
    prefixes = st.one_of(st.none(), st.just(""), st.text(alphabet=ALPHABET, max_size=3), st.sampled_from(heads))
    markers = st.one_of(st.none(), st.none(), st.text(alphabet=ALPHABET, max_size=4), st.sampled_from(heads))
    return [
        (data.draw(prefixes), data.draw(st.sampled_from(DELIMITERS)), data.draw(max_keys), data.draw(markers))
        for _ in range(count)
    ]


# --- equivalence with moto's own method ----------------------------------------


@settings(RELAXED, max_examples=150)
@given(
    data=st.data(),
    keys=st.lists(names, max_size=120, unique=True),
    versioned=st.booleans(),
    later=st.lists(st.tuples(st.sampled_from(["put", "delete", "delete_version"]), names), max_size=60),
)
def test_every_page_matches_motos_own_listing(backend, data, keys, versioned, later):
    bucket_name = _bucket(backend, versioned)
    _apply(backend, bucket_name, [("put", k) for k in keys])
    if versioned:  # a second version of some keys, a delete marker on others
        _apply(backend, bucket_name, [("put", k) for k in keys[::3]] + [("delete", k) for k in keys[1::4]])
    demo_listing.install(backend)
    _assert_same_pages(backend, bucket_name, [("", "/", 7, None)])  # the index is built now...
    if keys:  # deletes of keys that exist, besides those of `later` (which mostly do not)
        later = later + data.draw(st.lists(st.tuples(st.sampled_from(["delete", "delete_version"]), st.sampled_from(keys)), max_size=40))
    _apply(backend, bucket_name, later)
    # ...and has to follow puts and deletes made after it was built.
    _assert_same_pages(backend, bucket_name, _queries(data, keys + [k for _, k in later], 4, st.integers(1, 50)))


def _generated_keys(rnd: random.Random, count: int) -> list[str]:
    """Thousands of keys in nested folders (so folders are skipped by bisecting, not walked)."""
    segments = ["a", "b", "é", "ab", "b0", "a.", "☃", "\U0001f600", "x" * 3, "0"]
    keys: set[str] = set()
    while len(keys) < count:
        depth = rnd.choice([0, 1, 1, 2, 2, 3])
        parts = [rnd.choice(segments) for _ in range(depth)]
        leaf = "".join(rnd.choice(ALPHABET.replace("/", "")) for _ in range(rnd.randint(1, 6)))
        keys.add("/".join([*parts, leaf]))
    return sorted(keys, key=lambda _: rnd.random())


@settings(RELAXED, max_examples=8)
@given(data=st.data(), seed=st.integers(0, 2**32), count=st.integers(1000, 3000), versioned=st.booleans())
def test_pages_of_thousands_of_keys_match_motos_own(backend, data, seed, count, versioned):
    rnd = random.Random(seed)
    keys = _generated_keys(rnd, count)
    bucket_name = _bucket(backend, versioned)
    _apply(backend, bucket_name, [("put", k) for k in keys])
    demo_listing.install(backend)
    _assert_same_pages(backend, bucket_name, [("", "/", 50, None)])
    churn = [("delete", k) for k in rnd.sample(keys, 80)] + [("put", k + "é") for k in rnd.sample(keys, 80)]
    if versioned:
        churn += [("delete_version", k) for k in rnd.sample(keys, 40)]
    _apply(backend, bucket_name, churn)
    # Walks of 1-object pages over thousands of keys would take moto minutes: cap them.
    _assert_same_pages(backend, bucket_name, _queries(data, keys, 4, st.integers(1, 50)), max_pages=60)


def test_a_continuation_marker_that_is_a_folder_and_a_start_after_inside_one(backend):
    bucket_name = _bucket(backend, versioned=False)
    _apply(backend, bucket_name, [("put", k) for k in ["a/1", "a/2", "a0", "a.b", "b/c/d", "b/e", "c", "a/", "b/"]])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    items, truncated, token = backend.list_objects_v2(bucket, "", "/", None, None, 2)
    assert [getattr(i, "name", i) for i in items] == ["a.b", "a/"] and truncated
    assert backend._pagination_tokens[token] == "a/"
    items, truncated, token = backend.list_objects_v2(bucket, "", "/", token, None, 2)
    assert [getattr(i, "name", i) for i in items] == ["a0", "b/"] and truncated
    # moto keeps items whose own name sorts after StartAfter: folder 'a/' <= 'a/1' is dropped
    # whole, though 'a/2' inside it sorts after (S3 itself would list 'a/').
    items, _, _ = backend.list_objects_v2(bucket, "", "/", None, "a/1", 10)
    assert [getattr(i, "name", i) for i in items] == ["a0", "b/", "c"]
    _assert_same_pages(backend, bucket_name, [("", "/", 1, None), ("", "/", 3, "a/1"), ("b/", "/", 1, "b/"), ("a", None, 2, "a/")])


def test_a_folder_of_deleted_keys_still_shows_as_moto_shows_it(backend):
    bucket_name = _bucket(backend, versioned=True)
    _apply(backend, bucket_name, [("put", "gone/x"), ("put", "kept"), ("put", "old"), ("put", "old"), ("delete", "gone/x"), ("delete", "kept")])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    items, _, _ = backend.list_objects_v2(bucket, "", "/", None, None, 10)
    assert [getattr(i, "name", i) for i in items] == ["gone/", "old"]  # 'kept' is a delete marker now
    assert items[1] is bucket.keys["old"] and items[1] is not bucket.keys.getlist("old")[0]  # the latest version
    assert isinstance(bucket.keys["gone/x"], FakeDeleteMarker)
    _assert_same_pages(backend, bucket_name, [("", "/", 1, None), ("", None, 1, None)])


def test_edge_cases_go_to_motos_own_method(backend):
    bucket_name = _bucket(backend, versioned=False)
    _apply(backend, bucket_name, [("put", "a"), ("put", "b")])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    assert backend.list_objects_v2(bucket, "", None, None, None, 0) == ([], False, None)
    assert backend.list_objects_v2(bucket, "zz", None, "never-issued", None, 5) == ([], False, None)
    with pytest.raises(TypeError):  # moto compares names with the None an unknown token maps to
        backend.list_objects_v2(bucket, "", None, "never-issued", None, 5)
    assert backend.list_objects_v2(bucket, "", None, None, None, -1) == S3Backend.list_objects_v2(backend, bucket, "", None, None, None, -1)


def test_install_is_for_one_backend_instance_and_reset_undoes_it(backend):
    other = _new_backend()
    try:
        demo_listing.install(backend)
        demo_listing.install(backend)  # idempotent
        assert "list_objects_v2" in vars(backend) and "list_objects_v2" not in vars(other)
        assert S3Backend.__dict__["list_objects_v2"] is other.list_objects_v2.__func__  # the class is moto's own
        mine, theirs = _bucket(backend, False), _bucket(other, False)
        backend.put_object(mine, "k", b"")
        other.put_object(theirs, "k", b"")
        backend.list_objects_v2(backend.get_bucket(mine), "", None, None, None, 5)
        assert type(other.get_bucket(theirs).keys) is _VersionedKeyStore  # only an installed backend's stores change
        assert isinstance(backend.get_bucket(mine).keys, _VersionedKeyStore)
        backend.reset()
        assert not demo_listing.installed(backend) and "list_objects_v2" not in vars(backend)
    finally:
        other.reset()


def test_a_page_does_not_walk_the_whole_bucket(backend):
    bucket_name = _bucket(backend, versioned=False)
    _apply(backend, bucket_name, [("put", f"big/{i:05d}") for i in range(5000)] + [("put", "small/a"), ("put", "small/b")])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    backend.list_objects_v2(bucket, "", "/", None, None, 5)  # builds the index once
    store = bucket.keys

    def no_scan(*_: Any) -> Any:
        raise AssertionError("the listing scanned every key")

    store.items = store.values = store.lists = no_scan  # what moto's own method iterates
    try:
        items, truncated, _ = backend.list_objects_v2(bucket, "big/", "/", None, "big/02500", 3)
        assert [i.name for i in items] == ["big/02501", "big/02502", "big/02503"] and truncated
        items, _, _ = backend.list_objects_v2(bucket, "", "/", None, None, 5)
        assert items == ["big/", "small/"]
    finally:
        del store.items, store.values, store.lists


def test_the_index_follows_puts_and_deletes_without_rebuilding(backend):
    bucket_name = _bucket(backend, versioned=False)
    _apply(backend, bucket_name, [("put", f"k{i:03d}") for i in range(100)])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    backend.list_objects_v2(bucket, "", None, None, None, 5)
    index = demo_listing._index_of(bucket.keys)
    assert index is not None and not index.stale
    built = index.names
    _apply(backend, bucket_name, [("put", "k050a"), ("put", "k000"), ("put", "zz"), ("delete", "k007"), ("put", "k007"), ("delete", "k099")])
    assert (index.added, index.removed, index.stale) == ({"k050a", "zz"}, {"k099"}, False)  # k000 and k007 were there
    items, _, _ = backend.list_objects_v2(bucket, "k05", None, None, "k050", 2)
    assert [i.name for i in items] == ["k050a", "k051"]
    assert index.names is built and index.names == sorted(bucket.keys) and not (index.added or index.removed)
    _apply(backend, bucket_name, [("put", f"m{i:03d}") for i in range(100)] + [("delete", f"k{i:03d}") for i in range(0, 100, 2)])
    assert len(index.added) == 100 and len(index.removed) == 50 and not index.stale
    _assert_same_pages(backend, bucket_name, [("", None, 37, None), ("m", None, 50, "m0")])
    assert index.names == sorted(bucket.keys) and not index.stale


def test_changes_behind_the_hooks_rebuild_the_index(backend):
    bucket_name = _bucket(backend, versioned=False)
    _apply(backend, bucket_name, [("put", k) for k in ["a", "b", "c", "d", "e"]])
    demo_listing.install(backend)
    bucket = backend.get_bucket(bucket_name)
    store = bucket.keys
    d, e = store.getlist("d"), store.getlist("e")
    dict.__delitem__(store, "d")  # no hook sees these: the count gives them away
    dict.__delitem__(store, "e")

    def listed() -> list[str]:
        return [i.name for i in backend.list_objects_v2(bucket, "", None, None, None, 10)[0]]

    assert listed() == ["a", "b", "c"]
    dict.__setitem__(store, "d", d)
    assert listed() == ["a", "b", "c", "d"]
    store.update({"e": e})
    assert listed() == ["a", "b", "c", "d", "e"]
    store.clear()
    assert listed() == []
    _assert_same_pages(backend, bucket_name, [("", None, 1, None)])


# --- through the API, on the demo ----------------------------------------------


def _client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name=demo.REGION, aws_access_key_id="demo", aws_secret_access_key="demo")


def _api_pages(s3: Any, **params: Any) -> list[dict[str, Any]]:
    pages, token = [], None
    while True:
        response = s3.list_objects_v2(**params, **({"ContinuationToken": token} if token else {}))
        response.pop("ResponseMetadata")
        pages.append(response)
        if not response["IsTruncated"]:
            return pages
        token = response["NextContinuationToken"]


def _demo_backend() -> S3Backend:
    return s3_backends[demo.ACCOUNT_ID]["aws"]


def test_demo_pages_through_boto3_are_the_same_before_and_after_install(demo_desk):
    s3 = _client(demo_desk.demo.endpoint)
    backend = _demo_backend()
    assert demo_listing.installed(backend)  # the demo installs it when it seeds
    queries = [
        {"Bucket": demo.EXPORTS_BUCKET, "Prefix": demo.BIG_PREFIX, "MaxKeys": 1000},
        {"Bucket": demo.EXPORTS_BUCKET, "Prefix": demo.BIG_PREFIX, "MaxKeys": 100, "Delimiter": "/", "StartAfter": "nightly/export-04321.csv"},
        {"Bucket": demo.EXPORTS_BUCKET, "MaxKeys": 1, "Delimiter": "/"},
        {"Bucket": demo.SUPPORT_BUCKET, "MaxKeys": 2, "Delimiter": "/", "Prefix": "customers/"},
        {"Bucket": demo.SUPPORT_BUCKET, "MaxKeys": 3},
    ]
    demo_listing.uninstall(backend)
    try:
        before = [_api_pages(s3, **q) for q in queries]
    finally:
        demo_listing.install(backend)
    after = [_api_pages(s3, **q) for q in queries]
    assert after == before
    assert [len(p) for p in after[0]] and sum(p["KeyCount"] for p in after[0]) == demo.BIG_PREFIX_COUNT
    assert after[0][0]["Contents"][0]["Key"] == "nightly/export-00000.csv" and len(after[0]) == 5
    assert [p["Prefix"] for p in after[2][0]["CommonPrefixes"]] == ["monthly/"]


def test_keys_put_and_deleted_through_the_api_show_up_and_disappear(demo_desk):
    s3 = _client(demo_desk.demo.endpoint)
    assert demo_listing.installed(_demo_backend())
    bucket, after = demo.EXPORTS_BUCKET, "nightly/export-02499.csv"

    def names(**params: Any) -> list[str]:
        response = s3.list_objects_v2(Bucket=bucket, **params)
        return [o["Key"] for o in response.get("Contents", [])] + [p["Prefix"] for p in response.get("CommonPrefixes", [])]

    assert names(Prefix="nightly/", StartAfter=after, MaxKeys=2) == ["nightly/export-02500.csv", "nightly/export-02501.csv"]
    s3.put_object(Bucket=bucket, Key="nightly/export-02499½.csv", Body=b"new")
    s3.put_object(Bucket=bucket, Key="nightly/zz-new/inside.csv", Body=b"new")
    try:
        assert names(Prefix="nightly/", StartAfter=after, MaxKeys=2) == ["nightly/export-02499½.csv", "nightly/export-02500.csv"]
        assert names(Prefix="nightly/", Delimiter="/", StartAfter="nightly/export-04999.csv") == ["nightly/zz-new/"]
    finally:
        s3.delete_object(Bucket=bucket, Key="nightly/export-02499½.csv")
        s3.delete_object(Bucket=bucket, Key="nightly/zz-new/inside.csv")
    assert names(Prefix="nightly/", StartAfter=after, MaxKeys=2) == ["nightly/export-02500.csv", "nightly/export-02501.csv"]
    assert names(Prefix="nightly/", Delimiter="/", StartAfter="nightly/export-04999.csv") == []


def test_a_versioned_bucket_made_through_the_api_lists_its_latest_versions(demo_desk):
    s3 = _client(demo_desk.demo.endpoint)
    backend = _demo_backend()
    bucket = f"sharedesk-listing-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    try:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for key in ["a.txt", "a.txt", "b/c.txt", "d.txt"]:
            s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["a.txt", "b/c.txt", "d.txt"]
        s3.delete_object(Bucket=bucket, Key="d.txt")  # a delete marker
        s3.delete_object(Bucket=bucket, Key="b/c.txt")
        response = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
        assert [o["Key"] for o in response["Contents"]] == ["a.txt"]
        assert [p["Prefix"] for p in response["CommonPrefixes"]] == ["b/"]  # moto's quirk, kept
        demo_listing.uninstall(backend)
        try:
            assert s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"] == response["CommonPrefixes"]
        finally:
            demo_listing.install(backend)
    finally:
        versions = s3.list_object_versions(Bucket=bucket)
        for v in versions.get("Versions", []) + versions.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=bucket)
    assert bucket not in backend.buckets
