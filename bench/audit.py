"""Expiry timeline reruns on logs of 10,000, 1,000,000 (and 10,000,000) links, each printed with its target.

(a) `bulk_fill` time for each log (it rebuilds the indexes and the audit rollup once at the end);
(b) one rerun of the Expiry timeline page through the navigation (AppTest, as
    tests/test_pages.py drives it) with its default filters, right after a new
    link was issued: the page's cache is keyed on the log's version, so every
    measured rerun really reads the figures again, as a person sees after
    issuing a link; median of several reruns. Below it, the time spent in the
    reads alone (`dashboard.audit.timeline`, called directly), and a rerun with
    nothing new (served from the page's cache). The page's first run starts the
    hash chain's full walk in the background (once per process); it is waited
    for, and its time printed, before the reruns are measured.
(c) each size's rerun against the smallest one's (wall time; CPU time and the reads alone beside it). Target (issue 12): the rerun at
    1,000,000 links at most 2 x the rerun at 10,000.

Each size runs in a fresh process whose desk points at that log
(SHAREDESK_DATABASE_URL), on the embedded demo, with every AWS_* variable removed.

Run: .venv/bin/python bench/audit.py [--reruns 15] [--sizes 10000 1000000 [10000000]] [--days 45] [--keep DIR]
                                      [--database-url URL]   (a "{n}" in URL is replaced by the size)
Without --database-url the logs are throwaway SQLite files (kept with --keep, and reused when present).
A database given by URL is filled when empty, reused when it holds the size asked (plus the links earlier
reruns added), refused otherwise.
Not part of the test suite (pytest collects tests/ only; nothing here is named test_*.py).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import _database  # noqa: E402  (beside this file)

NAVIGATION = str(ROOT / "dashboard/ui/navigation.py")
TIMELINE = "../../pages/timeline.py"
SEED = 20261129


def line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<66} {value:>12}" + (f"   (target {target})" if target else ""), flush=True)


def env_for(state_dir: Path, url: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.pop("DATABASE_URL", None)
    env.update(SHAREDESK_DEMO="1", SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DATABASE_URL=url, PYTHONUNBUFFERED="1")
    return env


def fill(url: str, n: int, days: int) -> float | None:
    """Fill the log at ``url`` with ``n`` links over ``days`` days; None when it already holds them."""
    from dashboard.store import IssuanceLog
    from dashboard.store.synthetic import bulk_fill

    from dashboard.store.audit import _query

    with IssuanceLog.open(url) as log:
        have = log.count()
        (reruns,) = _query(log, "SELECT COUNT(*) FROM links WHERE note = 'bench rerun'")[0]
        if have - reruns == n:
            return None  # filled before (each measured rerun adds a link of its own)
        if have:
            sys.exit(f"{url} holds {have:,} links, not 0 or {n:,}: give an empty database, or the one filled before.")
        started = time.perf_counter()
        bulk_fill(log, n, seed=SEED, days=days)
        elapsed = time.perf_counter() - started
        if log.count() != n:
            sys.exit(f"bulk_fill left {log.count():,} rows in {url}, not {n:,}")
    return elapsed


def _new_link(n: int):  # noqa: ANN202  (a NewLink; imported late, in the child)
    from datetime import UTC, datetime, timedelta

    from dashboard.store import NewLink, fingerprint

    now = datetime.now(UTC)
    return NewLink(
        issued_at=now, issuer="bench", strategy="ambient", bucket="sharedesk-demo-support", key=f"bench/rerun-{n}.csv",
        filename=None, ticket=None, note="bench rerun", signed_at=now, nominal_expires_at=now + timedelta(days=1),
        effective_expires_at=now + timedelta(hours=2), bound_by="credentials", reason="Signed with the bench's credentials.",
        credential_source="container-role", access_key_id="ASIABENCH", credential_kind="temporary",
        credential_expires_at=now + timedelta(hours=2), fingerprint=fingerprint(f"bench-{now.timestamp()}-{n}"),
        display_url=f"https://sharedesk-demo-support.s3.amazonaws.com/bench/rerun-{n}.csv",
    )


def measure(reruns: int) -> dict[str, object]:
    """In the child process: rerun the page after each new link (after one warm-up), then cached, then the reads alone."""
    from datetime import timedelta

    from streamlit import config as st_config
    from streamlit import logger as st_logger
    from streamlit.testing.v1 import AppTest

    from dashboard import audit
    from dashboard.desk import process_desk
    from dashboard.timefmt import viewer_zone

    st_config.get_option("logger.level")
    st_logger.set_log_level("ERROR")  # AppTest outside a server warns on every cache call
    desk = process_desk(local_url="http://localhost:8501")
    at = AppTest.from_file(NAVIGATION, default_timeout=600)
    at.run()
    at.switch_page(TIMELINE).run()
    # The page's first run starts the hash chain's full walk in the background, once per process
    # (a desk runs for days); reruns are measured after it, each checking only the rows added since.
    started = time.perf_counter()
    walked = desk.log.chain_status(wait=True)
    walk = time.perf_counter() - started
    fresh, cpu = [], []
    for k in range(reruns + 1):  # the first rerun warms imports, Altair and the database's page cache
        desk.log.record(_new_link(k))
        started, used = time.perf_counter(), time.process_time()
        at.run()
        fresh.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
        if at.exception:
            sys.exit(f"The Expiry timeline raised: {at.exception[0].value}")
    cached = []
    for _ in range(reruns):
        started = time.perf_counter()
        at.run()
        cached.append(time.perf_counter() - started)
    shown = {m.label: m.value for m in at.metric}
    reads = []
    tolerance = timedelta(seconds=desk.settings.cut_short_tolerance_seconds)
    for _ in range(reruns):
        started = time.perf_counter()
        f = audit.build_filter(now=audit.moment(audit.version(desk.log)), tolerance=tolerance)
        audit.timeline(desk.log, f, viewer_zone(None), audit.DEFAULT_CHART_SIZE)
        reads.append(time.perf_counter() - started)
    return {
        "walk": walk,
        "walked": f"{walked.state}, {walked.rows:,} rows",
        "rerun": statistics.median(fresh[1:]),
        "cpu": statistics.median(cpu[1:]),
        "cached": statistics.median(cached),
        "reads": statistics.median(reads),
        "figures": shown,
        "rows": len(at.dataframe[-1].value),
    }


def run_child(state_dir: Path, url: str, reruns: int) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", "--reruns", str(reruns)],
        cwd=ROOT,
        env=env_for(state_dir, url),
        capture_output=True,
        text=True,
        timeout=7200,
    )
    if result.returncode != 0:
        sys.exit(f"The rerun bench failed on {url}:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reruns", type=int, default=15, help="reruns per log (median reported)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000], metavar="N")
    parser.add_argument("--days", type=int, default=45, help="days of history to fill (longer than the page's 30-day window, so its start cuts through links)")
    parser.add_argument("--keep", type=Path, help="fill the SQLite logs in this folder and keep them (reused when present)")
    parser.add_argument("--database-url", help='the log to fill and measure ("{n}" is replaced by the size; "postgresql" starts a private server); SQLite files by default')
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.reruns)))
        return
    sizes = sorted(set(args.sizes))
    if args.database_url and args.database_url != "postgresql" and len(sizes) > 1 and "{n}" not in args.database_url:
        parser.error('with several sizes, --database-url needs "{n}" (one database per size)')

    with tempfile.TemporaryDirectory(prefix="sharedesk-bench-audit-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for n in sizes:
            if args.database_url == "postgresql":  # a private server as CI starts, one schema per size
                url = _database.resolve("postgresql", prefix=f"audit{n}")
            else:
                url = args.database_url.replace("{n}", str(n)) if args.database_url else str(folder / f"log-{n}.sqlite3")
            seconds = fill(url, n, args.days)
            if seconds is None:
                line(f"(a) reusing the log of {n:,} links", "")
            else:
                line(f"(a) bulk_fill {n:,} links over {args.days} days", f"{seconds:8.1f} s")
            state_dir = folder / f"state-{n}"
            state_dir.mkdir(exist_ok=True)
            results[n] = r = run_child(state_dir, url, args.reruns)
            line(f"    the chain's first walk, in the background, once per process ({r['walked']})", f"{r['walk']:8.1f} s")
            line(f"(b) Expiry timeline rerun after a new link, {n:,} links (median of {args.reruns})", f"{r['rerun'] * 1000:8.0f} ms")
            line("    the same reruns in CPU time (less swayed by other load)", f"{r['cpu'] * 1000:8.0f} ms")
            line("    of which the reads (audit.timeline alone)", f"{r['reads'] * 1000:8.0f} ms")
            line("    a rerun with nothing new (the page's cache)", f"{r['cached'] * 1000:8.0f} ms")
            line(f"    page showed {', '.join(f'{k} {v}' for k, v in r['figures'].items())}; {r['rows']} rows charted", "")
        smallest = sizes[0]
        for n in sizes[1:]:
            ratio = results[n]["rerun"] / results[smallest]["rerun"]
            cpu = results[n]["cpu"] / results[smallest]["cpu"]
            reads = results[n]["reads"] / results[smallest]["reads"]
            line(f"(c) rerun ratio {n:,} / {smallest:,} (CPU {cpu:.2f} x, reads alone {reads:.2f} x)", f"{ratio:8.2f} x", "<= 2" if n == 1_000_000 else "")


if __name__ == "__main__":
    main()
