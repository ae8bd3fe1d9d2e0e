"""Issuer identity: each source in its order, the ALB's ES256 token verified as AWS says, the CLI's OS user.

ALB tokens are made here the way an ALB makes them: standard base64 *with*
padding in the header and claims (not RFC 7515's unpadded base64url), signed
with a locally generated P-256 key over exactly those padded segments.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from dashboard.config import Settings
from dashboard.identity import (
    ALB_HEADER,
    AlbKeys,
    IdentityError,
    Offered,
    Source,
    cli_identity,
    region_of_arn,
    resolve,
    verify_alb,
)

ALB_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/share-desk/50dc6c495c0c9188"
OTHER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/other/0123456789abcdef"
KID = "2f7a1b9c-4d3e-4b8a-9c6d-1e2f3a4b5c6d"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _std_b64(value: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()  # standard alphabet, '=' padding kept


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.fixture(scope="module")
def alb_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def key_folder(tmp_path: Path, alb_key) -> Path:
    folder = tmp_path / "alb-keys"
    folder.mkdir()
    (folder / KID).write_bytes(_pem(alb_key))
    return folder


def alb_token(key, *, claims: dict[str, Any] | None = None, header: dict[str, Any] | None = None, exp: datetime | None = None) -> str:
    """An `x-amzn-oidc-data` value as an ALB sends it."""
    expires = int((exp or NOW + timedelta(minutes=2)).timestamp())
    head = {"typ": "JWT", "kid": KID, "alg": "ES256", "iss": "https://idp.example.com", "client": "share-desk", "signer": ALB_ARN, "exp": expires}
    head.update(header or {})
    body = {"sub": "8b1e6a52", "email": "ann@example.com", "groups": ["support", "support-leads"], "exp": expires, "iss": "https://idp.example.com"}
    body.update(claims or {})
    signing_input = f"{_std_b64(head)}.{_std_b64(body)}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    signature = base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    return f"{signing_input}.{signature}"


def test_an_alb_token_has_the_padding_quirk_these_tests_rely_on(alb_key):
    header_segment = alb_token(alb_key).split(".")[0]
    assert header_segment.endswith("=") or len(header_segment) % 4 == 0  # padded, as ALBs send it


def test_a_good_alb_token_names_the_user_by_email_with_groups(alb_key, key_folder):
    who = verify_alb(alb_token(alb_key), signer=ALB_ARN, keys=AlbKeys("eu-west-1", str(key_folder)), now=NOW)
    assert (who.name, who.source) == ("ann@example.com", Source.ALB)
    assert who.groups == {"support", "support-leads"}
    assert who.verified


def test_without_an_email_the_alb_user_is_named_by_sub(alb_key, key_folder):
    token = alb_token(alb_key, claims={"email": None})
    assert verify_alb(token, signer=ALB_ARN, keys=AlbKeys("eu-west-1", str(key_folder)), now=NOW).name == "8b1e6a52"


def test_an_alb_token_in_unpadded_base64url_is_accepted_too(alb_key, key_folder):
    head = {"typ": "JWT", "kid": KID, "alg": "ES256", "signer": ALB_ARN, "exp": int((NOW + timedelta(minutes=2)).timestamp())}
    body = {"email": "bo@example.com", "exp": head["exp"]}
    segments = [base64.urlsafe_b64encode(json.dumps(v).encode()).decode().rstrip("=") for v in (head, body)]
    signing_input = ".".join(segments)
    r, s = decode_dss_signature(alb_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    token = signing_input + "." + base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode().rstrip("=")
    assert verify_alb(token, signer=ALB_ARN, keys=AlbKeys("eu-west-1", str(key_folder)), now=NOW).name == "bo@example.com"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("wrong signer", "not signed by this desk's load balancer"),
        ("expired", "has expired"),
        ("unknown kid", "which the desk does not know"),
        ("tampered claims", "does not match its signature"),
        ("alg HS256", "ES256 only"),
        ("alg none", "ES256 only"),
        ("not a token", "not a signed token"),
        ("kid with a path", "key id the desk does not accept"),
        ("no expiry", "has no expiry"),
    ],
)
def test_a_bad_alb_token_is_refused_with_a_sentence(alb_key, key_folder, case, message):
    keys = AlbKeys("eu-west-1", str(key_folder))
    token = alb_token(alb_key)
    if case == "wrong signer":
        token = alb_token(alb_key, header={"signer": OTHER_ARN})
    elif case == "expired":
        token = alb_token(alb_key, exp=NOW - timedelta(minutes=10))
    elif case == "unknown kid":
        token = alb_token(alb_key, header={"kid": "00000000-0000-0000-0000-000000000000"})
    elif case == "tampered claims":
        head, _, signature = token.split(".")
        forged = _std_b64({"sub": "8b1e6a52", "email": "admin@example.com", "groups": ["platform"], "exp": int((NOW + timedelta(minutes=2)).timestamp())})
        token = f"{head}.{forged}.{signature}"
    elif case == "alg HS256":
        # The classic confusion: an HMAC "signed" with the public key's PEM as the secret.
        head = _std_b64({"typ": "JWT", "kid": KID, "alg": "HS256", "signer": ALB_ARN, "exp": int((NOW + timedelta(minutes=2)).timestamp())})
        body = _std_b64({"email": "mallory@example.com", "exp": int((NOW + timedelta(minutes=2)).timestamp())})
        mac = hmac.new(_pem(alb_key), f"{head}.{body}".encode(), hashlib.sha256).digest()
        token = f"{head}.{body}.{base64.urlsafe_b64encode(mac).decode()}"
    elif case == "alg none":
        head = _std_b64({"typ": "JWT", "kid": KID, "alg": "none", "signer": ALB_ARN})
        token = f"{head}.{_std_b64({'email': 'mallory@example.com'})}.x"
    elif case == "not a token":
        token = "ann@example.com"
    elif case == "kid with a path":
        token = alb_token(alb_key, header={"kid": "../../etc/passwd"})
    elif case == "no expiry":
        token = alb_token(alb_key, header={"exp": None}, claims={"exp": None})
        head, body, signature = token.split(".")
        clean = lambda seg: _std_b64({k: v for k, v in json.loads(base64.b64decode(seg)).items() if k != "exp"})  # noqa: E731
        signing_input = f"{clean(head)}.{clean(body)}"
        r, s = decode_dss_signature(alb_key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
        token = signing_input + "." + base64.urlsafe_b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode()
    with pytest.raises(IdentityError, match=message):
        verify_alb(token, signer=ALB_ARN, keys=keys, now=NOW)


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(key_folder):
    impostor = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(IdentityError, match="does not match its signature"):
        verify_alb(alb_token(impostor), signer=ALB_ARN, keys=AlbKeys("eu-west-1", str(key_folder)), now=NOW)


def test_keys_come_from_the_regional_endpoint_once_per_kid(alb_key):
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return _pem(alb_key)

    keys = AlbKeys(region_of_arn(ALB_ARN), fetch=fetch)
    for _ in range(3):
        verify_alb(alb_token(alb_key), signer=ALB_ARN, keys=keys, now=NOW)
    assert fetched == [f"https://public-keys.auth.elb.eu-west-1.amazonaws.com/{KID}"]


@pytest.fixture
def key_server(alb_key) -> Iterator[str]:
    """A loopback HTTP server publishing one key the way AWS's endpoint does (a PEM body per kid)."""
    pem = _pem(alb_key)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            if self.path == f"/keys/{KID}":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(pem)
            else:
                self.send_response(404)
                self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/keys"
    finally:
        server.shutdown()
        server.server_close()


def test_keys_can_be_fetched_from_another_base_url_over_http(alb_key, key_server):
    keys = AlbKeys("eu-west-1", key_server)
    assert verify_alb(alb_token(alb_key), signer=ALB_ARN, keys=keys, now=NOW).name == "ann@example.com"
    with pytest.raises(IdentityError, match="which the desk does not know"):
        verify_alb(alb_token(alb_key, header={"kid": "ffffffff-0000-0000-0000-000000000000"}), signer=ALB_ARN, keys=keys, now=NOW)


def test_a_single_key_file_serves_every_kid(tmp_path, alb_key):
    path = tmp_path / "alb.pem"
    path.write_bytes(_pem(alb_key))
    assert verify_alb(alb_token(alb_key), signer=ALB_ARN, keys=AlbKeys("eu-west-1", str(path)), now=NOW).name == "ann@example.com"


# --- the order of sources -------------------------------------------------------------------


def settings(**kw: Any) -> Settings:
    return Settings(demo=False).replace(**kw)


def test_oidc_wins_over_every_other_source(alb_key, key_folder):
    offered = Offered(
        oidc_configured=True,
        oidc_claims={"email": "oidc@example.com", "sub": "x", "groups": ["leads"]},
        headers={ALB_HEADER: alb_token(alb_key), "X-Forwarded-User": "proxy-user"},
        typed="typed",
    )
    s = settings(alb_arn=ALB_ARN, alb_public_keys=str(key_folder), identity_header="X-Forwarded-User")
    who = resolve(s, offered, demo=True, now=NOW).identity
    assert who is not None and (who.name, who.source, who.groups) == ("oidc@example.com", Source.OIDC, {"leads"})


def test_the_alb_token_comes_second_then_the_proxy_header_then_the_typed_name(alb_key, key_folder):
    s = settings(alb_arn=ALB_ARN, alb_public_keys=str(key_folder), identity_header="X-Forwarded-User")
    both = {ALB_HEADER: alb_token(alb_key), "X-Forwarded-User": "proxy-user"}
    assert resolve(s, Offered(oidc_configured=True, headers=both), demo=False, now=NOW).identity.source is Source.ALB  # type: ignore[union-attr]
    proxy = resolve(s, Offered(headers={"x-forwarded-user": "proxy-user"}), demo=False, now=NOW).identity
    assert proxy is not None and (proxy.name, proxy.source) == ("proxy-user", Source.PROXY_HEADER)
    typed = resolve(s, Offered(typed="  dana "), demo=True, now=NOW).identity
    assert typed is not None and (typed.name, typed.source, typed.verified) == ("dana", Source.DEMO, False)


def test_a_forged_alb_token_never_falls_back_to_a_weaker_source(alb_key, key_folder):
    s = settings(alb_arn=ALB_ARN, alb_public_keys=str(key_folder), identity_header="X-Forwarded-User")
    forged = alb_token(alb_key, header={"signer": OTHER_ARN})
    result = resolve(s, Offered(headers={ALB_HEADER: forged, "X-Forwarded-User": "mallory"}, typed="mallory"), demo=True, now=NOW)
    assert result.identity is None and "not signed by this desk's load balancer" in (result.problem or "")


def test_a_plain_header_is_ignored_unless_a_setting_names_it(alb_key):
    headers = {"X-Forwarded-User": "mallory", "X-Auth-Request-Email": "mallory@example.com", ALB_HEADER: alb_token(alb_key)}
    result = resolve(settings(), Offered(headers=headers), demo=False, now=NOW)
    assert result.identity is None
    assert "must configure sign-in" in (result.problem or "")


def test_the_alb_header_is_ignored_unless_the_alb_is_named(alb_key, key_folder):
    result = resolve(settings(alb_public_keys=str(key_folder)), Offered(headers={ALB_HEADER: alb_token(alb_key)}), demo=False, now=NOW)
    assert result.identity is None


def test_outside_the_demo_a_typed_name_is_no_identity_and_the_sentence_says_how_to_sign_in():
    result = resolve(settings(alb_arn=ALB_ARN), Offered(typed="alice"), demo=False, now=NOW)
    assert result.identity is None
    assert result.problem == "The desk does not know who you are yet, and every link records its issuer: open the desk through its load balancer's address, which signs you in."
    oidc = resolve(settings(), Offered(oidc_configured=True), demo=False, now=NOW)
    assert "use Sign in in the sidebar" in (oidc.problem or "")


def test_the_demo_asks_for_a_name_when_nothing_else_is_known():
    result = resolve(settings(), Offered(typed="   "), demo=True, now=NOW)
    assert result.identity is None and "Type your name" in (result.problem or "")


def test_a_typed_name_loses_control_characters_and_length():
    who = resolve(settings(), Offered(typed="ali\x1b[2Jce" + "x" * 100), demo=True, now=NOW).identity
    assert who is not None and "\x1b" not in who.name and len(who.name) == 64


def test_a_load_balancer_arn_is_checked():
    assert region_of_arn(ALB_ARN) == "eu-west-1"
    with pytest.raises(IdentityError, match="not a load balancer ARN"):
        region_of_arn("arn:aws:iam::123456789012:role/x")


# --- the command line ----------------------------------------------------------------------


def test_the_cli_issuer_is_the_os_user_unless_mapped():
    s = settings(cli_issuers="alice=alice@example.com, ops = ops@example.com")
    assert cli_identity(s, demo=False, given=None, environ={}, user="bob").name == "cli:bob"
    assert cli_identity(s, demo=False, given=None, environ={}, user="ops").name == "ops@example.com"
    assert cli_identity(s, demo=False, given=None, environ={"USER": "alice"}, user="bob").name == "cli:bob"  # $USER proves nothing


def test_the_cli_takes_a_given_name_only_in_the_demo():
    assert cli_identity(settings(), demo=True, given="cli-test", environ={}, user="bob").name == "cli-test"
    assert cli_identity(settings(), demo=True, given=None, environ={"SHAREDESK_ISSUER": "env-name"}, user="bob").name == "env-name"
    with pytest.raises(IdentityError, match="only in the demo"):
        cli_identity(settings(), demo=False, given="alice@example.com", environ={}, user="bob")
    with pytest.raises(IdentityError, match="only in the demo"):
        cli_identity(settings(), demo=False, given=None, environ={"SHAREDESK_ISSUER": "alice"}, user="bob")


def test_a_malformed_cli_map_is_a_sentence():
    with pytest.raises(IdentityError, match="OSUSER=IDENTITY"):
        cli_identity(settings(cli_issuers="alice"), demo=False, given=None, environ={}, user="alice")
