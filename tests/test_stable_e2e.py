"""End to end: the desk on the demo, a stable link issued by the command line, fetched over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from dashboard import demo
from tests.desk_server import ROOT, desk_env, free_port, stop
from tests.desk_server import desk_server  # noqa: F401  (the session fixture)

KEY = "customers/globex/exports/données clients été.csv"


def cli(desk, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=desk_env(desk.state_dir), capture_output=True, text=True, timeout=60
    )


def test_stable_link_from_the_cli_downloads_through_the_desk_then_revokes(desk_server):  # noqa: F811
    issued = cli(desk_server, "issue", f"s3://{demo.SUPPORT_BUCKET}/{KEY}", "--strategy", "stable", "--expires-in", "30d")
    assert issued.returncode == 0, issued.stderr
    link = issued.stdout.strip()
    assert link.startswith(f"http://localhost:{desk_server.port}/s/")

    response = httpx.get(link, follow_redirects=True, timeout=10)
    assert response.status_code == 200 and response.content == demo.body_of(KEY)
    assert response.history[0].status_code == 302

    revoked = cli(desk_server, "revoke", link)
    assert revoked.returncode == 0, revoked.stderr
    after = httpx.get(link, follow_redirects=True, timeout=10)
    assert after.status_code == 410 and "withdrew" in after.text


def test_serve_links_alone_resolves_the_same_links(desk_server):  # noqa: F811
    issued = cli(desk_server, "issue", f"s3://{demo.SUPPORT_BUCKET}/README.txt", "--strategy", "stable", "--expires-in", "1d")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip().rsplit("/s/", 1)[1]
    port = free_port()
    resolver = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "serve-links", "--port", str(port)],
        cwd=ROOT,
        env=desk_env(desk_server.state_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).text == "ok":
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("serve-links did not answer /healthz")
        response = httpx.get(f"{base}/s/{token}", follow_redirects=True, timeout=10)
        assert response.status_code == 200 and response.content == demo.body_of("README.txt")
        assert httpx.get(base + "/", timeout=5).status_code == 404  # nothing of the dashboard is exposed
        assert httpx.get(f"{base}/s/{'x' * 32}", timeout=5).status_code == 404
    finally:
        stop(resolver)
