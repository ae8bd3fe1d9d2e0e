"""Masking the secret parts of any URL (signatures, session tokens, policies, stable tokens, passwords) for display and the log."""

from __future__ import annotations

from dashboard.urlparse.base import MASK, _SECRET_PARAMS, _lenient_unquote, _normalise_prefix


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
