"""`cloudfront`: a CloudFront signed URL made with a key-group private key.

No AWS credentials are involved, so nothing cuts the link short but its own
policy: canned (`Expires`) by default, custom (`Policy`) when a start time or
an IP range is asked.  The desk caps the lifetime it will sign for.

`SHAREDESK_CLOUDFRONT_DOMAIN` is a distribution's domain (links are
`https://<domain>/<key>`) or a whole base URL such as the embedded demo's
loopback edge, `http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import ipaddress
import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.signers import CloudFrontSigner
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from dashboard.desk import Desk
from dashboard.errors import NotAllowed, NotConfigured
from dashboard.expiry import Caps, CredentialFacts, CredentialKind
from dashboard.store import fingerprint
from dashboard.strategies.base import Preview, ShareRequest, Signed, expiry_for, lifetime_refusal, preview_from
from dashboard.strategies.s3links import content_disposition
from dashboard.urlparse import strip_secrets


def base_url(domain: str) -> str | None:
    """Where links start: `https://<domain>` for a bare domain, a base URL as given; None if it is neither."""
    text = domain.strip()
    if "://" not in text:
        text = f"https://{text}"
    text = text.rstrip("/")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return text


class CloudFront:
    name = "cloudfront"
    title = "CloudFront signed URL"
    risk = "Cannot be revoked one by one: only rotating the key pair ends it early."
    risk_rank = 3

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._lock = threading.Lock()
        self._signer: CloudFrontSigner | None = None

    @property
    def cap(self) -> timedelta:
        return timedelta(days=self.desk.settings.cloudfront_max_days)

    def _problem(self, request: ShareRequest) -> str | None:
        return self._configuration_problem() or self._request_problem(request)

    def _configuration_problem(self) -> str | None:
        settings = self.desk.settings
        if not (settings.cloudfront_domain and settings.cloudfront_key_pair_id and settings.cloudfront_private_key):
            return (
                "CloudFront is not configured: set SHAREDESK_CLOUDFRONT_DOMAIN, SHAREDESK_CLOUDFRONT_KEY_PAIR_ID "
                "and SHAREDESK_CLOUDFRONT_PRIVATE_KEY."
            )
        if base_url(settings.cloudfront_domain) is None:
            return (
                f"SHAREDESK_CLOUDFRONT_DOMAIN {settings.cloudfront_domain!r} is neither a domain nor an http(s) base URL: "
                "set it to the distribution's domain (such as d111111abcdef8.cloudfront.net) or a URL like https://cdn.example.com."
            )
        return None

    def _request_problem(self, request: ShareRequest) -> str | None:
        settings = self.desk.settings
        if problem := lifetime_refusal(request):
            return problem
        if request.ip_range:
            try:
                ipaddress.ip_network(request.ip_range, strict=False)
            except ValueError:
                return f"{request.ip_range!r} is not an IP address or range: use one like 203.0.113.0/24."
        if request.lifetime > self.cap:
            return f"The desk signs CloudFront links for at most {settings.cloudfront_max_days} days: ask for less."
        return None

    def _credentials(self) -> CredentialFacts:
        return CredentialFacts(
            kind=CredentialKind.LONG_TERM,
            method="cloudfront-key-pair",
            access_key_id=self.desk.settings.cloudfront_key_pair_id,
            label="the CloudFront key pair",
        )

    def preview(self, request: ShareRequest, now: datetime) -> Preview:
        if problem := self._problem(request):
            return preview_from(self, unavailable=problem)
        return preview_from(self, expiry_for(self.name, request, now, self._credentials(), Caps(max_lifetime=self.cap)))

    def signer(self) -> CloudFrontSigner:
        with self._lock:
            if self._signer is None:
                pem = (self.desk.settings.cloudfront_private_key or "").encode()
                try:
                    key: Any = serialization.load_pem_private_key(pem, password=None)
                except (ValueError, TypeError):
                    raise NotConfigured(
                        "SHAREDESK_CLOUDFRONT_PRIVATE_KEY is not a readable, unencrypted PEM private key: check the key."
                    ) from None

                def rsa_signer(message: bytes) -> bytes:
                    return bytes(key.sign(message, padding.PKCS1v15(), hashes.SHA1()))  # CloudFront requires SHA-1

                self._signer = CloudFrontSigner(self.desk.settings.cloudfront_key_pair_id, rsa_signer)
            return self._signer

    def sign(self, request: ShareRequest, now: datetime) -> Signed:
        if problem := self._configuration_problem():
            raise NotConfigured(problem)
        if problem := self._request_problem(request):
            raise NotAllowed(problem)
        signed_at = now.astimezone(timezone.utc).replace(microsecond=0)
        expires = signed_at + request.lifetime
        url = f"{base_url(self.desk.settings.cloudfront_domain or '')}/{quote(request.key, safe='/~')}"
        if request.filename:
            url += "?response-content-disposition=" + quote(content_disposition(request.filename), safe="")
        signer = self.signer()
        if request.not_before or request.ip_range:
            policy = signer.build_policy(url, expires, date_greater_than=request.not_before, ip_address=request.ip_range)
            signed_url = signer.generate_presigned_url(url, policy=policy)
        else:
            signed_url = signer.generate_presigned_url(url, date_less_than=expires)
        signature = signed_url.rpartition("Signature=")[2].partition("&")[0]
        expiry = expiry_for(self.name, request, signed_at, self._credentials(), Caps(max_lifetime=self.cap))
        return Signed(
            url=signed_url,
            expiry=expiry,
            credentials=self._credentials(),
            fingerprint=fingerprint(signature),
            display_url=strip_secrets(signed_url),
        )


def build(desk: Desk) -> CloudFront:
    return CloudFront(desk)
