"""Listing buckets and prefixes, one `ListObjectsV2` page at a time.

Browsing never lists a whole prefix into memory: a page is one call, and the
caller keeps the continuation tokens it needs to go forward and back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from dashboard.errors import BadInput, NotAllowed, from_aws

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from dashboard.identity import Identity
    from dashboard.policy import Policy

#: Objects in these classes must be restored before anyone can download them.
ARCHIVE_CLASSES = frozenset({"GLACIER", "DEEP_ARCHIVE"})

#: S3's own limit on a key's length, in bytes of UTF-8.
MAX_KEY_BYTES = 1024
#: A page token the desk hands out: S3's continuation token in URL-safe base64, a dot, a check.
_PAGE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,4096}\.[0-9a-f]{16}")
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    last_modified: datetime
    storage_class: str
    etag: str = ""

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1] or self.key

    @property
    def archived(self) -> bool:
        return self.storage_class in ARCHIVE_CLASSES

    @property
    def s3_uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class Folder:
    bucket: str
    prefix: str

    @property
    def name(self) -> str:
        return self.prefix.rstrip("/").rsplit("/", 1)[-1] + "/"


@dataclass(frozen=True)
class Listing:
    bucket: str
    prefix: str
    folders: tuple[Folder, ...]
    objects: tuple[ObjectInfo, ...]
    next_token: str | None

    @property
    def has_more(self) -> bool:
        return self.next_token is not None


@dataclass(frozen=True)
class ObjectDetails:
    info: ObjectInfo
    content_type: str
    version_id: str | None
    restore: str | None  # S3's x-amz-restore header, e.g. 'ongoing-request="true"'

    @property
    def downloadable(self) -> bool:
        """Archived objects download only once a restore has finished."""
        if not self.info.archived:
            return True
        return 'ongoing-request="false"' in (self.restore or "")


def validate_bucket_name(name: str) -> str:
    if not _BUCKET_RE.match(name or ""):
        shown = name if len(name or "") <= 80 else name[:77] + "..."
        raise BadInput(f"{shown!r} is not a valid bucket name: use 3–63 lower-case letters, digits, dots and hyphens.")
    return name


def validate_key(key: str, what: str = "key") -> str:
    """A key (or prefix) S3 can take: valid UTF-8 text of at most 1,024 bytes.

    A lone surrogate is what Python makes of bytes that are not UTF-8 (a file
    name in another encoding on the command line); no S3 request can carry it.
    """
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError as exc:
        bad = key[exc.start]
        raise BadInput(
            f"The {what} holds a character that is not valid text (\\u{ord(bad):04x} at position {exc.start + 1}, "
            "often a name typed in another encoding): retype it as UTF-8."
        ) from None
    if size > MAX_KEY_BYTES:
        raise BadInput(f"The {what} is {size:,} bytes long, and S3 keys are at most {MAX_KEY_BYTES:,} bytes of UTF-8: check the path.")
    return key


def parse_s3_uri(text: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix); a bare bucket name is accepted too."""
    raw = (text or "").strip()
    if not raw:
        raise BadInput("No S3 path was given: type one like s3://my-bucket/folder/.")
    if "://" in raw and not raw.startswith("s3://"):
        raise BadInput(f"{raw[:80]!r} is not an s3:// path: type one like s3://my-bucket/folder/.")
    bucket, _, prefix = raw.removeprefix("s3://").partition("/")
    return validate_bucket_name(bucket), validate_key(prefix, "S3 path")


def _token_check(bucket: str, prefix: str, s3_token: str) -> str:
    return hashlib.sha256(f"{bucket}\n{prefix}\n{s3_token}".encode("utf-8", "surrogatepass")).hexdigest()[:16]


def seal_page_token(bucket: str, prefix: str, s3_token: str) -> str:
    """The token the desk hands out for the next page: S3's own, tied to this bucket and prefix.

    Not a secret (S3 still authorises every listing): the check only lets the
    desk refuse a token that was cut short, mistyped or taken from another
    folder with a sentence, instead of sending it to S3 (which answers such a
    token with an error, or a server error on some S3-compatible endpoints).
    """
    body = base64.urlsafe_b64encode(s3_token.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{body}.{_token_check(bucket, prefix, s3_token)}"


def open_page_token(bucket: str, prefix: str, token: str) -> str:
    """S3's continuation token inside a token from `seal_page_token`, or a `BadInput` sentence."""
    refusal = BadInput(
        "That page token is not one this listing handed out (it may be cut short, mistyped, or from another folder): "
        "list the folder again from its first page."
    )
    if not _PAGE_TOKEN_RE.fullmatch(token):
        raise refusal
    body, _, check = token.partition(".")
    try:
        s3_token = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        raise refusal from None
    if _token_check(bucket, prefix, s3_token) != check:
        raise refusal
    return s3_token


def check_allowed(bucket: str, allowed: tuple[str, ...]) -> None:
    if allowed and bucket not in allowed:
        raise NotAllowed(
            f"The desk is not allowed to share from bucket {bucket!r}: choose one of {', '.join(allowed)} "
            "or ask a platform engineer to add it to SHAREDESK_BUCKETS."
        )


def list_buckets(s3: S3Client, allowed: tuple[str, ...] = ()) -> list[str]:
    """The buckets the desk may browse: the configured list, or every bucket the credentials see."""
    if allowed:
        return list(allowed)
    try:
        response = s3.list_buckets()
    except Exception as exc:
        raise from_aws(exc, action="list buckets") from None
    return sorted(b["Name"] for b in response.get("Buckets", []))


def list_page(
    s3: S3Client,
    bucket: str,
    prefix: str = "",
    *,
    token: str | None = None,
    page_size: int = 100,
    delimiter: str = "/",
) -> Listing:
    """One page of a prefix: sub-folders and objects, plus the token of the next page.

    `token` is a token an earlier page of the same bucket and prefix handed out
    (`Listing.next_token`); anything else is refused before S3 is asked.
    """
    validate_bucket_name(bucket)
    validate_key(prefix, "prefix")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page_size}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    if token:
        kwargs["ContinuationToken"] = open_page_token(bucket, prefix, token)
    try:
        response = s3.list_objects_v2(**kwargs)
    except Exception as exc:
        raise from_aws(exc, bucket=bucket, action="list objects") from None
    # Keys come back percent-decoded by botocore's EncodingType=url handling; unquote
    # is a no-op then, and protects against endpoints that ignore EncodingType.
    objects = tuple(
        ObjectInfo(
            bucket=bucket,
            key=item["Key"],
            size=int(item.get("Size", 0)),
            last_modified=item["LastModified"],
            storage_class=item.get("StorageClass") or "STANDARD",
            etag=str(item.get("ETag", "")).strip('"'),
        )
        for item in response.get("Contents", [])
        if item["Key"] != prefix  # the folder's own marker object
    )
    folders = tuple(Folder(bucket, unquote(p["Prefix"]) if "%" in p["Prefix"] else p["Prefix"]) for p in response.get("CommonPrefixes", []))
    s3_next = response.get("NextContinuationToken") if response.get("IsTruncated") else None
    next_token = seal_page_token(bucket, prefix, s3_next) if s3_next else None
    return Listing(bucket=bucket, prefix=prefix, folders=folders, objects=objects, next_token=next_token)


def browsable_buckets(s3: S3Client, allowed: tuple[str, ...], rules: Policy, who: Identity | None) -> list[str]:
    """The buckets the desk may browse and the sharing policy lets this person look into."""
    return [b for b in list_buckets(s3, allowed) if rules.may_browse_bucket(who, b)]


def list_browsable_page(
    s3: S3Client,
    rules: Policy,
    who: Identity | None,
    bucket: str,
    prefix: str = "",
    *,
    token: str | None = None,
    page_size: int = 100,
) -> Listing:
    """One page of a prefix as the policy lets this person see it.

    A folder above a granted one may be passed through (it shows only the
    sub-folders that lead to grants); objects show only inside a grant.
    Refuses, naming the rule, a prefix the person's role may not browse.
    """
    role = rules.check_browse(who, bucket, prefix)
    listing = list_page(s3, bucket, prefix, token=token, page_size=page_size)
    return Listing(
        bucket=listing.bucket,
        prefix=listing.prefix,
        folders=tuple(f for f in listing.folders if rules.shows_folder(role, bucket, f.prefix)),
        objects=tuple(o for o in listing.objects if rules.shows_object(role, bucket, o.key)),
        next_token=listing.next_token,
    )


def head(s3: S3Client, bucket: str, key: str) -> ObjectDetails:
    """Everything the listing does not say about one object: type, version, restore state."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key)
    except Exception as exc:
        raise from_aws(exc, bucket=bucket, key=key, action="read object details") from None
    info = ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(response.get("ContentLength", 0)),
        last_modified=response["LastModified"],
        storage_class=response.get("StorageClass") or "STANDARD",
        etag=str(response.get("ETag", "")).strip('"'),
    )
    return ObjectDetails(
        info=info,
        content_type=response.get("ContentType") or "binary/octet-stream",
        version_id=response.get("VersionId"),
        restore=response.get("Restore"),
    )


def breadcrumb(prefix: str) -> list[tuple[str, str]]:
    """[('/', ''), ('reports/', 'reports/'), ('2026/', 'reports/2026/')] for 'reports/2026/'."""
    crumbs = [("/", "")]
    acc = ""
    for part in [p for p in prefix.split("/") if p][: prefix.count("/")]:
        acc += part + "/"
        crumbs.append((part + "/", acc))
    return crumbs


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"
