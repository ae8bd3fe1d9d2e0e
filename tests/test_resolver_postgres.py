"""The resolver on PostgreSQL: lookups and click commits awaited on the event loop, batched, and faults survived.

Real PostgreSQL (a fresh schema each), real HTTP requests through the ASGI app
on one event loop, as uvicorn serves them, and a loopback relay the test cuts.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from dashboard import issuing
from dashboard.links import Resolver, link_token, standalone_app
from dashboard.store import Click, IssuanceLog, LogReadError, fingerprint
from dashboard.store.postgres_async import AsyncClickStore
from tests.postgres_server import fresh_schema_url
from tests.test_store_faults import desk_on, relayed, request, via  # noqa: F401  (relayed is a fixture)


@pytest.fixture
def pg_desk(demo_server_desk, postgres_url):
    desk = desk_on(demo_server_desk, fresh_schema_url(postgres_url))
    yield desk
    desk.log.close()


def stable_links(desk, count: int) -> list[Any]:
    asked = [request(f"customers/acme/report-{n}.csv", lifetime=timedelta(days=1)) for n in range(count)]
    return issuing.issue(desk, asked, "stable", verify_objects=False)


async def click_all(resolver: Resolver, paths: list[str]) -> list[httpx.Response]:
    """Every path clicked at once, on one event loop (the ASGI app in-process)."""
    app = standalone_app(lambda: resolver.desk, resolver=resolver)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://desk.test", follow_redirects=False) as client:
        return list(await asyncio.gather(*(client.get(path) for path in paths)))


def test_clicks_at_once_share_reads_and_commits_and_each_gets_its_own_links_answer(pg_desk) -> None:
    links = stable_links(pg_desk, 6)
    for gone in links[4:]:
        pg_desk.log.revoke(gone.entry.id, at=datetime.now(UTC), by="test")
    unknown = ["/s/" + "x" * 40, "/s/" + "y" * 40]
    paths = [f"/s/{link_token(link.url)}" for link in links] * 5 + unknown
    resolver = Resolver(pg_desk)
    reads: list[int] = []
    writes: list[int] = []

    async def run() -> list[httpx.Response]:
        on_loop = resolver.on_loop()
        assert on_loop is not None  # a PostgreSQL log is read and written on the loop
        read, write = on_loop.lookups._read, on_loop.store.record_clicks

        async def counted_read(hashes):
            reads.append(len(hashes))
            return await read(hashes)

        async def counted_write(clicks):
            writes.append(len(clicks))
            await write(clicks)

        on_loop.lookups._read = counted_read
        on_loop.store.record_clicks = counted_write  # type: ignore[method-assign]
        try:
            return await click_all(resolver, paths)
        finally:
            await resolver.aclose()

    responses = asyncio.run(run())

    by_token = {fingerprint(link_token(link.url)): link for link in links}
    for path, response in zip(paths, responses):
        link = by_token.get(fingerprint(path.rsplit("/", 1)[1]))
        if link is None:
            assert response.status_code == 404
        elif link in links[4:]:
            assert response.status_code == 410 and "withdrew" in response.text
        else:  # redirected to its own object, never another click's
            assert response.status_code == 302
            assert unquote(urlsplit(response.headers["location"]).path).endswith("/" + link.entry.key)
    assert sum(reads) == len(set(paths)) == 8 and len(reads) < len(paths)  # each token read once per batch, in few statements
    assert sum(writes) == 30 and len(writes) < 30  # every click on a known link, committed in batches
    assert resolver.clicks.recorded_inline == 30 and resolver.clicks.failed_attempts == 0
    for link in links:
        rows = pg_desk.log.clicks_for(link.entry.id)
        expected = 410 if link in links[4:] else 302
        assert [row.status for row in rows] == [expected] * 5 and {row.client_ip for row in rows} == {"203.0.113.9"}
        assert pg_desk.log.get_stable(link.entry.id).clicks == 5


def test_the_loops_store_records_what_the_logs_own_batch_records(pg_desk) -> None:
    first, second = stable_links(pg_desk, 2)
    at = datetime(2026, 12, 2, 9, 30, 15, 250000, tzinfo=UTC)

    def batch(link_id: int) -> list[Click]:
        return [
            Click(link_id, at, 302, "203.0.113.9", "Mozilla/5.0 \"quoted\" \\ é" + "x" * 600),
            Click(link_id, at + timedelta(seconds=2), 200, None, None, "HEAD"),  # a check: kept, not counted
            Click(link_id, at + timedelta(seconds=1), 503, "2001:db8::1", "curl/8"),
        ]

    pg_desk.log.record_clicks(batch(first.entry.id))
    store = pg_desk.log.loop_store()
    assert store is not None

    async def run() -> None:
        try:
            await store.record_clicks(batch(second.entry.id))
        finally:
            await store.close()

    asyncio.run(run())
    ours, theirs = (pg_desk.log.clicks_for(link.entry.id) for link in (first, second))
    assert [(c.at, c.status, c.client_ip, c.user_agent, c.method) for c in ours] == [(c.at, c.status, c.client_ip, c.user_agent, c.method) for c in theirs]
    assert [len(c.user_agent or "") for c in theirs if c.status == 302] == [512]  # a user agent kept to 512 characters
    one, two = (pg_desk.log.get_stable(link.entry.id) for link in (first, second))
    assert (one.clicks, one.last_click_at) == (two.clicks, two.last_click_at) == (2, at + timedelta(seconds=1))


def test_the_resolver_on_the_loop_reconnects_after_its_connections_are_cut_and_says_503_while_refused(demo_server_desk, relayed) -> None:
    url, proxy = relayed
    desk = desk_on(demo_server_desk, via(url, proxy.port))
    (link,) = stable_links(desk, 1)
    path = f"/s/{link_token(link.url)}"
    resolver = Resolver(desk)
    app = standalone_app(lambda: desk, resolver=resolver)
    statuses: list[int] = []

    async def run() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://desk.test", follow_redirects=False) as client:
            statuses.append((await client.get(path)).status_code)
            proxy.cut()  # every connection of the loop's pool dies, as in a failover
            statuses.append((await client.get(path)).status_code)  # replaced before use
            proxy.refuse()
            proxy.cut()
            answer = await client.get(path)
            statuses.append(answer.status_code)
            assert "Try again in a few minutes" in answer.text and answer.headers["retry-after"] == "60"
            proxy.accept()
            for _ in range(100):  # the pool reconnects within its back-off (bounded: about 30 s)
                status = (await client.get(path)).status_code
                if status == 302:
                    break
                await asyncio.sleep(0.3)
            statuses.append(status)
        await resolver.aclose()

    asyncio.run(run())
    assert statuses[:3] == [302, 302, 503] and statuses[-1] == 302
    assert resolver.clicks.flush(timeout=30)
    with IssuanceLog(url) as direct:
        recorded = Counter(c.status for c in direct.clicks_for(link.entry.id))
    # Every redirect was committed before it was sent; the refused lookup had no link to record against,
    # and the clicks answered while the pool reconnected were recorded with what they were told.
    assert recorded[302] == statuses.count(302) and set(recorded) <= {302, 503}
    desk.log.close()


def test_an_unreachable_database_fails_a_loop_read_with_a_sentence_within_seconds(postgres_url) -> None:
    unreachable = AsyncClickStore("postgresql://postgres@127.0.0.1:9/postgres?connect_timeout=1", read_advice="Check that the test database is reachable", write_advice="Check that the test database accepts writes")

    async def run() -> BaseException:
        try:
            with pytest.raises(LogReadError) as raised:
                await asyncio.wait_for(unreachable.targets([fingerprint("t" * 40)]), 30)
            return raised.value
        finally:
            await unreachable.close()

    message = str(asyncio.run(run()))
    assert message.startswith("The issuance log could not be read") and message.endswith("then try again.") and "\n" not in message
