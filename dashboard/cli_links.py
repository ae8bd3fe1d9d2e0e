"""`revoke` and `serve-links`: the stable-link side of the command line."""

from __future__ import annotations

import argparse
from typing import Any

from dashboard import stable_admin
from dashboard.cli import EXTENSIONS, command
from dashboard.cli_issue import cli_actor, refuse_unsafe_name
from dashboard.desk import Desk
from dashboard.errors import BadInput
from dashboard.links import TOKEN_RE, bind, link_token, serve
from dashboard.safetext import one_line
from dashboard.store import fingerprint


def _add(sub: Any) -> None:
    revoke = sub.add_parser("revoke", help="revoke a stable link; the next click gets a 'withdrawn' page")
    revoke.add_argument("link", help="the stable link's URL or token")
    revoke.add_argument("--by", help="demo only: who revokes it (default: $SHAREDESK_ISSUER, else your OS user as cli:<user> or as SHAREDESK_CLI_ISSUERS maps it)")
    links = sub.add_parser("serve-links", help="run the public stable-link resolver alone")
    links.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    links.add_argument("--port", type=int, default=8502, help="port (default 8502)")


EXTENSIONS.append(_add)


@command("revoke")
def _revoke(desk: Desk, args: argparse.Namespace) -> int:
    refuse_unsafe_name(args.by)
    text = args.link.strip()
    if "X-Amz-Signature=" in text or "Signature=" in text:
        raise BadInput(
            "Presigned S3 and CloudFront links cannot be revoked one by one: only deactivating the signing key "
            "(or rotating the CloudFront key pair) ends them early. Issue stable links to keep that option."
        )
    token = link_token(text)
    if not TOKEN_RE.fullmatch(token):
        raise BadInput("That is not a Share Desk stable link or token: paste the whole link, like https://desk.example/s/AbC…")
    link = desk.log.find_stable(fingerprint(token))
    if link is None:
        raise BadInput("No stable link in this desk's log matches that token: check that it was copied whole.")
    entry = stable_admin.revoke(desk, link.entry.id, cli_actor(desk, args.by)).entry
    print(f"Revoked link {entry.id} (s3://{entry.bucket}/{one_line(entry.key)}) at {entry.revoked_at:%Y-%m-%d %H:%M:%S} UTC: its next click gets a 'withdrawn' page.")
    return 0


@command("serve-links")
def _serve_links(desk: Desk, args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise BadInput(f"--port {args.port} is not a port number: use 1 to 65535.")
    sock = bind(args.host, args.port)  # before saying "serving": a busy port or a bad host is one line, exit 2
    host = one_line(args.host)
    shown = f"[{host}]" if ":" in host else host
    print(f"Serving stable links on http://{shown}:{args.port}/s/<token> (health: /healthz); Ctrl+C stops.", flush=True)
    serve(lambda: desk, sock)
    return 0
