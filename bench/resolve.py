"""Load the stable-link resolver alone (serve-links under uvicorn) and a bare Starlette 302.

Bounded load on loopback with wrk (Debian's package): C connections for S seconds
against each, the same load for both.  Prints requests/s, p50/p99 latency, errors, the
ratio resolver/bare (target >= 0.3) and clicks recorded vs requests sent (must
be equal).  Targets: >= 0.5 on SQLite, >= 0.4 on PostgreSQL.
Run: .venv/bin/python bench/resolve.py [--clients 20] [--seconds 20] [--database-url URL|postgresql]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import _database
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BARE = """
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import Route
import uvicorn, sys
async def redirect(request):
    return RedirectResponse("http://127.0.0.1:9/fixed", status_code=302, headers={"Cache-Control": "no-store"})
uvicorn.run(Starlette(routes=[Route("/s/{token:path}", redirect, methods=["GET", "HEAD"])]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read().decode() if proc.stdout else ''}")
        try:
            httpx.get(url, timeout=1, follow_redirects=False)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not answer in {timeout} s")


LUA = """
paths = {%s}
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
"""


def ensure_wrk() -> str:
    """wrk, from Debian's packages: a load generator fast enough not to be the bottleneck."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        return "wrk"
    raise SystemExit("This benchmark needs wrk: apt-get install wrk")


def load(wrk: str, paths: list[str], base: str, clients: int, seconds: float, timeout: float = 2.0) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA % ", ".join(f'"{p}"' for p in paths))
    out = subprocess.run(
        [wrk, "-t2", f"-c{clients}", f"-d{int(seconds)}s", f"--timeout={int(timeout)}s", "--latency", "-s", script.name, base], capture_output=True, text=True, check=True
    ).stdout
    figures = {"errors": 0.0, "non_3xx": 0.0, "socket_errors": 0.0}
    for line in out.splitlines():
        words = line.split()
        if "requests in" in line:
            figures["requests"] = float(words[0])
        elif line.startswith("Requests/sec:"):
            figures["rate"] = float(words[1])
        elif words[:1] in (["50%"], ["99%"]):
            value = words[1]
            scale = 1000 if value.endswith("us") else (1 if value.endswith("ms") else 0.001)
            figures[words[0]] = float(value.rstrip("usm")) / scale if scale != 1 else float(value.rstrip("ms"))
        elif "Non-2xx or 3xx" in line or line.strip().startswith("Socket errors"):
            count = sum(float(w.rstrip(",")) for w in words if w.rstrip(",").isdigit())
            figures["errors"] += count
            figures["non_3xx" if "Non-2xx" in line else "socket_errors"] += count
    return figures


def report(name: str, figures: dict[str, float]) -> float:
    print(
        f"{name:<22} {figures['rate']:8,.0f} req/s   p50 {figures['50%']:6.2f} ms   p99 {figures['99%']:6.2f} ms"
        f"   requests {figures['requests']:,.0f}   errors {figures['errors']:.0f}"
    )
    return figures["rate"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--links", type=int, default=50)
    parser.add_argument("--database-url", default=None, help=_database.HELP)
    args = parser.parse_args()
    url = _database.resolve(args.database_url)
    backend = _database.backend_name(url)

    state = tempfile.mkdtemp(prefix="sharedesk-bench-resolve-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SHAREDESK_STATE_DIR=state, SHAREDESK_DEMO="1")
    os.environ.update(SHAREDESK_STATE_DIR=state, SHAREDESK_DEMO="1")
    if url:
        env["SHAREDESK_DATABASE_URL"] = os.environ["SHAREDESK_DATABASE_URL"] = url
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        del os.environ[name]

    from dashboard import demo, issuing
    from dashboard.desk import open_desk
    from dashboard.strategies import ShareRequest

    port, bare_port = free_port(), free_port()
    desk = open_desk(local_url=f"http://127.0.0.1:{port}")
    requests = [
        ShareRequest(bucket=demo.EXPORTS_BUCKET, key=f"{demo.BIG_PREFIX}export-{i:05d}.csv", lifetime=timedelta(days=7), issuer="bench")
        for i in range(args.links)
    ]
    links = issuing.issue(desk, requests, "stable", verify_objects=False)
    paths = ["/s/" + link.url.rsplit("/s/", 1)[1] for link in links]
    clicks_before = desk.log.count_clicks()

    resolver = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "serve-links", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    bare = subprocess.Popen([sys.executable, "-c", BARE, str(bare_port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", resolver)
        wait_ready(f"http://127.0.0.1:{bare_port}/s/x", bare)
        wrk = ensure_wrk()
        print(f"log backend: {backend}")
        print(f"wrk: {args.clients} connections for {args.seconds:.0f} s each, {len(paths)} live stable links, loopback, one uvicorn worker")
        resolved = load(wrk, paths, f"http://127.0.0.1:{port}", args.clients, args.seconds)
        resolver_rate = report("resolver (serve-links)", resolved)
        bare_rate = report("bare Starlette 302", load(wrk, paths, f"http://127.0.0.1:{bare_port}", args.clients, args.seconds))
        target = 0.4 if backend == "postgresql" else 0.5
        print(f"ratio resolver / bare    {resolver_rate / bare_rate:.2f}  (target >= {target:.2f} on {backend})")
        time.sleep(1)  # the last batch of clicks commits
        recorded = desk.log.count_clicks() - clicks_before
        done = int(resolved["requests"])
        # wrk counts completed responses only; each connection may have one request
        # in flight when it stops, which the resolver answered and recorded all the same.
        in_flight = recorded - done
        verdict = "none lost" if 0 <= in_flight <= args.clients else "MISMATCH"
        print(f"clicks recorded          {recorded:,} = {done:,} completed + {in_flight} in flight when wrk stopped (<= {args.clients}): {verdict}")
    finally:
        for proc in (resolver, bare):
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
