"""The ASCII fallback of a download name keeps its letters (RFC 6266's filename= beside filename*=)."""

from __future__ import annotations

import re

import pytest

from dashboard.strategies.s3links import content_disposition


def fallback(header: str) -> str:
    match = re.match(r'attachment; filename="([^"]*)"', header)
    assert match, header
    return match.group(1)


@pytest.mark.parametrize(
    ("name", "ascii_name"),
    [
        ("Grüße.txt", "Grusse.txt"),
        ("Straße 1.pdf", "Strasse 1.pdf"),
        ("Æble og smørrebrød.docx", "Aeble og smorrebrod.docx"),
        ("Łódź.csv", "Lodz.csv"),
        ("Œuvre.pdf", "Oeuvre.pdf"),
        ("İstanbul.txt", "Istanbul.txt"),
        ("Привет.txt", "Privet.txt"),
        ("données été.csv", "donnees ete.csv"),
        ("こんにちは.txt", "konnichiha.txt"),
    ],
)
def test_ascii_fallback_transliterates_letters_instead_of_dropping_them(name, ascii_name):
    header = content_disposition(name)
    assert fallback(header) == ascii_name
    assert header.isascii()


def test_a_decomposed_name_gets_the_same_fallback_as_a_composed_one():
    composed = "Grüße.txt"
    decomposed = "Gru\u0308ße.txt"  # u + combining diaeresis, as macOS file names come
    assert fallback(content_disposition(decomposed)) == fallback(content_disposition(composed)) == "Grusse.txt"


def test_transliteration_cannot_bring_quotes_or_separators_into_the_fallback():
    # „…“ and ½ transliterate to '"' and '1/2': neither may reach the quoted fallback.
    header = content_disposition("„Bericht“ ½.pdf")
    assert fallback(header) == "_Bericht_ 1_2.pdf"
    assert header.count('"') == 2
