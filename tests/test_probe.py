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
from dashboard.probe import ProbeResult, interpret, probe
from dashboard.strategies import ShareRequest

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


def test_a_fresh_demo_link_works(demo_desk):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key="README.txt", lifetime=timedelta(hours=1), issuer="alice")
    link = issuing.issue(demo_desk, [request], "iam-user")[0]
    result = probe(link.url)
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
            probe(url)


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


def test_cli_probe_adds_s3s_answer_to_the_json(stub, demo_desk, capsys):
    base, _seen = stub
    url = (
        f"{base}/token/examplebucket/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=ASIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Security-Token=tok"
        "&X-Amz-Signature=" + "0" * 64
    )
    assert main(["inspect", url, "--probe", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["probe"]["code"] == "ExpiredToken" and payload["probe"]["status"] == 400
    assert payload["credential_kind"] == "temporary" and payload["effective_expires_at"] is None
    assert main(["inspect", url, "--probe"]) == 0
    assert "400 ExpiredToken" in capsys.readouterr().out
