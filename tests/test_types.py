"""The product type-checks: mypy over dashboard/ (STYLE.md: typing like a library)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_dashboard_type_checks():
    pytest.importorskip("mypy")
    result = subprocess.run([sys.executable, "-m", "mypy", "dashboard"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
