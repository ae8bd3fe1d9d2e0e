"""Find the links in whatever staff paste: a sentence, an e-mail, a wrapped line, a mail-security wrapper.

Customers forward links back inside mail, and mail mangles them. Before the
complaint desk can read a link it has to be recovered as the customer's
browser would open it. This module undoes, in order:

1. quoted-printable transfer encoding (RFC 2045 §6.7: ``=3D`` for ``=``, a
   soft line break ``=`` at the end of a line, lines of at most 76 characters);
2. HTML character references (``&amp;``, ``&#x3D;``), the ``<wbr>`` tags and
   soft hyphens or zero-width spaces that mail clients put into long links;
3. hard wrapping: a link split over several lines of equal width (72-80
   columns), quote markers (``>``) included;
4. what surrounds a link in prose, Markdown or chat: angle brackets (RFC 3986
   appendix C), quotes, parentheses, ``[text](url)``, Slack's ``<url|text>``,
   wiki ``[text|url]`` and trailing punctuation;
5. redirect wrappers that carry the real link as a parameter: Microsoft
   Defender for Office 365 Safe Links (``url=``), Proofpoint URL Defense v1
   and v2 (``u=``, v2 writing ``%`` as ``-`` and ``/`` as ``_``) and v3
   (``/v3/__<url>__;<base64 of the characters it replaced by *>!!…``), Google's
   ``/url?q=``, Barracuda Link Protection (``a=``), Trend Micro's click-time
   protection (``url=``), Slack's and Facebook's link shims, and any other
   address whose parameter is itself a readable link.

Each step is only taken when the text shows it applies, so a plain link is
read exactly as :func:`dashboard.urlparse.parse_link` reads it, and text with
no link in it gets that function's precise sentence. Pure: standard library
only, nothing is fetched (a wrapper is decoded, never followed).
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from dashboard.urlparse import LinkParseError, ParsedLink, parse_link

__all__ = ["MAX_LINKS", "MAX_PASTE_CHARS", "Found", "find_links", "unwrap"]

#: A long e-mail thread with headers is well under this; more is not something pasted to find a link in.
MAX_PASTE_CHARS = 64 * 1024
#: Links explained from one paste; the rest are counted, not read.
MAX_LINKS = 20
_MAX_UNWRAP = 5  # wrappers inside wrappers (Safe Links around Proofpoint...) as deep as this
_MAX_CONTINUATION_LINES = 60
#: Hard-wrapping tools break at a fixed width: 76 for quoted-printable (RFC 2045), 78 (RFC 5322), 72 or 80 by habit.
_WRAP_WIDTHS = range(64, 101)

_START = re.compile(r"https?://", re.IGNORECASE)
#: Characters that end a link in running text: whitespace and what RFC 3986 never allows unencoded
#: and prose, HTML, Markdown and chat use around links.
_STOP = frozenset(" \t\r\n\f\v<>\"'`|^{}[]\\\u00a0\u2028\u2029\u3000\u201c\u201d\u2018\u2019\u00ab\u00bb\u2039\u203a")
_TRAILING = ".,;:!?*'\""
_QUOTE_PREFIX = re.compile(r"^[ \t]*(?:>[ \t]?)*")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_WBR = re.compile(r"<wbr\s*/?>", re.IGNORECASE)
_INVISIBLE_BREAKS = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"))
_QP_SOFT_BREAK = re.compile(r"=[ \t]*\r?\n")
_QP_HEX = re.compile(r"[0-9A-F]{2}")
_PROOFPOINT_V3 = re.compile(
    r"https?://urldefense(?:\.proofpoint)?\.com/v3/__(?P<url>.+?)__;(?P<replaced>[A-Za-z0-9_-]*)!", re.IGNORECASE
)
#: Proofpoint v3 writes a run of 2 to 65 replaced characters as ``**`` and one letter of this alphabet.
_V3_RUNS = {letter: length for length, letter in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", start=2)}


@dataclass(frozen=True)
class Found:
    """One link recovered from a paste.

    ``notes`` say how it was recovered ("unwrapped from Microsoft Defender
    Safe Links"), for the page to show. ``alternatives`` are other readings
    of the same spot (a wrapped link joined over fewer lines), best first:
    the caller may prefer one the issuance log knows.
    """

    link: ParsedLink
    notes: tuple[str, ...] = ()
    alternatives: tuple[ParsedLink, ...] = ()

    @property
    def url(self) -> str:
        return self.link.url


def find_links(text: str, *, stable_prefix: str = "/s/") -> list[Found]:
    """Every readable link in ``text``, in the order they appear, each once.

    Raises :class:`LinkParseError` with one sentence when there is none: the
    sentence for the most complete link-like text found, or, when the text
    has no ``http(s)://`` at all, what :func:`parse_link` says of the whole.
    """
    if not isinstance(text, str):
        raise LinkParseError("The link must be text: paste the whole link as it was sent.")
    if len(text) > MAX_PASTE_CHARS:
        raise LinkParseError(
            "The pasted text is longer than 64 KB, far more than a link or a message around one: paste only the link itself."
        )
    decoded, notes = _decode(text)
    found: list[Found] = []
    seen: set[str] = set()
    first_error: LinkParseError | None = None
    whole = decoded.strip()
    position = 0
    for match in _START.finditer(decoded):
        if match.start() < position:
            continue  # inside a link already read (a wrapper carrying the link in the clear)
        readings, error, end = _read_at(decoded, match.start(), stable_prefix)
        position = end
        if not readings:
            first_error = first_error or error
            continue
        (best, best_notes), *others = readings
        if best.url in seen:
            continue
        seen.add(best.url)
        around = [] if decoded[match.start() : end].strip() == whole else ["found in the text around it"]
        found.append(Found(best, tuple([*notes, *best_notes, *around]), tuple(link for link, _ in others)))
        if len(found) > MAX_LINKS:
            break
    if found:
        return found
    if first_error is not None:
        raise first_error
    return [Found(parse_link(text, stable_prefix=stable_prefix), tuple(notes))]  # raises the precise sentence


def unwrap(url: str) -> tuple[str, list[str]]:
    """The link a redirect wrapper carries (wrappers within wrappers too), and the names of the wrappers removed."""
    names: list[str] = []
    for _ in range(_MAX_UNWRAP):
        unwrapped = _named_wrapper(url)
        if unwrapped is None or unwrapped[0] is None:
            break
        url, name = unwrapped[0], unwrapped[1]
        names.append(name)
    return url, names


# --------------------------------------------------------------------------- decoding the whole paste


def _decode(text: str) -> tuple[str, list[str]]:
    notes: list[str] = []
    if _is_quoted_printable(text):
        text = binascii.a2b_qp(text.encode("utf-8", "surrogatepass")).decode("utf-8", "replace")
        notes.append("decoded from quoted-printable (=3D, soft line breaks)")
    unescaped = _ENTITY.sub(lambda m: html.unescape(m.group()), _WBR.sub("", text))
    if unescaped != text:
        notes.append("HTML character references such as &amp; decoded")
    cleaned = unescaped.translate(_INVISIBLE_BREAKS)
    return cleaned, notes


def _is_quoted_printable(text: str) -> bool:
    """True when every ``=`` starts a ``=XX`` escape or a soft line break, and at least one does.

    A plain signed link always has an ``=`` followed by something else
    (``X-Amz-Algorithm=AWS4…``, ``Key-Pair-Id=K…``), so it is never mistaken
    for quoted-printable; RFC 2047 encoded words in headers (``=?utf-8?Q?…?=``)
    are allowed around it.
    """
    if "=3D" not in text and not _QP_SOFT_BREAK.search(text):
        return False
    for index, char in enumerate(text):
        if char != "=":
            continue
        if _QP_HEX.fullmatch(text[index + 1 : index + 3]) or _QP_SOFT_BREAK.match(text, index):
            continue
        if text[index + 1 : index + 2] == "?" or text[index - 1 : index] == "?":
            continue
        return False
    return True


# --------------------------------------------------------------------------- one link in running text


def _read_at(text: str, start: int, stable_prefix: str) -> tuple[list[tuple[ParsedLink, list[str]]], LinkParseError | None, int]:
    """The readings of the link at ``start`` that parse (longest first), else the most complete one's error; and where it ends."""
    variants = _variants(text, start)
    readings: list[tuple[ParsedLink, list[str]]] = []
    error: LinkParseError | None = None
    end = variants[0][1]
    for raw, stop, lines in reversed(variants):  # the longest join first: a wrapped link is whole only at its end
        for candidate in dict.fromkeys((_trim(raw), raw)):
            result, notes = _resolve(candidate, stable_prefix)
            if isinstance(result, LinkParseError):
                error = error or result
                continue
            if lines > 1:
                notes = [f"rejoined from {lines} lines (it was hard-wrapped)", *notes]
            if not readings:
                end = stop
            if all(result.url != r.url for r, _ in readings):
                readings.append((result, notes))
            break
    return readings, error, end


def _variants(text: str, start: int) -> list[tuple[str, int, int]]:
    """The link at ``start`` on its own line, then joined with each following line of a hard wrap.

    Returns (text, end offset, lines used). A line continues the link only
    when the line before it was cut at the wrap width (every joined line as
    long as the first, 64 to 100 characters) and it holds nothing but link
    characters, after any quote markers.
    """
    end = start
    if text.startswith("[", text.find("://", start) + 3):  # an IPv6 literal host: its brackets belong to it
        end = text.find("]", start) + 1 or len(text)
    while end < len(text) and text[end] not in _STOP:
        end += 1
    variants = [(text[start:end], end, 1)]
    line_start = text.rfind("\n", 0, start) + 1
    width = len(text[line_start:end].rstrip("\r"))
    if width not in _WRAP_WIDTHS or not _at_line_end(text, end):
        return variants
    joined, position, lines = text[start:end], end, 1
    while lines <= _MAX_CONTINUATION_LINES:
        newline = text.find("\n", position)
        if newline < 0:
            break
        line_end = text.find("\n", newline + 1)
        line_end = len(text) if line_end < 0 else line_end
        line = text[newline + 1 : line_end].rstrip("\r")
        body = line[_QUOTE_PREFIX.match(line).end() :]  # type: ignore[union-attr]  # the pattern always matches
        if not body or any(ch in _STOP for ch in body) or _START.match(body):
            break
        joined += body
        lines += 1
        position = newline + 1 + len(line)
        variants.append((joined, position, lines))
        if len(line) != width:
            break  # the short last line of the wrap
    return variants


def _at_line_end(text: str, index: int) -> bool:
    return index >= len(text) or text[index] == "\n" or text.startswith("\r\n", index)


def _trim(url: str) -> str:
    """Drop punctuation that ends the sentence around a link, and a closing bracket it did not open."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count("(") < url.count(")")):
            url = url[:-1]
            continue
        break
    return url


def _resolve(candidate: str, stable_prefix: str) -> tuple[ParsedLink | LinkParseError, list[str]]:
    """Parse a candidate, removing redirect wrappers first (named ones always, any other when it does not parse itself)."""
    notes: list[str] = []
    url = candidate
    for _ in range(_MAX_UNWRAP + 1):
        named = _named_wrapper(url)
        if named is not None:
            inner, name = named
            if inner is None:
                return LinkParseError(f"This is a {name} address with no readable link inside it: paste the link from the original message."), notes
            url = inner
            notes.append(f"unwrapped from {name}")
            continue
        try:
            return parse_link(url, stable_prefix=stable_prefix), notes
        except LinkParseError as exc:
            generic = _generic_inner(url)
            if generic is None:
                return (_inside(notes[-1], exc) if notes else exc), notes
            url, host = generic
            notes.append(f"unwrapped from a redirect through {host}")
    return LinkParseError("The link is wrapped in more redirect services than the desk unwraps: paste the link from the original message."), notes


def _inside(note: str, exc: LinkParseError) -> LinkParseError:
    """The parser's sentence, saying the link was found inside a wrapper (still one sentence)."""
    message = str(exc)
    first, _space, rest = message.partition(" ")
    if first in ("This", "The", "An", "A"):
        message = f"{first.lower()} {rest}"
    return LinkParseError(f"Once {note}, {message}")


# --------------------------------------------------------------------------- redirect wrappers


def _raw_params(url: str) -> tuple[str, dict[str, str]]:
    """The lower-cased host and the query's raw (still encoded) values by lower-cased name; first value wins."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return "", {}
    params: dict[str, str] = {}
    for part in parts.query.split("&"):
        name, _eq, value = part.partition("=")
        params.setdefault(name.lower(), value)
    return host, params


def _param_url(value: str | None) -> str | None:
    if not value:
        return None
    decoded = unquote(value.replace("+", " ")).strip()
    return decoded if _START.match(decoded) else None


def _named_wrapper(url: str) -> tuple[str | None, str] | None:
    """(the link inside, the wrapper's name) for a known wrapper, the link None when it carries none; None for other URLs."""
    v3 = _PROOFPOINT_V3.match(url)
    if v3 is not None:
        return _proofpoint_v3(v3.group("url"), v3.group("replaced")), "Proofpoint URL Defense (v3)"
    host, params = _raw_params(url)
    if not host:
        return None
    path = urlsplit(url).path.lower()
    if host.endswith((".safelinks.protection.outlook.com", ".safelinks.protection.office365.us")) or (
        host == "statics.teams.cdn.office.net" and "safelinks" in path
    ):
        return _param_url(params.get("url")), "Microsoft Defender Safe Links"
    if host in ("urldefense.proofpoint.com", "urldefense.com") and path.startswith("/v2/"):
        raw = params.get("u") or ""
        inner = html.unescape(unquote(raw.translate(str.maketrans("-_", "%/")))).strip()
        return (inner if _START.match(inner) else None), "Proofpoint URL Defense (v2)"
    if host in ("urldefense.proofpoint.com", "urldefense.com") and path.startswith("/v1/"):
        carried = _param_url(params.get("u"))
        return (html.unescape(carried) if carried else None), "Proofpoint URL Defense (v1)"
    if re.fullmatch(r"(?:www\.)?google\.[a-z]{2,3}(?:\.[a-z]{2})?", host) and path == "/url":
        return _param_url(params.get("q") or params.get("url")), "a Google redirect"
    if host == "linkprotect.cudasvc.com" and path == "/url":
        return _param_url(params.get("a")), "Barracuda Link Protection"
    if host.endswith(".trendmicro.com") and "/clicktime/" in path:
        return _param_url(params.get("url")), "Trend Micro's click-time protection"
    if host == "slack-redir.net" and path == "/link":
        return _param_url(params.get("url")), "Slack's link redirect"
    if host in ("l.facebook.com", "lm.facebook.com") and path == "/l.php":
        return _param_url(params.get("u")), "Facebook's link shim"
    return None


def _generic_inner(url: str) -> tuple[str, str] | None:
    """Any other wrapper: the first parameter whose value is itself a web link."""
    host, params = _raw_params(url)
    for value in params.values():
        inner = _param_url(value)
        if inner is not None:
            return inner, host or "another site"
    return None


def _proofpoint_v3(wrapped: str, replaced: str) -> str | None:
    """Put back the characters Proofpoint v3 replaced by ``*`` (one) or ``**<letter>`` (a run), in order.

    They travel after the link as URL-safe base64 of their UTF-8; a link
    whose replacements do not add up was cut, so it is not guessed at.
    """
    try:
        characters = base64.urlsafe_b64decode(replaced + "=" * (-len(replaced) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    out: list[str] = []
    used = index = 0
    while index < len(wrapped):
        char = wrapped[index]
        if char != "*":
            out.append(char)
            index += 1
            continue
        if wrapped.startswith("**", index) and index + 2 < len(wrapped) and wrapped[index + 2] in _V3_RUNS:
            run = _V3_RUNS[wrapped[index + 2]]
            index += 3
        else:
            run = 1
            index += 1
        if used + run > len(characters):
            return None
        out.append(characters[used : used + run])
        used += run
    return "".join(out) if used == len(characters) else None
