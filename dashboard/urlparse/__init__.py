"""Recognise any link a customer pastes back and read every fact its URL carries.

The complaint desk starts from a pasted link: an S3 presigned URL (SigV4 or
legacy SigV2, virtual-hosted, path-style or a custom endpoint), a CloudFront
signed URL (canned or custom policy) or a Share Desk stable link. This module
turns that text into a frozen :class:`ParsedLink` (kind, bucket, key, signer,
signing time, nominal expiry...) so the expiry model can explain it.

One module per kind of link, as :mod:`dashboard.strategies` has one per
strategy: :mod:`.sigv4`, :mod:`.sigv2`, :mod:`.cloudfront` and :mod:`.stable`,
over :mod:`.base` (the result, the error, strict reading of a URL's parts),
:mod:`.s3hosts` (S3's addressing styles) and :mod:`.masking` (hiding secrets).
This module only chooses the kind (:func:`parse_link`).

It is deliberately pure: standard library only, no boto3 and no network, so
the Inspect page, the command line and the tests all read links the same
way, and a pasted link is never sent anywhere just to be understood.
Anything it cannot read raises :class:`LinkParseError` whose message is one
sentence a support agent can act on; nothing else escapes.

Signatures, session tokens, CloudFront policies and stable-link tokens are
secrets or near-secrets: they are kept on the result (callers fingerprint the
signature) but :attr:`ParsedLink.display_url` and :func:`strip_secrets` mask
them, and no error message ever quotes them.
"""

from __future__ import annotations

from dashboard.urlparse.base import (
    _WHAT_TO_PASTE,
    MASK,
    MAX_INPUT_BYTES,
    MAX_SIGV4_EXPIRES,
    LinkKind,
    LinkParseError,
    ParsedLink,
    _host_of,
    _normalise_prefix,
    _parse_query,
    _split_url,
)
from dashboard.urlparse.cloudfront import _parse_cloudfront
from dashboard.urlparse.masking import strip_secrets
from dashboard.urlparse.s3hosts import is_aws_s3_host
from dashboard.urlparse.sigv2 import _parse_sigv2
from dashboard.urlparse.sigv4 import _parse_sigv4
from dashboard.urlparse.stable import _parse_stable

__all__ = [
    "MASK",
    "MAX_INPUT_BYTES",
    "MAX_SIGV4_EXPIRES",
    "LinkKind",
    "LinkParseError",
    "ParsedLink",
    "is_aws_s3_host",
    "parse_link",
    "strip_secrets",
]


def parse_link(text: str, *, stable_prefix: str = "/s/") -> ParsedLink:
    """Read a pasted link and return what its URL says; raise :class:`LinkParseError` otherwise.

    Recognised: S3 SigV4 (and SigV4a) and SigV2 presigned URLs on AWS,
    path-style, dual-stack, legacy-dash, custom-endpoint and CNAME hosts;
    CloudFront canned and custom-policy signed URLs on any host; Share Desk
    stable links ``<stable_prefix><token>``. Problems that do not stop the
    link being read (a credential date that does not match, an
    ``X-Amz-Expires`` S3 will refuse) become :attr:`ParsedLink.warnings`.
    """
    if not isinstance(text, str):
        raise LinkParseError("The link must be text: paste the whole link as it was sent.")
    if len(text) > MAX_INPUT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise LinkParseError("The pasted text is longer than 16 KB, so it is not a single link: paste only the link itself.")
    url = text.strip()
    if not url:
        raise LinkParseError(f"Nothing was pasted: {_WHAT_TO_PASTE}.")
    parts = _split_url(url)
    host = _host_of(parts)
    params = _parse_query(parts.query)
    names = set(params)

    if names & {"x-amz-algorithm", "x-amz-credential", "x-amz-signature", "x-amz-date", "x-amz-signedheaders"}:
        return _parse_sigv4(url, parts, host, params)
    if "key-pair-id" in names:
        return _parse_cloudfront(url, parts, host, params)
    if "awsaccesskeyid" in names:
        return _parse_sigv2(url, parts, host, params)
    if "policy" in names:
        raise LinkParseError(
            "The link has a CloudFront Policy but no Key-Pair-Id, so it was probably cut off: paste the whole link."
        )
    if "signature" in names:
        raise LinkParseError(
            "The link has a Signature but neither AWSAccessKeyId (S3) nor Key-Pair-Id (CloudFront), "
            "so it was probably cut off: paste the whole link."
        )
    if is_aws_s3_host(parts.hostname or ""):
        raise LinkParseError(
            "This S3 address carries no signature, so it is not a shared link: "
            "paste the full presigned link including everything after the '?'."
        )
    prefix = _normalise_prefix(stable_prefix)
    if parts.path == prefix.rstrip("/") or parts.path.startswith(prefix):
        return _parse_stable(url, parts, host, params, prefix)
    if "expires" in names or "x-amz-expires" in names:
        raise LinkParseError(
            "The link has an expiry but no signature, so it was probably cut off: paste the whole link."
        )
    raise LinkParseError(f"This is not a link Share Desk can read: {_WHAT_TO_PASTE}.")
