"""The stable-link resolver through Starlette's test client, on the demo's moto server."""

from __future__ import annotations

import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import unquote, urlsplit

import pytest
from starlette.testclient import TestClient

from dashboard import demo, issuing, stable_admin
from dashboard.errors import BadInput, NotAllowed
from dashboard.links import Resolver, link_token, standalone_app
from dashboard.strategies import ShareRequest

KEY = "customers/globex/exports/données clients été.csv"


@pytest.fixture
def desk(demo_desk):
    if not demo_desk.settings.public_base_url:
        pytest.skip("the demo desk has no public base URL")
    return demo_desk


def issue_stable(desk, key: str = KEY, lifetime: timedelta = timedelta(days=30), filename: str | None = None):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=lifetime, issuer="tester", filename=filename)
    return issuing.issue(desk, [request], "stable")[0]


@pytest.fixture
def client(desk):
    with TestClient(standalone_app(lambda: desk), follow_redirects=False) as test_client:
        yield test_client


def path_of(link) -> str:
    return urlsplit(link.url).path


def test_live_link_redirects_to_a_fresh_sigv4_url_for_its_own_object(desk, client):
    link = issue_stable(desk, filename="clients été.csv")
    response = client.get(path_of(link))
    assert response.status_code == 302
    assert response.headers["cache-control"] == "no-store"
    target = response.headers["location"]
    assert target.startswith(desk.settings.endpoint_url)
    assert unquote(urlsplit(target).path) == f"/{demo.SUPPORT_BUCKET}/{KEY}"
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in target and "X-Amz-Expires=300" in target
    assert "response-content-disposition=" in target
    with urllib.request.urlopen(target) as download:
        assert download.read() == demo.body_of(KEY)


def test_head_redirects_too(desk, client):
    link = issue_stable(desk)
    assert client.head(path_of(link)).status_code == 302


def test_the_token_is_the_only_input_no_open_redirect(desk, client):
    link = issue_stable(desk)
    response = client.get(path_of(link) + "?next=https://evil.example/&redirect=https://evil.example/", headers={"Host": "evil.example"})
    assert response.status_code == 302
    assert urlsplit(response.headers["location"]).netloc == urlsplit(desk.settings.endpoint_url).netloc


def test_revoked_link_gets_a_withdrawn_page_at_once(desk, client):
    link = issue_stable(desk)
    assert client.get(path_of(link)).status_code == 302
    stable_admin.revoke(desk, link.entry.id, "tester")
    response = client.get(path_of(link))
    assert response.status_code == 410
    assert "withdrew this download link" in response.text and "Location" not in response.headers


def test_expired_link_gets_an_expired_page(desk):
    link = issue_stable(desk, lifetime=timedelta(minutes=15))
    resolver = Resolver(desk)
    later = datetime.now(timezone.utc) + timedelta(minutes=16)
    outcome = resolver.resolve(link_token(link.url), now=later)
    outcome.click.result(timeout=5)
    assert outcome.status == 410 and "has expired" in outcome.message and outcome.location is None


@pytest.mark.parametrize(
    "path",
    ["/s/", "/s/" + "A" * 10_240, "/s/abc%00defghijklmnopqrstu", "/s/../../etc/passwd", "/s/%2e%2e%2fetc%2fpasswd", "/s/ünïcødé-tøken-ünïcødé", "/s/" + "A" * 32 + "/extra"],
)
def test_malformed_tokens_get_the_not_found_page(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert "not valid" in response.text and "location" not in response.headers


def test_unknown_but_well_formed_token_gets_not_found(client):
    response = client.get("/s/" + "x" * 32)
    assert response.status_code == 404 and "ask your support contact" in response.text


def test_minted_url_is_cached_then_renewed(desk):
    link = issue_stable(desk)
    resolver = Resolver(desk)
    token = link_token(link.url)
    now = datetime.now(timezone.utc)
    first = resolver.resolve(token, now=now)
    second = resolver.resolve(token, now=now + timedelta(seconds=30))
    assert first.location == second.location and resolver.minted == 1
    third = resolver.resolve(token, now=now + timedelta(minutes=4))  # under half of the 5 minutes left
    assert third.status == 302 and resolver.minted == 2  # signed anew (the URL may match to the second)
    for outcome in (first, second, third):
        outcome.click.result(timeout=5)


def test_every_request_is_recorded_once(desk, client):
    link = issue_stable(desk)
    before = desk.log.count_clicks()
    statuses = [client.get(path_of(link), headers={"User-Agent": f"agent-{i}"}).status_code for i in range(7)]
    stable_admin.revoke(desk, link.entry.id, "tester")
    statuses.append(client.get(path_of(link)).status_code)
    assert statuses == [302] * 7 + [410]
    assert desk.log.count_clicks() == before + 8
    stored = desk.log.get_stable(link.entry.id)
    assert stored.clicks == 8 and stored.last_click_at is not None
    clicks = desk.log.clicks_for(link.entry.id)
    assert sorted(c.status for c in clicks) == [302] * 7 + [410]
    assert {c.user_agent for c in clicks} >= {f"agent-{i}" for i in range(7)}


def test_client_ip_comes_from_the_trusted_header_only_when_configured(desk):
    link = issue_stable(desk)
    trusting = type(desk)(settings=desk.settings.replace(client_ip_header="X-Forwarded-For"), aws=desk.aws, demo=desk.demo, _log=desk.log)
    with TestClient(standalone_app(lambda: trusting), follow_redirects=False) as client:
        client.get(path_of(link), headers={"X-Forwarded-For": "203.0.113.9, 10.0.0.1"})
    assert desk.log.clicks_for(link.entry.id)[0].client_ip == "203.0.113.9"


def test_the_token_is_never_stored(desk):
    link = issue_stable(desk)
    token = link_token(link.url)
    assert token not in link.entry.display_url
    if desk.log.dialect == "sqlite":  # the file itself, free pages and WAL included
        raw = b"".join(open(desk.log.path + suffix, "rb").read() for suffix in ("", "-wal") if __import__("os").path.exists(desk.log.path + suffix))
    else:  # every row of every table the log has
        tables = [r[0] for r in desk.log.query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")]
        raw = "".join(repr(desk.log.query(f"SELECT * FROM {t}")) for t in tables).encode()
    assert link.entry.fingerprint.encode() in raw  # the scan does see what was recorded
    assert token.encode() not in raw


def test_extend_stays_within_policy(desk):
    link = issue_stable(desk, lifetime=timedelta(days=1))
    now = datetime.now(timezone.utc)
    extended = stable_admin.extend(desk, link.entry.id, "tester", now + timedelta(days=10))
    assert extended.expires_at > now + timedelta(days=9)
    assert desk.log.get(link.entry.id).nominal_expires_at == extended.expires_at
    with pytest.raises(NotAllowed, match="at most 90 days"):
        stable_admin.extend(desk, link.entry.id, "tester", now + timedelta(days=200))
    stable_admin.revoke(desk, link.entry.id, "tester")
    with pytest.raises(NotAllowed, match="Only a live link"):
        stable_admin.extend(desk, link.entry.id, "tester", now + timedelta(days=2))


def test_only_stable_links_can_be_revoked_one_by_one(desk):
    presigned = issuing.issue(desk, [ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(hours=1), issuer="t")], "iam-user")[0]
    with pytest.raises(BadInput, match="not a stable link"):
        stable_admin.revoke(desk, presigned.entry.id, "tester")
    assert desk.log.get(presigned.entry.id).revoked_at is None


def test_stable_is_recommended_beyond_what_signers_give(desk):
    request = ShareRequest(bucket=demo.SUPPORT_BUCKET, key=KEY, lifetime=timedelta(days=30), issuer="t")
    options = issuing.previews(desk, request)
    advice = issuing.recommend(options, request.lifetime)
    assert advice.strategy == "stable"
    stable = next(p for p in options if p.strategy == "stable")
    assert stable.expiry.bound_by == "nominal"
