"""Start the real desk (`streamlit run streamlit_app.py`) on the demo, for browser tests.

A browser test needs the whole server: the ASGI app, its lifespan (which starts
the demo), the WebSocket and the static front end.  AppTest covers none of
that, so this helper runs the same command a person runs, on a free port, with
every `AWS_*` variable removed so no test can ever reach a real account.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class RunningDesk:
    url: str
    port: int
    state_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        """What the server printed so far (stdout and stderr together)."""
        return self.log_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def desk_env(state_dir: Path, extra_env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The current environment without any AWS setting, forced onto the demo."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    env.pop("SHAREDESK_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    env.update(SHAREDESK_DEMO="1", SHAREDESK_STATE_DIR=str(state_dir), PYTHONUNBUFFERED="1")
    env.update(extra_env or {})
    return env


def health(url: str, timeout: float = 2.0) -> str | None:
    """The body of `/_stcore/health`, or None while the server does not answer."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=timeout) as response:
            return response.read().decode(errors="replace").strip()
    except Exception:
        return None


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the server is still there after STOP_TIMEOUT."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@contextlib.contextmanager
def running_desk(tmp_path: Path | str, extra_env: Mapping[str, str] | None = None) -> Iterator[RunningDesk]:
    """Run the desk until the block ends; fail with the server's output if it never gets healthy."""
    tmp_path = Path(tmp_path)
    state_dir = tmp_path / "state"
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "desk-server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
        "--server.port", str(port), "--server.headless", "true",
        "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=desk_env(state_dir, extra_env), stdout=log, stderr=subprocess.STDOUT)
    desk = RunningDesk(url=url, port=port, state_dir=state_dir, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while health(url) != "ok":
            if process.poll() is not None:
                raise RuntimeError(f"The desk exited with status {process.returncode} before answering /_stcore/health:\n{desk.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"The desk did not answer /_stcore/health within {START_TIMEOUT:.0f} s:\n{desk.output()}")
            time.sleep(0.2)
        yield desk
    finally:
        stop(process)


@pytest.fixture(scope="session")
def desk_server() -> Iterator[RunningDesk]:
    """One desk for every browser test of the session (starting one costs seconds)."""
    with tempfile.TemporaryDirectory(prefix="sharedesk-browser-") as tmp, running_desk(tmp) as desk:
        yield desk
