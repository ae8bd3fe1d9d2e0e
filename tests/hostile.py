"""Hostile outside text for the page harnesses, and the check that none of it became markup.

Every value carries ``evil.example``, so a harness can also prove the value
reached the page (as text) and was not merely absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
import re
from dataclasses import dataclass

import cmarkgfm

#: The folder of the demo's support bucket that the harnesses fill, and empty again.
FOLDER = "zz-hostile/"
MARKER = "evil.example"

#: Object names (keys under FOLDER): links, images, HTML, autolinks, Streamlit directives, formulas, control characters.
NAMES = (
    "[Click here](https://evil.example/phish).pdf",
    "![pixel](https://evil.example/p.png) tracking.png",
    "<img src=https:\u2044\u2044evil.example\u2044i.png onerror=alert(1)> evil.example.txt",
    "see www.evil.example or mail@evil.example now.txt",
    ":red[alarm] :material/warning: $x^2$ <b>bold evil.example.txt",
    "=HYPERLINK(\"evil.example\")+1.csv",
    "bell\x07 escape\x1b[31m evil.example.txt",
)
#: A folder whose own name is hostile, with one object inside.
HOSTILE_FOLDER = FOLDER + "[folder](javascript:alert('evil.example'))/"
KEYS = tuple(FOLDER + name for name in NAMES) + (HOSTILE_FOLDER + "inner evil.example.txt",)
CONTENT_TYPE = "text/html; x=[type](https://evil.example/ct)"

TICKETS = ("[TCK-1](https://evil.example/t)", "=cmd|' /C calc'!A0 evil.example", "<img src=x onerror=alert(1)> evil.example")
NOTES = ("![note](https://evil.example/n.png)", "<script>alert('evil.example')</script>")
ISSUERS = ("[alice](https://evil.example/u)", "<b>mallory</b> evil.example")
FILENAME = "[name](https://evil.example/f).pdf"
#: A pasted SigV4 link whose key and signed-headers value are Markdown (a link, and an image that would load on sight).
PASTED_URL = (
    "https://sharedesk-demo-support.s3.us-east-1.amazonaws.com/%5Bx%5D(https:%2F%2Fevil.example%2Fk).txt"
    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261201%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20261201T000000Z&X-Amz-Expires=3600"
    "&X-Amz-SignedHeaders=host%3B!%5Bp%5D(https%3A%2F%2Fevil.example%2Fp.png)"
    "&X-Amz-Signature=" + "0" * 64
)


@dataclass(frozen=True)
class Markup:
    where: str
    text: str
    kinds: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.where}: {', '.join(self.kinds)} from {self.text!r}"


def markup_kinds(markdown: str) -> tuple[str, ...]:
    """What GitHub-flavoured Markdown (cmark-gfm, autolinks on) makes of this text: link, image, HTML element."""
    html = cmarkgfm.github_flavored_markdown_to_html(markdown)
    kinds = []
    if "<a " in html:
        kinds.append("link")
    if "<img" in html:
        kinds.append("image")
    if "raw HTML omitted" in html:
        kinds.append("HTML element")
    return tuple(kinds)


#: AppTest node types whose ``value`` Streamlit renders as Markdown.
_MARKDOWN_VALUES = frozenset({"markdown", "caption", "title", "header", "subheader", "info", "warning", "error", "success", "toast"})
#: Node types whose options are drawn as Markdown (radio buttons, segmented controls and pills).
_MARKDOWN_OPTIONS = frozenset({"radio", "button_group"})


def rendered_markdown(nodes: Iterable[object]) -> Iterator[tuple[str, str]]:
    """(where, text) for every string of an AppTest tree that the browser renders as Markdown."""
    for node in nodes:
        kind = str(getattr(node, "type", ""))
        where = f"{kind}[{getattr(node, 'key', None) or ''}]"
        if kind in _MARKDOWN_VALUES:
            yield where, str(node.value)  # type: ignore[attr-defined]
        proto = getattr(node, "proto", None)
        if kind == "dialog" and proto is not None:
            yield where + ".title", proto.dialog.title
        if kind == "expandable" and proto is not None:
            yield where + ".label", proto.expandable.label
        if kind in {"dialog", "expandable", "flex_container", "vertical", "horizontal", "column", "main", "sidebar", "event", "root", "container", "tab"}:
            continue
        for attribute in ("label", "help"):
            value = _attribute(node, attribute)
            if isinstance(value, str) and value:
                yield f"{where}.{attribute}", value
        if kind in _MARKDOWN_OPTIONS:
            for option in getattr(node, "options", []) or []:
                yield f"{where}.option", str(option)


def _attribute(node: object, name: str) -> object:
    try:
        return getattr(node, name)
    except Exception:  # AppTest blocks answer unknown attributes by raising
        return None


def markup(nodes: Iterable[object]) -> list[Markup]:
    found = []
    for where, text in rendered_markdown(nodes):
        kinds = markup_kinds(text)
        if kinds:
            found.append(Markup(where, text, kinds))
    return found


#: Control and invisible formatting characters (bidirectional overrides included) that must reach no page raw;
#: newlines are the structure of code blocks and messages, and the word joiner is md()'s own autolink guard.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def raw_controls(nodes: Iterable[object]) -> list[str]:
    """Shown strings that carry a raw control character (they should show it as an escape, e.g. \\x1b)."""
    return [repr(line)[:120] for line in shown_text(nodes).splitlines() if RAW_CONTROL.search(line)]


def shown_text(nodes: Iterable[object]) -> str:
    """Everything a page shows as text, table cells and options included: proof that hostile values reached it."""
    parts = []
    for node in nodes:
        # A choice widget's value is what it returns; what it shows are its (formatted) options.
        chooser = str(getattr(node, "type", "")) in {"multiselect", "selectbox", "radio", "button_group"}
        for attribute in ("label", "options") if chooser else ("value", "label", "options"):
            value = _attribute(node, attribute)
            if value is None or callable(value):
                continue
            if hasattr(value, "to_csv"):
                parts.append(value.to_csv())
            elif isinstance(value, list | tuple):
                parts.extend(str(v) for v in value)
            else:
                parts.append(str(value))
    return "\n".join(parts)
