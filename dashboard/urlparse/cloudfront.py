"""CloudFront signed links: canned (``Expires``) or custom (``Policy``: dates, IP range, wildcard resource)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult

from dashboard.urlparse.base import (
    LinkKind,
    LinkParseError,
    ParsedLink,
    _epoch,
    _extras,
    _lenient_unquote,
    _optional,
    _required,
    _show,
)
from dashboard.urlparse.s3hosts import _decode_key


_CLOUDFRONT_B64_RE = re.compile(r"[A-Za-z0-9\-_~+/=]+")
_KEY_PAIR_ID_RE = re.compile(r"[A-Za-z0-9]{1,128}")


def _parse_cloudfront(url: str, parts: SplitResult, host: str, params: dict[str, tuple[str, str]]) -> ParsedLink:
    """Read a CloudFront signed URL, canned (``Expires``) or custom (``Policy``)."""
    kind = "CloudFront"
    key_pair_id = _required(params, "Key-Pair-Id", kind)
    if not _KEY_PAIR_ID_RE.fullmatch(key_pair_id):
        raise LinkParseError(
            f"Key-Pair-Id {_show(key_pair_id)} is not a CloudFront key id (letters and digits, e.g. K2JCJMDEHXQW5F): "
            "paste the link exactly as it was sent."
        )
    # As for SigV2: a space can only be a '+' some tool forgot to %-encode.
    signature = _required(params, "Signature", kind).replace(" ", "+")
    if not _CLOUDFRONT_B64_RE.fullmatch(signature):
        raise LinkParseError(
            "The CloudFront Signature is not URL-safe base64, so the link was cut off or altered: paste the whole link."
        )
    policy_raw = (_optional(params, "Policy") or "").replace(" ", "+")
    expires_raw = _optional(params, "Expires")
    warnings: list[str] = []
    policy: dict[str, Any] | None = None
    not_before: datetime | None = None
    ip_range: str | None = None
    if policy_raw:
        if expires_raw is not None:
            warnings.append(
                "The link carries both Expires and Policy; CloudFront links use one or the other, "
                "so it was probably edited by hand."
            )
        policy = _decode_policy(policy_raw)
        statement = _policy_statement(policy)
        condition = statement.get("Condition")
        if not isinstance(condition, dict):
            raise LinkParseError(
                "The CloudFront policy has no Condition, so CloudFront will refuse it: paste the link exactly as it was sent."
            )
        nominal = _policy_time(condition, "DateLessThan")
        not_before = _policy_time(condition, "DateGreaterThan") if "DateGreaterThan" in condition else None
        ip = condition.get("IpAddress")
        if ip is not None:
            source = ip.get("AWS:SourceIp") if isinstance(ip, dict) else None
            if not isinstance(source, str):
                raise LinkParseError(
                    "The CloudFront policy's IpAddress has no AWS:SourceIp range: paste the link exactly as it was sent."
                )
            ip_range = source
        resource = statement.get("Resource")
        if isinstance(resource, str) and not _resource_covers(resource, _without_cloudfront_params(url)):
            warnings.append(
                f"The policy's Resource {_show(resource, 80)} does not cover this URL: CloudFront will refuse it."
            )
    elif expires_raw:
        nominal = _epoch(expires_raw, "Expires")
    else:
        raise LinkParseError(
            "This CloudFront link has neither Expires nor Policy, so it was probably cut off when copied: paste the whole link."
        )
    path = parts.path or "/"
    consumed = {"key-pair-id", "signature", "policy", "expires"}
    return ParsedLink(
        kind=LinkKind.CLOUDFRONT,
        url=url,
        host=host,
        key=_decode_key(path[1:]),
        nominal_expires_at=nominal,
        not_before=not_before,
        signature=signature,
        key_pair_id=key_pair_id,
        policy=policy,
        ip_range=ip_range,
        version_id=_optional(params, "versionId"),
        extra_params=_extras(params, consumed),
        warnings=tuple(warnings),
    )


def _decode_policy(raw: str) -> dict[str, Any]:
    """CloudFront's URL-safe base64 ('-'->'+', '_'->'=', '~'->'/') of a JSON policy.

    Padding is restored when missing: AWS's own documented example omits it.
    """
    if not _CLOUDFRONT_B64_RE.fullmatch(raw):
        raise LinkParseError(
            "The CloudFront Policy is not URL-safe base64, so the link was cut off or altered: paste the whole link."
        )
    standard = raw.translate(str.maketrans("-_~", "+=/")).rstrip("=")
    standard += "=" * (-len(standard) % 4)
    try:
        decoded = base64.b64decode(standard, validate=True)
        policy = json.loads(decoded.decode("utf-8"))
    except (binascii.Error, ValueError, RecursionError):
        raise LinkParseError(
            "The CloudFront Policy does not decode to a JSON policy, so the link was cut off or altered: paste the whole link."
        ) from None
    if not isinstance(policy, dict):
        raise LinkParseError(
            "The CloudFront Policy is not a policy document, so the link was altered: paste the link exactly as it was sent."
        )
    return policy


def _policy_statement(policy: dict[str, Any]) -> dict[str, Any]:
    statements = policy.get("Statement")
    if not isinstance(statements, list) or not statements or not isinstance(statements[0], dict):
        raise LinkParseError(
            "The CloudFront policy has no Statement, so CloudFront will refuse it: paste the link exactly as it was sent."
        )
    statement: dict[str, Any] = statements[0]
    return statement


def _policy_time(condition: dict[str, Any], name: str) -> datetime:
    block = condition.get(name)
    if not isinstance(block, dict) or "AWS:EpochTime" not in block:
        raise LinkParseError(
            f"The CloudFront policy has no {name} time, so CloudFront will refuse it: paste the link exactly as it was sent."
        )
    return _policy_epoch(block["AWS:EpochTime"], name)


def _policy_epoch(value: Any, what: str) -> datetime:
    """An epoch time from a CloudFront policy, which must be a JSON integer."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LinkParseError(
            f"The CloudFront policy's {what} is not a whole number of seconds: paste the link exactly as it was sent."
        )
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise LinkParseError(
            f"The CloudFront policy's {what} is not a date any server accepts: paste the link exactly as it was sent."
        ) from None


def _without_cloudfront_params(url: str) -> str:
    """The URL CloudFront compares with the policy's Resource: the link minus its signing parameters."""
    head = url.partition("#")[0]
    base, question, query = head.partition("?")
    if not question:
        return base
    kept = [
        part
        for part in query.split("&")
        if _lenient_unquote(part.partition("=")[0]).lower() not in ("policy", "signature", "key-pair-id", "expires")
    ]
    return base + ("?" + "&".join(kept) if kept else "")


def _resource_covers(resource: str, url: str) -> bool:
    """CloudFront wildcards: '*' is any run of characters, '?' exactly one.

    Matched with the classic two-pointer glob walk rather than a regex, whose
    backtracking a hostile policy full of '*' could make take minutes. The
    walk is still O(len(resource) * len(url)) at worst, so sizes far beyond
    any real link are not judged at all (no warning rather than a stall).
    """
    if len(resource) * len(url) > 1_000_000:
        return True
    r = u = 0
    star_r, star_u = -1, 0
    while u < len(url):
        if r < len(resource) and (resource[r] == "?" or resource[r] == url[u]) and resource[r] != "*":
            r += 1
            u += 1
        elif r < len(resource) and resource[r] == "*":
            star_r, star_u = r, u
            r += 1
        elif star_r >= 0:
            r = star_r + 1
            star_u += 1
            u = star_u
        else:
            return False
    while r < len(resource) and resource[r] == "*":
        r += 1
    return r == len(resource)
