"""Presigning S3 GET links the way every S3 strategy must: SigV4, validated, fingerprinted."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from anyascii import anyascii

from dashboard.aws import CredentialSnapshot
from dashboard.config import Settings
from dashboard.expiry import Caps, CredentialFacts, Expiry, LifetimeError, SigningFacts, as_utc, compute, validate_sigv4_expires
from dashboard.store import fingerprint
from dashboard.strategies import sigv4
from dashboard.strategies.base import ShareRequest, Signed
from dashboard.urlparse import strip_secrets

#: How far from botocore's own clock a signing time may be when botocore signs
#: (it always signs at its present): an issue's `now` is a few seconds old by
#: the time the last link of a batch is signed.
BOTOCORE_CLOCK_SLACK = timedelta(minutes=1)

_UNSAFE_ASCII = re.compile(r'[^A-Za-z0-9 !#$&+,.;=@^_`{}~()\[\]-]')


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback and an RFC 5987 UTF-8 name (RFC 6266).

    Quotes, backslashes, control characters and path separators never reach the
    header: a file name cannot break out of it or inject another header. The
    ASCII fallback (for clients that ignore ``filename*``) is transliterated,
    not stripped: Grüße becomes Grusse, Łódź Lodz, こんにちは konnichiha. Stripping
    accents alone would turn ß, æ, ø or ł, which have no combining form, into
    nothing ("Grue").
    """
    clean = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C")
    clean = clean.replace("/", "_").replace("\\", "_").strip().strip(".") or "download"
    clean = clean[:200]
    fallback = anyascii(unicodedata.normalize("NFC", clean))
    fallback = _UNSAFE_ASCII.sub("_", fallback).strip() or "download"
    encoded = quote(clean, safe="")
    if fallback == clean:
        return f'attachment; filename="{fallback}"'
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def presign_get(s3: Any, credentials: CredentialSnapshot, request: ShareRequest, at: datetime | None = None) -> str:
    """A SigV4 GET URL for the request, signed with `credentials` (the keys `s3` was built with) at `at`, else now.

    The lifetime is checked before anything is signed: botocore itself does not
    check the 604,800-second limit (FACTS.md), and an over-long X-Amz-Expires
    would give a link S3 refuses outright. botocore chooses the endpoint once
    per bucket; the desk signs (sigv4.py). A strategy signs at its issue's
    `now`, so the URL's X-Amz-Date is the log row's issue time; only the demo's
    history signs far in the past.
    """
    expires = validate_sigv4_expires(request.lifetime)
    query: list[tuple[str, str]] = []
    if request.filename:
        query.append(("response-content-disposition", content_disposition(request.filename)))
    if request.version_id:
        query.append(("versionId", request.version_id))
    when = as_utc(at) if at else datetime.now(timezone.utc)
    endpoint = sigv4.endpoint_for(s3, request.bucket)
    if endpoint is not None:
        return sigv4.presign(endpoint, credentials, request.key, query, expires, when)
    if abs(datetime.now(timezone.utc) - when) > BOTOCORE_CLOCK_SLACK:
        raise ValueError(f"botocore's links for bucket {request.bucket} take a form the desk does not sign itself, so none can be signed at a past time")
    params: dict[str, Any] = {"Bucket": request.bucket, "Key": request.key}
    names = {"response-content-disposition": "ResponseContentDisposition", "versionId": "VersionId"}
    params.update((names[name], value) for name, value in query)
    return str(s3.generate_presigned_url("get_object", Params=params, ExpiresIn=expires))


def s3_caps(settings: Settings) -> Caps:
    """A bucket policy's s3:signatureAge cap, when the platform team told the desk about one."""
    seconds = settings.signature_age_cap_seconds
    return Caps(signature_age=timedelta(seconds=seconds) if seconds else None)


def lifetime_problem(request: ShareRequest) -> str | None:
    """Why S3 cannot sign this lifetime at all, or None."""
    try:
        validate_sigv4_expires(request.lifetime)
    except LifetimeError as exc:
        return str(exc)
    return None


def signed_s3_link(strategy: str, request: ShareRequest, url: str, credentials: CredentialFacts, caps: Caps) -> Signed:
    """The signed link with its expiry computed from the URL's own X-Amz-Date (to the second)."""
    stamp = url.partition("X-Amz-Date=")[2][:16]
    signed_at = _amz_date(stamp)
    # A bulk action signs thousands of links in the same second with the same
    # credentials and lifetime: their expiry is one computation, not thousands.
    expiry = _expiry(strategy, request.lifetime, signed_at, credentials, caps)
    signature = url.rpartition("X-Amz-Signature=")[2].partition("&")[0]
    return Signed(url=url, expiry=expiry, credentials=credentials, fingerprint=fingerprint(signature), display_url=strip_secrets(url))


def _amz_date(stamp: str) -> datetime:
    """``yyyymmddTHHMMSSZ`` (SigV4's X-Amz-Date) as an aware UTC datetime; strptime costs ten times more."""
    if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z":
        raise ValueError(f"time data {stamp!r} does not match format '%Y%m%dT%H%M%SZ'")
    return datetime(
        int(stamp[0:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[9:11]), int(stamp[11:13]), int(stamp[13:15]), tzinfo=timezone.utc
    )


@lru_cache(maxsize=256)
def _expiry(strategy: str, lifetime: timedelta, signed_at: datetime, credentials: CredentialFacts, caps: Caps) -> Expiry:
    return compute(SigningFacts(strategy=strategy, signed_at=signed_at, lifetime=lifetime, credentials=credentials, caps=caps))
