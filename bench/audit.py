"""Expiry timeline figures on logs of 10,000 and 1,000,000 links, each printed with its target.

(a) `bulk_fill` time for each log (target: 1,000,000 rows well under a minute);
(b) one rerun of the Expiry timeline page through the navigation (AppTest, as
    tests/test_pages.py drives it) with its default filters, `st.cache_data.clear()`
    before every rerun so every query really runs; median of several reruns.
    Targets: 1,000,000-row rerun < 2 s, ratio 1,000,000 / 10,000 <= 3.
    Each size runs in a fresh process whose desk points at that log
    (SHAREDESK_DATABASE_URL), on the embedded demo, with every AWS_* variable removed.
    The line below each rerun splits off the time spent in the queries
    (`dashboard.audit.timeline`, called alone) from the rest (Altair, the
    DataFrames, Streamlit).

Run: .venv/bin/python bench/audit.py [--reruns 7] [--sizes 10000 1000000] [--keep DIR]
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

NAVIGATION = str(ROOT / "dashboard/ui/navigation.py")
TIMELINE = "../../pages/timeline.py"
SEED = 20261129


def line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<62} {value:>12}" + (f"   (target {target})" if target else ""), flush=True)


def env_for(state_dir: Path, log_path: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.pop("DATABASE_URL", None)
    env.update(SHAREDESK_DEMO="1", SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DATABASE_URL=str(log_path), PYTHONUNBUFFERED="1")
    return env


def fill(log_path: Path, n: int) -> float:
    from dashboard.store import IssuanceLog
    from dashboard.store.audit import bulk_fill

    with IssuanceLog(log_path) as log:
        started = time.perf_counter()
        bulk_fill(log, n, seed=SEED)
        elapsed = time.perf_counter() - started
        if log.count() != n:
            sys.exit(f"bulk_fill left {log.count()} rows in {log_path}, not {n}")
    return elapsed


def measure(reruns: int) -> dict[str, object]:
    """In the child process: rerun the page `reruns` times (after one warm-up) and time the queries alone."""
    import streamlit as st
    from streamlit import config as st_config
    from streamlit import logger as st_logger
    from streamlit.testing.v1 import AppTest

    from dashboard import audit
    from dashboard.desk import process_desk

    st_config.get_option("logger.level")
    st_logger.set_log_level("ERROR")  # AppTest outside a server warns on every cache call
    desk = process_desk(local_url="http://localhost:8501")
    at = AppTest.from_file(NAVIGATION, default_timeout=600)
    at.run()
    at.switch_page(TIMELINE).run()
    pages = []
    for _ in range(reruns + 1):  # the first rerun warms imports, Altair and the page cache of SQLite
        st.cache_data.clear()
        started = time.perf_counter()
        at.run()
        pages.append(time.perf_counter() - started)
        if at.exception:
            sys.exit(f"The Expiry timeline raised: {at.exception[0].value}")
    shown = {m.label: m.value for m in at.metric}
    f = audit.build_filter()
    queries = []
    for _ in range(reruns):
        started = time.perf_counter()
        audit.timeline(desk.log, f, limit=audit.DEFAULT_CHART_SIZE)
        queries.append(time.perf_counter() - started)
    return {
        "rerun": statistics.median(pages[1:]),
        "queries": statistics.median(queries),
        "figures": shown,
        "rows": len(at.dataframe[-1].value),
    }


def run_child(state_dir: Path, log_path: Path, reruns: int) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", "--reruns", str(reruns)],
        cwd=ROOT,
        env=env_for(state_dir, log_path),
        capture_output=True,
        text=True,
        timeout=3600,
    )
    if result.returncode != 0:
        sys.exit(f"The rerun bench failed on {log_path}:\n{result.stdout}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=7, help="reruns per log (median reported)")
    parser.add_argument("--sizes", type=int, nargs=2, default=(10_000, 1_000_000), metavar=("SMALL", "BIG"))
    parser.add_argument("--keep", type=Path, help="fill the logs in this folder and keep them (reused when present)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.reruns)))
        return

    with tempfile.TemporaryDirectory(prefix="sharedesk-bench-audit-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        results = {}
        for n in args.sizes:
            log_path = folder / f"log-{n}.sqlite3"
            if log_path.exists():
                line(f"(a) reusing {log_path.name}", "")
            else:
                seconds = fill(log_path, n)
                line(f"(a) bulk_fill {n:,} links", f"{seconds:8.1f} s", "well under 60 s" if n >= 1_000_000 else "")
            state_dir = folder / f"state-{n}"
            state_dir.mkdir(exist_ok=True)
            results[n] = run_child(state_dir, log_path, args.reruns)
            r = results[n]
            line(f"(b) Expiry timeline rerun, {n:,} links (median of {args.reruns})", f"{r['rerun'] * 1000:8.0f} ms", "< 2 s" if n >= 1_000_000 else "")
            line(f"    of which the queries (audit.timeline alone)", f"{r['queries'] * 1000:8.0f} ms")
            line(f"    page showed {', '.join(f'{k} {v}' for k, v in r['figures'].items())}; {r['rows']} rows charted", "")
        small, big = (results[n] for n in args.sizes)
        line(f"(b) ratio {args.sizes[1]:,} / {args.sizes[0]:,}", f"{big['rerun'] / small['rerun']:8.2f} x", "<= 3")


if __name__ == "__main__":
    main()
