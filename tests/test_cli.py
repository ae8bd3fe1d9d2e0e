"""The command line: real processes on the embedded demo, exit codes and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import demo
from dashboard.cli import main

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, state_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(SHAREDESK_STATE_DIR=str(state_dir), SHAREDESK_DEMO="auto")
    return subprocess.run([sys.executable, "-m", "dashboard", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_ls_json_lists_one_page_of_the_demo_prefix(tmp_path):
    result = run_cli("ls", f"s3://{demo.EXPORTS_BUCKET}/{demo.BIG_PREFIX}", "--json", state_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    objects = json.loads(result.stdout)
    assert len(objects) == 100
    assert objects[0] == {
        "type": "object",
        "key": "nightly/export-00000.csv",
        "size": len(demo.body_of("nightly/export-00000.csv")),
        "last_modified": objects[0]["last_modified"],
        "storage_class": "STANDARD",
        "archived": False,
    }
    assert objects[0]["last_modified"].endswith("Z")
    assert "--page-token" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ls", "http://example.com/x"], "is not an s3:// path"),
        (["ls", "s3://Not_A_Bucket/"], "is not a valid bucket name"),
        (["ls", "s3://not-allowed-bucket/"], "not allowed to share from bucket"),
        (["ls", "--page-size", "0", f"s3://{demo.SUPPORT_BUCKET}/"], "out of range"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(demo_desk, capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_ls_without_a_path_lists_the_allowed_buckets(demo_desk, capsys):
    assert main(["ls"]) == 0
    assert capsys.readouterr().out.split() == [f"s3://{b}/" for b in demo.BUCKETS]


def test_ls_text_marks_folders_and_archived_objects(demo_desk, capsys):
    assert main(["ls", f"s3://{demo.ARCHIVE_BUCKET}/2019/"]) == 0
    assert "archived: restore before sharing" in capsys.readouterr().out
    assert main(["ls", f"s3://{demo.SUPPORT_BUCKET}/"]) == 0
    assert "PRE  customers/" in capsys.readouterr().out
