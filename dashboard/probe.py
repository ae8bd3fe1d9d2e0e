"""The opt-in live probe: ask the link's own server what it answers now, and say what that means.

Only ever run because a person asked for it: it sends the pasted link over
the network. It makes one ranged GET (``Range: bytes=0-0``, so at most one
byte of the customer's file is fetched) with a short timeout, follows no
redirect (a stable link's 302 is reported, with the target's host only, since
the target carries a fresh signature), and sends no credentials, cookies or
Authorization header: the answer is exactly what the customer gets.

S3's error bodies are small XML documents (``<Error><Code>…``); their code
is turned into one sentence. Standard library only (``urllib``): the desk's
runtime does not ship an HTTP client.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from xml.etree import ElementTree

from dashboard.errors import BadInput

__all__ = ["ProbeResult", "TIMEOUT_SECONDS", "interpret", "probe"]

TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 64 * 1024  # S3 error bodies are well under 1 KB; a stranger's server gets no more of our memory
USER_AGENT = "ShareDesk-probe/1 (one ranged GET, no credentials)"


@dataclass(frozen=True)
class ProbeResult:
    """What the server answered, and one sentence saying what it means for the link.

    ``status`` is None when no answer came back (the network failed).
    ``expires`` and ``server_time`` are S3's own, from an expired-link body;
    ``location_host`` is the host a redirect points to (never its full URL).
    """

    status: int | None
    code: str | None
    message: str | None
    meaning: str
    expires: str | None = None
    server_time: str | None = None
    location_host: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "meaning": self.meaning,
            "expires": self.expires,
            "server_time": self.server_time,
            "location_host": self.location_host,
        }


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand every 3xx back as the answer: a redirect's target is a fresh presigned URL we must not open."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _opener() -> urllib.request.OpenerDirector:
    # build_opener adds no cookie or auth handler unless asked: only HTTP(S), proxies from the
    # environment (an egress proxy may be the only way out) and our redirect refusal.
    return urllib.request.build_opener(_NoRedirect())


def probe(url: str, *, timeout: float = TIMEOUT_SECONDS) -> ProbeResult:
    """One ranged GET to ``url``; never raises for what the server or network does.

    Raises :class:`BadInput` only for a URL that is not http(s), because
    probing ``file:``, ``ftp:`` or ``s3:`` addresses is never what was meant.
    """
    target = _safe_url(url)
    host = urlsplit(target).hostname or "the server"
    request = urllib.request.Request(
        target,
        method="GET",
        headers={"Range": "bytes=0-0", "User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"},
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            return interpret(response.status, _headers(response), _read(response))
    except urllib.error.HTTPError as error:  # every status >= 300 (redirects are not followed)
        try:
            body = _read(error)
        finally:
            error.close()
        return interpret(error.code, _headers(error), body)
    except urllib.error.URLError as error:
        return _network_failure(host, error.reason, timeout)
    except (TimeoutError, socket.timeout) as error:
        return _network_failure(host, error, timeout)
    except (OSError, HTTPException, ValueError) as error:
        return _network_failure(host, error, timeout)


def _safe_url(url: str) -> str:
    """Refuse non-web schemes and drop any user:password, which would otherwise become an Authorization header."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        raise BadInput("The link's host or port is malformed, so it cannot be probed: paste the link exactly as it was sent.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadInput("Only http:// and https:// links can be probed: paste the link the customer received.")
    netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _read(response: Any) -> bytes:
    try:
        return bytes(response.read(MAX_BODY_BYTES) or b"")
    except (OSError, HTTPException, ValueError):
        return b""


def _headers(response: HTTPResponse | urllib.error.HTTPError) -> dict[str, str]:
    return {k.lower(): v for k, v in (response.headers.items() if response.headers is not None else [])}


def _network_failure(host: str, reason: object, timeout: float) -> ProbeResult:
    if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason).lower():
        why = f"did not answer within {timeout:g} seconds"
    elif isinstance(reason, ssl.SSLError):
        why = "refused the TLS handshake (certificate or protocol problem)"
    elif isinstance(reason, socket.gaierror):
        why = "could not be found (DNS lookup failed)"
    elif isinstance(reason, ConnectionRefusedError):
        why = "refused the connection"
    else:
        why = f"could not be reached ({reason.__class__.__name__})"
    return ProbeResult(
        status=None,
        code=None,
        message=str(reason)[:200] or None,
        meaning=f"The probe got no answer: {host} {why}; the customer's network may differ from the desk's, so this says nothing about the link itself.",
    )


# --------------------------------------------------------------------------- interpreting answers


def _error_fields(body: bytes) -> dict[str, str]:
    """Code, Message, Expires, ServerTime... from S3's ``<Error>`` body; empty when it is not one.

    A body with a DOCTYPE is not parsed at all: S3 never sends one, and entity
    tricks are the one way a small XML document can cost a lot to parse.
    """
    text = body.strip()
    if not text.startswith(b"<") or b"<!DOCTYPE" in text.upper() or b"<!ENTITY" in text.upper():
        return {}
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return {}
    if root.tag.rpartition("}")[2] != "Error":
        return {}
    return {child.tag.rpartition("}")[2]: (child.text or "").strip() for child in root}


def interpret(status: int, headers: dict[str, str], body: bytes) -> ProbeResult:
    """Turn one HTTP answer into a :class:`ProbeResult` (pure: the tests feed it S3's documented bodies)."""
    fields = _error_fields(body)
    code = fields.get("Code") or None
    message = fields.get("Message") or None
    expires = fields.get("Expires") or None
    server_time = fields.get("ServerTime") or None
    location_host: str | None = None

    def result(meaning: str) -> ProbeResult:
        return ProbeResult(status, code, message, meaning, expires, server_time, location_host)

    if status in (200, 206):
        return result("The link works now: the server sent the first byte of the file.")
    if status == 304 or status == 416:
        return result("The link works now: the server accepted the signature (the file may be empty).")
    if 300 <= status < 400:
        location = headers.get("location", "")
        try:
            location_host = urlsplit(location).hostname
        except ValueError:
            location_host = None
        where = location_host or "another address"
        return result(
            f"The link answers with a redirect ({status}) to {where}, as a working Share Desk link does: "
            "the target, a freshly signed download, was not opened."
        )
    lowered = (message or "").lower()
    if code == "AccessDenied" and "request has expired" in lowered:
        when = f" at {expires}" if expires else ""
        now = f" (S3's clock: {server_time})" if server_time else ""
        return result(f"S3 says the link's nominal expiry passed{when}{now}: it ran its promised course.")
    if code == "AccessDenied" and "not yet valid" in lowered:
        return result("S3 says the link is not valid yet: it was signed with a clock ahead of S3's, or for a later start.")
    if code == "ExpiredToken":
        return result(
            "S3 says the temporary credentials that signed the link expired: it died with its session token, "
            "which can be long before the expiry it promised."
        )
    if code in ("InvalidToken", "TokenRefreshRequired"):
        return result("S3 does not accept the link's session token: the temporary credentials that signed it are gone.")
    if code == "SignatureDoesNotMatch":
        return result(
            "S3 says the signature does not match: the link was altered or cut when it was copied (or signs a header "
            "a browser does not send); it is not an expiry."
        )
    if code == "InvalidAccessKeyId":
        return result("S3 does not know the access key that signed the link: the key was deleted, so every link it signed is dead.")
    if code == "AuthorizationQueryParametersError":
        return result(
            "S3 refuses the link's signing parameters outright (for example X-Amz-Expires above 604800 seconds or the "
            "wrong region), so it never worked."
        )
    if code == "NoSuchKey":
        return result(
            "The object was deleted or renamed after the link was issued: that is not an expiry, and a new link "
            "will not help until the file is back."
        )
    if code == "NoSuchBucket":
        return result("The bucket no longer exists: that is not an expiry; the file has to be shared from where it lives now.")
    if code == "AccessDenied":
        return result(
            "S3 denies access although the link has not expired: the signing key may be deactivated, its sessions "
            "revoked, or a bucket policy (such as an s3:signatureAge cap) refuses it."
        )
    if code:
        return result(f"The server answered {status} {code}: {message or 'no message'}.")
    if status == 410:
        return result("The desk's resolver says this link was withdrawn or has expired (410): the customer sees a page saying so.")
    if status == 404:
        return result("The server answered 404 Not Found without an S3 error: the link's address is wrong or was never valid.")
    if status == 403:
        return result("The server refused the link (403) without saying why: a CDN or firewall in front of it may be blocking it.")
    if status >= 500:
        return result(f"The server failed ({status}): that is an outage, not an expiry; try again in a few minutes.")
    return result(f"The server answered {status} without an S3 error body.")
