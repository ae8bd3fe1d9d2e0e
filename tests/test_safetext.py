"""The one rendering rule: outside text stays text in Markdown, terminals and spreadsheets."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.safetext import WORD_JOINER, csv_cell, csv_frame, md, md_code, one_line, visible
from dashboard.timefmt import local, local_and_utc, viewer_zone, zone_name


@pytest.mark.parametrize(
    "hostile",
    [
        "[Click here](https://evil.example/x)",
        "![px](https://evil.example/p.png)",
        "<img src=x onerror=alert(1)>",
        ":red[alert] :material/home: :smile:",
        "$x^2$",
        "# heading",
        "`code` **bold**",
    ],
)
def test_md_escapes_every_markdown_and_html_special_character(hostile: str) -> None:
    escaped = md(hostile).replace(WORD_JOINER, "")
    for ch in "[]()!<>:$#`*":
        assert ch not in escaped.replace("\\" + ch, ""), ch


def test_md_breaks_autolinks_with_an_invisible_word_joiner() -> None:
    shown = md("see https://evil.example www.evil.example a@evil.example")
    assert "https\\:" + WORD_JOINER in shown
    assert "www" + WORD_JOINER + "\\." in shown
    assert "\\@" + WORD_JOINER in shown


def test_md_keeps_the_text_on_one_line() -> None:
    assert "\n" not in md("a\n# b\r\n    c")


@given(st.text())
def test_md_unescaped_gives_back_the_visible_text(text: str) -> None:
    import re

    unescaped = re.sub(r"\\(.)", r"\1", md(text).replace(WORD_JOINER, ""))
    assert unescaped == visible(text)


def test_md_code_fences_backticks() -> None:
    assert md_code("a`b") == "``a`b``"
    assert md_code("`x") == "`` `x ``"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("bell\x07", "bell\\x07"),
        ("cr\rlf\n", "cr\\x0dlf\\x0a"),
        ("c1\x9b", "c1\\x9b"),
        ("rtl\u202eevil", "rtl\\u202eevil"),
        ("lone\ud800", "lone\\ud800"),
        ("ok ünïcødé 世界", "ok ünïcødé 世界"),
    ],
)
def test_visible_shows_control_characters_as_escapes(raw: str, shown: str) -> None:
    assert visible(raw) == shown


def test_one_line_cuts_with_an_ellipsis() -> None:
    assert one_line("abcdef\n", limit=4) == "abc…"


@pytest.mark.parametrize("cell", ["=cmd|' /C calc'!A0", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_csv_cell_neutralises_formula_starts(cell: str) -> None:
    assert csv_cell(cell) == "'" + cell


def test_csv_frame_keeps_numbers_numbers() -> None:
    frame = csv_frame(pd.DataFrame({"ticket": ["=HYPERLINK(\"x\")", "TCK-1"], "hours": [-1.5, 2.0], "n": [-1, 2]}))
    assert frame["ticket"].tolist() == ["'=HYPERLINK(\"x\")", "TCK-1"]
    assert frame["hours"].tolist() == [-1.5, 2.0] and frame["n"].tolist() == [-1, 2]
    assert "'=" not in frame.to_csv(index=False).split("\n")[2]


def test_times_are_shown_in_the_viewers_zone_with_its_name() -> None:
    moment = datetime(2026, 12, 1, 14, 4, tzinfo=UTC)
    paris = viewer_zone("Europe/Paris")
    assert local(moment, paris) == "2026-12-01 15:04 CET"
    assert local_and_utc(moment, paris) == "2026-12-01 15:04 CET (2026-12-01 14:04 UTC)"
    assert local_and_utc(moment, UTC) == "2026-12-01 14:04 UTC"
    assert viewer_zone("Not/AZone") is UTC and zone_name(UTC) == "UTC"


def test_visible_lines_keeps_line_breaks_and_shows_every_other_control_character() -> None:
    from dashboard.safetext import visible_lines

    assert visible_lines("Hello,\n\nfile\x1b[2J.txt\r\nbye") == "Hello,\n\nfile\\x1b[2J.txt\\x0d\nbye"
