"""Legacy S3 SigV2 presigned links: an absolute ``Expires``, no signing time, refused by newer buckets."""

from __future__ import annotations

import re
from urllib.parse import SplitResult

from dashboard.urlparse.base import LinkKind, LinkParseError, ParsedLink, _epoch, _extras, _optional, _required
from dashboard.urlparse.s3hosts import _locate_s3


_SIGV2_LEGACY_WARNING = (
    "This is a legacy SigV2 link: buckets created after 2020-06-24 refuse SigV2, "
    "and SSE-KMS objects need SigV4, so re-issue it with SigV4."
)
_SIGV2_SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def _parse_sigv2(url: str, parts: SplitResult, host: str, params: dict[str, tuple[str, str]]) -> ParsedLink:
    """Read a legacy SigV2 presigned URL: an absolute ``Expires`` and no signing time."""
    kind = "S3 SigV2"
    access_key_id = _required(params, "AWSAccessKeyId", kind)
    expires_raw = _required(params, "Expires", kind)
    # A base64 signature never contains a space: a space here is a '+' that was not %-encoded.
    signature = _required(params, "Signature", kind).replace(" ", "+")
    if not _SIGV2_SIGNATURE_RE.fullmatch(signature):
        raise LinkParseError(
            "The SigV2 Signature is not base64, so the link was cut off or altered: paste the whole link."
        )
    nominal = _epoch(expires_raw, "Expires")
    warnings = [_SIGV2_LEGACY_WARNING]
    token = _optional(params, "x-amz-security-token")
    has_token = bool(token)
    if access_key_id.startswith("ASIA") and not has_token:
        warnings.append(
            "The access key id is temporary (ASIA…) but the link has no x-amz-security-token: S3 will refuse it."
        )
    location = _locate_s3(parts)
    consumed = {"awsaccesskeyid", "expires", "signature", "x-amz-security-token"}
    return ParsedLink(
        kind=LinkKind.S3_SIGV2,
        url=url,
        host=host,
        bucket=location.bucket,
        key=location.key,
        region=location.region,
        access_key_id=access_key_id,
        has_session_token=has_token,
        nominal_expires_at=nominal,
        signature=signature,
        version_id=_optional(params, "versionId"),
        extra_params=_extras(params, consumed),
        warnings=tuple(warnings),
    )
