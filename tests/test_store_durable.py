"""No link without a durable row: locations that keep nothing, and first starts at once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import demo_history
from dashboard.store import IssuanceLog

ROOT = Path(__file__).resolve().parent.parent
README = "s3://sharedesk-demo-support/README.txt"


def cli_env(state_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("SHAREDESK_DATABASE_URL", "DATABASE_URL")}
    env.update(SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DEMO="1", SHAREDESK_ISSUER="durable-test")
    if database_url is not None:
        env["SHAREDESK_DATABASE_URL"] = database_url
    return env


@pytest.mark.parametrize("database_url", ["sqlite://", ":memory:", "file::memory:?cache=shared", "sqlite:///log.sqlite3?mode=memory"])
def test_issue_refuses_a_log_that_keeps_nothing_with_exit_2_and_no_link(database_url: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard", "issue", README, "--strategy", "iam-user", "--expires-in", "1h"],
        cwd=tmp_path, env={**cli_env(tmp_path / "state", database_url), "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=120,
    )

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""  # no link was printed
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("dashboard: "), done.stderr
    assert "keeps nothing" in done.stderr and "Traceback" not in done.stderr
    assert not any(p.name.startswith("file:") for p in tmp_path.iterdir())  # no stray file named like a URI


def test_first_starts_at_once_on_a_fresh_state_folder_seed_the_history_once(tmp_path: Path) -> None:
    # Four commands started together, each with its own embedded demo, all
    # finding the fresh log empty: exactly one history must land.
    env = cli_env(tmp_path)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "dashboard", "inspect", "TCK-1000", "--json"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    outcomes = [proc.communicate(timeout=240) for proc in procs]

    for proc, (_, err) in zip(procs, outcomes):
        assert proc.returncode == 0, err
    with IssuanceLog(tmp_path / "demo-log.sqlite3") as log:
        assert log.count() == demo_history.COUNT
        assert len(log.find_by_ticket("TCK-1000")) == 1
