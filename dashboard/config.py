"""The desk's settings: one frozen object built from the environment, then secrets.

Environment variables win over `.streamlit/secrets.toml` so that a deployment
can override a checked-in secrets file without editing it.  Nothing here talks
to AWS or Streamlit: the UI passes `st.secrets` in as a plain mapping.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting has a value the desk cannot use; the message names it."""


#: Every setting: (environment variable, default, description).  The README's
#: configuration table is checked against this list by a test.
SETTINGS_DOC: tuple[tuple[str, str, str], ...] = (
    ("SHAREDESK_DEMO", "auto", "`1` forces the embedded demo, `0` forbids it; `auto` runs the demo when no AWS settings are present."),
    ("AWS_REGION / AWS_DEFAULT_REGION", "us-east-1", "Region of the S3 buckets and of STS."),
    ("AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL", "(AWS)", "Custom S3-compatible endpoint; links then use path-style addressing."),
    ("SHAREDESK_BUCKETS", "(all listed)", "Comma-separated buckets the desk may browse and share."),
    ("SHAREDESK_PAGE_SIZE", "100", "Objects per Browse page (one ListObjectsV2 call each)."),
    ("SHAREDESK_SIGNING_ROLE_ARN", "", "Role assumed by the `role-session` strategy."),
    ("SHAREDESK_SIGNING_ROLE_SOURCE", "ambient", "Credentials that assume the signing role: `ambient` (role chaining caps sessions at 1 h when those are temporary) or `signer-user`."),
    ("SHAREDESK_SIGNING_ROLE_MAX_SESSION", "3600", "Session length (s) used when `iam:GetRole` is denied."),
    ("SHAREDESK_SIGNER_ACCESS_KEY_ID", "", "Access key id of the dedicated signer IAM user (`iam-user`)."),
    ("SHAREDESK_SIGNER_SECRET_ACCESS_KEY", "", "Its secret key (prefer secrets.toml or a Secrets Manager secret)."),
    ("SHAREDESK_SIGNER_SECRET_ID", "", "Secrets Manager secret holding `{\"access_key_id\", \"secret_access_key\"}`."),
    ("SHAREDESK_CLOUDFRONT_DOMAIN", "", "CloudFront distribution domain for the `cloudfront` strategy (links are `https://<domain>/<key>`), or a whole base URL such as `https://cdn.example.com`."),
    ("SHAREDESK_CLOUDFRONT_KEY_PAIR_ID", "", "Public key id in the distribution's trusted key group."),
    ("SHAREDESK_CLOUDFRONT_PRIVATE_KEY", "", "PEM private key (or SHAREDESK_CLOUDFRONT_PRIVATE_KEY_FILE, a path)."),
    ("SHAREDESK_CLOUDFRONT_MAX_DAYS", "365", "Longest lifetime the desk signs CloudFront links for."),
    ("SHAREDESK_SIGNATURE_AGE_CAP", "", "A bucket policy's `s3:signatureAge` cap, e.g. `12h`, so previews respect it."),
    ("SHAREDESK_CUT_SHORT_TOLERANCE", "5m", "How early a link may die and still count as having run its course, not cut short: `0`, `1m`, `2m`, `5m`, `10m`, `15m`, `30m` or `1h`."),
    ("SHAREDESK_DATABASE_URL / DATABASE_URL", "state dir", "Issuance log: a SQLite file (a path, `sqlite:///relative` or `sqlite:////absolute`) or PostgreSQL (`postgresql://user:password@host:5432/db`); in-memory locations and any other scheme are refused."),
    ("SHAREDESK_STATE_DIR", "~/.local/state/share-desk", "Where the default log and the demo's server record live."),
    ("SHAREDESK_PUBLIC_BASE_URL", "desk address", "Public base URL of stable links (`<base>/s/<token>`): an `http://` or `https://` address with a host."),
    ("SHAREDESK_STABLE_MAX_DAYS", "90", "Longest lifetime of a stable link."),
    ("SHAREDESK_STABLE_MINT_SECONDS", "300", "Lifetime of the presigned URL a stable-link click mints."),
    ("SHAREDESK_ALB_ARN", "", "ARN of the Application Load Balancer whose OIDC sign-in fronts the desk; its signed `x-amzn-oidc-data` header then names the issuer."),
    ("SHAREDESK_ALB_PUBLIC_KEYS", "(regional endpoint)", "Where the ALB's public keys are read: a PEM file, a folder of `<kid>`/`<kid>.pem` files, or a base URL; by default `https://public-keys.auth.elb.<region>.amazonaws.com/<kid>`."),
    ("SHAREDESK_IDENTITY_HEADER", "", "Header set by a trusted proxy that names the signed-in user (the desk must then be reachable only through that proxy)."),
    ("SHAREDESK_CLI_ISSUERS", "", "Maps OS users to desk identities for the command line, e.g. `alice=alice@example.com,ops=ops@example.com`; unmapped users are recorded as `cli:<user>`."),
    ("SHAREDESK_POLICY_FILE", "(built in)", "TOML sharing policy: roles, what each may browse and share, longest lifetimes, revoke and extend rights (see README)."),
    ("SHAREDESK_SIGNER_KEY_MAX_AGE_DAYS", "90", "The Signers page warns when the signer user's access key is older than this."),
    ("SHAREDESK_CLIENT_IP_HEADER", "", "Header set by a trusted proxy with the customer's IP (e.g. X-Forwarded-For), for the click log."),
    ("SHAREDESK_CLIENT_IP_TRUSTED_HOPS", "1", "Trusted proxies in front of the resolver that append to that header: the click log takes the entry this many places from the right."),
)

_AWS_MARKERS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


@dataclass(frozen=True)
class Settings:
    demo: bool
    region: str = "us-east-1"
    endpoint_url: str | None = None
    buckets: tuple[str, ...] = ()
    page_size: int = 100
    signing_role_arn: str | None = None
    signing_role_max_session: int = 3600
    signing_role_source: str = "ambient"
    signer_access_key_id: str | None = None
    signer_secret_access_key: str | None = field(default=None, repr=False)
    signer_secret_id: str | None = None
    cloudfront_domain: str | None = None
    cloudfront_key_pair_id: str | None = None
    cloudfront_private_key: str | None = field(default=None, repr=False)
    cloudfront_max_days: int = 365
    signature_age_cap_seconds: int | None = None
    cut_short_tolerance_seconds: int = 300
    database_url: str = ""
    state_dir: Path = Path("~/.local/state/share-desk").expanduser()
    public_base_url: str | None = None
    stable_max_days: int = 90
    stable_mint_seconds: int = 300
    identity_header: str | None = None
    client_ip_header: str | None = None
    alb_arn: str | None = None
    alb_public_keys: str | None = None
    cli_issuers: str | None = None
    policy_file: str | None = None
    signer_key_max_age_days: int = 90
    client_ip_trusted_hops: int = 1

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, secrets: Mapping[str, Any] | None = None) -> Settings:
        """Build settings from the environment first, then secrets, then defaults."""
        env = os.environ if environ is None else environ
        lookup = _Lookup(env, secrets or {})

        demo_flag = (lookup.get("SHAREDESK_DEMO") or "auto").strip().lower()
        if demo_flag in ("1", "true", "yes", "on"):
            demo = True
        elif demo_flag in ("0", "false", "no", "off"):
            demo = False
        elif demo_flag == "auto":
            demo = not any(env.get(name) for name in _AWS_MARKERS) and not lookup.get("SHAREDESK_BUCKETS")
        else:
            raise SettingsError(f"SHAREDESK_DEMO is {demo_flag!r}: set it to 1, 0 or auto.")

        state_dir = Path(lookup.get("SHAREDESK_STATE_DIR") or "~/.local/state/share-desk").expanduser()
        database_url = _database_url(lookup)
        if not database_url:
            database_url = str(state_dir / ("demo-log.sqlite3" if demo else "log.sqlite3"))

        private_key = lookup.get("SHAREDESK_CLOUDFRONT_PRIVATE_KEY")
        key_file = lookup.get("SHAREDESK_CLOUDFRONT_PRIVATE_KEY_FILE")
        if not private_key and key_file:
            try:
                private_key = Path(key_file).expanduser().read_text()
            except OSError as exc:
                raise SettingsError(
                    f"SHAREDESK_CLOUDFRONT_PRIVATE_KEY_FILE points to {key_file}, which cannot be read ({exc.strerror}): fix the path or its permissions."
                ) from None

        age_cap = lookup.get("SHAREDESK_SIGNATURE_AGE_CAP")
        tolerance = lookup.get("SHAREDESK_CUT_SHORT_TOLERANCE")
        return cls(
            demo=demo,
            region=lookup.get("AWS_REGION") or lookup.get("AWS_DEFAULT_REGION") or "us-east-1",
            endpoint_url=lookup.get("AWS_ENDPOINT_URL_S3") or lookup.get("AWS_ENDPOINT_URL") or None,
            buckets=tuple(b.strip() for b in (lookup.get("SHAREDESK_BUCKETS") or "").split(",") if b.strip()),
            page_size=lookup.integer("SHAREDESK_PAGE_SIZE", 100, low=1, high=1000),
            signing_role_arn=lookup.get("SHAREDESK_SIGNING_ROLE_ARN") or None,
            signing_role_source=lookup.choice("SHAREDESK_SIGNING_ROLE_SOURCE", ("ambient", "signer-user")),
            signing_role_max_session=lookup.integer("SHAREDESK_SIGNING_ROLE_MAX_SESSION", 3600, low=900, high=43200),
            signer_access_key_id=lookup.get("SHAREDESK_SIGNER_ACCESS_KEY_ID") or None,
            signer_secret_access_key=lookup.get("SHAREDESK_SIGNER_SECRET_ACCESS_KEY") or None,
            signer_secret_id=lookup.get("SHAREDESK_SIGNER_SECRET_ID") or None,
            cloudfront_domain=lookup.get("SHAREDESK_CLOUDFRONT_DOMAIN") or None,
            cloudfront_key_pair_id=lookup.get("SHAREDESK_CLOUDFRONT_KEY_PAIR_ID") or None,
            cloudfront_private_key=private_key or None,
            cloudfront_max_days=lookup.integer("SHAREDESK_CLOUDFRONT_MAX_DAYS", 365, low=1, high=3650),
            signature_age_cap_seconds=_duration_seconds("SHAREDESK_SIGNATURE_AGE_CAP", age_cap) if age_cap else None,
            cut_short_tolerance_seconds=_tolerance_seconds(tolerance) if tolerance else 300,
            database_url=database_url,
            state_dir=state_dir,
            public_base_url=_public_base_url(lookup.get("SHAREDESK_PUBLIC_BASE_URL")),
            stable_max_days=lookup.integer("SHAREDESK_STABLE_MAX_DAYS", 90, low=1, high=3650),
            stable_mint_seconds=lookup.integer("SHAREDESK_STABLE_MINT_SECONDS", 300, low=60, high=3600),
            identity_header=lookup.get("SHAREDESK_IDENTITY_HEADER") or None,
            client_ip_header=lookup.get("SHAREDESK_CLIENT_IP_HEADER") or None,
            alb_arn=(lookup.get("SHAREDESK_ALB_ARN") or "").strip() or None,
            alb_public_keys=lookup.get("SHAREDESK_ALB_PUBLIC_KEYS") or None,
            cli_issuers=lookup.get("SHAREDESK_CLI_ISSUERS") or None,
            policy_file=lookup.get("SHAREDESK_POLICY_FILE") or None,
            signer_key_max_age_days=lookup.integer("SHAREDESK_SIGNER_KEY_MAX_AGE_DAYS", 90, low=1, high=3650),
            client_ip_trusted_hops=lookup.integer("SHAREDESK_CLIENT_IP_TRUSTED_HOPS", 1, low=1, high=16),
        )


# --- validation of values that name places (kept together) -------------------------------------

#: Schemes the issuance log understands; a driver suffix (postgresql+psycopg) is allowed.
_LOG_SCHEMES = ("sqlite", "postgresql", "postgres")


def _shown(value: str, limit: int = 80) -> str:
    """A setting's value quoted for a message, cut short and with control characters escaped."""
    from dashboard.safetext import one_line

    return repr(one_line(value, limit))


def _database_url(lookup: _Lookup) -> str:
    """The log's location as given; a URL whose scheme no backend understands is refused here."""
    for name in ("SHAREDESK_DATABASE_URL", "DATABASE_URL"):
        value = (lookup.get(name) or "").strip()
        if not value:
            continue
        scheme, sep, _ = value.partition("://")
        if sep and scheme.lower().split("+", 1)[0] not in _LOG_SCHEMES:
            raise SettingsError(
                f"{name} is {_shown(value)}, a kind of database the desk cannot use: "
                "give a SQLite file (a path, or sqlite:///path/to/log.sqlite3) or a postgresql:// URL."
            )
        return value
    return ""


def _public_base_url(raw: str | None) -> str | None:
    """Where customers reach stable links: http(s), a host, no credentials, no query or fragment."""
    from urllib.parse import urlsplit

    text = (raw or "").strip()
    if not text:
        return None
    advice = "it must be an http:// or https:// address with a host, like https://links.example.com"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        raise SettingsError(f"SHAREDESK_PUBLIC_BASE_URL is {_shown(text)}: {advice}.") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or any(ch.isspace() or not ch.isprintable() for ch in text):
        raise SettingsError(f"SHAREDESK_PUBLIC_BASE_URL is {_shown(text)}: {advice}.")
    if parts.username is not None or parts.password is not None:
        raise SettingsError("SHAREDESK_PUBLIC_BASE_URL holds a user name or password: every link would carry it; give the bare address.")
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise SettingsError(f"SHAREDESK_PUBLIC_BASE_URL is {_shown(text)}: links are <base>/s/<token>, so it cannot have a ?query or #fragment.")
    return text.rstrip("/")


def _duration_seconds(name: str, text: str) -> int:
    from dashboard.durations import DurationError, parse_duration

    try:
        return int(parse_duration(text).total_seconds())
    except DurationError as exc:
        raise SettingsError(f"{name}: {exc}") from None


def _tolerance_seconds(text: str) -> int:
    """SHAREDESK_CUT_SHORT_TOLERANCE as seconds: zero or one of the durations the audit counts exactly."""
    from dashboard.expiry import CUT_SHORT_TOLERANCES

    allowed = [int(t.total_seconds()) for t in CUT_SHORT_TOLERANCES]
    words = "0, 1m, 2m, 5m, 10m, 15m, 30m or 1h"
    cleaned = text.strip().lower()
    seconds = 0 if cleaned in ("0", "0s", "0m", "none") else None
    if seconds is None:
        from dashboard.durations import DurationError, parse_duration

        try:
            seconds = int(parse_duration(cleaned).total_seconds())
        except DurationError:
            seconds = -1
    if seconds not in allowed:
        raise SettingsError(f"SHAREDESK_CUT_SHORT_TOLERANCE is {text.strip()!r}: set it to {words}.")
    return seconds


class _Lookup:
    """Environment first, then `[sharedesk]` in secrets (lower-case keys), then top-level secrets."""

    def __init__(self, env: Mapping[str, str], secrets: Mapping[str, Any]) -> None:
        self.env = env
        self.secrets = secrets

    def get(self, name: str) -> str | None:
        if self.env.get(name):
            return self.env[name]
        try:
            section = self.secrets.get("sharedesk") or {}
            short = name.removeprefix("SHAREDESK_").lower()
            for value in (section.get(short), self.secrets.get(name)):
                if value not in (None, ""):
                    if isinstance(value, (list, tuple)):
                        return ",".join(str(v) for v in value)
                    return str(value)
        except Exception:  # st.secrets raises when no secrets file exists
            return None
        return None

    def choice(self, name: str, choices: tuple[str, ...]) -> str:
        raw = (self.get(name) or choices[0]).strip().lower()
        if raw not in choices:
            raise SettingsError(f"{name} is {raw!r}: use one of {', '.join(choices)}.")
        return raw

    def integer(self, name: str, default: int, *, low: int, high: int) -> int:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} is {raw!r}: it must be a whole number between {low} and {high}.") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} is {value}: it must be between {low} and {high}.")
        return value
