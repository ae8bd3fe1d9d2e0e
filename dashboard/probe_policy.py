"""Which servers the live probe may ask, and at which address: the link's own kind of server, never the desk's own network.

A pasted link is outside text: anyone can craft one that looks signed and
points at ``169.254.169.254`` (the EC2 and ECS credential endpoints), at the
desk's database, or at an internal admin page. So before the probe sends a
byte:

1. the host must be the link's own kind of server: AWS S3's documented host
   names or the desk's configured S3 endpoint for S3 links; ``*.cloudfront.net``
   or the configured CloudFront domain for CloudFront links; the desk's own
   stable-link base for stable links;
2. the name is resolved once, here, and every address it resolves to must be
   publicly routable, unless the host is one the desk is configured to talk
   to (a MinIO on the private network, the embedded demo on loopback);
3. the probe then connects to an address vetted here (not to the name again,
   so DNS cannot answer differently between the check and the connection),
   sending the link's own host name as ``Host`` and as TLS SNI.

A refusal is a :class:`ProbeRefused` carrying one sentence; nothing is sent.
The resolver is a parameter so tests of public names never leave loopback.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dashboard.urlparse import LinkKind, is_aws_s3_host

if TYPE_CHECKING:
    from dashboard.config import Settings

__all__ = ["Origin", "ProbeRefused", "Resolver", "Targets", "Vetted", "system_resolver", "vet"]

#: ``(host, port) -> addresses``; raises OSError (socket.gaierror) when the name does not resolve.
Resolver = Callable[[str, int], Sequence[str]]

RESOLVE_TIMEOUT_SECONDS = 3.0
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")


class ProbeRefused(Exception):
    """The probe will not ask this server; the message is one sentence and nothing was sent."""


@dataclass(frozen=True)
class Origin:
    """A scheme, host and port the desk is configured to talk to."""

    scheme: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str | None) -> Origin | None:
        """``https://minio.internal:9000``, or a bare domain (``d111.cloudfront.net``, taken as https)."""
        raw = (text or "").strip()
        if not raw:
            return None
        if "://" not in raw:
            raw = "https://" + raw
        try:
            parts = urlsplit(raw)
            scheme = parts.scheme.lower()
            port = parts.port or _DEFAULT_PORTS.get(scheme)
            host = _normal(parts.hostname or "")
        except ValueError:
            return None
        if scheme not in _DEFAULT_PORTS or not host or port is None:
            return None
        return cls(scheme, host, port)

    def serves(self, host: str, port: int) -> bool:
        return (self.host, self.port) == (host, port)

    def __str__(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == _DEFAULT_PORTS[self.scheme] else f"{shown}:{self.port}"


@dataclass(frozen=True)
class Targets:
    """The servers of the desk's own configuration, which the probe may ask wherever they are."""

    s3_endpoint: Origin | None = None
    cloudfront: Origin | None = None
    stable_base: Origin | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Targets:
        return cls(
            s3_endpoint=Origin.parse(settings.endpoint_url),
            cloudfront=Origin.parse(settings.cloudfront_domain),
            stable_base=Origin.parse(settings.public_base_url),
        )


@dataclass(frozen=True)
class Vetted:
    """Where the probe may connect: the addresses checked here, and the names to send."""

    scheme: str
    host: str  # the link's host name: the Host header and the TLS server name
    port: int
    addresses: tuple[str, ...]
    target: str  # path and query, as the link has them


def system_resolver(host: str, port: int) -> list[str]:
    """The system's resolver, bounded in time (``getaddrinfo`` itself has no timeout)."""
    answer: list[str] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            answer.extend(str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=work, name="probe-resolve", daemon=True)
    thread.start()
    thread.join(RESOLVE_TIMEOUT_SECONDS)
    if thread.is_alive():
        raise TimeoutError(f"resolving {host} took more than {RESOLVE_TIMEOUT_SECONDS:g} seconds")
    if failure:
        raise failure[0]
    return list(dict.fromkeys(answer))


def vet(url: str, targets: Targets, kind: LinkKind | None = None, *, resolver: Resolver | None = None) -> Vetted:
    """Check that ``url`` may be probed and resolve it; raise :class:`ProbeRefused` with a sentence otherwise."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme)
        host = _normal(parts.hostname or "")
    except ValueError:
        raise ProbeRefused("The link's host or port is malformed, so it was not probed: paste the link exactly as it was sent.") from None
    if scheme not in _DEFAULT_PORTS or not host or port is None:
        raise ProbeRefused("Only http:// and https:// links can be probed: paste the link the customer received.")
    configured = _configured_for(host, port, targets, kind)
    if configured is None and not _own_kind(host, port, kind):
        raise ProbeRefused(
            f"The probe only asks {_whom(targets, kind)}, and this link points at {_shown(host, port, scheme)}: nothing was sent."
        )
    addresses = _resolve(host, port, resolver or system_resolver)
    if configured is None:
        for address in addresses:
            why = non_global(address)
            if why:
                raise ProbeRefused(
                    f"{_shown(host, port, scheme)} resolves to {address}, {why}, which the probe never asks unless it is the "
                    "desk's own configured endpoint: nothing was sent."
                )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Vetted(scheme, host, port, tuple(addresses), target)


def non_global(address: str) -> str | None:
    """Why an address is not on the public internet ("a loopback address", ...), or None when it is."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            inner = non_global(str(embedded))
            if inner:
                return f"{inner} written as IPv6"
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata and credential services answer)"
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_private:
        return "a private-network address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED:
        return "a carrier-grade NAT address"
    if ip.is_reserved or not ip.is_global:
        return "an address that is not publicly routable"
    return None


def _normal(host: str) -> str:
    return host.rstrip(".").lower()


def _configured_for(host: str, port: int, targets: Targets, kind: LinkKind | None) -> Origin | None:
    """The configured origin serving this host and port, among those of the link's kind."""
    candidates: list[Origin | None]
    if kind in (LinkKind.S3_SIGV4, LinkKind.S3_SIGV2):
        candidates = [targets.s3_endpoint]
    elif kind is LinkKind.CLOUDFRONT:
        candidates = [targets.cloudfront]
    elif kind is LinkKind.STABLE:
        candidates = [targets.stable_base]
    else:
        candidates = [targets.s3_endpoint, targets.cloudfront, targets.stable_base]
    return next((origin for origin in candidates if origin is not None and origin.serves(host, port)), None)


def _own_kind(host: str, port: int, kind: LinkKind | None) -> bool:
    """AWS's own public names for the link's kind (which serve on the standard ports only)."""
    if port not in (80, 443) or _is_ip(host):
        return False
    s3 = is_aws_s3_host(host)
    cloudfront = host.endswith(".cloudfront.net")
    if kind in (LinkKind.S3_SIGV4, LinkKind.S3_SIGV2):
        return s3
    if kind is LinkKind.CLOUDFRONT:
        return cloudfront
    if kind is LinkKind.STABLE:
        return False
    return s3 or cloudfront


def _whom(targets: Targets, kind: LinkKind | None) -> str:
    """The servers the probe would ask for this kind of link, in words."""
    s3 = "S3 itself (*.amazonaws.com)" + (f" or the desk's S3 endpoint {targets.s3_endpoint}" if targets.s3_endpoint else "")
    cloudfront = "CloudFront (*.cloudfront.net)" + (f" or the desk's CloudFront domain {targets.cloudfront}" if targets.cloudfront else "")
    stable = f"the desk's own stable-link address {targets.stable_base}" if targets.stable_base else "the desk's own stable-link address (none is configured)"
    if kind in (LinkKind.S3_SIGV4, LinkKind.S3_SIGV2):
        return f"the server of an S3 link, {s3}"
    if kind is LinkKind.CLOUDFRONT:
        return f"the server of a CloudFront link, {cloudfront}"
    if kind is LinkKind.STABLE:
        return f"the server of a stable link, {stable}"
    return f"{s3}, {cloudfront} or {stable}"


def _shown(host: str, port: int, scheme: str) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == _DEFAULT_PORTS.get(scheme) else f"{name}:{port}"


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _resolve(host: str, port: int, resolver: Resolver) -> list[str]:
    if _is_ip(host):
        return [host]
    try:
        addresses = [str(a) for a in resolver(host, port)]
    except (OSError, TimeoutError, UnicodeError, ValueError):
        addresses = []
    if not addresses:
        raise ProbeRefused(f"The probe could not resolve {host}, so nothing was sent: check the link's host name, or the desk's DNS.")
    return addresses
