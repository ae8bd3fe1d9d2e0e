"""S3 SigV4 (and SigV4a) query-string presigned links: the signing time, the lifetime and the signer in ``X-Amz-*``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult

from dashboard.urlparse.base import (
    _DIGITS_RE,
    MAX_SIGV4_EXPIRES,
    LinkKind,
    LinkParseError,
    ParsedLink,
    _extras,
    _optional,
    _required,
    _show,
)
from dashboard.urlparse.s3hosts import _locate_s3


_SIGV4_ALGORITHMS = ("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_AMZ_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_SCOPE_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")


def _parse_sigv4(url: str, parts: SplitResult, host: str, params: dict[str, tuple[str, str]]) -> ParsedLink:
    """Read a SigV4 (or SigV4a) query-string presigned URL."""
    kind = "S3 SigV4"
    warnings: list[str] = []
    algorithm = _required(params, "X-Amz-Algorithm", kind)
    if algorithm not in _SIGV4_ALGORITHMS:
        raise LinkParseError(
            f"X-Amz-Algorithm is {_show(algorithm)}, which S3 does not accept (AWS4-HMAC-SHA256 or "
            "AWS4-ECDSA-P256-SHA256): paste the link exactly as it was sent."
        )
    sigv4a = algorithm == "AWS4-ECDSA-P256-SHA256"
    credential = _required(params, "X-Amz-Credential", kind)
    amz_date = _required(params, "X-Amz-Date", kind)
    expires_raw = _required(params, "X-Amz-Expires", kind)
    signed_headers = _required(params, "X-Amz-SignedHeaders", kind)
    signature = _required(params, "X-Amz-Signature", kind)
    region_set = _required(params, "X-Amz-Region-Set", "S3 SigV4a") if sigv4a else None

    access_key_id, scope_date, scope_region, service = _parse_credential(credential, sigv4a)
    signed_at = _parse_amz_date(amz_date)
    if scope_date != signed_at.date():
        warnings.append(
            f"The credential scope date {scope_date:%Y%m%d} does not match X-Amz-Date {signed_at:%Y%m%d}: "
            "S3 will refuse this link with SignatureDoesNotMatch."
        )
    if service != "s3":
        warnings.append(f"The link was signed for the service {_show(service)}, not s3.")

    if not _DIGITS_RE.fullmatch(expires_raw):
        raise LinkParseError(
            f"X-Amz-Expires must be a whole number of seconds but is {_show(expires_raw)}: paste the link exactly as it was sent."
        )
    expires_seconds = int(expires_raw)
    if expires_seconds > MAX_SIGV4_EXPIRES:
        warnings.append(
            "X-Amz-Expires is above 604800: S3 will refuse this link with AuthorizationQueryParametersError."
        )
    elif expires_seconds < 1:
        warnings.append("X-Amz-Expires is 0: S3 will refuse this link with AuthorizationQueryParametersError.")
    try:
        nominal = signed_at + timedelta(seconds=expires_seconds)
    except OverflowError:
        raise LinkParseError(
            "X-Amz-Expires is so large that the link would end after the year 9999: paste the link exactly as it was sent."
        ) from None

    if sigv4a:
        if not _HEX_RE.fullmatch(signature) or len(signature) % 2:
            raise LinkParseError(
                "X-Amz-Signature must be hexadecimal, so the link was cut off or altered: paste the whole link."
            )
    elif len(signature) != 64 or not _HEX_RE.fullmatch(signature):
        raise LinkParseError(
            f"X-Amz-Signature must be 64 hexadecimal characters but has {len(signature)} "
            f"{'valid ' if _HEX_RE.fullmatch(signature) else 'non-hexadecimal '}characters, "
            "so the link was cut off or altered: paste the whole link."
        )

    headers = [h for h in signed_headers.lower().split(";") if h]
    if "host" not in headers:
        warnings.append("X-Amz-SignedHeaders does not include host: S3 will refuse this link.")
    others = [h for h in headers if h != "host"]
    if others:
        warnings.append(
            f"The link also signs the header(s) {', '.join(others)}: a browser will not send them, "
            "so a plain click fails with SignatureDoesNotMatch."
        )

    token = _optional(params, "X-Amz-Security-Token")
    has_token = bool(token)
    if access_key_id.startswith("ASIA") and not has_token:
        warnings.append(
            "The access key id is temporary (ASIA…) but the link has no X-Amz-Security-Token: S3 will refuse it."
        )

    location = _locate_s3(parts)
    region = scope_region
    if sigv4a:
        regions = [r for r in (region_set or "").split(",") if r]
        region = regions[0] if len(regions) == 1 and regions[0] != "*" else location.region
    elif location.region and location.region != scope_region:
        warnings.append(
            f"The link was signed for {scope_region} but points at the {location.region} endpoint: "
            "S3 will refuse it with AuthorizationQueryParametersError."
        )

    consumed = {
        "x-amz-algorithm",
        "x-amz-credential",
        "x-amz-date",
        "x-amz-expires",
        "x-amz-signedheaders",
        "x-amz-signature",
        "x-amz-security-token",
        "x-amz-region-set",
    }
    return ParsedLink(
        kind=LinkKind.S3_SIGV4,
        url=url,
        host=host,
        bucket=location.bucket,
        key=location.key,
        region=region,
        access_key_id=access_key_id,
        has_session_token=has_token,
        signed_at=signed_at,
        nominal_expires_at=nominal,
        expires_seconds=expires_seconds,
        signature=signature,
        version_id=_optional(params, "versionId"),
        extra_params=_extras(params, consumed),
        warnings=tuple(warnings),
    )


def _parse_credential(credential: str, sigv4a: bool) -> tuple[str, Any, str | None, str]:
    """Split ``AKID/yyyymmdd/region/s3/aws4_request`` (SigV4a omits the region)."""
    pieces = credential.split("/")
    expected = 4 if sigv4a else 5
    if len(pieces) != expected or pieces[-1] != "aws4_request" or not all(pieces):
        shape = "<access key id>/<yyyymmdd>/s3/aws4_request" if sigv4a else "<access key id>/<yyyymmdd>/<region>/s3/aws4_request"
        raise LinkParseError(
            f"X-Amz-Credential should look like {shape}, so the link was cut off or altered: paste the whole link."
        )
    access_key_id, date_text = pieces[0], pieces[1]
    match = _SCOPE_DATE_RE.fullmatch(date_text)
    try:
        if not match:
            raise ValueError(date_text)
        scope_date = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=UTC).date()
    except ValueError:
        raise LinkParseError(
            f"The date in X-Amz-Credential is {_show(date_text)}, not a yyyymmdd date: paste the link exactly as it was sent."
        ) from None
    region = None if sigv4a else pieces[2]
    return access_key_id, scope_date, region, pieces[-2]


def _parse_amz_date(value: str) -> datetime:
    """``yyyymmddTHHMMSSZ`` -> aware UTC datetime."""
    match = _AMZ_DATE_RE.fullmatch(value)
    try:
        if not match:
            raise ValueError(value)
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise LinkParseError(
            f"X-Amz-Date is {_show(value)}, not a signing time like 20130524T000000Z: paste the link exactly as it was sent."
        ) from None
