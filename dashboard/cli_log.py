"""`verify-log`: recompute the issuance log's hash chain and say whether it holds."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from dashboard.cli import EXTENSIONS, command
from dashboard.desk import Desk
from dashboard.safetext import one_line


def _add(sub: Any) -> None:
    sub.add_parser("verify-log", help="recompute the issuance log's hash chain (exit 1 names the first row that does not match)")


EXTENSIONS.append(_add)


@command("verify-log")
def _verify_log(desk: Desk, args: argparse.Namespace) -> int:
    verdict = desk.log.verify()
    if verdict.problem is None:
        print(f"{verdict.rows} rows verified")
        return 0
    before = f" ({verdict.rows} rows before it verified)" if verdict.rows else ""
    print(f"dashboard: the issuance log does not verify{before}: {one_line(verdict.problem.clause())}", file=sys.stderr)
    return 1
