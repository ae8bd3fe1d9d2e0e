"""The command line's parser and commands; every failure is one line on stderr.

Exit status: 0 on success, 2 on bad input (one line on stderr, nothing on
stdout), 1 on any other failure.  Everything printed passes through
`dashboard.safetext`: a key, a URL or a server's words can hold terminal
escapes, and a terminal must show them as text, never obey them.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from dashboard import catalog
from dashboard.config import SettingsError
from dashboard.desk import Desk, open_desk
from dashboard.errors import BadInput, DeskError
from dashboard.expiry import iso_z
from dashboard.safetext import one_line, visible
from dashboard.store import LogError, LogLocationError

PROG = "python -m dashboard"
#: The longest error line printed: messages quote what was typed, and a 100 KB argument must not fill the screen.
MESSAGE_LIMIT = 600
COMMANDS: dict[str, Callable[[Desk, argparse.Namespace], int]] = {}


class _Parser(argparse.ArgumentParser):
    """argparse that fails with one line instead of a usage block."""

    def error(self, message: str) -> NoReturn:
        # argparse quotes the offending value: a 100 KB argument is cut, not echoed whole.
        raise BadInput(f"{one_line(message, 300)} (see: {self.prog} --help)")


def command(name: str) -> Callable[[Callable[[Desk, argparse.Namespace], int]], Callable[[Desk, argparse.Namespace], int]]:
    def register(func: Callable[[Desk, argparse.Namespace], int]) -> Callable[[Desk, argparse.Namespace], int]:
        COMMANDS[name] = func
        return func

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Share Desk: share S3 files with links whose real expiry is known.")
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


#: What `visible` escapes, plus lone surrogates, written as JSON's own \\u escapes.
_JSON_INVISIBLE = re.compile("[\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]")


def print_json(value: Any) -> None:
    """JSON that a terminal shows as text: json escapes C0 itself; C1, bidi controls and lone surrogates get \\uXXXX."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    print(_JSON_INVISIBLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


class _TerminalText(io.TextIOBase):
    """Standard output that shows every control character as an escape, line breaks excepted.

    The commands already pass outside text through `visible`/`one_line`; this
    is the last line of defence for anything printed without it.
    """

    def __init__(self, target: TextIO) -> None:
        self._target = target

    def write(self, text: str) -> int:
        self._target.write("\n".join(visible(part) for part in text.split("\n")))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._target.isatty()


@command("ls")
def _ls(desk: Desk, args: argparse.Namespace) -> int:
    from dashboard.cli_issue import cli_actor
    from dashboard.policy import policy_for

    rules, actor = policy_for(desk.settings), cli_actor(desk, None)
    if not args.path:
        buckets = catalog.browsable_buckets(desk.aws.s3(), desk.settings.buckets, rules, actor)
        if args.json:
            print_json([{"type": "bucket", "bucket": b} for b in buckets])
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
        folders: list[dict[str, Any]] = [{"type": "folder", "prefix": f.prefix, "name": f.name} for f in listing.folders]
        objects: list[dict[str, Any]] = [
            {
                "type": "object",
                "key": o.key,
                "size": o.size,
                "last_modified": iso_z(o.last_modified),
                "storage_class": o.storage_class,
                "archived": o.archived,
            }
            for o in listing.objects
        ]
        print_json(folders + objects)
    else:
        for folder in listing.folders:
            print(f"{'PRE':>31}  {one_line(folder.name)}")
        for obj in listing.objects:
            mark = "  (archived: restore before sharing)" if obj.archived else ""
            print(f"{iso_z(obj.last_modified)}  {obj.size:>10}  {obj.storage_class:<12} {one_line(obj.name)}{mark}")
    if listing.next_token:
        print(f"More objects follow: add --page-token {listing.next_token}", file=sys.stderr)
    return 0


#: A run this long without a space is an echoed argument, not words of the sentence.
_LONG_RUN = re.compile(r"\S{81,}")


def fail_line(exc: BaseException | str) -> str:
    """An error as the one line the command prints: escaped, on one line, cut to a screenful.

    A quoted 100 KB argument is cut in place, so the sentence around it (what
    to do) is still read to its end.
    """
    text = _LONG_RUN.sub(lambda m: m.group()[:60] + "…", one_line(exc))
    return f"dashboard: {one_line(text, MESSAGE_LIMIT)}"


def main(argv: Sequence[str] | None = None) -> int:
    import dashboard.cli_inspect  # noqa: F401
    import dashboard.cli_issue  # noqa: F401 - registers its sub-commands
    import dashboard.cli_links  # noqa: F401
    import dashboard.cli_log  # noqa: F401

    # The embedded demo's S3 may run inside this process; its web server's request
    # log (and a traceback for a request it could not handle) is not the command's output.
    logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
    stdout, stderr = sys.stdout, sys.stderr
    try:
        with contextlib.redirect_stdout(_TerminalText(stdout)), contextlib.redirect_stderr(_TerminalText(stderr)):
            return _run(argv)
    except BrokenPipeError:
        return 0
    finally:
        with contextlib.suppress(Exception):
            stdout.flush()


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
        desk = open_desk()
        return COMMANDS[args.command](desk, args)
    except SystemExit as exc:  # --help and --version: argparse printed, and exits 0
        return exc.code if isinstance(exc.code, int) else 0
    except (SettingsError, LogLocationError) as exc:  # a setting the desk cannot use: bad input
        print(fail_line(exc), file=sys.stderr)
        return 2
    except DeskError as exc:
        print(fail_line(exc), file=sys.stderr)
        return exc.exit_code
    except LogError as exc:
        print(fail_line(exc), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("dashboard: interrupted.", file=sys.stderr)
        return 1
    except BrokenPipeError:
        raise
    except Exception as exc:
        if os.environ.get("SHAREDESK_DEBUG"):
            raise
        print(
            fail_line(
                f"The command failed unexpectedly ({type(exc).__name__}: {exc}). "
                "Run it again with SHAREDESK_DEBUG=1 to see where, and report it."
            ),
            file=sys.stderr,
        )
        return 1
