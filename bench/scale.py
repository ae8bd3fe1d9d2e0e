"""Replicas under load, on SQLite and then PostgreSQL: 8 processes issue while 20 clients click.

For each backend: a fresh log; the embedded demo started here (the other
processes join it, as replicas share one AWS account); 50 stable links; one
resolver (`serve-links`); then 8 issuer processes each issue 500 links one
at a time (a transaction each, as the Share page does) while wrk clicks the
stable links from 20 connections for 20 s. Prints issue throughput and p99,
click throughput and p99, and what was lost per backend; the last line sums
``rows lost N, failed requests M`` over both (both must be 0).

A private PostgreSQL is started as CI does (tests/postgres_server.py) unless
``--database-url`` names one. Loopback only, bounded in time and count.
Run: .venv/bin/python bench/scale.py [--processes 8] [--links 500] [--clients 20] [--seconds 20]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import _database
from resolve import ensure_wrk, free_port, load, wait_ready

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _issuer(location: str, state_dir: str, worker: int, count: int, start: Any, results: Any) -> None:
    """One replica issuing ``count`` links, one action each; reports ids and each action's latency."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]
    os.environ.update(SHAREDESK_STATE_DIR=state_dir, SHAREDESK_DEMO="1", SHAREDESK_DATABASE_URL=location)
    from dashboard import demo, issuing
    from dashboard.desk import open_desk
    from dashboard.strategies import ShareRequest

    desk = open_desk()
    desk.log.count()  # opened before the clock starts
    ids: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []
    start.wait()
    first = time.time()
    for n in range(count):
        request = ShareRequest(
            bucket=demo.EXPORTS_BUCKET, key=f"{demo.BIG_PREFIX}export-{(worker * count + n) % 5000:05d}.csv",
            lifetime=timedelta(days=1), issuer=f"scale-{worker}", ticket=f"SCALE-{worker}",
        )
        began = time.perf_counter()
        try:
            ids.append(issuing.issue(desk, [request], "iam-user", verify_objects=False)[0].entry.id)
        except Exception as exc:  # a failed issue is counted, not hidden
            errors.append(f"{type(exc).__name__}: {exc}")
        latencies.append(time.perf_counter() - began)
    results.put({"worker": worker, "ids": ids, "latencies": latencies, "errors": errors, "span": (first, time.time())})


def run_backend(name: str, location: str, state: str, args: argparse.Namespace, wrk: str) -> tuple[int, int]:
    for var in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[var]
    os.environ.update(SHAREDESK_STATE_DIR=state, SHAREDESK_DEMO="1", SHAREDESK_DATABASE_URL=location)
    env = {**os.environ}
    from dashboard import demo, issuing
    from dashboard.desk import open_desk
    from dashboard.strategies import ShareRequest

    port = free_port()
    desk = open_desk(share_demo=True, local_url=f"http://127.0.0.1:{port}")  # the demo the others join
    links = issuing.issue(
        desk,
        [ShareRequest(bucket=demo.EXPORTS_BUCKET, key=f"{demo.BIG_PREFIX}export-{i:05d}.csv", lifetime=timedelta(days=7), issuer="scale-clicks") for i in range(50)],
        "stable",
        verify_objects=False,
    )
    paths = ["/s/" + link.url.rsplit("/s/", 1)[1] for link in links]
    rows_before, clicks_before = desk.log.count(), desk.log.count_clicks()

    resolver_log = Path(state) / f"resolver-{name}.log"
    resolver = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "serve-links", "--port", str(port)], cwd=ROOT, env=env,
        stdout=resolver_log.open("wb"), stderr=subprocess.STDOUT,
    )
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(args.processes + 1), ctx.Queue()
    issuers = [ctx.Process(target=_issuer, args=(location, state, w, args.links, start, results)) for w in range(args.processes)]
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", resolver)
        for proc in issuers:
            proc.start()
        start.wait(timeout=300)
        clicked = load(wrk, paths, f"http://127.0.0.1:{port}", args.clients, args.seconds, timeout=args.timeout)
        reports = [results.get(timeout=1800) for _ in issuers]
        # From the first issue to the last, across processes (the clicks ran meanwhile).
        issue_seconds = max(r["span"][1] for r in reports) - min(r["span"][0] for r in reports)
        for proc in issuers:
            proc.join(timeout=60)
        time.sleep(1)  # the resolver's last click batch commits
    finally:
        resolver.terminate()
        resolver.wait(10)

    latencies = sorted(t for r in reports for t in r["latencies"])
    ids = [i for r in reports for i in r["ids"]]
    failed_issues = sum(len(r["errors"]) for r in reports)
    expected_rows = args.processes * args.links - failed_issues
    found_rows = desk.log.count() - rows_before
    issued_ids = set(ids)
    in_log = {int(r[0]) for r in desk.log.query("SELECT id FROM links WHERE issuer LIKE 'scale-%' AND issuer <> 'scale-clicks'")}
    rows_lost = len(issued_ids - in_log) + abs(found_rows - expected_rows) + (len(ids) - len(issued_ids))
    recorded = desk.log.count_clicks() - clicks_before
    completed = int(clicked["requests"])
    clicks_lost = max(0, completed - recorded)  # wrk may stop with one request per connection in flight: recorded, not counted
    failed = int(clicked["errors"]) + failed_issues
    verdict = desk.log.verify()

    p99 = latencies[int(0.99 * (len(latencies) - 1))] * 1000 if latencies else float("nan")
    print(f"{name}")
    print(f"  issue   {len(ids) / issue_seconds:8,.0f} links/s   p50 {statistics.median(latencies) * 1000:7.2f} ms   p99 {p99:7.2f} ms   "
          f"({args.processes} processes x {args.links} links, {issue_seconds:.1f} s)")
    print(f"  clicks  {clicked['rate']:8,.0f} req/s     p50 {clicked['50%']:7.2f} ms   p99 {clicked['99%']:7.2f} ms   "
          f"({args.clients} clients, {args.seconds:.0f} s, {completed:,} answered, {recorded:,} recorded)")
    failures = [line for line in resolver_log.read_text(errors="replace").splitlines() if line.startswith(("dashboard.", "psycopg.", "sqlite3."))]
    causes = ", ".join(f"{n} x {cause[:90]}" for cause, n in Counter(failures).most_common(3)) or "none logged"
    print(f"  failed: {int(clicked['non_3xx'])} clicks answered with an error, {int(clicked['socket_errors'])} not answered within "
          f"{args.timeout:.0f} s, {failed_issues} issue actions; resolver errors: {causes}")
    print(f"  rows lost {rows_lost + clicks_lost} (links {rows_lost}, clicks {clicks_lost}), failed requests {failed}, "
          f"chain {'intact: ' + str(verdict.rows) + ' rows verified' if verdict.ok else 'BROKEN: ' + (verdict.problem.sentence() if verdict.problem else '')}")
    desk.log.close()
    return rows_lost + clicks_lost + (0 if verdict.ok else 1), failed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--links", type=int, default=500, help="links each process issues")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--timeout", type=float, default=10, help="seconds wrk waits for one answer")
    parser.add_argument("--database-url", default="postgresql", help="the PostgreSQL half: a postgresql:// URL, or 'postgresql' to start a private server")
    args = parser.parse_args()
    wrk = ensure_wrk()
    postgres = _database.resolve(args.database_url)
    assert postgres is not None
    sqlite = str(Path(tempfile.mkdtemp(prefix="sharedesk-scale-log-")) / "log.sqlite3")
    state = tempfile.mkdtemp(prefix="sharedesk-scale-")  # one demo for both halves, joined by every process
    lost = failed = 0
    for name, location in (("sqlite", sqlite), ("postgresql", postgres)):
        backend_lost, backend_failed = run_backend(name, location, state, args, wrk)
        lost += backend_lost
        failed += backend_failed
    print(f"rows lost {lost}, failed requests {failed}")


if __name__ == "__main__":
    main()
