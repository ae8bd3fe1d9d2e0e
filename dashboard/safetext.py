"""Outside text stays text: one rule for pages, spreadsheets and terminals.

S3 keys come from anyone who can write to a bucket; tickets, notes and names
are typed or come from headers; URLs are pasted; probed servers answer with
their own words. None of it may become markup, a formula or a terminal
command. Every place that shows such text goes through one of these:

- :func:`md` for text placed inside Markdown (``st.markdown``, labels,
  headings, expander titles, toasts, captions): every Markdown and HTML
  special character is backslash-escaped, so it renders as the characters
  it is and never as a link, an image, an HTML element, a directive
  (``:red[…]``, ``:material/…:``), an emoji short code or LaTeX; an
  invisible word joiner after ``:``, ``@`` and ``www`` keeps Streamlit's
  autolinking of bare addresses from forming links (so copy such text from
  ``st.code``, not from Markdown); :func:`md_code` puts it in a code span;
- :func:`visible` for text shown raw (``st.text``, ``st.code``, table cells,
  the command line): control and invisible formatting characters are shown
  as escapes (``\\x1b``), so nothing can clear a terminal, forge a hyperlink
  or reorder what is read (bidirectional overrides);
- :func:`csv_cell` / :func:`csv_frame` for exports: a text cell that a
  spreadsheet would run as a formula is neutralised as OWASP advises.

Pure functions, no Streamlit: the command line and the tests use them too.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

__all__ = ["WORD_JOINER", "csv_cell", "csv_frame", "md", "md_code", "one_line", "visible"]

#: C0 controls, DEL and C1 controls; the zero-width and bidirectional
#: formatting characters (Trojan Source); line and paragraph separators;
#: and lone surrogates (which no encoder can write).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff]"
)
#: Every ASCII punctuation character may be backslash-escaped in CommonMark;
#: escaping all of them is simpler and safer than guessing which ones matter.
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")
#: Where a GFM "autolink literal" could start: ``http://``, ``www.``, ``a@b.c``.
#: Streamlit's Markdown turns those into links on the *text* after escapes are
#: undone, so a backslash cannot stop them; an invisible word joiner can.
_AUTOLINK_START = re.compile(r"(:|@|(?i:www)(?=\\\.))")
WORD_JOINER = "\u2060"
#: OWASP's list: a cell starting with one of these may be run as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` with every control or invisible formatting character shown as an escape (``\\x1b``, ``\\u202e``).

    A literal backslash stays as it is: the result is for people to read,
    not for a program to unescape.
    """
    return _INVISIBLE.sub(_escape, "" if text is None else str(text))


def visible_lines(text: object) -> str:
    """``visible`` text that keeps its line breaks: a message of several lines, whose other control characters show as escapes."""
    return "\n".join(visible(line) for line in ("" if text is None else str(text)).split("\n"))


def one_line(text: object, limit: int | None = None) -> str:
    """``visible`` text on one line (a newline shows as ``\\x0a``), cut to ``limit`` characters with an ellipsis."""
    shown = visible(text)
    if limit is not None and len(shown) > limit:
        shown = shown[: max(limit - 1, 0)] + "…"
    return shown


def md(text: object) -> str:
    """``text`` as Markdown that renders exactly as these characters, on one line.

    Control characters (newlines included) are first shown as escapes, so the
    text cannot start a heading, a list, a code block or a new paragraph;
    then every ASCII punctuation character is backslash-escaped.
    """
    escaped = _MD_SPECIAL.sub(r"\\\1", visible(text))
    return _AUTOLINK_START.sub(lambda m: m.group() + WORD_JOINER, escaped)


def md_code(text: object) -> str:
    """``text`` as an inline code span: monospaced, never parsed, never linked (keys, URLs, ids).

    The fence is one backtick longer than any run inside the text, and padded
    with a space when the text starts or ends with a backtick (CommonMark).
    """
    shown = visible(text)
    longest = max((len(run) for run in re.findall(r"`+", shown)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if shown.startswith("`") or shown.endswith("`") or not shown.strip() else ""
    return f"{fence}{pad}{shown}{pad}{fence}"


def csv_cell(value: Any) -> Any:
    """A cell a spreadsheet shows as data: text starting with ``= + - @``, a tab or CR gets a leading ``'``.

    Numbers, dates and empty values are returned unchanged, so numbers stay numbers.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) are safe to open in a spreadsheet."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column].dtype):
            safe[column] = safe[column].map(csv_cell)
    safe.columns = [csv_cell(str(c)) for c in safe.columns]
    return safe
