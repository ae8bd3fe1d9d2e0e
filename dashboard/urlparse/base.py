"""What every kind of link shares: the parsed result, the one error, and reading a URL's parts strictly."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit


MAX_INPUT_BYTES = 16 * 1024  # a real presigned URL with a session token is ~2 KB; more is a pasted e-mail
MAX_SIGV4_EXPIRES = 604800  # seconds (7 days): S3 refuses a longer X-Amz-Expires
MASK = "…"
#: What every "this is not a link" sentence ends by asking for.
_WHAT_TO_PASTE = (
    "paste an S3 presigned link (it contains X-Amz-Signature or AWSAccessKeyId), "
    "a CloudFront signed link (it contains Key-Pair-Id) or a Share Desk link (…/s/<token>)"
)
# Query parameters whose values are secrets (lower-cased names).  Masked in every display.
_SECRET_PARAMS = frozenset({"x-amz-signature", "x-amz-security-token", "signature", "policy"})
_DIGITS_RE = re.compile(r"[0-9]{1,12}")
_BAD_CHARS_RE = re.compile(r"[\x00-\x20\x7f]")
_PERCENT_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


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
        from dashboard.urlparse.masking import strip_secrets  # masking reads this module's helpers

        return strip_secrets(self.url, stable_token=self.token)

    @property
    def on_aws(self) -> bool:
        """Whether the link points at AWS's own S3 host names (else a custom, S3-compatible endpoint or a CNAME)."""
        from dashboard.urlparse.s3hosts import is_aws_s3_host  # which reads this module's helpers

        return is_aws_s3_host(urlsplit(self.url).hostname or "")


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


def _lenient_unquote(text: str) -> str:
    """Percent-decode for masking only: never fails, so masking never fails."""
    try:
        return _unquote_strict(text, plus_is_space=True)
    except LinkParseError:
        return text


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


def _normalise_prefix(prefix: str) -> str:
    prefix = "/" + prefix.strip("/") + "/"
    return "/" if prefix == "//" else prefix
