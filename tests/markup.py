"""What a page's Markdown would turn into links, images or HTML: the check behind the hostile-text tests.

Streamlit renders Markdown with CommonMark plus GitHub's extensions, autolinked
bare addresses included; markdown-it-py with linkify is the same grammar, so a
string that yields no link, image or HTML token here renders as plain text.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

_PARSER = MarkdownIt("commonmark", {"linkify": True, "html": True}).enable(["linkify"])
_MARKUP = {"link_open", "image", "html_inline", "html_block"}
#: GitHub's "autolink literals", which Streamlit forms on the text once escapes are undone (markdown-it-py's
#: linkify only knows the scheme form): http(s)://, www. and e-mail addresses, unless an invisible joiner breaks them.
_AUTOLINK = re.compile(r"(?i)(?:https?://|(?<![\w.])www\.[\w-]|[\w.+-]@[\w-]+\.[\w])")


def plain(text: str) -> str:
    """Markdown as it reads on the page: backslash escapes undone, invisible joiners dropped."""
    return re.sub(r"\\(.)", r"\1", text).replace("\u2060", "")


def markup_in(text: str) -> list[str]:
    """Every link, image or HTML element ``text`` would become, as ``type: content``; empty when it stays text."""
    found: list[str] = []

    def walk(tokens: list[Any]) -> None:
        for token in tokens:
            if token.type in _MARKUP:
                target = token.attrGet("href") or token.attrGet("src") or token.content
                found.append(f"{token.type}: {target}")
            elif token.type == "text" and _AUTOLINK.search(token.content):
                found.append(f"autolink: {token.content}")
            if token.children:
                walk(token.children)

    walk(_PARSER.parse(text))
    return found


def page_markdown(at: Any) -> list[str]:
    """Every string an AppTest page hands to Markdown: bodies, callouts, captions, titles, labels, tab and expander names."""
    texts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader"):
        texts += [str(element.value) for element in getattr(at, kind)]
    for kind in ("button", "toggle", "text_area", "text_input", "expander", "tabs", "date_input", "time_input"):
        texts += [str(element.label) for element in getattr(at, kind) if getattr(element, "label", None)]
    return texts
