#!/usr/bin/env python3
"""Set up a local virtual environment, then run the desk or the tests.

    python3 run.py desk [streamlit options]   # the desk on the embedded demo
    python3 run.py test [pytest options]      # the whole test suite

Needs only python3.  The environment lives in .venv/ and is reinstalled only
when requirements*.txt change.  `test` also installs Debian's Chromium for the
browser tests when it is missing and this user may run apt-get.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
CHROMIUM = Path("/usr/bin/chromium")


def say(message: str) -> None:
    print(f"[run.py] {message}", file=sys.stderr, flush=True)


def ensure_venv(requirements: str) -> None:
    wanted = hashlib.sha256(b"".join((ROOT / name).read_bytes() for name in ("requirements.txt", requirements))).hexdigest()
    stamp = VENV / f".installed-{requirements}"
    if PYTHON.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        say("creating the virtual environment in .venv/")
        try:
            venv.create(VENV, with_pip=True)
        except Exception as exc:  # Debian's python3 without python3-venv
            sys.exit(f"Could not create .venv ({exc}): install python3-venv (apt-get install python3-venv) and run this again.")
    say(f"installing {requirements} (first run only; a few minutes)")
    pip = [str(PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "install", "-r", str(ROOT / requirements)], check=True)
    stamp.write_text(wanted)


def ensure_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        say("Debian's Chromium is missing and apt-get cannot be run here: the browser tests will be skipped.")
        return
    say("installing Debian's chromium for the browser tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env, stdout=subprocess.DEVNULL)


def main(argv: list[str]) -> int:
    what, rest = (argv[0], argv[1:]) if argv else ("", [])
    os.chdir(ROOT)
    if what == "desk":
        ensure_venv("requirements.txt")
        os.execv(str(PYTHON), [str(PYTHON), "-m", "streamlit", "run", "streamlit_app.py", *rest])
    if what == "test":
        ensure_venv("requirements-dev.txt")
        ensure_chromium()
        return subprocess.call([str(PYTHON), "-m", "pytest", *rest])
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
