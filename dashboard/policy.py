"""The sharing policy: which role each person has, and what each role may browse, share, for how long, and revoke.

A TOML file named by SHAREDESK_POLICY_FILE (built-in defaults otherwise:
dashboard/policies/demo.toml for the demo, default.toml elsewhere).  The
service layer (issuing, stable-link admin, catalog listing, the resolver) asks
this module, so pages, the command line and the resolver refuse the same
things with the same sentence, and every sentence names the rule it applies.

Keys are matched as paths, segment by segment, after Unicode NFC: a grant of
`reports/` covers `reports/q3.pdf` but not `reports-archive/q3.pdf`; a key with
`..` or `.` segments must fall inside a grant both as written and as a client
that resolves dot segments would read it, so `a/../b` escapes nothing.
"""

from __future__ import annotations

import functools
import os
import threading
import tomllib
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from dashboard.config import Settings
from dashboard.durations import DurationError, format_duration, parse_duration
from dashboard.errors import NotAllowed, NotConfigured
from dashboard.identity import Identity

__all__ = [
    "ROLES",
    "Grant",
    "Policy",
    "PolicyError",
    "Rights",
    "RolePolicy",
    "load",
    "parse",
    "policy_for",
]

#: The roles, least to most trusted; a person matching several rules gets the highest.
ROLES = ("viewer", "agent", "lead", "admin")
BUILT_IN = Path(__file__).resolve().parent / "policies"


class PolicyError(NotConfigured):
    """The policy file cannot be used; the message names the file and the entry."""


class Rights(StrEnum):
    NONE = "none"
    OWN = "own"
    ANY = "any"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _literal(path: str) -> tuple[str, ...]:
    """The path's segments as written (NFC), without the empty one a trailing slash leaves."""
    parts = nfc(path).split("/")
    if parts and parts[-1] == "":
        parts = parts[:-1]
    return tuple(parts)


def _resolved(path: str) -> tuple[str, ...] | None:
    """The segments a client that resolves `.`, `..` and `//` would read; None when `..` climbs above the root."""
    out: list[str] = []
    for part in nfc(path).split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(part)
    return tuple(out)


@dataclass(frozen=True)
class Grant:
    """A bucket (or `*`, every bucket the desk allows) and a folder in it (empty: the whole bucket)."""

    bucket: str
    folder: tuple[str, ...]
    text: str

    @classmethod
    def parse(cls, text: str, where: str) -> Grant:
        raw = nfc(str(text).strip())
        bucket, _, folder = raw.partition("/")
        if not bucket:
            raise PolicyError(f"{where} has {text!r}: write a bucket, a bucket/folder/ or *.")
        segments = _literal(folder) if folder else ()
        if any(s in ("", ".", "..") for s in segments):
            raise PolicyError(f"{where} has {text!r}: a grant names a folder plainly, without empty, . or .. parts.")
        return cls(bucket=bucket, folder=segments, text=raw)

    def _bucket(self, bucket: str) -> bool:
        return self.bucket == "*" or self.bucket == bucket

    def covers_object(self, bucket: str, key: str) -> bool:
        """The object is inside the granted folder, read as written and as resolved."""
        if not self._bucket(bucket):
            return False
        n = len(self.folder)
        literal, resolved = _literal(key), _resolved(key)
        if resolved is None or not resolved:
            return False
        return all(len(segs) > n and segs[:n] == self.folder for segs in (literal, resolved))

    def covers_folder(self, bucket: str, prefix: str) -> bool:
        """The folder is the granted one or inside it."""
        if not self._bucket(bucket):
            return False
        n = len(self.folder)
        folder, resolved = _folder_of(prefix), _resolved(_folder_text(prefix))
        return resolved is not None and all(len(segs) >= n and segs[:n] == self.folder for segs in (folder, resolved))

    def leads_to(self, bucket: str, prefix: str) -> bool:
        """The folder is an ancestor of the granted one, so browsing may pass through it."""
        if not self._bucket(bucket):
            return False
        folder, resolved = _folder_of(prefix), _resolved(_folder_text(prefix))
        return resolved is not None and all(len(segs) < len(self.folder) and self.folder[: len(segs)] == segs for segs in (folder, resolved))

    def describe(self) -> str:
        if self.bucket == "*":
            return "every allowed bucket" if not self.folder else f"{'/'.join(self.folder)}/ in every allowed bucket"
        return f"s3://{self.bucket}/" + ("/".join(self.folder) + "/" if self.folder else "")


def _folder_text(prefix: str) -> str:
    """A listing prefix's folder part: `reports/2026/q` -> `reports/2026/` (a search string is not a folder)."""
    return nfc(prefix).rpartition("/")[0] + "/" if "/" in prefix else ""


def _folder_of(prefix: str) -> tuple[str, ...]:
    return _literal(_folder_text(prefix)) if _folder_text(prefix) else ()


@dataclass(frozen=True)
class RolePolicy:
    name: str
    browse: tuple[Grant, ...] = ()
    share: tuple[Grant, ...] = ()
    max_lifetime: tuple[tuple[str, timedelta], ...] = ()  # strategy (or "*") -> longest lifetime
    revoke: Rights = Rights.NONE
    extend: Rights = Rights.NONE

    def longest(self, strategy: str) -> timedelta | None:
        table = dict(self.max_lifetime)
        return table.get(strategy, table.get("*"))


@dataclass(frozen=True)
class Member:
    role: str
    kind: str  # user, group or claim
    name: str
    value: str = ""

    def matches(self, who: Identity) -> bool:
        if self.kind == "user":
            return _same_person(self.name, who.name)
        if self.kind == "group":
            return nfc(self.name) in {nfc(g) for g in who.groups}
        return nfc(self.value) in {nfc(v) for v in who.claim_values(self.name)}


def _same_person(a: str, b: str) -> bool:
    # Emails are case-insensitive in practice, and a name may reach the desk in either normal form.
    return nfc(a).casefold() == nfc(b).casefold()


@dataclass(frozen=True)
class Policy:
    roles: tuple[RolePolicy, ...]
    members: tuple[Member, ...]
    default_role: str | None
    source: str  # the file it was read from, for messages and the Signers page
    #: click_refusal's answers: a policy never changes (an edited file is a new Policy), clicks repeat.
    _clicks: dict[tuple[str, str], str | None] = field(default_factory=dict, init=False, compare=False, hash=False, repr=False)

    def role(self, name: str) -> RolePolicy:
        return next((r for r in self.roles if r.name == name), RolePolicy(name))

    def role_name_for(self, who: Identity | None) -> str | None:
        """The highest role whose members rule matches; the default role otherwise."""
        if who is not None:
            matched = {m.role for m in self.members if m.matches(who)}
            for name in reversed(ROLES):
                if name in matched:
                    return name
        return self.default_role

    def role_for(self, who: Identity | None) -> RolePolicy | None:
        name = self.role_name_for(who)
        return self.role(name) if name else None

    # --- browsing -------------------------------------------------------------------

    def _browser(self, who: Identity | None) -> RolePolicy:
        role = self.role_for(who)
        if role is None:
            raise NotAllowed(
                f"The sharing policy ({self.source}) gives {_who(who)} no role, so there is nothing to browse: "
                "ask a platform engineer to add you to its [members]."
            )
        return role

    def check_browse(self, who: Identity | None, bucket: str, prefix: str) -> RolePolicy:
        role = self._browser(who)
        if any(g.covers_folder(bucket, prefix) or g.leads_to(bucket, prefix) for g in role.browse):
            return role
        where = f"s3://{bucket}/{_folder_text(prefix)}"
        raise NotAllowed(
            f"The sharing policy (roles.{role.name}.browse) does not let {role.name} browse {where}: "
            f"it covers {_list(role.browse)}."
        )

    def may_browse_bucket(self, who: Identity | None, bucket: str) -> bool:
        role = self.role_for(who)
        return role is not None and any(g._bucket(bucket) for g in role.browse)

    def shows_folder(self, role: RolePolicy, bucket: str, prefix: str) -> bool:
        return any(g.covers_folder(bucket, prefix) or g.leads_to(bucket, prefix) for g in role.browse)

    def shows_object(self, role: RolePolicy, bucket: str, key: str) -> bool:
        return any(g.covers_object(bucket, key) for g in role.browse)

    # --- sharing --------------------------------------------------------------------

    def sharer(self, who: Identity | None) -> RolePolicy:
        if who is None or not who.name.strip():
            raise NotAllowed("The desk does not know who is issuing this link: sign in (or, in the demo, type your name) first.")
        role = self.role_for(who)
        if role is None:
            raise NotAllowed(
                f"The sharing policy ({self.source}) gives {who.name} no role, so they may not share: ask a platform engineer to add them to its [members]."
            )
        return role

    def share_refusal(self, who: Identity | None, bucket: str, key: str, strategy: str | None = None, lifetime: timedelta | None = None) -> str | None:
        """The sentence refusing this share, naming the rule; None when the policy allows it."""
        try:
            role = self.sharer(who)
        except NotAllowed as exc:
            return str(exc)
        if not any(g.covers_object(bucket, key) for g in role.share):
            covered = _list(role.share) if role.share else "nothing"
            return f"The sharing policy (roles.{role.name}.share) does not let {role.name} share s3://{bucket}/{key}: it covers {covered}."
        if strategy is not None:
            longest = role.longest(strategy)
            if longest is None:
                return f"The sharing policy (roles.{role.name}.max_lifetime) gives {role.name} no lifetime for {strategy} links, so {role.name} may not issue them: choose another strategy."
            if lifetime is not None and lifetime > longest:
                return (
                    f"The sharing policy (roles.{role.name}.max_lifetime.{strategy}) lets {role.name} issue {strategy} links "
                    f"for at most {format_duration(longest)}: ask for less, or choose another strategy."
                )
        return None

    def check_share(self, who: Identity | None, bucket: str, key: str, strategy: str | None = None, lifetime: timedelta | None = None) -> None:
        if refusal := self.share_refusal(who, bucket, key, strategy, lifetime):
            raise NotAllowed(refusal)

    # --- revoking and extending -----------------------------------------------------------

    def check_rights(self, who: Identity | None, action: str, issuer: str) -> RolePolicy:
        """`action` is "revoke" or "extend"; `issuer` is the link's recorded issuer."""
        if who is None or not who.name.strip():
            raise NotAllowed(f"The desk does not know who wants to {action} this link: sign in (or, in the demo, type your name) first.")
        role = self.role_for(who)
        if role is None:
            raise NotAllowed(f"The sharing policy ({self.source}) gives {who.name} no role, so they may not {action} links: ask a platform engineer.")
        rights: Rights = getattr(role, action)
        if rights is Rights.ANY or (rights is Rights.OWN and _same_person(issuer, who.name)):
            return role
        if rights is Rights.OWN:
            raise NotAllowed(f"The sharing policy (roles.{role.name}.{action} = \"own\") lets {role.name} {action} only their own links, and this one was issued by {issuer}: ask a lead.")
        raise NotAllowed(f"The sharing policy (roles.{role.name}.{action} = \"none\") does not let {role.name} {action} links: ask a lead.")

    # --- the resolver -----------------------------------------------------------------

    def click_refusal(self, bucket: str, key: str) -> str | None:
        """Why a stable link's object may no longer be served: no role may share it as a stable link any more.

        The log records the issuer's name, not the groups that gave them a
        role then, so a click is judged by the object rule across all roles.
        """
        known = self._clicks.get((bucket, key), _UNKNOWN)
        if known is not _UNKNOWN:
            return known  # type: ignore[return-value]
        refusal: str | None = f"The sharing policy ({self.source}) no longer lets any role share s3://{bucket}/{key} as a stable link."
        for role in self.roles:
            if role.longest("stable") is not None and any(g.covers_object(bucket, key) for g in role.share):
                refusal = None
                break
        if len(self._clicks) >= 4096:
            self._clicks.clear()
        self._clicks[(bucket, key)] = refusal
        return refusal


def _who(who: Identity | None) -> str:
    return who.name if who is not None else "visitors who are not signed in"


def _list(grants: tuple[Grant, ...]) -> str:
    shown = [g.describe() for g in grants[:6]]
    return ", ".join(shown) + (" …" if len(grants) > 6 else "")


# --- reading the file -------------------------------------------------------------------------


def parse(text: str, source: str) -> Policy:
    """A policy from TOML text; every mistake is a sentence naming the file and the entry."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"The sharing policy {source} is not valid TOML ({exc}): fix the file.") from None
    known = {"default_role", "members", "roles"}
    if unknown := sorted(set(data) - known):
        raise PolicyError(f"The sharing policy {source} has {', '.join(unknown)}, which it does not know: use default_role, [members] and [roles.NAME].")
    default = data.get("default_role")
    if default is not None and default not in ROLES:
        raise PolicyError(f"The sharing policy {source} sets default_role = {default!r}: use one of {', '.join(ROLES)}.")
    roles = tuple(_role(name, body, source) for name, body in _table(data.get("roles", {}), "roles", source).items())
    members: list[Member] = []
    for role, rules in _table(data.get("members", {}), "members", source).items():
        if role not in ROLES:
            raise PolicyError(f"The sharing policy {source} has members.{role}: use one of {', '.join(ROLES)}.")
        for rule in _strings(rules, f"members.{role}", source):
            members.append(_member(role, rule, source))
    return Policy(roles=roles, members=tuple(members), default_role=default, source=source)


def _table(value: Any, where: str, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"The sharing policy {source} has {where} that is not a table: write [{where}].")
    return value


def _strings(value: Any, where: str, source: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"The sharing policy {source} has {where} that is not a list of strings: write {where} = [\"…\"].")
    return list(value)


def _role(name: str, body: Any, source: str) -> RolePolicy:
    where = f"roles.{name}"
    if name not in ROLES:
        raise PolicyError(f"The sharing policy {source} has [{where}]: the roles are {', '.join(ROLES)}.")
    body = _table(body, where, source)
    if unknown := sorted(set(body) - {"browse", "share", "max_lifetime", "revoke", "extend"}):
        raise PolicyError(f"The sharing policy {source} has {where}.{unknown[0]}, which it does not know: use browse, share, max_lifetime, revoke and extend.")
    lifetimes: list[tuple[str, timedelta]] = []
    for strategy, text in _table(body.get("max_lifetime", {}), f"{where}.max_lifetime", source).items():
        try:
            lifetimes.append((strategy, parse_duration(str(text))))
        except DurationError as exc:
            raise PolicyError(f"The sharing policy {source} has {where}.max_lifetime.{strategy} = {text!r}: {exc}") from None
    rights = {}
    for action in ("revoke", "extend"):
        value = body.get(action, "none")
        if value not in {r.value for r in Rights}:
            raise PolicyError(f"The sharing policy {source} has {where}.{action} = {value!r}: use \"none\", \"own\" or \"any\".")
        rights[action] = Rights(value)
    return RolePolicy(
        name=name,
        browse=tuple(Grant.parse(g, f"The sharing policy {source}'s {where}.browse", ) for g in _strings(body.get("browse", []), f"{where}.browse", source)),
        share=tuple(Grant.parse(g, f"The sharing policy {source}'s {where}.share") for g in _strings(body.get("share", []), f"{where}.share", source)),
        max_lifetime=tuple(lifetimes),
        revoke=rights["revoke"],
        extend=rights["extend"],
    )


def _member(role: str, rule: str, source: str) -> Member:
    kind, sep, rest = rule.partition(":")
    if sep and kind == "user" and rest.strip():
        return Member(role, "user", rest.strip())
    if sep and kind == "group" and rest.strip():
        return Member(role, "group", rest.strip())
    if sep and kind == "claim":
        claim, eq, value = rest.partition("=")
        if eq and claim.strip() and value.strip():
            return Member(role, "claim", claim.strip(), value.strip())
    raise PolicyError(f"The sharing policy {source} has {rule!r} in members.{role}: write user:NAME, group:NAME or claim:NAME=VALUE.")


_LOCK = threading.Lock()
_UNKNOWN = object()
_CACHE: dict[str, tuple[tuple[int, int], Policy]] = {}


def load(path: str | os.PathLike[str]) -> Policy:
    """The policy in a file, read again only when the file changes (so an edit applies without a restart)."""
    where = os.fspath(path)
    try:
        info = os.stat(where)
    except OSError as exc:
        raise PolicyError(f"SHAREDESK_POLICY_FILE points to {where}, which cannot be read ({exc.strerror}): fix the path.") from None
    stamp = (info.st_mtime_ns, info.st_size)
    with _LOCK:
        cached = _CACHE.get(where)
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        text = Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"The sharing policy {where} cannot be read ({exc}): fix the file.") from None
    policy = parse(text, where)
    with _LOCK:
        _CACHE[where] = (stamp, policy)
    return policy


def policy_for(settings: Settings) -> Policy:
    """The policy this desk enforces: SHAREDESK_POLICY_FILE, else the built-in demo or default one."""
    return load(_policy_path(settings.policy_file, settings.demo))


@functools.lru_cache(maxsize=16)
def _policy_path(policy_file: str | None, demo: bool) -> str:
    if policy_file:
        return os.fspath(Path(policy_file).expanduser())
    return os.fspath(BUILT_IN / ("demo.toml" if demo else "default.toml"))


def check_extension(policy: Policy, who: Identity | None, issuer: str, lifetime: timedelta) -> None:
    """Extending a stable link to run `lifetime` in all: the right to extend, and the role's stable cap."""
    role = policy.check_rights(who, "extend", issuer)
    longest = role.longest("stable")
    if longest is None:
        raise NotAllowed(f"The sharing policy (roles.{role.name}.max_lifetime) gives {role.name} no lifetime for stable links, so {role.name} may not extend them.")
    if lifetime > longest:
        raise NotAllowed(
            f"The sharing policy (roles.{role.name}.max_lifetime.stable) lets {role.name} keep a stable link for at most "
            f"{format_duration(longest)} after it was issued: choose an earlier date."
        )
