"""`python -m dashboard issue`: one link, through the same service as the Share page."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from dashboard import catalog, issuing
from dashboard.cli import EXTENSIONS, command, print_json
from dashboard.desk import Desk
from dashboard.durations import DurationError, parse_duration
from dashboard.errors import BadInput
from dashboard.expiry import iso_z
from dashboard.identity import Identity, IdentityError, cli_identity
from dashboard.safetext import one_line, visible
from dashboard.strategies import ShareRequest
from dashboard.strategies.base import text_problem


def _add(sub: Any) -> None:
    issue = sub.add_parser("issue", help="issue a link to one object and log it")
    issue.add_argument("path", help="s3://BUCKET/KEY")
    issue.add_argument("--strategy", help="ambient, role-session, iam-user, cloudfront … (default: the recommended one)")
    issue.add_argument("--expires-in", default="1d", help="lifetime such as 90s, 15m, 12h, 7d (default 1d)")
    issue.add_argument("--filename", help="file name the browser saves the download as")
    issue.add_argument("--ticket", help="ticket reference, to find the link again")
    issue.add_argument("--note", help="free text kept in the log")
    issue.add_argument("--issuer", help="demo only: who issues it (default: $SHAREDESK_ISSUER, else your OS user as cli:<user> or as SHAREDESK_CLI_ISSUERS maps it)")
    issue.add_argument("--json", action="store_true", help="print JSON")


EXTENSIONS.append(_add)


def cli_actor(desk: Desk, given: str | None) -> Identity:
    """Who the command line acts for: the OS user (mapped by SHAREDESK_CLI_ISSUERS); a given name in the demo only."""
    try:
        return cli_identity(desk.settings, demo=desk.is_demo, given=given, environ=os.environ)
    except IdentityError as exc:
        raise BadInput(str(exc)) from None


def refuse_unsafe_name(given: str | None) -> None:
    """A name typed for the log (--issuer, --by, $SHAREDESK_ISSUER) holding a control character is refused, not cleaned."""
    if problem := text_problem("issuer", given or os.environ.get("SHAREDESK_ISSUER")):
        raise BadInput(problem)


@command("issue")
def _issue(desk: Desk, args: argparse.Namespace) -> int:
    bucket, key = catalog.parse_s3_uri(args.path)
    try:
        lifetime = parse_duration(args.expires_in)
    except DurationError as exc:
        raise BadInput(str(exc)) from None
    refuse_unsafe_name(args.issuer)
    actor = cli_actor(desk, args.issuer)
    request = ShareRequest(
        bucket=bucket, key=key, lifetime=lifetime, issuer=actor.name, filename=args.filename, ticket=args.ticket, note=args.note
    )
    name = args.strategy
    if name is None:
        issuing.check_request(desk, request, verify_object=False, actor=actor)
        name = issuing.recommend(issuing.previews(desk, request, actor=actor), lifetime).strategy
        if name is None:
            raise BadInput(f"No configured strategy can sign a link for {args.expires_in}: ask for a shorter lifetime.")
    link = issuing.issue(desk, [request], name, actor=actor)[0]
    entry = link.entry
    if args.json:
        print_json(
            {
                "url": link.url,
                "strategy": entry.strategy,
                "issued_at": iso_z(entry.issued_at),
                "nominal_expires_at": iso_z(entry.nominal_expires_at),
                "effective_expires_at": iso_z(entry.effective_expires_at),
                "bound_by": entry.bound_by,
                "reason": entry.reason,
                "log_id": entry.id,
            }
        )
    else:
        print(visible(link.url))
        print(f"{entry.strategy}: {one_line(entry.reason)}", file=sys.stderr)
    if desk.demo is not None and desk.demo.owned:
        print(
            "Note: no demo desk is running, so this link points to a demo S3 that stopped with this command; "
            "start the desk (python3 run.py desk) to issue links that download.",
            file=sys.stderr,
        )
    return 0
