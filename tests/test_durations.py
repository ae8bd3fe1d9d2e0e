"""Lifetimes are read the way issuers type them and said the way agents read them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboard.durations import DurationError, format_compact, format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("7d", timedelta(days=7)),
        ("1w", timedelta(weeks=1)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("  2 H  ", timedelta(hours=2)),
        ("1D12H", timedelta(days=1, hours=12)),
        ("3600", timedelta(hours=1)),
        (" 42 ", timedelta(seconds=42)),
        ("7 days", timedelta(days=7)),
        ("1 hour 5 minutes", timedelta(hours=1, minutes=5)),
        ("1w1d1h1m1s", timedelta(days=8, seconds=3661)),
    ],
)
def test_parse_duration_reads_what_issuers_type(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("7x", "'7x' is not a duration: use a number followed by s, m, h, d or w"),
        ("", "empty value is not a duration"),
        ("   ", "empty value is not a duration"),
        ("h", "'h' is not a duration"),
        ("1.5h", "'1.5h' is not a duration"),
        ("1h30", "'1h30' is not a duration"),
        ("seven days", "is not a duration"),
        ("0", "is zero"),
        ("0s", "is zero"),
        ("0d0h", "is zero"),
        ("-5m", "is negative"),
        ("-30", "is negative"),
        ("99999999999999d", "too long"),
    ],
)
def test_parse_duration_refuses_with_a_sentence_that_says_what_is_accepted(text: str, fragment: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_duration(text)
    message = str(caught.value)
    assert fragment in message
    assert message.endswith(".")
    assert "90s, 15m, 12h" in message


def test_duration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_parse_duration_gives_the_exact_example_message() -> None:
    with pytest.raises(DurationError, match=r"^'7x' is not a duration: use a number followed by s, m, h, d or w, such as 90s, 15m, 12h or 7d\.$"):
        parse_duration("7x")


@pytest.mark.parametrize(
    ("td", "parts", "expected"),
    [
        (timedelta(days=6, hours=21), 2, "6 days 21 hours"),
        (timedelta(days=6, hours=21, minutes=59, seconds=59), 2, "6 days 21 hours"),
        (timedelta(minutes=38), 2, "38 minutes"),
        (timedelta(hours=1), 2, "1 hour"),
        (timedelta(seconds=45), 2, "45 seconds"),
        (timedelta(0), 2, "0 seconds"),
        (timedelta(milliseconds=400), 2, "0 seconds"),
        (timedelta(days=1), 2, "1 day"),
        (timedelta(days=1, minutes=5), 2, "1 day 5 minutes"),
        (timedelta(days=1, hours=1, minutes=1, seconds=1), 4, "1 day 1 hour 1 minute 1 second"),
        (timedelta(days=1, hours=2, minutes=3), 1, "1 day"),
        (timedelta(days=365), 2, "365 days"),
        (timedelta(days=7, seconds=1), 2, "7 days 1 second"),
        (timedelta(hours=-3), 2, "3 hours"),
        (timedelta(days=-1, hours=2), 2, "22 hours"),
    ],
)
def test_format_duration_says_the_largest_units(td: timedelta, parts: int, expected: str) -> None:
    assert format_duration(td, parts=parts) == expected


def test_format_duration_refuses_zero_parts() -> None:
    with pytest.raises(ValueError):
        format_duration(timedelta(hours=1), parts=0)


@pytest.mark.parametrize(
    ("td", "expected"),
    [
        (timedelta(days=7), "7d"),
        (timedelta(hours=12), "12h"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(minutes=15), "15m"),
        (timedelta(seconds=45), "45s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=14), "14d"),
        (timedelta(0), "0s"),
        (timedelta(hours=-2), "2h"),
    ],
)
def test_format_compact_writes_what_parse_duration_reads(td: timedelta, expected: str) -> None:
    assert format_compact(td) == expected


whole_positive = st.integers(min_value=1, max_value=10**9).map(lambda s: timedelta(seconds=s))


@given(whole_positive)
def test_compact_form_round_trips_through_parse_duration(td: timedelta) -> None:
    assert parse_duration(format_compact(td)) == td


@given(whole_positive, st.integers(min_value=1, max_value=4))
def test_format_duration_never_claims_more_time_than_there_is(td: timedelta, parts: int) -> None:
    text = format_duration(td, parts=parts)
    assert 1 <= len(text.split()) // 2 <= parts
    said = parse_duration(text)
    assert said <= td


@given(whole_positive)
def test_format_duration_with_all_parts_is_exact(td: timedelta) -> None:
    assert parse_duration(format_duration(td, parts=4)) == td
