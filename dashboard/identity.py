"""Who is acting: the verified issuer from OIDC, an AWS ALB's signed header, a trusted proxy, or (demo only) a typed name.

Pure logic, no Streamlit: the UI edge (dashboard/ui/identity.py) hands in what
it read (the OIDC user's claims, the request headers, the typed name) and gets
back an `Identity` or one sentence saying why there is none and how to sign in.

Sources are tried in a fixed order, and a source that is configured and
present but fails verification stops the search: a forged ALB token must
never fall back to a weaker source such as a typed name.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import pwd
import re
import threading
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from dashboard.config import Settings

__all__ = [
    "ALB_HEADER",
    "AlbKeys",
    "Identity",
    "IdentityError",
    "Resolution",
    "Source",
    "cli_identity",
    "named",
    "resolve",
    "verify_alb",
]

#: The header an Application Load Balancer with an `authenticate-oidc` action adds to every request.
ALB_HEADER = "x-amzn-oidc-data"
#: Claims that name the person, most specific first (the issue asks for email, then sub).
NAME_CLAIMS = ("email", "sub")
#: Claims whose values are group names (Entra ID, Okta and Keycloak use `groups`, Cognito `cognito:groups`).
GROUP_CLAIMS = ("groups", "cognito:groups", "roles")
#: ALB key ids are UUIDs; anything else is refused before it can reach a URL or a file name.
_KID_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: Clock skew tolerated on `exp`, in seconds (the ALB and the desk keep NTP time).
LEEWAY = 30
TYPED_MAX = 64


class IdentityError(ValueError):
    """An identity was offered but cannot be trusted; the message is one sentence."""


class Source(StrEnum):
    OIDC = "oidc"
    ALB = "alb"
    PROXY_HEADER = "proxy-header"
    DEMO = "demo"
    CLI = "cli"
    NAME = "name"  # known only by the name a log row or a caller gave


@dataclass(frozen=True)
class Identity:
    """A person the desk can name in the log, and the claims the sharing policy maps to a role."""

    name: str
    source: Source
    #: (claim, value) pairs of every string-valued claim, lists flattened; hashable so caches can key on it.
    claims: tuple[tuple[str, str], ...] = ()

    @property
    def groups(self) -> frozenset[str]:
        return frozenset(value for claim, value in self.claims if claim in GROUP_CLAIMS)

    def claim_values(self, claim: str) -> frozenset[str]:
        return frozenset(value for name, value in self.claims if name == claim)

    @property
    def verified(self) -> bool:
        """Cryptographically or by configuration: everything but a name typed in the demo."""
        return self.source is not Source.DEMO

    @property
    def source_label(self) -> str:
        return {
            Source.OIDC: "signed in with OIDC",
            Source.ALB: "signed in through the load balancer (verified ALB token)",
            Source.PROXY_HEADER: "named by the trusted proxy's header",
            Source.DEMO: "typed in the demo (not verified)",
            Source.CLI: "the command line's OS user",
            Source.NAME: "known by name only",
        }[self.source]


@dataclass(frozen=True)
class Resolution:
    identity: Identity | None
    #: Why there is no identity and how to sign in (None when there is one).
    problem: str | None = None


def named(name: str, source: Source = Source.NAME) -> Identity:
    """An identity known only by its name (no groups): what the log can say about an issuer."""
    return Identity(name=name, source=source)


def flatten_claims(claims: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for claim, value in claims.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        for item in values:
            if isinstance(item, (str, int)) and not isinstance(item, bool):
                pairs.append((str(claim), str(item)))
    return tuple(sorted(set(pairs)))


def name_from_claims(claims: Mapping[str, Any]) -> str | None:
    for claim in NAME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, str) and value.strip():
            return clean_name(value)
    return None


def clean_name(text: str) -> str:
    """A name as the log records it: printable, one line, at most 200 characters."""
    return "".join(ch for ch in text if ch.isprintable()).strip()[:200]


# --- the ALB's signed header ------------------------------------------------------------


def _b64_json(segment: str) -> dict[str, Any]:
    """One JWT segment as JSON, whatever its padding and alphabet.

    ALB tokens are base64url *with* `=` padding, which RFC 7515 forbids and
    strict decoders refuse; AWS's own example decodes the header with the
    standard alphabet.  Strip any padding, restore the right amount, and
    accept both alphabets.
    """
    raw = segment.strip().rstrip("=")
    raw += "=" * (-len(raw) % 4)
    try:
        data = base64.b64decode(raw.replace("-", "+").replace("_", "/"), validate=True)
        value = json.loads(data)
    except (binascii.Error, ValueError):
        raise IdentityError("The load balancer's sign-in token is not readable: reload the page to sign in again.") from None
    if not isinstance(value, dict):
        raise IdentityError("The load balancer's sign-in token is not readable: reload the page to sign in again.")
    return value


def region_of_arn(arn: str) -> str:
    """`arn:aws:elasticloadbalancing:eu-west-1:…` -> `eu-west-1`."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn" or parts[2] != "elasticloadbalancing" or not parts[3]:
        raise IdentityError(f"SHAREDESK_ALB_ARN is {arn!r}, not a load balancer ARN: set it to the ALB's ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID).")
    return parts[3]


def _fetch_url(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - the URL is the ALB's key endpoint or a configured base
        return bytes(response.read(16_384))


class AlbKeys:
    """The ALB's public keys, one per `kid`, cached for the life of the process.

    AWS publishes each key at `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`
    and never changes the key behind a kid, so a key fetched once is good for
    good.  `source` may name a local PEM file (one key, used for every kid), a
    folder of `<kid>` or `<kid>.pem` files (air-gapped sites, tests), or another
    base URL (GovCloud publishes its keys elsewhere).
    """

    def __init__(self, region: str, source: str | None = None, fetch: Callable[[str], bytes] = _fetch_url) -> None:
        self.region = region
        self.source = source
        self._fetch = fetch
        self._cache: dict[str, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()

    def url(self, kid: str) -> str:
        if self.source and self.source.startswith(("https://", "http://")):
            return f"{self.source.rstrip('/')}/{kid}"
        return f"https://public-keys.auth.elb.{self.region}.amazonaws.com/{kid}"

    def key(self, kid: str) -> ec.EllipticCurvePublicKey:
        if not _KID_RE.fullmatch(kid):
            raise IdentityError("The load balancer's sign-in token names a key id the desk does not accept: reload the page to sign in again.")
        with self._lock:
            cached = self._cache.get(kid)
        if cached is not None:
            return cached
        pem = self._load(kid)
        try:
            key = serialization.load_pem_public_key(pem)
        except ValueError:
            raise IdentityError(f"The load balancer's public key {kid} is not a PEM public key: check SHAREDESK_ALB_PUBLIC_KEYS.") from None
        if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
            raise IdentityError(f"The load balancer's public key {kid} is not a P-256 key, so it cannot check an ES256 token: check SHAREDESK_ALB_PUBLIC_KEYS.")
        with self._lock:
            self._cache[kid] = key
        return key

    def _load(self, kid: str) -> bytes:
        unknown = f"The load balancer signed your sign-in token with key {kid}, which the desk does not know: reload the page, and ask a platform engineer to check SHAREDESK_ALB_PUBLIC_KEYS if it persists."
        if self.source and not self.source.startswith(("https://", "http://")):
            path = Path(self.source).expanduser()
            if path.is_dir():
                for candidate in (path / kid, path / f"{kid}.pem"):
                    if candidate.is_file():
                        return candidate.read_bytes()
                raise IdentityError(unknown)
            try:
                return path.read_bytes()
            except OSError:
                raise IdentityError(f"SHAREDESK_ALB_PUBLIC_KEYS points to {self.source}, which cannot be read: fix the path.") from None
        try:
            return self._fetch(self.url(kid))
        except IdentityError:
            raise
        except Exception as exc:
            code = getattr(exc, "code", None)
            if code in (403, 404):
                raise IdentityError(unknown) from None
            raise IdentityError(
                f"The desk could not fetch the load balancer's public key {kid} ({exc.__class__.__name__}): check its access to "
                f"{self.url(kid).rsplit('/', 1)[0]}, or point SHAREDESK_ALB_PUBLIC_KEYS at a local copy."
            ) from None


def verify_alb(token: str, *, signer: str, keys: AlbKeys, now: datetime | None = None) -> Identity:
    """The person an ALB's `x-amzn-oidc-data` token names, after checking everything AWS says to check.

    Order matters: the algorithm and signer are read from the (unverified)
    header first, so a token with `alg: none`, `HS256` or another ALB's ARN is
    refused before any key is fetched; then the signature is verified with the
    key for its `kid`, and only then are the claims trusted.
    """
    now = now or datetime.now(UTC)
    parts = (token or "").strip().split(".")
    if len(parts) != 3 or not all(parts):
        raise IdentityError("The load balancer's sign-in token is not a signed token: reload the page to sign in again.")
    header = _b64_json(parts[0])
    alg = header.get("alg")
    if alg != "ES256":
        raise IdentityError(f"The sign-in token is signed with {str(alg)[:20]!r}, but a load balancer signs with ES256 only: the token was refused.")
    if header.get("signer") != signer:
        raise IdentityError("The sign-in token was not signed by this desk's load balancer (its signer is another ARN): open the desk through its own address.")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise IdentityError("The load balancer's sign-in token names no key id: reload the page to sign in again.")
    key = keys.key(kid)
    try:
        claims = jwt.decode(
            token.strip(),
            key,
            algorithms=["ES256"],
            # Times are checked below against `now`, so one clock judges header and claims alike.
            options={"verify_aud": False, "verify_iss": False, "verify_iat": False, "verify_nbf": False, "verify_exp": False},
        )
    except jwt.InvalidSignatureError:
        raise IdentityError("The load balancer's sign-in token does not match its signature (it was altered): the token was refused.") from None
    except jwt.PyJWTError as exc:
        raise IdentityError(f"The load balancer's sign-in token was refused ({exc.__class__.__name__}): reload the page to sign in again.") from None
    # The ALB puts `exp` in the header; the claims usually carry it too. One of them must.
    expiries = [value for value in (header.get("exp"), claims.get("exp")) if isinstance(value, (int, float))]
    if not expiries:
        raise IdentityError("The load balancer's sign-in token has no expiry: the token was refused.")
    if min(expiries) + LEEWAY < now.timestamp():
        raise IdentityError("Your sign-in through the load balancer has expired: reload the page to sign in again.")
    not_before = claims.get("nbf")
    if isinstance(not_before, (int, float)) and not_before - LEEWAY > now.timestamp():
        raise IdentityError("The load balancer's sign-in token is not valid yet (check the desk's clock): reload the page in a minute.")
    name = name_from_claims(claims)
    if not name:
        raise IdentityError("The load balancer's sign-in token names nobody (no email or sub claim): ask a platform engineer to check the identity provider's claims.")
    return Identity(name=name, source=Source.ALB, claims=flatten_claims(claims))


# --- the order of sources -----------------------------------------------------------------


@dataclass(frozen=True)
class Offered:
    """What the UI edge saw on this request, as plain values."""

    oidc_configured: bool = False
    oidc_claims: Mapping[str, Any] | None = None  # the logged-in user's claims, None when nobody is logged in
    headers: Mapping[str, str] = field(default_factory=dict)
    typed: str | None = None  # the demo's typed name


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value.strip() if isinstance(value, str) and value.strip() else None


def resolve(settings: Settings, offered: Offered, *, demo: bool, alb_keys: AlbKeys | None = None, now: datetime | None = None) -> Resolution:
    """The issuer for this request, in the issue's order: OIDC, the ALB's token, a trusted header, a demo name."""
    if offered.oidc_configured and offered.oidc_claims:
        name = name_from_claims(offered.oidc_claims)
        if name:
            return Resolution(Identity(name=name, source=Source.OIDC, claims=flatten_claims(offered.oidc_claims)))
        return Resolution(None, "Your sign-in names nobody (no email or sub claim): ask a platform engineer to check the identity provider's claims.")
    if settings.alb_arn:
        token = _header(offered.headers, ALB_HEADER)
        if token:
            keys = alb_keys or AlbKeys(region_of_arn(settings.alb_arn), settings.alb_public_keys)
            try:
                return Resolution(verify_alb(token, signer=settings.alb_arn, keys=keys, now=now))
            except IdentityError as exc:
                return Resolution(None, str(exc))  # never fall back to a weaker source
    if settings.identity_header:
        value = _header(offered.headers, settings.identity_header)
        if value and clean_name(value):
            return Resolution(Identity(name=clean_name(value), source=Source.PROXY_HEADER))
    if demo:
        typed = clean_name(offered.typed or "")[:TYPED_MAX]
        if typed:
            return Resolution(Identity(name=typed, source=Source.DEMO))
        return Resolution(None, "Type your name (demo) at the top of the page first: every link is recorded with who issued it.")
    return Resolution(None, sign_in_hint(settings, offered.oidc_configured))


def sign_in_hint(settings: Settings, oidc_configured: bool) -> str:
    """The one sentence that says how to become known to the desk, for the sources configured."""
    ways = []
    if oidc_configured:
        ways.append("use Sign in in the sidebar")
    if settings.alb_arn:
        ways.append("open the desk through its load balancer's address, which signs you in")
    if settings.identity_header:
        ways.append(f"open the desk through the proxy that sets {settings.identity_header}")
    if not ways:
        return (
            "The desk cannot tell who you are, and every link must record its issuer: a platform engineer must configure sign-in "
            "([auth] for st.login, SHAREDESK_ALB_ARN for an ALB with OIDC, or SHAREDESK_IDENTITY_HEADER for a trusted proxy)."
        )
    return "The desk does not know who you are yet, and every link records its issuer: " + ", or ".join(ways) + "."


# --- the command line -----------------------------------------------------------------------


def os_user() -> str:
    """The login name of the process's real user id (not $USER, which anyone can set)."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid{uid}"


def parse_cli_map(text: str | None) -> dict[str, str]:
    """`root=ops@example.com, alice=alice@example.com` -> {"root": "ops@example.com", …}."""
    mapping: dict[str, str] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        user, sep, who = item.partition("=")
        if not sep or not user.strip() or not who.strip():
            raise IdentityError(f"SHAREDESK_CLI_ISSUERS has {item.strip()!r}: write OSUSER=IDENTITY pairs separated by commas.")
        mapping[user.strip()] = clean_name(who)
    return mapping


def cli_identity(settings: Settings, *, demo: bool, given: str | None, environ: Mapping[str, str], user: str | None = None) -> Identity:
    """Who the command line acts for: the OS user, mapped by SHAREDESK_CLI_ISSUERS; a given name in the demo only."""
    claimed = given or environ.get("SHAREDESK_ISSUER")
    if claimed and clean_name(claimed):
        if demo:
            return Identity(name=clean_name(claimed), source=Source.DEMO)
        raise IdentityError(
            "--issuer and SHAREDESK_ISSUER name the issuer only in the demo: outside it the command line records your OS user "
            "(map it to a desk identity with SHAREDESK_CLI_ISSUERS)."
        )
    login = user or os_user()
    mapped = parse_cli_map(settings.cli_issuers).get(login)
    return Identity(name=mapped or f"cli:{login}", source=Source.CLI)
