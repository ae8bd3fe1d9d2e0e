"""`python -m dashboard inspect URL_OR_TICKET`: the complaint desk on the command line.

Same service as the Inspect page (:mod:`dashboard.inspect`); ``--json``
prints the contract of SPEC.md for the first link found in the paste, plus
``other_links`` (how many more were found) and ``found_by``; ``--probe``
adds the server's own answer (``probe``), with which the verdict for now
agrees or which it follows.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from dashboard import inspect as inspection
from dashboard.aws import source_name
from dashboard.cli import EXTENSIONS, command, print_json
from dashboard.desk import Desk
from dashboard.durations import format_duration
from dashboard.errors import BadInput
from dashboard.expiry import as_utc, iso_z
from dashboard.inspect import Explanation
from dashboard.safetext import one_line
from dashboard.urlparse import LinkKind


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
    if inspection.is_ticket_reference(text) or inspection.is_bare_token(desk.log, text):
        if args.probe:
            raise BadInput("--probe needs the link itself (the log never keeps working links): paste the URL instead of the ticket.")
        found = inspection.lookup(desk.log, text, at=at, stable_prefix=prefix)
        if not found:
            raise BadInput(f"No link in this desk's log has the ticket reference {one_line(text, 64)!r}: check it, or paste the link itself.")
        under_ticket = bool(found[0].log_entry and found[0].log_entry.ticket == text)
        if args.json:
            print_json({"ticket": text if under_ticket else None, "links": [inspection.to_json(e) for e in found]})
        else:
            under = f"under {one_line(text, 64)}" if under_ticket else "for that token"  # never echo a token
            print(f"{len(found)} link(s) {under}, newest first:\n")
            print("\n\n".join(_block(e) for e in found))
        return 0
    explanations = inspection.explain_paste(desk.log, text, at=at, stable_prefix=prefix)
    if args.probe:
        from dashboard.verdict import probe_now

        explanations = [probe_now(e, desk.settings) for e in explanations]
    if args.json:
        first = explanations[0]
        payload = inspection.to_json(first)
        payload["other_links"] = len(explanations) - 1
        payload["found_by"] = list(first.found_by)
        if first.probe is not None:
            payload["probe"] = {**first.probe.as_dict(), "verdict": first.probe_note, "overrides_model": first.model_reason is not None}
            if first.model_reason is not None:
                payload["model_reason"] = first.model_reason
        print_json(payload)
        return 0
    blocks = []
    for number, e in enumerate(explanations, start=1):
        heading = f"link {number} of {len(explanations)}\n" if len(explanations) > 1 else ""
        blocks.append(heading + _block(e))
    print("\n\n".join(blocks))
    return 0


def _block(e: Explanation) -> str:
    """A short readable block: what the link is, what it promised, what it really does, why.

    Keys, hosts, tickets, names and servers' words are outside text: every
    value goes through :func:`one_line`, so none can move the cursor, clear
    the terminal or forge a hyperlink.
    """
    entry = e.log_entry
    where = f"s3://{e.bucket}/{e.key}" if e.bucket else f"{e.host or '?'} /{e.key or ''}"
    real = iso_z(e.effective_expires_at) or "unknown (the desk has no record)"
    if e.cut_short and e.nominal_expires_at and e.effective_expires_at:
        real += f"  ({format_duration(e.nominal_expires_at - e.effective_expires_at)} early)"
    lines = [("kind", str(e.kind)), ("object", where)]
    if e.kind is LinkKind.STABLE:
        lines.append(("issued by", entry.issuer if entry else "unknown"))
        lines.append(("signed by", "each click is signed afresh by the best signer the desk has"))
    else:
        lines.append(("region", e.region or "—"))
        source = f", {source_name(e.credential_source)}" if e.credential_source else ""
        lines.append(("signed by", f"{e.access_key_id or 'unknown'} ({e.credential_kind}{source})"))
    lines += [
        ("signed at", iso_z(e.signed_at) or "not in the link"),
        ("nominal expiry", iso_z(e.nominal_expires_at) or "—"),
        ("real expiry", real),
        ("state", f"{str(e.state).upper()} at {iso_z(e.at)}: {inspection.headline(e)}"),
        ("reason", e.reason),
    ]
    if e.probe is not None:
        answer = f"{e.probe.status}{' ' + e.probe.code if e.probe.code else ''}: " if e.probe.status is not None else ""
        lines.append(("probe", f"{answer}{e.probe.meaning}"))
        if e.probe.message:
            lines.append(("server said", e.probe.message))
        if e.probe_note:
            lines.append(("probe verdict", e.probe_note))
    if entry is not None:
        ticket = f", ticket {entry.ticket}" if entry.ticket else ""
        revoked = f", revoked by {entry.revoked_by or 'unknown'} at {iso_z(entry.revoked_at)}" if entry.revoked_at else ""
        lines.append(("log entry", f"#{entry.id}: {entry.strategy}, issued by {entry.issuer} at {iso_z(entry.issued_at)}{ticket}{revoked}"))
    else:
        lines.append(("log entry", "none (not issued by this desk)"))
    lines += [("found", note) for note in e.found_by]
    lines += [("note", warning) for warning in e.warnings]
    return "\n".join(f"{label:<15}{one_line(value)}" for label, value in lines)
