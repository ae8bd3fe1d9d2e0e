"""Browse and start-up figures on the embedded demo, each printed with its target.

(a) the Browse page's rerun time, through the navigation as tests/test_pages.py
    drives it, on a folder of 100 objects and on one of 100,000 (one
    ListObjectsV2 page each; caches cleared before every rerun), and their ratio
    (target <= 1.5);
(b) the time from launching the desk until /_stcore/health answers (target <= 15 s);
(c) the wall time of `python -m dashboard ls s3://sharedesk-demo-exports/nightly/`
    with no desk running and while the desk from (b) runs (target <= 5 s).

Run: .venv/bin/python bench/browse.py [--reruns 7] [--big 100000] [--profile]
Not part of the test suite (pytest collects tests/ only by name: no test_*.py here).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The in-process demo of (a) must never see a real account, nor the developer's state folder.
for _name in [n for n in os.environ if n.startswith("AWS_")]:
    del os.environ[_name]
os.environ["SHAREDESK_STATE_DIR"] = tempfile.mkdtemp(prefix="sharedesk-bench-")
os.environ["SHAREDESK_DEMO"] = "1"
os.environ.pop("SHAREDESK_DATABASE_URL", None)
os.environ.pop("DATABASE_URL", None)

from tests.desk_server import desk_env, free_port, health, stop  # noqa: E402

NAVIGATION = str(ROOT / "dashboard/ui/navigation.py")
BROWSE = "../../pages/browse.py"
LS_TARGET = "s3://sharedesk-demo-exports/nightly/"
# Each folder sits in its own demo bucket: moto scans a whole bucket on every
# ListObjectsV2 (S3 does not), so sharing one would charge the small folder for the big one.
SMALL = ("sharedesk-demo-archive", "bench/small/")
BIG = ("sharedesk-demo-exports", "bench/big/")


def line(label: str, value: str, target: str = "") -> None:
    print(f"{label:<64} {value:>12}" + (f"   (target {target})" if target else ""), flush=True)


# --- (a) Browse rerun ---------------------------------------------------------


def seed_folder(bucket: str, prefix: str, count: int) -> float:
    from dashboard import demo

    started = time.perf_counter()
    demo.seed_objects([(bucket, f"{prefix}obj-{i:06d}.csv", "STANDARD") for i in range(count)])
    return time.perf_counter() - started


def rerun_times(bucket: str, prefix: str, reruns: int, calls: list[int], backend_time: list[float]) -> list[tuple[float, float]]:
    """(rerun time, moto's own listing time in it) for `reruns` reruns of Browse, caches cleared each time."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(NAVIGATION, default_timeout=300)
    at.query_params["bucket"] = bucket
    at.query_params["prefix"] = prefix
    at.run()
    at.switch_page(BROWSE).run()
    times = []
    for _ in range(reruns + 1):  # the first rerun warms imports and the client
        st.cache_data.clear()
        before, backend_before = calls[0], backend_time[0]
        started = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - started, backend_time[0] - backend_before))
        if at.exception:
            sys.exit(f"Browse raised on s3://{bucket}/{prefix}: {at.exception[0].value}")
        if calls[0] != before + 1:
            sys.exit(f"Browse made {calls[0] - before} listing calls on a rerun, not 1: the cache was not cleared?")
        frame = at.dataframe[0].value
        if len(frame) != 100 or frame["Name"].iloc[0] != "obj-000000.csv":
            sys.exit(f"Browse showed {len(frame)} rows starting {frame['Name'].iloc[0]!r} on s3://{bucket}/{prefix}")
    return times[1:]


def time_moto_listing() -> list[float]:
    """Accumulate the time moto's S3 backend spends in ListObjectsV2 (it runs in the server thread)."""
    from moto.s3.models import s3_backends

    from dashboard import demo

    backend = s3_backends[demo.ACCOUNT_ID]["aws"]
    total = [0.0]
    original = backend.list_objects_v2

    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            total[0] += time.perf_counter() - started

    backend.list_objects_v2 = timed
    return total


def count_listing_calls() -> list[int]:
    """Wrap catalog.list_page (the page reaches it through dashboard.ui.browse) to count real calls."""
    from dashboard import catalog

    calls = [0]
    original: Callable[..., Any] = catalog.list_page

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    catalog.list_page = counted  # type: ignore[assignment]
    return calls


def profile_big_listing() -> None:
    """Where moto's time goes on the big folder: its backend's listing, profiled alone."""
    from moto.s3.models import s3_backends

    from dashboard import demo

    backend = s3_backends[demo.ACCOUNT_ID]["aws"]
    bucket, prefix = BIG
    profiler = cProfile.Profile()
    profiler.enable()
    backend.list_objects_v2(backend.get_bucket(bucket), prefix, "/", None, None, 100)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(8)
    print("  moto's list_objects_v2 on the big folder, top functions by own time:")
    print("\n".join("    " + row for row in out.getvalue().splitlines() if row.strip()))


def bench_rerun(big_count: int, reruns: int, profile: bool) -> None:
    from streamlit import config as st_config
    from streamlit import logger as st_logger

    from dashboard.desk import process_desk

    st_config.get_option("logger.level")  # parse the config now: parsing resets the log level
    st_logger.set_log_level("ERROR")  # AppTest outside a server warns on every cache call

    process_desk()  # the same process-wide desk (and demo) the pages open
    calls = count_listing_calls()
    backend_time = time_moto_listing()
    seeded = seed_folder(*SMALL, 100) + seed_folder(*BIG, big_count)
    line(f"(a) seeded 100 + {big_count:,} objects into moto's backend", f"{seeded:8.1f} s")
    results = {}
    for label, (bucket, prefix) in (("100", SMALL), (f"{big_count:,}", BIG)):
        runs = rerun_times(bucket, prefix, reruns, calls, backend_time)
        results[label] = (statistics.median(t for t, _ in runs), statistics.median(t - b for t, b in runs))
        line(f"(a) Browse rerun, {label}-object folder (median of {reruns})", f"{results[label][0] * 1000:8.1f} ms")
    (small, small_rest), (big, big_rest) = results.values()
    line(f"(a) ratio {big_count:,} / 100", f"{big / small:8.2f} x", "<= 1.5")
    for label, (total, rest) in results.items():
        line(f"  {label}-object rerun: moto's backend listing / all the rest", f"{(total - rest) * 1000:6.0f} / {rest * 1000:.0f} ms")
    line("  ratio of 'all the rest' (the desk, boto3, HTTP), info only", f"{big_rest / small_rest:8.2f} x")
    if profile:
        profile_big_listing()


# --- (b) start-up and (c) the command line ------------------------------------


def time_ls(state_dir: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "dashboard", "ls", LS_TARGET],
        cwd=ROOT,
        env=desk_env(state_dir),
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0 or "export-00000.csv" not in result.stdout:
        sys.exit(f"`python -m dashboard ls {LS_TARGET}` failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return elapsed


def bench_processes() -> None:
    with tempfile.TemporaryDirectory(prefix="sharedesk-bench-cli-") as alone, tempfile.TemporaryDirectory(prefix="sharedesk-bench-desk-") as shared:
        alone_dir, desk_dir = Path(alone), Path(shared)
        line("(c) `dashboard ls` no desk running, first run (empty state)", f"{time_ls(alone_dir):8.2f} s", "<= 5 s")
        line("(c) `dashboard ls` no desk running, log already seeded", f"{time_ls(alone_dir):8.2f} s", "<= 5 s")

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port), "--server.headless", "true"]
        log = (desk_dir / "desk.log").open("wb")
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=desk_env(desk_dir), stdout=log, stderr=subprocess.STDOUT)
        try:
            while health(url, timeout=1) != "ok":
                if process.poll() is not None or time.perf_counter() - started > 120:
                    log.flush()
                    sys.exit(f"The desk did not start:\n{(desk_dir / 'desk.log').read_text(errors='replace')}")
                time.sleep(0.05)
            line("(b) `streamlit run streamlit_app.py` -> health ok (fresh state)", f"{time.perf_counter() - started:8.2f} s", "<= 15 s")
            if not (desk_dir / "demo-server.json").exists():
                sys.exit("The desk recorded no demo server: `dashboard ls` could not join it.")
            line("(c) `dashboard ls` while the desk runs (joins its demo)", f"{time_ls(desk_dir):8.2f} s", "<= 5 s")
        finally:
            stop(process)
            log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=7, help="reruns per folder (median reported)")
    parser.add_argument("--big", type=int, default=100_000, help="objects in the big folder")
    parser.add_argument("--profile", action="store_true", help="profile moto's listing of the big folder")
    parser.add_argument("--skip", choices=("a", "bc"), help="skip a part")
    args = parser.parse_args()
    if args.skip != "bc":
        bench_processes()  # first, while this process runs no moto server of its own
    if args.skip != "a":
        bench_rerun(args.big, args.reruns, args.profile)


if __name__ == "__main__":
    main()
