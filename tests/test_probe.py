"""The live probe: the demo S3 answers a fresh link; a local stub answers S3's documented error bodies."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from dashboard import demo, issuing
from dashboard.cli import main
from dashboard.errors import BadInput
from dashboard.probe import MAX_BODY_BYTES, ProbeResult, interpret
from dashboard.probe import probe as probe_with
from dashboard.probe_policy import Origin, Targets
from dashboard.strategies import ShareRequest
from dashboard.urlparse import LinkKind

# S3's error bodies as documented (REST error responses) and as S3 sends them for presigned URLs.
EXPIRED = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Request has expired</Message><X-Amz-Expires>3600</X-Amz-Expires><Expires>2026-11-01T10:00:00Z</Expires><ServerTime>2026-11-02T09:30:12Z</ServerTime><RequestId>4442587FB7D0A2F9</RequestId><HostId>example-host-id</HostId></Error>"""
EXPIRED_TOKEN = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message><Token-0>FwoGZXIvYXdzEXAMPLE</Token-0><RequestId>4442587FB7D0A2F9</RequestId><HostId>example-host-id</HostId></Error>"""
SIGNATURE = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided. Check your key and signing method.</Message><AWSAccessKeyId>AKIAIOSFODNN7EXAMPLE</AWSAccessKeyId><RequestId>4442587FB7D0A2F9</RequestId></Error>"""
NO_SUCH_KEY = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>README.txt</Key><RequestId>4442587FB7D0A2F9</RequestId></Error>"""
BAD_PARAMS = b"""<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AuthorizationQueryParametersError</Code><Message>X-Amz-Expires must be less than a week (in seconds) that is 604800</Message></Error>"""
ENTITIES = b"""<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]><Error><Code>&lol2;</Code></Error>"""

ROUTES: dict[str, tuple[int, dict[str, str], bytes]] = {
    "/expired": (403, {"Content-Type": "application/xml"}, EXPIRED),
    "/token": (400, {"Content-Type": "application/xml"}, EXPIRED_TOKEN),
    "/signature": (403, {"Content-Type": "application/xml"}, SIGNATURE),
    "/gone": (404, {"Content-Type": "application/xml"}, NO_SUCH_KEY),
    "/params": (400, {"Content-Type": "application/xml"}, BAD_PARAMS),
    "/entities": (403, {"Content-Type": "application/xml"}, ENTITIES),
    "/redirect": (302, {"Location": "https://sharedesk-demo-support.s3.amazonaws.com/README.txt?X-Amz-Signature=secret"}, b""),
    "/redirect-here": (302, {"Location": "/landing"}, b""),
    "/landing": (200, {}, b"x"),
    "/ok": (206, {"Content-Range": "bytes 0-0/10"}, b"x"),
    "/big": (403, {"Content-Type": "application/xml"}, b"<Error><Code>" + b"A" * (4 * MAX_BODY_BYTES) + b"</Code></Error>"),
}


class _Stub(BaseHTTPRequestHandler):
    """Answers by the first path segment and records every request's path and headers."""

    seen: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))  # type: ignore[attr-defined]
        route = "/" + self.path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
        if route == "/slow":
            time.sleep(1.5)
            route = "/ok"
        if route == "/drip":  # headers a byte at a time: each read is quick, the whole answer never ends
            self.wfile.write(b"HTTP/1.1 200 OK\r\n")
            try:
                for _ in range(100):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    time.sleep(0.05)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return
        status, headers, body = ROUTES.get(route, (404, {}, b"nothing here"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the probe gave up waiting (the timeout test)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    server.seen = []  # type: ignore[attr-defined]
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def probe(url: str, **kwargs):
    """The probe with the stub configured as the desk's S3 endpoint (the only loopback server it may ask)."""
    parts = url.split("/", 3)
    endpoint = "/".join(parts[:3])
    return probe_with(url, Targets(s3_endpoint=Origin.parse(endpoint)), **kwargs)


def test_a_fresh_demo_link_works(demo_desk):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(hours=1), issuer="alice")
    link = issuing.issue(demo_desk, [request], "iam-user")[0]
    result = probe_with(link.url, Targets.from_settings(demo_desk.settings), kind=LinkKind.S3_SIGV4)
    assert result.status in (200, 206)
    assert result.meaning.startswith("The link works now")


@pytest.mark.parametrize(
    ("path", "status", "code", "message", "meaning"),
    [
        ("/expired", 403, "AccessDenied", "Request has expired", "nominal expiry passed at 2026-11-01T10:00:00Z"),
        ("/token", 400, "ExpiredToken", "The provided token has expired.", "temporary credentials that signed the link expired"),
        ("/signature", 403, "SignatureDoesNotMatch", "The request signature we calculated", "altered or cut"),
        ("/gone", 404, "NoSuchKey", "The specified key does not exist.", "deleted or renamed"),
        ("/params", 400, "AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week", "never worked"),
    ],
)
def test_s3_error_bodies_become_one_sentence(stub, path, status, code, message, meaning):
    base, _seen = stub
    result = probe(f"{base}{path}/bucket/key?X-Amz-Expires=3600")
    assert (result.status, result.code) == (status, code)
    assert result.message.startswith(message)
    assert meaning in result.meaning and result.meaning.endswith(".") and "\n" not in result.meaning


def test_an_expired_answer_carries_s3s_own_times(stub):
    base, _seen = stub
    result = probe(f"{base}/expired")
    assert (result.expires, result.server_time) == ("2026-11-01T10:00:00Z", "2026-11-02T09:30:12Z")
    assert "2026-11-02T09:30:12Z" in result.meaning


def test_a_redirect_is_reported_with_its_host_only_and_not_followed(stub):
    base, seen = stub
    result = probe(f"{base}/redirect")
    assert result.status == 302 and result.location_host == "sharedesk-demo-support.s3.amazonaws.com"
    assert "secret" not in result.meaning and "secret" not in json.dumps(result.as_dict())
    local = probe(f"{base}/redirect-here")
    assert local.status == 302
    assert [path for path, _ in seen] == ["/redirect", "/redirect-here"]  # /landing never requested


def test_no_credentials_or_cookies_are_sent_and_only_one_byte_is_asked(stub, monkeypatch):
    base, seen = stub
    url = base.replace("http://", "http://agent:hunter2@") + "/ok/bucket/key?X-Amz-Signature=abc"
    result = probe(url)
    assert result.status == 206
    (path, headers), = seen
    assert path == "/ok/bucket/key?X-Amz-Signature=abc"
    assert headers["range"] == "bytes=0-0"
    assert "authorization" not in headers and "cookie" not in headers and "proxy-authorization" not in headers


def test_entity_tricks_are_not_parsed(stub):
    base, _seen = stub
    result = probe(f"{base}/entities")
    assert result.status == 403 and result.code is None


def test_non_web_schemes_are_refused():
    for url in ("file:///etc/passwd", "ftp://example.com/x", "s3://bucket/key", "javascript:alert(1)", "not a url"):
        with pytest.raises(BadInput, match="http"):
            probe_with(url)


def test_network_failures_are_a_sentence(stub):
    base, _seen = stub
    slow = probe(f"{base}/slow", timeout=0.3)
    assert slow.status is None and "did not answer within 0.3 seconds" in slow.meaning
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    refused = probe(f"http://127.0.0.1:{port}/x")
    assert refused.status is None and refused.meaning.startswith("The probe got no answer") and "refused" in refused.meaning


def test_interpret_is_pure_and_knows_the_resolvers_pages():
    assert interpret(410, {}, b"<!doctype html><title>This link was withdrawn</title>").meaning.startswith("The desk's resolver")
    assert isinstance(interpret(500, {}, b""), ProbeResult)
    assert "outage" in interpret(503, {}, b"").meaning


def test_cli_probe_adds_s3s_answer_to_the_json(stub, capsys, monkeypatch, tmp_path):
    base, _seen = stub
    # A production desk (no demo) whose configured S3 endpoint is the stub: the one loopback server the probe may ask.
    monkeypatch.setenv("SHAREDESK_DEMO", "0")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", base)
    monkeypatch.setenv("SHAREDESK_STATE_DIR", str(tmp_path))
    url = (
        f"{base}/token/examplebucket/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok"
        "&X-Amz-Signature=" + "0" * 64
    )
    assert main(["inspect", url, "--probe", "--json", "--at", "2013-05-24T10:00:00Z"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["probe"]["code"] == "ExpiredToken" and payload["probe"]["status"] == 400
    assert payload["probe"]["message"] == "The provided token has expired."
    assert payload["credential_kind"] == "temporary" and payload["effective_expires_at"] is None
    assert main(["inspect", url, "--probe"]) == 0
    assert "400 ExpiredToken" in capsys.readouterr().out


# --------------------------------------------------------------------------- the probe cannot be turned inward


def _resolver(table: dict[str, list[str]], asked: list[str] | None = None):
    """A resolver from a table: names outside it do not resolve (and nothing reaches real DNS)."""
    import socket

    def resolve(host: str, port: int) -> list[str]:
        if asked is not None:
            asked.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return table[host]

    return resolve


SIGNED = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=" + "0" * 64


def test_loopback_that_is_not_the_configured_endpoint_is_refused_and_nothing_is_sent(stub):
    base, seen = stub
    port = int(base.rsplit(":", 1)[1])
    targets = Targets(s3_endpoint=Origin.parse(f"http://127.0.0.1:{port + 1}"))
    for url in (f"{base}/ok/b/k{SIGNED}", f"http://localhost:{port}/ok/b/k{SIGNED}", f"http://[::1]:{port}/ok{SIGNED}"):
        result = probe_with(url, targets, kind=LinkKind.S3_SIGV4)
        assert result.refused and result.status is None and "nothing was sent" in result.meaning
    assert seen == []


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),  # the EC2 instance metadata service
        ("169.254.170.2", "link-local"),  # the ECS task credential endpoint
        ("fe80::1", "link-local"),
        ("10.0.3.7", "private-network"),
        ("192.168.1.1", "private-network"),
        ("172.16.0.1", "private-network"),
        ("fd00::1", "private-network"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("::ffff:127.0.0.1", "loopback address (this machine) written as IPv6"),
        ("::ffff:169.254.169.254", "link-local address (where cloud metadata and credential services answer) written as IPv6"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 form of 169.254.169.254
        ("224.0.0.1", "multicast"),
    ],
)
def test_a_public_looking_name_that_resolves_inward_is_refused(address, why):
    url = f"https://examplebucket.s3.amazonaws.com/test.txt{SIGNED}"
    result = probe_with(url, Targets(), kind=LinkKind.S3_SIGV4, resolver=_resolver({"examplebucket.s3.amazonaws.com": [address]}))
    assert result.refused and why in result.meaning and address in result.meaning and "nothing was sent" in result.meaning


def test_one_inward_address_among_public_ones_is_enough_to_refuse():
    table = {"d111111abcdef8.cloudfront.net": ["13.224.0.1", "169.254.169.254"]}
    result = probe_with("https://d111111abcdef8.cloudfront.net/a.jpg?Expires=1&Signature=x&Key-Pair-Id=K", Targets(), kind=LinkKind.CLOUDFRONT, resolver=_resolver(table))
    assert result.refused and "169.254.169.254" in result.meaning


def test_an_unresolvable_name_is_refused_with_a_sentence():
    result = probe_with(f"https://nosuchbucket.s3.amazonaws.com/k{SIGNED}", Targets(), kind=LinkKind.S3_SIGV4, resolver=_resolver({}))
    assert result.refused and "could not resolve nosuchbucket.s3.amazonaws.com" in result.meaning


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        (f"http://169.254.169.254/latest/meta-data/iam/security-credentials/{SIGNED}", LinkKind.S3_SIGV4),
        (f"https://evil.example/x{SIGNED}", LinkKind.S3_SIGV4),
        (f"https://examplebucket.s3.amazonaws.com.evil.example/x{SIGNED}", LinkKind.S3_SIGV4),
        (f"https://examplebucket.s3.amazonaws.com:8080/x{SIGNED}", LinkKind.S3_SIGV4),
        ("https://d111111abcdef8.cloudfront.net/x?Expires=1&Signature=x&Key-Pair-Id=K", LinkKind.S3_SIGV4),
        (f"https://examplebucket.s3.amazonaws.com/x{SIGNED}", LinkKind.CLOUDFRONT),
        ("https://desk.example.com/s/" + "A" * 32, LinkKind.STABLE),
    ],
    ids=["metadata-ip", "other-host", "lookalike", "odd-port", "cloudfront-host-for-s3", "s3-host-for-cloudfront", "unconfigured-stable"],
)
def test_a_host_that_is_not_the_links_own_kind_of_server_is_refused_before_any_lookup(url, kind):
    asked: list[str] = []
    result = probe_with(url, Targets(), kind=kind, resolver=_resolver({}, asked))
    assert result.refused and "The probe only asks" in result.meaning and asked == []


def test_the_probe_connects_to_the_address_it_vetted_with_the_links_own_host_name(stub):
    base, seen = stub
    port = int(base.rsplit(":", 1)[1])
    # A configured endpoint by name: the system's DNS does not know minio.test, so a second lookup would fail.
    targets = Targets(s3_endpoint=Origin.parse(f"http://minio.test:{port}"))
    asked: list[str] = []
    result = probe_with(f"http://minio.test:{port}/ok/b/k{SIGNED}", targets, kind=LinkKind.S3_SIGV4, resolver=_resolver({"minio.test": ["127.0.0.1"]}, asked))
    assert result.status == 206 and result.address == "127.0.0.1"
    assert asked == ["minio.test"]
    ((path, headers),) = seen
    assert headers["host"] == f"minio.test:{port}"


def test_https_sends_the_links_host_name_as_tls_server_name(tmp_path):
    import datetime as dt
    import socket
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minio.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("minio.test")]), critical=False).sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    context.sni_callback = lambda sock, server_name, ctx: server_names.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass  # the probe does not trust this self-signed certificate: the handshake fails after SNI

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        targets = Targets(s3_endpoint=Origin.parse(f"https://minio.test:{port}"))
        result = probe_with(f"https://minio.test:{port}/b/k{SIGNED}", targets, kind=LinkKind.S3_SIGV4, resolver=_resolver({"minio.test": ["127.0.0.1"]}))
        thread.join(10)
    finally:
        listener.close()
    assert server_names == ["minio.test"]
    assert result.status is None and "TLS handshake" in result.meaning


def test_a_big_body_is_read_only_up_to_the_bound(stub):
    base, _seen = stub
    result = probe(f"{base}/big")
    assert result.status == 403 and result.code is None  # the truncated body is no S3 error document


def test_an_answer_that_never_ends_is_cut_at_the_total_time_bound(stub):
    base, _seen = stub
    result = probe(f"{base}/drip", timeout=0.5)
    assert result.status is None and "did not answer within 0.5 seconds" in result.meaning


def test_the_servers_words_are_kept_on_one_bounded_line():
    body = b"<Error><Code>Weird</Code><Message>line one\n\t\tline two " + b"x" * 1000 + b"</Message></Error>"
    result = interpret(403, {}, body)
    assert "\n" not in result.message and len(result.message) <= 300 and result.message.startswith("line one")


def test_the_configured_cloudfront_base_and_stable_base_may_be_asked_on_loopback(stub):
    base, seen = stub
    targets = Targets(cloudfront=Origin.parse(base), stable_base=Origin.parse(base))  # the demo's edge is a full base URL
    cloudfront = probe_with(f"{base}/ok/a.jpg?Expires=1&Signature=x&Key-Pair-Id=K", targets, kind=LinkKind.CLOUDFRONT)
    stable = probe_with(f"{base}/redirect-here/s/" + "A" * 32, targets, kind=LinkKind.STABLE)
    assert cloudfront.status == 206 and stable.status == 302 and stable.works
    s3 = probe_with(f"{base}/ok/b/k{SIGNED}", targets, kind=LinkKind.S3_SIGV4)  # but not as an S3 endpoint: it is not one
    assert s3.refused and len(seen) == 2


def test_origin_parses_a_bare_domain_or_a_base_url():
    assert Origin.parse("d111111abcdef8.cloudfront.net") == Origin("https", "d111111abcdef8.cloudfront.net", 443)
    assert Origin.parse("http://127.0.0.1:8600/") == Origin("http", "127.0.0.1", 8600)
    assert Origin.parse("HTTPS://Desk.Example.COM.") == Origin("https", "desk.example.com", 443)
    assert Origin.parse("") is None and Origin.parse("ftp://x") is None and Origin.parse("http://x:99999") is None
