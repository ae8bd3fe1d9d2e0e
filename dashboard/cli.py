"""The command line's parser and commands; every failure is one line on stderr.

Exit status: 0 on success, 2 on bad input, 1 on any other failure.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from dashboard import catalog
from dashboard.config import SettingsError
from dashboard.desk import Desk, open_desk
from dashboard.errors import BadInput, DeskError
from dashboard.expiry import iso_z
from dashboard.store import LogError, LogLocationError

COMMANDS: dict[str, Callable[[Desk, argparse.Namespace], int]] = {}


class _Parser(argparse.ArgumentParser):
    """argparse that fails with one line instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{message} (see: python -m dashboard {self.prog.split()[-1]} --help)")


def command(name: str) -> Callable[[Callable[[Desk, argparse.Namespace], int]], Callable[[Desk, argparse.Namespace], int]]:
    def register(func: Callable[[Desk, argparse.Namespace], int]) -> Callable[[Desk, argparse.Namespace], int]:
        COMMANDS[name] = func
        return func

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="dashboard", description="Share Desk: share S3 files with links whose real expiry is known.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ls = sub.add_parser("ls", help="list allowed buckets, or one page of a prefix")
    ls.add_argument("path", nargs="?", help="s3://BUCKET/PREFIX (omit to list buckets)")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.add_argument("--page-size", type=int, default=None, help="objects per page (1-1000)")
    ls.add_argument("--page-token", default=None, help="continuation token printed by the previous page")
    for extend in EXTENSIONS:
        extend(sub)
    return parser


#: Other modules add their sub-commands here (issue, inspect, revoke, serve-links).
EXTENSIONS: list[Callable[[Any], None]] = []


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


@command("ls")
def _ls(desk: Desk, args: argparse.Namespace) -> int:
    from dashboard.cli_issue import cli_actor
    from dashboard.policy import policy_for

    rules, actor = policy_for(desk.settings), cli_actor(desk, None)
    if not args.path:
        buckets = catalog.browsable_buckets(desk.aws.s3(), desk.settings.buckets, rules, actor)
        if args.json:
            print_json([{"bucket": b} for b in buckets])
        else:
            print("\n".join(f"s3://{b}/" for b in buckets))
        return 0
    bucket, prefix = catalog.parse_s3_uri(args.path)
    catalog.check_allowed(bucket, desk.settings.buckets)
    page_size = desk.settings.page_size if args.page_size is None else args.page_size
    if not 1 <= page_size <= 1000:
        raise BadInput(f"--page-size {page_size} is out of range: use 1 to 1000.")
    listing = catalog.list_browsable_page(desk.aws.s3(), rules, actor, bucket, prefix, token=args.page_token, page_size=page_size)
    if args.json:
        print_json(
            [
                {"key": o.key, "size": o.size, "last_modified": iso_z(o.last_modified), "storage_class": o.storage_class}
                for o in listing.objects
            ]
        )
    else:
        for folder in listing.folders:
            print(f"{'PRE':>31}  {folder.name}")
        for obj in listing.objects:
            mark = "  (archived: restore before sharing)" if obj.archived else ""
            print(f"{iso_z(obj.last_modified)}  {obj.size:>10}  {obj.storage_class:<12} {obj.name}{mark}")
    if listing.next_token:
        print(f"More objects follow: add --page-token {listing.next_token}", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    import dashboard.cli_issue  # noqa: F401 - registers its sub-commands
    import dashboard.cli_links  # noqa: F401
    import dashboard.cli_inspect  # noqa: F401
    import dashboard.cli_log  # noqa: F401

    try:
        args = build_parser().parse_args(argv)
        desk = open_desk()
        return COMMANDS[args.command](desk, args)
    except SettingsError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    except DeskError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return exc.exit_code
    except LogLocationError as exc:  # the configured log location is bad input
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    except LogError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dashboard: interrupted.", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
