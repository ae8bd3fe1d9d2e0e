"""SigV4 query-string signing of S3 GET links: the URL botocore's presigner writes, byte for byte, at a tenth of its cost.

botocore resolves the endpoint through its rule set and emits a dozen events
for every URL it presigns (about 230 µs each, PLATFORM.md), while a bulk action
signs thousands of links for one bucket with one frozen credential set. So
botocore still decides where a bucket lives: it presigns one probe URL per
client and bucket, and the desk keeps that URL's scheme, host, path and region
and signs each link itself, with the canonical request of AWS's "Authenticating
Requests: Using Query Parameters". A probe this module cannot read in full (an
extra parameter, another service name) leaves that bucket to botocore.
tests/test_sigv4.py holds both to the same URL for any key, file name,
version, session token and endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import weakref
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from dashboard.aws import CredentialSnapshot

ALGORITHM = "AWS4-HMAC-SHA256"
_PROBE_KEY = "k"
_AUTH_PARAMS = frozenset({"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Security-Token", "X-Amz-Signature"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}


@dataclass(frozen=True)
class Endpoint:
    """Where botocore puts a bucket's objects: everything of a URL before the key, and what the signature scopes."""

    base: str  # scheme://host[:port]/[bucket/], to which the quoted key is appended
    path: str  # the path part of `base`, as the canonical request spells it
    host: str  # the Host header as signed: without the scheme's default port
    region: str


_endpoints: weakref.WeakKeyDictionary[Any, dict[str, Endpoint | None]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def endpoint_for(s3: Any, bucket: str) -> Endpoint | None:
    """The endpoint botocore chose for `bucket` on this client, read from one probe URL; None when it cannot be read in full."""
    with _lock:
        known = _endpoints.setdefault(s3, {})
        if bucket in known:
            return known[bucket]
    found = read_probe(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": _PROBE_KEY}, ExpiresIn=60))
    with _lock:
        known[bucket] = found
    return found


def read_probe(url: str) -> Endpoint | None:
    split = urlsplit(url)
    if not split.path.endswith("/" + _PROBE_KEY) or split.fragment or not split.hostname:
        return None
    params = dict(part.partition("=")[::2] for part in split.query.split("&"))
    if set(params) - _AUTH_PARAMS or params.get("X-Amz-Algorithm") != ALGORITHM or params.get("X-Amz-SignedHeaders") != "host":
        return None
    scope = unquote(params.get("X-Amz-Credential", "")).split("/")
    if len(scope) < 5 or scope[-2:] != ["s3", "aws4_request"]:
        return None
    host = split.netloc
    if split.port is not None and str(split.port) == _DEFAULT_PORTS.get(split.scheme):
        host = host.rpartition(":")[0]
    path = split.path[: -len(_PROBE_KEY)]
    return Endpoint(base=f"{split.scheme}://{split.netloc}{path}", path=path, host=host, region=scope[-3])


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


@lru_cache(maxsize=64)
def _signing_key(secret: str, day: str, region: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), day.encode(), "sha256")
    for part in (region, "s3", "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def presign(endpoint: Endpoint, keys: CredentialSnapshot, key: str, query: list[tuple[str, str]], expires: int, at: datetime) -> str:
    """The presigned GET URL of `key` with `query` (e.g. response-content-disposition), signed at `at` (UTC) for `expires` seconds."""
    stamp = f"{at.year:04d}{at.month:02d}{at.day:02d}T{at.hour:02d}{at.minute:02d}{at.second:02d}Z"
    scope = f"{stamp[:8]}/{endpoint.region}/s3/aws4_request"
    params = [
        *query,
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{keys.access_key_id}/{scope}"),
        ("X-Amz-Date", stamp),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", "host"),
    ]
    if keys.session_token:
        params.append(("X-Amz-Security-Token", keys.session_token))
    encoded = [(_encode(name), _encode(value)) for name, value in params]
    path = quote(key.encode("utf-8"), safe="/~")
    canonical = "\n".join(
        ("GET", endpoint.path + path, "&".join(f"{n}={v}" for n, v in sorted(encoded)), f"host:{endpoint.host}", "", "host", "UNSIGNED-PAYLOAD")
    )
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    signature = hmac.new(_signing_key(keys.secret_access_key, stamp[:8], endpoint.region), to_sign.encode(), "sha256").hexdigest()
    return f"{endpoint.base}{path}?{'&'.join(f'{n}={v}' for n, v in encoded)}&X-Amz-Signature={signature}"
