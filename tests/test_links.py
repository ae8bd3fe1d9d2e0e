"""The stable-link resolver through Starlette's test client, on the demo's moto server."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import urllib.request
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from dashboard import demo, issuing, stable_admin
from dashboard.errors import BadInput, NotAllowed
from dashboard.links import Resolver, client_ip, link_token, normal_ip, routes, standalone_app
from dashboard.store import LogReadError
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


def disposition(location: str) -> str:
    return parse_qs(urlsplit(location).query)["response-content-disposition"][0]


def test_a_click_saves_the_file_under_the_name_given_at_issue(desk, client):
    link = issue_stable(desk, filename="report for ACME.csv")
    response = client.get(path_of(link))
    assert disposition(response.headers["location"]) == 'attachment; filename="report for ACME.csv"'
    with urllib.request.urlopen(response.headers["location"]) as download:
        assert download.headers["Content-Disposition"] == 'attachment; filename="report for ACME.csv"'


def test_a_click_without_a_file_name_saves_the_keys_base_name(desk, client):
    link = issue_stable(desk)  # no file name given at issue
    header = disposition(client.get(path_of(link)).headers["location"])
    assert header.startswith("attachment; filename=")
    assert header.endswith("filename*=UTF-8''donn%C3%A9es%20clients%20%C3%A9t%C3%A9.csv")  # the key's last part, not its folders


def test_head_is_answered_without_a_url_and_recorded_as_a_check_not_a_download(desk, client):
    link = issue_stable(desk)
    minted_before = desk.log.get_stable(link.entry.id)
    response = client.head(path_of(link), headers={"User-Agent": "mail-scanner"})
    assert response.status_code == 200 and "location" not in response.headers
    stored = desk.log.get_stable(link.entry.id)
    assert stored.clicks == minted_before.clicks == 0 and stored.last_click_at is None  # not a download
    [check] = desk.log.clicks_for(link.entry.id)
    assert (check.method, check.status, check.user_agent) == ("HEAD", 200, "mail-scanner")
    assert client.get(path_of(link)).status_code == 302
    assert desk.log.get_stable(link.entry.id).clicks == 1
    stable_admin.revoke(desk, link.entry.id, "tester")
    assert client.head(path_of(link)).status_code == 410
    assert [c.method for c in desk.log.clicks_for(link.entry.id)] == ["HEAD", "GET", "HEAD"]


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


def test_client_ip_is_what_the_trusted_proxies_added_and_only_when_configured(desk):
    link = issue_stable(desk)
    forged = {"X-Forwarded-For": "198.51.100.66, 203.0.113.9, 10.0.0.1"}  # the client wrote the first entry itself
    with TestClient(standalone_app(lambda: desk), follow_redirects=False, client=("192.0.2.10", 50000)) as client:
        client.get(path_of(link), headers=forged)
    assert desk.log.clicks_for(link.entry.id)[0].client_ip == "192.0.2.10"  # no header configured: the socket's peer
    for hops, expected in ((1, "10.0.0.1"), (2, "203.0.113.9")):
        settings = desk.settings.replace(client_ip_header="X-Forwarded-For", client_ip_trusted_hops=hops)
        trusting = type(desk)(settings=settings, aws=desk.aws, demo=desk.demo, _log=desk.log)
        with TestClient(standalone_app(lambda: trusting), follow_redirects=False, client=("192.0.2.10", 50000)) as client:
            client.get(path_of(link), headers=forged)
        assert desk.log.clicks_for(link.entry.id)[0].client_ip == expected


@pytest.mark.parametrize(
    ("values", "hops", "expected"),
    [
        (["203.0.113.9"], 1, "203.0.113.9"),
        (["198.51.100.1, 203.0.113.9"], 1, "203.0.113.9"),
        (["198.51.100.1", "203.0.113.9"], 1, "203.0.113.9"),  # two header lines: the last one's last entry
        (["198.51.100.1, 203.0.113.9"], 2, "198.51.100.1"),
        (["203.0.113.9"], 2, "192.0.2.10"),  # fewer entries than trusted proxies: the peer
        (["::ffff:203.0.113.9"], 1, "203.0.113.9"),  # IPv4-mapped IPv6 is stored as IPv4
        (["2001:db8::1"], 1, "2001:db8::1"),
        (["[2001:db8::1]"], 1, "2001:db8::1"),
        (["fe80::1%eth0"], 1, "fe80::1"),
        (["unknown"], 1, "192.0.2.10"),
        (["203.0.113.9:4711"], 1, "192.0.2.10"),
        (["<script>alert(1)</script>"], 1, "192.0.2.10"),
        (["203.0.113.9\x00"], 1, "192.0.2.10"),
        (["1" * 5000], 1, "192.0.2.10"),
        ([""], 1, "192.0.2.10"),
        ([], 1, "192.0.2.10"),
    ],
)
def test_client_ip_is_an_ip_address_or_the_peer(values, hops, expected):
    assert client_ip(values, "192.0.2.10", trusted_hops=hops) == expected


def test_a_peer_that_is_not_an_address_is_not_stored():
    assert client_ip([], "testclient") is None and normal_ip("::ffff:10.1.2.3") == "10.1.2.3"


@pytest.mark.parametrize(("path", "host"), [("/s", "evil.example"), ("/healthz/", "evil.example"), ("/s/", "evil.example")])
def test_no_redirect_is_built_from_the_host_header(client, path, host):
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 404 and "location" not in response.headers


def test_the_link_routes_beside_a_redirecting_router_never_redirect_either(desk):
    # The dashboard mounts these routes in Streamlit's own Starlette app, whose router keeps
    # redirect_slashes on: `/s` must be answered by the routes themselves.
    app = Starlette(routes=routes(lambda: desk))
    assert app.router.redirect_slashes
    with TestClient(app, follow_redirects=False) as client:
        response = client.get("/s", headers={"Host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers


@contextlib.contextmanager
def another_writer_holds(log):
    """The log locked by another writer: SQLite's write lock, or PostgreSQL's lock on the clicks table."""
    if log.dialect == "sqlite":
        locker = sqlite3.connect(log.path, isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
    else:
        import psycopg

        locker = psycopg.connect(log.location.target)
        locker.execute("LOCK TABLE clicks IN EXCLUSIVE MODE")  # reads go on, inserts wait
    try:
        yield
    finally:
        locker.rollback()
        locker.close()


def test_a_locked_log_gets_the_503_page_and_the_click_is_recorded_once_it_recovers(desk):
    link = issue_stable(desk)
    resolver = Resolver(desk)
    resolver.commit_wait = 0.2  # the route gives up on the row quickly; the write itself waits out the lock (5 s)
    with another_writer_holds(desk.log):
        with TestClient(standalone_app(lambda: desk, resolver=resolver), follow_redirects=False) as client:
            response = client.get(path_of(link))
        assert response.status_code == 503
        assert "cannot be fetched right now" in response.text and "location" not in response.headers
        assert response.headers["retry-after"] == "60"
        assert desk.log.clicks_for(link.entry.id) == []  # nothing could be written yet
        assert resolver.clicks.pending == 1 and resolver.unavailable == 1
    assert resolver.clicks.flush(timeout=30)  # the writer retries once the lock is gone
    [click] = desk.log.clicks_for(link.entry.id)
    assert click.status == 503 and click.method == "GET"  # what the customer was answered
    assert resolver.clicks.recorded == 1 and resolver.clicks.dropped == 0


class _LogProxy:
    """The demo's log, seen through a backend's flags (a PostgreSQL log sets reads_may_block)."""

    def __init__(self, log, *, reads_may_block: bool, fail: bool | type[Exception] = False) -> None:
        self._log, self.reads_may_block, self._fail = log, reads_may_block, fail
        self.lookups_on_event_loop: list[bool] = []

    def stable_target(self, token_hash):
        try:
            asyncio.get_running_loop()
            self.lookups_on_event_loop.append(True)
        except RuntimeError:
            self.lookups_on_event_loop.append(False)
        if self._fail is True:
            raise LogReadError("The issuance log could not be read (connection refused). Check it, then try again.")
        if self._fail:
            raise self._fail("a bug")
        return self._log.stable_target(token_hash)

    def loop_store(self):
        return None  # no store for the event loop: a blocking log is read on worker threads

    def __getattr__(self, name):
        return getattr(self._log, name)


@pytest.mark.parametrize("may_block", [True, False])
def test_lookups_leave_the_event_loop_only_when_the_log_says_reads_may_block(desk, may_block):
    link = issue_stable(desk)
    log = _LogProxy(desk.log, reads_may_block=may_block)
    proxied = type(desk)(settings=desk.settings, aws=desk.aws, demo=desk.demo, _log=log)
    with TestClient(standalone_app(lambda: proxied), follow_redirects=False) as client:
        assert client.get(path_of(link)).status_code == 302
    assert log.lookups_on_event_loop[0] is (not may_block)


@pytest.mark.parametrize("failure", [True, RuntimeError], ids=["log-unreadable", "unexpected-bug"])
def test_a_lookup_that_fails_gets_the_503_page_not_a_bare_500(desk, failure):
    link = issue_stable(desk)
    proxied = type(desk)(settings=desk.settings, aws=desk.aws, demo=desk.demo, _log=_LogProxy(desk.log, reads_may_block=True, fail=failure))
    with TestClient(standalone_app(lambda: proxied), follow_redirects=False, raise_server_exceptions=False) as client:
        response = client.get(path_of(link))
    assert response.status_code == 503 and "Try again in a few minutes" in response.text


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
