"""The embedded demo's CloudFront: a loopback edge in front of the demo S3, as strict as CloudFront.

No browser here can reach a `*.cloudfront.net` name, so the demo's CloudFront
links point at this edge instead (`http://127.0.0.1:PORT/<key>`).  It checks
a signed URL the way CloudFront does for a behaviour that restricts viewer
access to a trusted key group: the RSA-SHA1 signature against the demo key
pair (`demo_keys`), then the canned policy (`Expires`) or the custom one
(`DateLessThan`, `DateGreaterThan`, `IpAddress` against the client address,
a `Resource` with `*` and `?` wildcards).  A refusal is CloudFront's own 403
document (`MissingKey` "Missing Key-Pair-Id query parameter or cookie
value" and `InvalidKey` "Unknown Key" as AWS's troubleshooting guide names
them, `MalformedPolicy` "Malformed Policy" as aws/aws-sdk-js#2236 quotes it,
`AccessDenied` "Access denied" for a signature or condition that fails).
A request that passes is fetched from the demo S3 with a SigV4-signed
request, as an origin access control does, forwarding `Range` and the
`response-*` overrides (so `response-content-disposition` names the
download, as an origin request policy that forwards them would); the
origin's answer, errors included, goes back as CloudFront passes it through.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["CloudFrontEdge", "EdgeRefusal", "S3Origin", "canned_policy"]

SIGNING_PARAMS = frozenset({"Expires", "Policy", "Signature", "Key-Pair-Id"})
#: Headers of the origin's answer that CloudFront hands to the viewer.
_PASSED_HEADERS = (
    "Content-Type", "Content-Length", "Content-Range", "Content-Disposition", "Content-Encoding", "Content-Language",
    "Cache-Control", "Expires", "ETag", "Last-Modified", "Accept-Ranges",
)  # fmt: skip
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class EdgeRefusal:
    code: str
    message: str


ACCESS_DENIED = EdgeRefusal("AccessDenied", "Access denied")
MISSING_KEY = EdgeRefusal("MissingKey", "Missing Key-Pair-Id query parameter or cookie value")
UNKNOWN_KEY = EdgeRefusal("InvalidKey", "Unknown Key")
MALFORMED_POLICY = EdgeRefusal("MalformedPolicy", "Malformed Policy")


def canned_policy(resource: str, expires: int) -> str:
    """The policy a canned signed URL stands for, byte for byte as CloudFront (and botocore) write it."""
    return json.dumps({"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expires}}}]}, separators=(",", ":"))


def _cloudfront_b64decode(text: str) -> bytes:
    """CloudFront's URL-safe base64: '-' for '+', '_' for '=', '~' for '/'."""
    return base64.b64decode(text.translate(str.maketrans("-_~", "+=/")), validate=True)


def _wildcard(pattern: str) -> re.Pattern[str]:
    """A policy Resource: '*' matches any run of characters (none included), '?' exactly one."""
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern), re.DOTALL)


def _epoch(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("AWS:EpochTime must be a whole number of seconds")
    return value


@dataclass(frozen=True)
class _Policy:
    resource: str | None
    date_less_than: int
    date_greater_than: int | None = None
    source_ip: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None


def _parse_policy(document: bytes) -> _Policy:
    """A custom policy's one statement; ValueError (CloudFront's MalformedPolicy) for anything else."""
    try:
        parsed = json.loads(document)
        (statement,) = parsed["Statement"]
        condition = statement["Condition"]
        resource = statement.get("Resource")
        if resource is not None and not isinstance(resource, str):
            raise ValueError("Resource must be a string")
        ip = condition.get("IpAddress", {}).get("AWS:SourceIp") if "IpAddress" in condition else None
        if "IpAddress" in condition and not isinstance(ip, str):
            raise ValueError("IpAddress needs AWS:SourceIp")
        greater = condition["DateGreaterThan"]["AWS:EpochTime"] if "DateGreaterThan" in condition else None
        return _Policy(
            resource=resource,
            date_less_than=_epoch(condition["DateLessThan"]["AWS:EpochTime"]),
            date_greater_than=None if greater is None else _epoch(greater),
            source_ip=None if ip is None else ipaddress.ip_network(ip, strict=False),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class EdgeRequest:
    method: str
    scheme: str
    host: str
    raw_path: str
    raw_query: str
    client_ip: str
    range: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> EdgeRequest:
        target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "/")
        if "://" in target.partition("?")[0]:
            target = "/" + target.partition("://")[2].partition("/")[2]
        path, _, query = target.partition("?")
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            scheme=str(environ.get("wsgi.url_scheme", "http")),
            host=str(environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")),
            raw_path=path or "/",
            raw_query=query,
            client_ip=str(environ.get("REMOTE_ADDR", "")),
            range=environ.get("HTTP_RANGE"),
        )

    def params(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for piece in self.raw_query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                found.setdefault(unquote(name), unquote(value))
        return found

    def other_params(self) -> list[str]:
        """The query's pieces that are not CloudFront's signing parameters, raw and in order."""
        return [piece for piece in self.raw_query.split("&") if piece and unquote(piece.partition("=")[0]) not in SIGNING_PARAMS]

    @property
    def resource(self) -> str:
        """The URL the signature covers: the request's own, without the signing parameters."""
        kept = self.other_params()
        return f"{self.scheme}://{self.host}{self.raw_path}" + ("?" + "&".join(kept) if kept else "")


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)


class S3Origin:
    """The distribution's origin: the demo S3, one bucket per top-level folder (cache behaviours by path)."""

    def __init__(self, endpoint: str, bucket_for: Callable[[str], str], region: str = "us-east-1") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.bucket_for = bucket_for
        self.region = region
        # The origin access control's signing identity: moto verifies no header signature, the shape is S3's.
        self._credentials = Credentials("AKIADEMOCLOUDFRONTOAC", "demo-cloudfront-origin-access-control")

    def fetch(self, request: EdgeRequest) -> tuple[int, list[tuple[str, str]], Iterator[bytes]]:
        key = unquote(request.raw_path.lstrip("/"))
        forwarded = [piece for piece in request.other_params() if unquote(piece.partition("=")[0]).startswith("response-")]
        url = f"{self.endpoint}/{self.bucket_for(key)}{request.raw_path}" + ("?" + "&".join(forwarded) if forwarded else "")
        headers = {"Range": request.range} if request.range else {}
        signed = AWSRequest(method=request.method, url=url, headers=headers)
        S3SigV4Auth(self._credentials, "s3", self.region).add_auth(signed)
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        connection.request(request.method, parts.path + ("?" + parts.query if parts.query else ""), headers=dict(signed.headers.items()))
        response = connection.getresponse()
        passed = [(name, value) for name in _PASSED_HEADERS if (value := response.getheader(name)) is not None]

        def body() -> Iterator[bytes]:
            try:
                while chunk := response.read(_CHUNK):
                    yield chunk
            finally:
                connection.close()

        return response.status, passed, body()


@dataclass
class CloudFrontEdge:
    """Judges viewer requests as CloudFront does, then serves what the origin answers; `clock` is injectable."""

    trusted_keys: Mapping[str, rsa.RSAPublicKey]
    origin: S3Origin
    clock: Callable[[], datetime] = field(default=_now_utc)
    domain_id: str = field(default_factory=lambda: secrets.token_hex(8))

    def judge(self, request: EdgeRequest) -> EdgeRefusal | None:
        params = request.params()
        key_pair_id = params.get("Key-Pair-Id")
        if not key_pair_id:
            return MISSING_KEY
        public_key = self.trusted_keys.get(key_pair_id)
        if public_key is None:
            return UNKNOWN_KEY
        if "Policy" in params:
            try:
                document = _cloudfront_b64decode(params["Policy"])
                policy = _parse_policy(document)
            except ValueError:
                return MALFORMED_POLICY
        elif "Expires" in params:
            if not re.fullmatch(r"\d+", params["Expires"]):
                return MALFORMED_POLICY
            expires = int(params["Expires"])
            document = canned_policy(request.resource, expires).encode()
            policy = _Policy(resource=request.resource, date_less_than=expires)
        else:
            return ACCESS_DENIED  # nothing says what the signature covers
        try:
            signature = _cloudfront_b64decode(params.get("Signature", ""))
            public_key.verify(signature, document, padding.PKCS1v15(), hashes.SHA1())
        except (ValueError, InvalidSignature):
            return ACCESS_DENIED
        now = int(self.clock().timestamp())
        if now >= policy.date_less_than:
            return ACCESS_DENIED
        if policy.date_greater_than is not None and now < policy.date_greater_than:
            return ACCESS_DENIED
        if policy.source_ip is not None:
            try:
                if ipaddress.ip_address(request.client_ip) not in policy.source_ip:
                    return ACCESS_DENIED
            except ValueError:
                return ACCESS_DENIED
        if policy.resource is not None and not _wildcard(policy.resource).fullmatch(request.resource):
            return ACCESS_DENIED
        return None

    def _edge_headers(self, outcome: str) -> list[tuple[str, str]]:
        return [
            ("X-Cache", f"{outcome} from cloudfront"),
            ("Via", f"1.1 {self.domain_id}.cloudfront.net (CloudFront)"),
            ("X-Amz-Cf-Pop", "LOOPBACK-DEMO"),
            ("X-Amz-Cf-Id", base64.urlsafe_b64encode(secrets.token_bytes(42)).decode()),
        ]

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = EdgeRequest.from_environ(environ)
        refusal = ACCESS_DENIED if request.method not in ("GET", "HEAD") else self.judge(request)
        if refusal is not None:
            body = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>'
            ).encode()
            head = request.method == "HEAD"
            start_response(
                "403 Forbidden",
                [("Content-Type", "text/xml"), ("Content-Length", "0" if head else str(len(body))), *self._edge_headers("Error")],
            )
            return [] if head else [body]
        try:
            status, headers, body_chunks = self.origin.fetch(request)
        except OSError:
            start_response("502 Bad Gateway", [("Content-Type", "text/plain"), *self._edge_headers("Error")])
            return [b"The demo CloudFront could not reach its origin, the demo S3."]
        reason = http.client.responses.get(status, "")
        start_response(f"{status} {reason}", [*headers, *self._edge_headers("Miss" if status < 400 else "Error")])
        return body_chunks
