"""After a restart the demo's history links still point at a live demo S3, and still fail as S3 fails them.

Each run is a real process with its own demo (as a desk restarted on the
same state folder is); it prints what the history link looks like from
there, and what its demo S3 answers to it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

from tests.desk_server import ROOT, desk_env

SCRIPT = """
import json, sys, urllib.error, urllib.request
from urllib.parse import urlsplit
from dashboard import demo_history
from dashboard.desk import open_desk
from dashboard.store import fingerprint
from dashboard.urlparse import parse_link

desk = open_desk(share_demo=True, local_url="http://127.0.0.1:9")
entry, url = demo_history.cut_short_sample(desk)
try:
    urllib.request.urlopen(url, timeout=10)
    code = None
except urllib.error.HTTPError as exc:
    code = exc.read().decode().partition("<Code>")[2].partition("</Code>")[0]
sys.stdout.write(json.dumps({
    "endpoint": desk.settings.endpoint_url,
    "host": urlsplit(url).netloc,
    "matches_log": fingerprint(parse_link(url).signature) == entry.fingerprint,
    "answer": code,
}))
"""


def run(state_dir: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=desk_env(state_dir), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_restarted_demo_takes_its_port_again_so_history_links_keep_their_signatures(tmp_path):
    first = run(tmp_path)
    assert first["matches_log"] and first["answer"] == "ExpiredToken"
    second = run(tmp_path)
    assert second["endpoint"] == first["endpoint"]
    assert second["matches_log"] and second["answer"] == "ExpiredToken"


def test_when_its_port_is_taken_history_links_follow_the_demo_to_its_new_port(tmp_path):
    first = run(tmp_path)
    port = int(str(first["endpoint"]).rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen(1)
        second = run(tmp_path)
    assert second["endpoint"] != first["endpoint"]
    assert second["host"] == str(second["endpoint"]).removeprefix("http://")  # today's endpoint: no "connection refused"
    assert second["answer"] == "ExpiredToken"
    # The signature covers the host, so on another port it is not the one the log fingerprinted:
    # Inspect then explains the link from its URL alone.
    assert not second["matches_log"]
