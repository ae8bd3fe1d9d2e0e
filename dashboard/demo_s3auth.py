"""The embedded demo's S3 checks presigned requests as S3 does, before moto answers them.

moto serves every presigned URL, expired or forged (PLATFORM.md), so a demo
built on it contradicts the desk: a link the desk calls dead downloads.
`QueryAuthMiddleware` wraps moto's WSGI app and checks every request that
is authenticated by query string (SigV4 `X-Amz-*`, SigV2
`AWSAccessKeyId`/`Signature`/`Expires`) against the secrets the demo's IAM
and STS hold (`demo_keyring`), answering S3's own XML errors.  Requests
authenticated by an `Authorization` header (the desk's listing, HEAD, IAM
and STS calls) and anonymous ones pass untouched: moto handles them as
before.  Bucket policies, ACLs and IAM permissions are *not* evaluated.

The order of the checks follows what S3 answers when several fail at once.
Observed S3 answers, pinned by an S3-compatibility suite's tests (an
"X-Amz-Date" that conflicts with the signed one gets "Request has expired",
not a signature error; an `X-Amz-Expires` of 0 is "Request has expired",
over 604800 is a 400 `AuthorizationQueryParametersError`; a static key with
a signed token gets `InvalidToken` only once its signature matched; a bad
signature with such a token gets `SignatureDoesNotMatch`), and the bodies
quoted in public issues (aws/aws-sdk-js#3493 expired SigV2, minio/minio#2638
"Request is not yet valid", craftcms/aws-s3#182 `ExpiredToken` with
`Token-0`, minio/minio#2986 `SignatureDoesNotMatch`, noobaa-core#8873
negative `X-Amz-Expires`), give this order:

1. the parameters themselves (400 `AuthorizationQueryParametersError`);
2. the URL's own validity window: expired (403 "Request has expired"), or
   signed more than 15 minutes in the future (403 "Request is not yet
   valid"; clients whose clocks run less ahead still work,
   aws/aws-sdk-js#4513).  Time comes before any key is looked up, so a link
   whose session *and* window have both ended answers "Request has
   expired", as S3 does;
3. the credential scope (date, region, service);
4. the key: unknown or deactivated (403 `InvalidAccessKeyId`); for a
   session, a missing token is an unknown key, another session's token is
   400 `InvalidToken`, an ended session is 400 `ExpiredToken` (S3 needs the
   session to know the secret, so it judges the token before the
   signature);
5. the signature (403 `SignatureDoesNotMatch`, echoing the string to sign
   as S3 does);
6. a token on a long-term key (400 `InvalidToken`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from dashboard.demo_keyring import Credential, Keyring

__all__ = ["QueryAuthChecker", "QueryAuthMiddleware", "Refusal", "S3Request", "error_xml"]

MAX_EXPIRES = 604_800  # seconds: SigV4's limit (FACTS.md)
#: How far in the future a signing time may be before S3 calls the request not yet valid.
FUTURE_SKEW = timedelta(minutes=15)
ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_V4_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders", "X-Amz-Expires")
_V2_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")
_AMZ_DATE = re.compile(r"\d{8}T\d{6}Z")
#: SigV2's sub-resources: the query parameters its string to sign includes (botocore's list, S3's documented one).
_V2_SUBRESOURCES = frozenset(
    """accelerate acl cors defaultObjectAcl location logging partNumber policy requestPayment torrent versioning
    versionId versions website uploads uploadId response-content-type response-content-language response-expires
    response-cache-control response-content-disposition response-content-encoding delete lifecycle tagging restore
    storageClass notification replication analytics metrics inventory select select-type object-lock""".split()
)
_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-][a-z0-9-]+)*\.amazonaws\.com(?::\d+)?$")


@dataclass(frozen=True)
class S3Request:
    """The parts of an HTTP request that query-string authentication covers, as they arrived."""

    method: str
    raw_path: str  # percent-encoded, as sent
    raw_query: str  # as sent, without the '?'
    headers: Mapping[str, str]  # lower-case names

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> S3Request:
        target = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        if "://" in target.partition("?")[0]:  # absolute form: drop scheme and authority
            target = "/" + target.partition("://")[2].partition("/")[2]
        path, _, query = target.partition("?")
        if not target:
            path, query = quote(str(environ.get("PATH_INFO", ""))), str(environ.get("QUERY_STRING", ""))
        headers = {name[5:].replace("_", "-").lower(): str(value) for name, value in environ.items() if name.startswith("HTTP_")}
        for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(name):
                headers[name.replace("_", "-").lower()] = str(environ[name])
        return cls(method=str(environ.get("REQUEST_METHOD", "GET")).upper(), raw_path=path or "/", raw_query=query, headers=headers)

    def pairs(self) -> list[tuple[str, str]]:
        """Every query parameter, decoded, in order (repeats kept)."""
        found = []
        for piece in self.raw_query.split("&"):
            if piece:
                name, _, value = piece.partition("=")
                found.append((unquote(name), unquote(value)))
        return found

    def params(self) -> dict[str, str]:
        """The first value of each parameter: S3 reads the first of repeated auth parameters."""
        first: dict[str, str] = {}
        for name, value in self.pairs():
            first.setdefault(name, value)
        return first


@dataclass(frozen=True)
class Refusal:
    """S3's answer to a request it refuses: status, error code, message and the code's own elements."""

    status: int
    code: str
    message: str
    details: tuple[tuple[str, str], ...] = ()


def error_xml(refusal: Refusal, request_id: str, host_id: str) -> bytes:
    """S3's error document, element for element as S3 writes it (one line, no indentation)."""
    parts = [f"<Code>{escape(refusal.code)}</Code>", f"<Message>{escape(refusal.message)}</Message>"]
    parts += [f"<{name}>{escape(value)}</{name}>" for name, value in refusal.details]
    parts += [f"<RequestId>{request_id}</RequestId>", f"<HostId>{host_id}</HostId>"]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>").encode()


def _iso(moment: datetime) -> str:
    return f"{moment.astimezone(timezone.utc):%Y-%m-%dT%H:%M:%SZ}"


def _signature_mismatch(key_id: str, string_to_sign: str, provided: str, *more: tuple[str, str]) -> Refusal:
    """S3's SignatureDoesNotMatch, with the details its error document carries (SigV4 adds the canonical request)."""
    return Refusal(
        403,
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
        (
            ("AWSAccessKeyId", key_id),
            ("StringToSign", string_to_sign),
            ("SignatureProvided", provided),
            ("StringToSignBytes", _hex_bytes(string_to_sign)),
            *more,
        ),
    )


def _hex_bytes(text: str) -> str:
    return " ".join(f"{byte:02x}" for byte in text.encode())


def _query_error(message: str, *details: tuple[str, str]) -> Refusal:
    return Refusal(400, "AuthorizationQueryParametersError", message, details)


def _uri_encode(text: str, safe: str = "") -> str:
    """AWS's UriEncode: everything but A-Z a-z 0-9 - _ . ~ (and `safe`) as %XY of its UTF-8 bytes."""
    return quote(text, safe=safe)


def _now_utc() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class QueryAuthChecker:
    """Judges one query-authenticated request as S3 would; `clock` is injectable for tests."""

    keyring: Keyring
    region: str = "us-east-1"
    clock: Callable[[], datetime] = field(default=_now_utc)

    def kind(self, request: S3Request) -> str | None:
        """'v4', 'v2' or None (not authenticated by query string)."""
        names = {name for name, _ in request.pairs()}
        if names & set(_V4_PARAMS[:3]) or "X-Amz-Date" in names and "X-Amz-Expires" in names:
            return "v4"
        if names & {"AWSAccessKeyId", "Signature"}:
            return "v2"
        return None

    def check(self, request: S3Request) -> Refusal | None:
        """None when S3 would go on to serve the request; else S3's refusal."""
        kind = self.kind(request)
        if kind is None:
            return None
        if "authorization" in request.headers:
            return Refusal(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string "
                "parameter or the Authorization header should be specified",
                (("ArgumentName", "Authorization"), ("ArgumentValue", request.headers["authorization"])),
            )
        now = self.clock()
        return self._check_v4(request, now) if kind == "v4" else self._check_v2(request, now)

    # -- SigV4 -----------------------------------------------------------------------

    def _check_v4(self, request: S3Request, now: datetime) -> Refusal | None:
        params = request.params()
        if any(not params.get(name) for name in _V4_PARAMS):
            return _query_error(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, "
                "X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
        if params["X-Amz-Algorithm"] != ALGORITHM:
            return _query_error(f'X-Amz-Algorithm only supports "{ALGORITHM}"')
        scope = params["X-Amz-Credential"].split("/")
        if len(scope) != 5 or not scope[0]:
            return _query_error(
                'Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting '
                '"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        key_id, day, region, service, terminal = scope
        stamp = params["X-Amz-Date"]
        if not _AMZ_DATE.fullmatch(stamp):
            return _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        try:
            signed_at = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return _query_error("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
        raw_expires = params["X-Amz-Expires"]
        if not re.fullmatch(r"-?\d+", raw_expires):
            return _query_error("X-Amz-Expires should be a number")
        expires = int(raw_expires)
        if expires < 0:
            return _query_error("X-Amz-Expires must be non-negative")
        if expires > MAX_EXPIRES:
            return _query_error(
                "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less "
                f"than {MAX_EXPIRES} seconds"
            )
        ends = signed_at + timedelta(seconds=expires)
        if now > ends:
            return Refusal(
                403,
                "AccessDenied",
                "Request has expired",
                (("X-Amz-Expires", raw_expires), ("Expires", _iso(ends)), ("ServerTime", _iso(now))),
            )
        if signed_at > now + FUTURE_SKEW:
            return Refusal(
                403,
                "AccessDenied",
                "Request is not yet valid",
                # S3 echoes the signing time in epoch milliseconds here (minio/minio#2638).
                (("X-Amz-Date", str(int(signed_at.timestamp()) * 1000)), ("Expires", _iso(ends)), ("ServerTime", _iso(now))),
            )
        if day != stamp[:8]:
            return _query_error("Invalid credential date. Date is not the same as X-Amz-Date.")
        if region != self.region:
            return _query_error(
                f"Error parsing the X-Amz-Credential parameter; the region '{region}' is wrong; expecting '{self.region}'",
                ("Region", self.region),
            )
        if service != "s3":
            return _query_error(f'Error parsing the X-Amz-Credential parameter; incorrect service "{service}". This endpoint belongs to "s3".')
        if terminal != "aws4_request":
            return _query_error(
                f'Error parsing the X-Amz-Credential parameter; incorrect terminal "{terminal}". This endpoint uses "aws4_request".'
            )
        signed_headers = params["X-Amz-SignedHeaders"].lower().split(";")
        if unsigned := self._unsigned_headers(request, signed_headers):
            return Refusal(
                403, "AccessDenied", "There were headers present in the request which were not signed", (("HeadersNotSigned", ", ".join(unsigned)),)
            )
        token = params.get("X-Amz-Security-Token")
        credential, refusal = self._credential(key_id, token, now)
        if refusal is not None:
            return refusal
        assert credential is not None
        canonical = "\n".join(
            [
                request.method,
                _uri_encode(unquote(request.raw_path), safe="/"),
                self._canonical_query(request),
                "".join(f"{name}:{self._header_value(request, name)}\n" for name in signed_headers),
                ";".join(signed_headers),
                request.headers.get("x-amz-content-sha256") or params.get("X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD,
            ]
        )
        string_to_sign = "\n".join([ALGORITHM, stamp, "/".join(scope[1:]), hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + credential.secret_access_key).encode()
        for part in (day, region, service, terminal):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        provided = params["X-Amz-Signature"]
        if not hmac.compare_digest(expected, provided.lower()):
            return _signature_mismatch(key_id, string_to_sign, provided, ("CanonicalRequest", canonical), ("CanonicalRequestBytes", _hex_bytes(canonical)))
        if token and not credential.temporary:
            return _invalid_token(token)
        return None

    @staticmethod
    def _canonical_query(request: S3Request) -> str:
        pairs = [(_uri_encode(name), _uri_encode(value)) for name, value in request.pairs() if name != "X-Amz-Signature"]
        return "&".join(f"{name}={value}" for name, value in sorted(pairs))

    @staticmethod
    def _header_value(request: S3Request, name: str) -> str:
        return " ".join(request.headers.get(name, "").split())

    @staticmethod
    def _unsigned_headers(request: S3Request, signed: list[str]) -> list[str]:
        """Headers S3 insists are signed: host, and every x-amz-* one but the payload hash."""
        missing = [] if "host" in signed else ["host"]
        missing += sorted(
            name for name in request.headers if name.startswith("x-amz-") and name != "x-amz-content-sha256" and name not in signed
        )
        return missing

    # -- SigV2 -----------------------------------------------------------------------

    def _check_v2(self, request: S3Request, now: datetime) -> Refusal | None:
        params = request.params()
        if any(not params.get(name) for name in _V2_PARAMS):
            return Refusal(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
        raw_expires = params["Expires"]
        if not raw_expires.isdigit():
            return Refusal(403, "AccessDenied", f"Invalid date (should be seconds since epoch): {raw_expires}")
        ends = datetime.fromtimestamp(int(raw_expires), timezone.utc)
        if now > ends:
            return Refusal(403, "AccessDenied", "Request has expired", (("Expires", _iso(ends)), ("ServerTime", _iso(now))))
        key_id = params["AWSAccessKeyId"]
        token = next((value for name, value in request.pairs() if name.lower() == "x-amz-security-token"), None)
        credential, refusal = self._credential(key_id, token, now)
        if refusal is not None:
            return refusal
        assert credential is not None
        string_to_sign = self._v2_string_to_sign(request, raw_expires)
        expected = base64.b64encode(hmac.new(credential.secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()).decode()
        provided = params["Signature"]
        if not hmac.compare_digest(expected, provided):
            return _signature_mismatch(key_id, string_to_sign, provided)
        if token and not credential.temporary:
            return _invalid_token(token)
        return None

    @staticmethod
    def _v2_string_to_sign(request: S3Request, expires: str) -> str:
        pairs = request.pairs()
        queried = {name.lower(): value for name, value in reversed(pairs)}  # first value wins
        amz: dict[str, list[str]] = {}
        for name, value in pairs:  # botocore moves x-amz-* headers into the query of a presigned URL
            if name.lower().startswith("x-amz-"):
                amz.setdefault(name.lower(), []).append(value.strip())
        for name, value in request.headers.items():
            if name.startswith("x-amz-"):
                amz.setdefault(name, []).append(value.strip())
        lines = [
            request.method,
            queried.get("content-md5", request.headers.get("content-md5", "")),
            queried.get("content-type", request.headers.get("content-type", "")),
            expires,
        ]
        lines += [f"{name}:{','.join(values)}" for name, values in sorted(amz.items())]
        resource = request.raw_path
        if found := _VIRTUAL_HOST.match(request.headers.get("host", "")):
            resource = "/" + found["bucket"] + resource
        subresources = sorted(
            (name, value, "=" in piece)
            for piece in request.raw_query.split("&")
            if (name := unquote(piece.partition("=")[0])) in _V2_SUBRESOURCES
            for value in [unquote(piece.partition("=")[2])]
        )
        if subresources:
            resource += "?" + "&".join(f"{name}={value}" if has_value else name for name, value, has_value in subresources)
        return "\n".join([*lines, resource])

    # -- keys and sessions -----------------------------------------------------------------

    def _credential(self, key_id: str, token: str | None, now: datetime) -> tuple[Credential | None, Refusal | None]:
        credential = self.keyring(key_id)
        unknown = Refusal(
            403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.", (("AWSAccessKeyId", key_id),)
        )
        if credential is None or not credential.active:
            return None, unknown
        if credential.temporary:
            if not token:
                return None, unknown  # a session's key means nothing without its token
            if not hmac.compare_digest(token.encode(), (credential.session_token or "").encode()):
                return None, _invalid_token(token)
            if credential.expires_at is not None and now >= credential.expires_at:
                return None, Refusal(400, "ExpiredToken", "The provided token has expired.", (("Token-0", token),))
        return credential, None


def _invalid_token(token: str) -> Refusal:
    return Refusal(400, "InvalidToken", "The provided token is malformed or otherwise invalid.", (("Token-0", token),))


def _request_id() -> str:
    return secrets.token_hex(8).upper()


def _host_id() -> str:
    return base64.b64encode(secrets.token_bytes(57)).decode()


class QueryAuthMiddleware:
    """WSGI: check query-authenticated requests, refuse as S3 does, hand everything else to `app`."""

    def __init__(self, app: Callable[..., Iterable[bytes]], checker: QueryAuthChecker) -> None:
        self.app = app
        self.checker = checker

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = S3Request.from_environ(environ)
        refusal = self.checker.check(request)
        if refusal is None:
            return self.app(environ, start_response)
        request_id, host_id = _request_id(), _host_id()
        body = error_xml(refusal, request_id, host_id)
        reason = {400: "Bad Request", 403: "Forbidden"}.get(refusal.status, "Error")
        head = request.method == "HEAD"  # S3 answers HEAD with the status and headers only
        start_response(
            f"{refusal.status} {reason}",
            [
                ("Content-Type", "application/xml"),
                ("Content-Length", "0" if head else str(len(body))),
                ("x-amz-request-id", request_id),
                ("x-amz-id-2", host_id),
                ("Server", "AmazonS3"),
            ],
        )
        return _once(b"" if head else body)


def _once(body: bytes) -> Iterator[bytes]:
    yield body
