"""The opt-in live probe: ask the link's own server what it answers now, and say what that means.

Only ever run because a person asked for it: it sends the pasted link over
the network. Before anything is sent, :mod:`dashboard.probe_policy` checks
that the host is the link's own kind of server and that its addresses are
public (or the desk's own configured endpoint), and the connection goes to
an address vetted there, with the link's host name as ``Host`` and TLS SNI.

It makes one ranged GET (``Range: bytes=0-0``, so at most one byte of the
customer's file is fetched), bounded in total time and in the bytes read,
follows no redirect (a stable link's 302 is reported with the target's host
only, since the target carries a fresh signature), uses no proxy and sends
no credentials, cookies or Authorization header: the answer is exactly what
the customer gets.

S3's error bodies are small XML documents (``<Error><Code>…``); their code
is turned into one sentence. The server's own words are kept as plain text
(bounded, on one line) for the page to show as text. Standard library only.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

from dashboard.errors import BadInput
from dashboard.probe_policy import ProbeRefused, Resolver, Targets, Vetted, vet
from dashboard.urlparse import LinkKind

__all__ = ["ProbeResult", "TIMEOUT_SECONDS", "interpret", "probe"]

TIMEOUT_SECONDS = 5.0  # for the whole probe: connecting, the answer's headers and its body
MAX_BODY_BYTES = 64 * 1024  # S3 error bodies are well under 1 KB; a stranger's server gets no more of our memory
MAX_MESSAGE_CHARS = 300
USER_AGENT = "ShareDesk-probe/1 (one ranged GET, no credentials)"


@dataclass(frozen=True)
class ProbeResult:
    """What the server answered, and one sentence saying what it means for the link.

    ``status`` is None when no answer came back (the network failed, or the
    probe was ``refused`` and sent nothing). ``expires`` and ``server_time``
    are S3's own, from an expired-link body; ``location_host`` is the host a
    redirect points to (never its full URL). ``code`` and ``message`` are
    the server's words: outside text, to be shown as text.
    """

    status: int | None
    code: str | None
    message: str | None
    meaning: str
    expires: str | None = None
    server_time: str | None = None
    location_host: str | None = None
    refused: bool = False
    address: str | None = None  # the address asked

    @property
    def answered(self) -> bool:
        return self.status is not None

    @property
    def works(self) -> bool:
        """The server served the link (the first byte, an empty file, or a stable link's redirect)."""
        if self.status in (200, 206, 304, 416):
            return True
        return self.status is not None and 300 <= self.status < 400 and self.code is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "meaning": self.meaning,
            "expires": self.expires,
            "server_time": self.server_time,
            "location_host": self.location_host,
            "refused": self.refused,
            "address": self.address,
        }


def probe(
    url: str,
    targets: Targets | None = None,
    *,
    kind: LinkKind | None = None,
    resolver: Resolver | None = None,
    timeout: float = TIMEOUT_SECONDS,
) -> ProbeResult:
    """One ranged GET to ``url`` if :func:`~dashboard.probe_policy.vet` allows it; never raises for what the server or network does.

    ``targets`` are the desk's configured servers (:meth:`Targets.from_settings`);
    without them only AWS's own public host names are asked. Raises
    :class:`BadInput` only for a URL that is not http(s), because probing
    ``file:``, ``ftp:`` or ``s3:`` addresses is never what was meant.
    """
    _check_scheme(url)
    try:
        vetted = vet(url.strip(), targets or Targets(), kind, resolver=resolver)
    except ProbeRefused as refusal:
        return ProbeResult(status=None, code=None, message=None, meaning=str(refusal), refused=True)
    return _ask(vetted, timeout)


def _check_scheme(url: str) -> None:
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        _ = parts.port
    except ValueError:
        raise BadInput("The link's host or port is malformed, so it cannot be probed: paste the link exactly as it was sent.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadInput("Only http:// and https:// links can be probed: paste the link the customer received.")


class _Pinned(http.client.HTTPConnection):
    """An HTTP(S) connection to one vetted address, naming the link's own host in Host and SNI."""

    def __init__(self, vetted: Vetted, address: str, timeout: float) -> None:
        super().__init__(vetted.host, vetted.port, timeout=timeout)
        self._address = address
        self._tls = ssl.create_default_context() if vetted.scheme == "https" else None

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        self.sock = sock


def _ask(vetted: Vetted, timeout: float) -> ProbeResult:
    deadline = time.monotonic() + timeout
    failure: BaseException | None = None
    for address in vetted.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = _Pinned(vetted, address, remaining)
        try:
            connection.connect()
        except (OSError, ssl.SSLError) as exc:  # try the name's next address: nothing was sent to this one
            failure = exc
            connection.close()
            continue
        # The socket timeout bounds each read; this bounds them all together (a server dripping bytes).
        aborted = threading.Event()
        watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), _abort, args=(connection, aborted))
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.putrequest("GET", vetted.target, skip_accept_encoding=True)
            for name, value in (("Range", "bytes=0-0"), ("User-Agent", USER_AGENT), ("Accept", "*/*"), ("Accept-Encoding", "identity")):
                connection.putheader(name, value)
            connection.endheaders()
            response = connection.getresponse()
            headers = {k.lower(): v for k, v in response.getheaders()}
            body = response.read(MAX_BODY_BYTES) if response.status >= 300 else b""
            if aborted.is_set():  # what was read before the cut is not the server's whole answer
                return _at(_network_failure(vetted.host, TimeoutError(), timeout), address)
            return _at(interpret(response.status, headers, body), address)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            late = time.monotonic() >= deadline
            return _at(_network_failure(vetted.host, TimeoutError() if late else exc, timeout), address)
        finally:
            watchdog.cancel()
            connection.close()
    if failure is None and time.monotonic() >= deadline:
        failure = TimeoutError()
    return _network_failure(vetted.host, failure or OSError("no address answered"), timeout)


def _abort(connection: http.client.HTTPConnection, aborted: threading.Event) -> None:
    aborted.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _at(result: ProbeResult, address: str) -> ProbeResult:
    return replace(result, address=address)


def _network_failure(host: str, reason: object, timeout: float) -> ProbeResult:
    if isinstance(reason, (TimeoutError, socket.timeout)) or "timed out" in str(reason).lower():
        why = f"did not answer within {timeout:g} seconds"
    elif isinstance(reason, ssl.SSLError):
        why = "refused the TLS handshake (certificate or protocol problem)"
    elif isinstance(reason, ConnectionRefusedError):
        why = "refused the connection"
    else:
        why = f"could not be reached ({reason.__class__.__name__})"
    return ProbeResult(
        status=None,
        code=None,
        message=_plain(str(reason)) or None,
        meaning=f"The probe got no answer: {host} {why}; the customer's network may differ from the desk's, so this says nothing about the link itself.",
    )


def _plain(text: str) -> str:
    """The server's words on one line, bounded: they are shown, never interpreted."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= MAX_MESSAGE_CHARS else flat[: MAX_MESSAGE_CHARS - 1] + "…"


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
    return {child.tag.rpartition("}")[2]: _plain(child.text or "") for child in root}


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
    if 300 <= status < 400 and code in ("PermanentRedirect", "TemporaryRedirect", "Redirect"):
        return result(
            f"S3 says the bucket must be asked at another endpoint ({code}): the link names the wrong region or endpoint, "
            "so it does not work as sent; re-issue it."
        )
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
