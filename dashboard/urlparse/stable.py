"""Share Desk stable links: ``<base><prefix><token>``, one token segment and nothing to decode."""

from __future__ import annotations

import re
from urllib.parse import SplitResult

from dashboard.urlparse.base import LinkKind, LinkParseError, ParsedLink, _extras, _optional


_STABLE_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{16,128}")


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
