"""S3's host names: which are AWS's own, and where bucket, key and region sit in every addressing style."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult

from dashboard.urlparse.base import _unquote_strict


_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
# First labels of hosts that are S3-compatible services (MinIO, Ceph, R2, Wasabi...) and take path-style URLs.
_PATH_STYLE_LABELS = frozenset(
    {"s3", "minio", "storage", "objects", "object-storage", "objectstorage", "ceph", "rgw", "localstack", "moto", "r2"}
)
_ACCESS_POINT_ENDPOINTS = ("s3-accesspoint", "s3-object-lambda", "s3-global")


@dataclass(frozen=True)
class _S3Location:
    bucket: str | None
    key: str | None
    region: str | None


def _locate_s3(parts: SplitResult) -> _S3Location:
    """Find bucket, key and region from the host and path, for every S3 addressing style.

    On AWS the host says whether the bucket is in the host (virtual-hosted)
    or the first path segment (path-style). Elsewhere, IP addresses,
    localhost, explicit ports and hosts named like S3-compatible services
    (minio, s3, storage...) are path-style; any other custom domain is a
    CNAME whose bucket is the host name itself, as S3 requires.
    """
    hostname = (parts.hostname or "").rstrip(".")
    path = parts.path or "/"
    aws = _parse_aws_s3_host(hostname)
    if aws is not None:
        virtual_bucket, region = aws
        if virtual_bucket is not None or _is_access_point(hostname):
            return _S3Location(virtual_bucket, _decode_key(path[1:]), region)
        bucket, key = _path_style(path)
        return _S3Location(bucket, key, region)
    if _looks_path_style(parts, hostname):
        bucket, key = _path_style(path)
        return _S3Location(bucket, key, None)
    return _S3Location(hostname or None, _decode_key(path[1:]), None)


def _is_access_point(hostname: str) -> bool:
    """Access points (and multi-region ones) hide the bucket: the host names the access point instead."""
    return any(f".{endpoint}." in hostname for endpoint in _ACCESS_POINT_ENDPOINTS)


def is_aws_s3_host(hostname: str) -> bool:
    """Whether ``hostname`` is one of AWS S3's documented host names (virtual-hosted, path-style, dual-stack, legacy, VPC...)."""
    return _parse_aws_s3_host(hostname.rstrip(".").lower()) is not None


def _parse_aws_s3_host(hostname: str) -> tuple[str | None, str | None] | None:
    """For an AWS S3 host return (bucket in the host or None, region or None); None if not an S3 host.

    Walks the labels from the right because bucket names may themselves
    contain dots and even look like ``s3-…``: the endpoint label is the one
    just before the optional ``dualstack``, region and ``vpce`` labels.
    """
    labels = hostname.split(".")
    if labels[-2:] == ["amazonaws", "com"]:
        rest = labels[:-2]
    elif labels[-3:] == ["amazonaws", "com", "cn"]:
        rest = labels[:-3]
    else:
        return None
    index = len(rest) - 1
    vpce = index >= 0 and rest[index] == "vpce"
    if vpce:
        index -= 1
    region: str | None = None
    if index >= 0 and _REGION_RE.fullmatch(rest[index]):
        region = rest[index]
        index -= 1
    if index >= 0 and rest[index] == "dualstack":
        index -= 1
    if index < 0:
        return None
    endpoint = rest[index]
    if not (endpoint == "s3" or endpoint.startswith(("s3-", "s3express-"))):
        return None
    if region is None:
        if endpoint == "s3-external-1":
            region = "us-east-1"
        else:
            legacy = re.fullmatch(r"s3-(?:website-|fips-)?([a-z]{2}(?:-[a-z]+)+-\d{1,2})", endpoint)
            if legacy:
                region = legacy.group(1)
    prefix = rest[:index]
    if vpce and prefix and prefix[-1].startswith("vpce-"):
        prefix = prefix[:-1]
    if endpoint in _ACCESS_POINT_ENDPOINTS:
        return None if not prefix else (None, region)
    return (".".join(prefix) if prefix else None, region)


def _looks_path_style(parts: SplitResult, hostname: str) -> bool:
    if parts.port is not None or "." not in hostname or hostname == "localhost":
        return True
    if re.fullmatch(r"[0-9.]+", hostname) or ":" in hostname:
        return True
    return hostname.split(".", 1)[0] in _PATH_STYLE_LABELS


def _path_style(path: str) -> tuple[str | None, str | None]:
    """``/bucket/key/with/slashes`` -> (bucket, key); the key keeps any empty segments S3 would keep."""
    bucket_raw, _slash, key_raw = path[1:].partition("/")
    bucket = _unquote_strict(bucket_raw, plus_is_space=False) or None
    return bucket, _decode_key(key_raw)


def _decode_key(raw: str) -> str | None:
    """Object keys are percent-encoded; '+' in a path is a literal plus, not a space."""
    return _unquote_strict(raw, plus_is_space=False) or None
