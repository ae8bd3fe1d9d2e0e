"""Recognise any link a customer pastes back and read every fact its URL carries.

The complaint desk starts from a pasted link: an S3 presigned URL (SigV4 or
legacy SigV2, virtual-hosted, path-style or a custom endpoint), a CloudFront
signed URL (canned or custom policy) or a Share Desk stable link. This module
turns that text into a frozen :class:`ParsedLink` (kind, bucket, key, signer,
signing time, nominal expiry...) so the expiry model can explain it.

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

import base64
import binascii
import enum
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_SIGV4_EXPIRES",
    "LinkKind",
    "LinkParseError",
    "ParsedLink",
    "is_aws_s3_host",
    "parse_link",
    "strip_secrets",
]

MAX_INPUT_BYTES = 16 * 1024  # a real presigned URL with a session token is ~2 KB; more is a pasted e-mail
MAX_SIGV4_EXPIRES = 604800  # seconds (7 days): S3 refuses a longer X-Amz-Expires
MASK = "…"

_SIGV4_ALGORITHMS = ("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256")
_SIGV2_LEGACY_WARNING = (
    "This is a legacy SigV2 link: buckets created after 2020-06-24 refuse SigV2, "
    "and SSE-KMS objects need SigV4, so re-issue it with SigV4."
)
_WHAT_TO_PASTE = (
    "paste an S3 presigned link (it contains X-Amz-Signature or AWSAccessKeyId), "
    "a CloudFront signed link (it contains Key-Pair-Id) or a Share Desk link (…/s/<token>)"
)

# Query parameters whose values are secrets (lower-cased names).  Masked in every display.
_SECRET_PARAMS = frozenset({"x-amz-signature", "x-amz-security-token", "signature", "policy"})

_STABLE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_AMZ_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_SCOPE_DATE_RE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DIGITS_RE = re.compile(r"[0-9]{1,12}")
_REGION_RE = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_SIGV2_SIGNATURE_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_CLOUDFRONT_B64_RE = re.compile(r"[A-Za-z0-9\-_~+/=]+")
_KEY_PAIR_ID_RE = re.compile(r"[A-Za-z0-9]{1,128}")
_BAD_CHARS_RE = re.compile(r"[\x00-\x20\x7f]")
_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")
# First labels of hosts that are S3-compatible services (MinIO, Ceph, R2, Wasabi...) and take path-style URLs.
_PATH_STYLE_LABELS = frozenset(
    {"s3", "minio", "storage", "objects", "object-storage", "objectstorage", "ceph", "rgw", "localstack", "moto", "r2"}
)


class LinkKind(enum.StrEnum):
    """What signed (or stands behind) a link; the values are the CLI's ``kind`` strings."""

    S3_SIGV4 = "s3-sigv4"
    S3_SIGV2 = "s3-sigv2"
    CLOUDFRONT = "cloudfront"
    STABLE = "stable"


class LinkParseError(ValueError):
    """The pasted text is not a link the desk can read.

    The message is one sentence naming what is wrong and what to paste
    instead, so pages and the CLI print it as is (exit status 2).
    """

    exit_code = 2


@dataclass(frozen=True)
class ParsedLink:
    """Everything a link's URL says about itself, without asking AWS.

    Times are timezone-aware UTC. Fields a kind of link cannot carry are
    ``None`` (e.g. a SigV2 URL has no signing time, only an absolute expiry).
    ``signature`` is kept so callers can fingerprint it against the issuance
    log; it must never be printed: use :attr:`display_url`.
    """

    kind: LinkKind
    url: str
    host: str
    bucket: str | None = None
    key: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    has_session_token: bool = False
    signed_at: datetime | None = None
    nominal_expires_at: datetime | None = None
    not_before: datetime | None = None
    expires_seconds: int | None = None
    signature: str | None = field(default=None, repr=False)
    key_pair_id: str | None = None
    policy: dict[str, Any] | None = None
    ip_range: str | None = None
    token: str | None = field(default=None, repr=False)
    version_id: str | None = None
    extra_params: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    @property
    def display_url(self) -> str:
        """The URL with its signature, session token, policy and stable token masked, safe to show or store."""
        return strip_secrets(self.url, stable_token=self.token)

    @property
    def on_aws(self) -> bool:
        """Whether the link points at AWS's own S3 host names (else a custom, S3-compatible endpoint or a CNAME)."""
        return is_aws_s3_host(urlsplit(self.url).hostname or "")


# --------------------------------------------------------------------------- masking


def strip_secrets(url: str, *, stable_prefix: str = "/s/", stable_token: str | None = None) -> str:
    """Mask the secret parts of any URL string, for display and for the log.

    Works on text that is not a valid link too (it never raises), because it
    is also used on whatever a user pasted before we know what it is. The
    values of ``X-Amz-Signature``, ``X-Amz-Security-Token``, ``Signature``
    and ``Policy`` (any case), a password in the authority, and the token of
    a stable link (the segment after ``stable_prefix``, or the given
    ``stable_token`` wherever it appears) become ``…``.
    """
    text = str(url)
    if stable_token:
        text = text.replace(stable_token, MASK)
    head, hash_sign, fragment = text.partition("#")
    base, question, query = head.partition("?")
    masked_parts: list[str] = []
    signed = False
    if question:
        for part in query.split("&"):
            name, equals, _value = part.partition("=")
            lowered = _lenient_unquote(name).lower()
            if lowered in _SECRET_PARAMS or lowered in ("key-pair-id", "awsaccesskeyid", "x-amz-credential"):
                signed = True
            if equals and lowered in _SECRET_PARAMS:
                masked_parts.append(f"{name}={MASK}")
            else:
                masked_parts.append(part)
    base = _mask_userinfo(base)
    if not signed:
        base = _mask_stable_path(base, stable_prefix)
    result = base
    if question:
        result += "?" + "&".join(masked_parts)
    if hash_sign:
        result += "#" + fragment
    return result


def _mask_userinfo(base: str) -> str:
    """Hide a password embedded as ``user:password@host``: it is a credential like any other."""
    scheme, sep, rest = base.partition("://")
    if not sep:
        return base
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return base
    user = userinfo.split(":", 1)[0]
    masked = f"{user}:{MASK}" if ":" in userinfo else userinfo
    return f"{scheme}://{masked}@{hostport}{slash}{path}"


def _mask_stable_path(base: str, stable_prefix: str) -> str:
    """Replace the segment after the stable prefix, whatever it holds: an invalid token can still be a real one."""
    prefix = _normalise_prefix(stable_prefix)
    _scheme, sep, rest = base.partition("://")
    if not sep:
        return base
    slash = rest.find("/")
    if slash < 0:
        return base
    path = rest[slash:]
    if not path.startswith(prefix) or len(path) == len(prefix):
        return base
    tail = path[len(prefix) :]
    segment, sl, remainder = tail.partition("/")
    if not segment:
        return base
    return base[: len(base) - len(path)] + prefix + MASK + sl + remainder


def _lenient_unquote(text: str) -> str:
    """Percent-decode for masking only: never fails, so masking never fails."""
    try:
        return _unquote_strict(text, plus_is_space=True)
    except LinkParseError:
        return text


# --------------------------------------------------------------------------- parsing


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


def _split_url(url: str) -> SplitResult:
    """Split the URL, turning every way it can be malformed into one sentence."""
    if _BAD_CHARS_RE.search(url):
        raise LinkParseError(
            "The pasted text contains spaces, line breaks or control characters: paste only the link, on one line."
        )
    if url.lower().startswith("s3://"):
        raise LinkParseError(
            "An s3:// address is not a shareable link: paste the https:// link the customer received."
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # validated here: a bad port raises ValueError on access
        hostname = parts.hostname
    except ValueError:
        raise LinkParseError(
            "The link's host or port is malformed: paste the link exactly as it was sent, starting with https://."
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise LinkParseError(f"This is not a web link (it should start with https://): {_WHAT_TO_PASTE}.")
    if not hostname:
        raise LinkParseError("The link has no host name: paste the link exactly as it was sent, starting with https://.")
    return parts


def _host_of(parts: SplitResult) -> str:
    """The authority without any user or password, lower-cased, keeping an explicit port."""
    return parts.netloc.rpartition("@")[2].lower()


def _parse_query(query: str) -> dict[str, tuple[str, str]]:
    """Map lower-cased parameter names to (name as written, decoded value).

    Names are matched case-insensitively because links are retyped and
    rewritten by mail gateways; a parameter given twice is refused since a
    server would pick one of them and we cannot know which.
    """
    params: dict[str, tuple[str, str]] = {}
    if not query:
        return params
    for part in query.split("&"):
        if not part:
            continue
        raw_name, _eq, raw_value = part.partition("=")
        name = _unquote_strict(raw_name, plus_is_space=True)
        value = _unquote_strict(raw_value, plus_is_space=True)
        lowered = name.lower()
        if not name:
            continue
        if lowered in params:
            raise LinkParseError(
                f"The parameter {_show(name)} appears twice in the link, so it was edited or pasted twice: "
                "paste the link exactly as it was sent."
            )
        params[lowered] = (name, value)
    return params


def _unquote_strict(text: str, *, plus_is_space: bool) -> str:
    """Percent-decode, refusing broken escapes: a dangling ``%2`` means the link was cut or mangled."""
    if _PERCENT_RE.search(text):
        raise LinkParseError(
            "The link contains a broken %-escape, so it was probably cut off or altered when copied: paste the whole link."
        )
    if plus_is_space:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    raw = bytearray()
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            raw.append(int(text[index + 1 : index + 3], 16))
            index += 3
        else:
            raw.extend(char.encode("utf-8", "surrogatepass"))
            index += 1
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise LinkParseError(
            "The link contains %-escapes that are not valid UTF-8, so it was altered when copied: paste the original link."
        ) from None


def _show(value: str, limit: int = 40) -> str:
    """Quote a (non-secret) pasted value in a message, shortened so a message stays one line."""
    shown = value if len(value) <= limit else value[: limit - 1] + MASK
    return repr(shown)


def _required(params: dict[str, tuple[str, str]], name: str, kind: str) -> str:
    """A parameter the kind of link cannot work without; missing or empty means the link was truncated."""
    entry = params.get(name.lower())
    if entry is None or not entry[1]:
        missing = "is missing" if entry is None else "is empty"
        raise LinkParseError(
            f"This {kind} link {missing} {name}, so it was probably cut off when copied: paste the whole link."
        )
    return entry[1]


def _optional(params: dict[str, tuple[str, str]], name: str) -> str | None:
    entry = params.get(name.lower())
    return entry[1] if entry is not None else None


def _extras(params: dict[str, tuple[str, str]], consumed: set[str]) -> dict[str, str]:
    """The parameters left once the signing ones are read, under their names as written."""
    return {name: value for lowered, (name, value) in params.items() if lowered not in consumed and lowered != "versionid"}


def _epoch(value: str, name: str) -> datetime:
    """An absolute expiry in epoch seconds, as SigV2 and CloudFront write it."""
    if not _DIGITS_RE.fullmatch(value):
        raise LinkParseError(
            f"{name} must be a whole number of seconds since 1970 but is {_show(value)}: paste the link exactly as it was sent."
        )
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise LinkParseError(
            f"{name} {_show(value)} is not a date any server accepts: paste the link exactly as it was sent."
        ) from None


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


# --------------------------------------------------------------------------- S3 hosts


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


_ACCESS_POINT_ENDPOINTS = ("s3-accesspoint", "s3-object-lambda", "s3-global")


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


# --------------------------------------------------------------------------- S3 SigV4


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


# --------------------------------------------------------------------------- S3 SigV2


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


# --------------------------------------------------------------------------- CloudFront


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


# --------------------------------------------------------------------------- stable links


def _normalise_prefix(prefix: str) -> str:
    prefix = "/" + prefix.strip("/") + "/"
    return "/" if prefix == "//" else prefix


def _parse_stable(
    url: str, parts: SplitResult, host: str, params: dict[str, tuple[str, str]], prefix: str
) -> ParsedLink:
    """A Share Desk link: exactly one token segment after the prefix, nothing to decode.

    The token is matched on the raw path, before any %-decoding, so ``%2e%2e``,
    ``%00`` or an encoded slash can never smuggle a path through the resolver.
    """
    tail = parts.path[len(prefix) :] if parts.path.startswith(prefix) else ""
    if not _STABLE_TOKEN_RE.fullmatch(tail):
        raise LinkParseError(
            f"The part after {prefix} is not a valid Share Desk link token (16 to 128 letters, digits, '-' or '_'): "
            "paste the whole link exactly as it was sent."
        )
    return ParsedLink(
        kind=LinkKind.STABLE,
        url=url,
        host=host,
        token=tail,
        version_id=_optional(params, "versionId"),
        extra_params=_extras(params, set()),
    )
