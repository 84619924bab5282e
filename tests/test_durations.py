"""Durations as people type them (SPEC §3): ``90s``, ``15m``, ``12h``, ``30d``, ``2w``, ``1d12h``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sessmap.durations import format_duration, parse_duration
from sessmap.errors import InvalidInput

HUNDRED_YEARS = timedelta(days=36_500)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("12h", timedelta(hours=12)),
        ("30d", timedelta(days=30)),
        ("2w", timedelta(weeks=2)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
        ("0s", timedelta(0)),
        ("0d", timedelta(0)),
        ("36500d", HUNDRED_YEARS),
        ("1D12H", timedelta(days=1, hours=12)),
        (" 30d\n", timedelta(days=30)),
        ("007m", timedelta(minutes=7)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "12",  # no unit
        "1x",  # unknown unit
        "d",
        "1h1d",  # smallest first
        "1d1d",  # unit twice
        "-5m",
        "+5m",
        "1.5h",
        "1 d",
        "1d 12h",
        "5 minutes",
        "P1D",  # ISO-8601 is not what we take
        "36501d",  # more than 100 years
        "99999999999999999999w",
        "١d",  # non-ASCII digits
    ],
)
def test_parse_rejects(text: str) -> None:
    with pytest.raises(InvalidInput, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(days=1, hours=12), "1d12h"),
        (timedelta(days=14), "2w"),
        (timedelta(days=30), "4w2d"),
        (timedelta(seconds=59.9), "59s"),
    ],
)
def test_format(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_format_rejects_negative() -> None:
    with pytest.raises(ValueError, match="never negative"):
        format_duration(timedelta(seconds=-1))


@given(st.integers(min_value=0, max_value=int(HUNDRED_YEARS.total_seconds())))
def test_format_then_parse_round_trips(seconds: int) -> None:
    delta = timedelta(seconds=seconds)
    assert parse_duration(format_duration(delta)) == delta


@given(
    st.lists(st.integers(min_value=0, max_value=500), min_size=5, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5).filter(any),
)
def test_any_well_formed_spelling_parses_to_its_sum(numbers: list[int], present: list[bool]) -> None:
    text = "".join(f"{n}{unit}" for n, unit, keep in zip(numbers, "wdhms", present, strict=True) if keep)
    sizes = dict(zip("wdhms", (604_800, 86_400, 3_600, 60, 1), strict=True))
    expected = sum(n * sizes[unit] for n, unit, keep in zip(numbers, "wdhms", present, strict=True) if keep)
    assert parse_duration(text) == timedelta(seconds=expected)
    assert parse_duration(format_duration(timedelta(seconds=expected))) == timedelta(seconds=expected)
