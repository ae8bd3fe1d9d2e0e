"""`python -m dashboard inspect URL_OR_TICKET`: the complaint desk on the command line.

Same service as the Inspect page (:mod:`dashboard.inspect`); ``--json``
prints the contract of SPEC.md, ``--probe`` adds S3's own answer.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from dashboard import inspect as inspection
from dashboard.cli import EXTENSIONS, command, print_json
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import BadInput
from dashboard.expiry import as_utc, iso_z
from dashboard.inspect import Explanation


def _add(sub: Any) -> None:
    inspect = sub.add_parser("inspect", help="explain a link (or a ticket's links): kind, real expiry, state, why")
    inspect.add_argument("link", metavar="URL_OR_TICKET", help="the link the customer received, or a ticket reference such as TCK-1042")
    inspect.add_argument("--at", help="the moment to judge the link at, ISO 8601 such as 2026-01-02T03:04:05Z (default: now)")
    inspect.add_argument("--probe", action="store_true", help="also make one ranged GET to the link and report the server's answer")
    inspect.add_argument("--json", action="store_true", help="print JSON")


EXTENSIONS.append(_add)


def parse_at(text: str | None) -> datetime | None:
    """``--at``: ISO 8601; a time without a zone is taken as UTC, as every time the desk prints is."""
    if text is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise BadInput(f"--at {text[:40]!r} is not a time: write it like 2026-01-02T03:04:05Z.") from None


@command("inspect")
def _inspect(desk: Desk, args: argparse.Namespace) -> int:
    at = parse_at(args.at)
    text = args.link.strip()
    prefix = "/s/"
    if inspection.is_ticket_reference(text):
        if args.probe:
            raise BadInput("--probe needs the link itself (the log never keeps working links): paste the URL instead of the ticket.")
        found = inspection.lookup(desk.log, text, at=at, stable_prefix=prefix)
        if not found:
            raise BadInput(f"No link in this desk's log has the ticket reference {text[:64]!r}: check it, or paste the link itself.")
        if args.json:
            ticket = text if found[0].log_entry and found[0].log_entry.ticket == text else None
            print_json({"ticket": ticket, "links": [inspection.to_json(e) for e in found]})
        else:
            under = f"under {text}" if found[0].log_entry and found[0].log_entry.ticket == text else "for that token"  # never echo a token
            print(f"{len(found)} link(s) {under}, newest first:\n")
            print("\n\n".join(_block(e) for e in found))
        return 0
    explanation = inspection.explain(desk.log, text, at=at, stable_prefix=prefix)
    result = None
    if args.probe:
        from dashboard.probe import probe

        result = probe(text)
    if args.json:
        payload = inspection.to_json(explanation)
        if result is not None:
            payload["probe"] = result.as_dict()
        print_json(payload)
        return 0
    print(_block(explanation))
    if result is not None:
        answer = f"{result.status}{' ' + result.code if result.code else ''}: " if result.status is not None else ""
        print(f"\n{'probe':<15}{answer}{result.meaning}")
    return 0


def _block(e: Explanation) -> str:
    """A short readable block: what the link is, what it promised, what it really does, why."""
    entry = e.log_entry
    where = f"s3://{e.bucket}/{e.key}" if e.bucket else f"{e.host or '?'} /{e.key or ''}"
    signer = e.access_key_id or "unknown"
    real = iso_z(e.effective_expires_at) or "unknown (the desk has no record)"
    if e.cut_short and e.nominal_expires_at and e.effective_expires_at:
        real += f"  ({format_duration(e.nominal_expires_at - e.effective_expires_at)} early)"
    lines = [
        ("kind", str(e.kind)),
        ("object", where),
        ("region", e.region or "—"),
        ("signed by", f"{signer} ({e.credential_kind})"),
        ("signed at", iso_z(e.signed_at) or "not in the link"),
        ("nominal expiry", iso_z(e.nominal_expires_at) or "—"),
        ("real expiry", real),
        ("state", f"{str(e.state).upper()} at {iso_z(e.at)}: {inspection.headline(e)}"),
        ("reason", e.reason),
    ]
    if entry is not None:
        ticket = f", ticket {entry.ticket}" if entry.ticket else ""
        lines.append(("log entry", f"#{entry.id}: {entry.strategy}, issued by {entry.issuer} at {iso_z(entry.issued_at)}{ticket}"))
    else:
        lines.append(("log entry", "none (not issued by this desk)"))
    text = "\n".join(f"{label:<15}{value}" for label, value in lines)
    for warning in e.warnings:
        text += f"\n{'note':<15}{warning}"
    return text
