"""Several desk processes on one log at once: issue, click and revoke, nothing lost, doubled or forked.

Each replica is a real process with its own desk (joining the test
session's demo S3, as a second task joins the first's database), on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from datetime import timedelta
from typing import Any

from dashboard import demo_history
from dashboard.store import IssuanceLog

WORKERS = 4
STABLE = 8  # stable links each replica issues one at a time
BATCH = 5  # and signer-user links in one bulk action


def _replica(location: str, state_dir: str, worker: int, barrier: Any, results: Any) -> None:
    report: dict[str, Any] = {"worker": worker, "errors": [], "wrong": [], "clicks": 0, "issued": []}
    try:
        for name in [n for n in os.environ if n.startswith("AWS_")]:
            del os.environ[name]
        os.environ.update(SHAREDESK_STATE_DIR=state_dir, SHAREDESK_DEMO="1", SHAREDESK_DATABASE_URL=location)
        from dashboard import demo, issuing, stable_admin
        from dashboard.desk import open_desk
        from dashboard.links import Resolver, link_token
        from dashboard.strategies import ShareRequest

        desk = open_desk()  # joins the running demo server; the first use of the log seeds it, once
        barrier.wait(timeout=120)

        def ask(n: int) -> ShareRequest:
            key = f"customers/acme/replica-{worker}-{n}.csv"
            return ShareRequest(bucket=demo.SUPPORT_BUCKET, key=key, lifetime=timedelta(days=2), issuer=f"replica-{worker}", ticket=f"TCK-R{worker}")

        links = [issuing.issue(desk, [ask(n)], "stable", verify_objects=False)[0] for n in range(STABLE)]
        bulk = issuing.issue(desk, [ask(100 + n) for n in range(BATCH)], "iam-user", verify_objects=False)
        report["issued"] = [link.entry.id for link in links + bulk]
        resolver = Resolver(desk)

        def click(link: Any) -> int:
            outcome = resolver.resolve(link_token(link.url), client_ip="127.0.0.1")
            assert outcome is not None
            if outcome.click is not None:
                outcome.click.result(timeout=60)  # committed, as the route waits before answering
                report["clicks"] += 1
            return outcome.status

        for link in links:
            if click(link) != 302:
                report["wrong"].append(("before", link.entry.id))
        barrier.wait(timeout=120)
        # Every replica revokes its share of everyone's even-numbered stable links.
        for link in desk.log.stable_links(limit=10_000):
            if link.entry.id % 2 == 0 and (link.entry.id // 2) % WORKERS == worker:
                stable_admin.revoke(desk, link.entry.id, f"replica-{worker}")
        barrier.wait(timeout=120)
        for link in links:  # the very next click sees the revocation, whoever made it
            expected = 410 if link.entry.id % 2 == 0 else 302
            if click(link) != expected:
                report["wrong"].append(("after", link.entry.id))
    except Exception:
        report["errors"].append(traceback.format_exc())
        barrier.abort()
    results.put(report)


def test_replicas_issue_click_and_revoke_at_once_without_losing_or_doubling_a_row(database_url: str, demo_server_desk) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(WORKERS), ctx.Queue()
    state_dir = os.environ["SHAREDESK_STATE_DIR"]  # where the session's demo server is recorded
    procs = [ctx.Process(target=_replica, args=(database_url, state_dir, w, barrier, results)) for w in range(WORKERS)]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=300) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)

    errors = [e for r in reports for e in r["errors"]]
    assert errors == [], errors[0] if errors else ""
    assert not any("database is locked" in str(r) for r in reports)
    assert [w for r in reports for w in r["wrong"]] == []
    issued = [i for r in reports for i in r["issued"]]
    assert len(issued) == len(set(issued)) == WORKERS * (STABLE + BATCH)
    with IssuanceLog(database_url) as log:
        assert log.count() == demo_history.COUNT + WORKERS * (STABLE + BATCH)  # the history seeded once
        (distinct, rows) = log.query("SELECT COUNT(DISTINCT fingerprint), COUNT(*) FROM links")[0]
        assert distinct == rows  # no link recorded twice
        assert log.count_clicks() == sum(r["clicks"] for r in reports) == WORKERS * STABLE * 2
        revoked = log.query("SELECT COUNT(*) FROM link_events WHERE kind = 'revoke'")[0][0]
        assert revoked == sum(1 for i in issued if i % 2 == 0 and i in {x for r in reports for x in r["issued"][:STABLE]})
        verdict = log.verify()
    assert verdict.ok, verdict.problem
