"""Server store URLs (sessmap/urls.py, shared by both server stores): passwords masked and
scrubbed, and the query parameters sessmap keeps for itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sessmap.errors import InvalidInput
from sessmap.urls import MASK, duration_parameter, mask_password, passwords_in, pop_parameters, redact


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://bot:s3cret@db:5432/map", "postgresql://bot:***@db:5432/map"),
        ("postgresql://bot@db/map", "postgresql://bot@db/map"),
        (
            "postgres://db/map?password=s3cret&sslmode=require",
            "postgres://db/map?password=***&sslmode=require",
        ),
        ("redis://:s3cret@cache:6379/0?prefix=bots", "redis://:***@cache:6379/0?prefix=bots"),
        ("rediss://user:p%40ss@cache/1", "rediss://user:***@cache/1"),
    ],
)
def test_passwords_are_masked(url: str, masked: str) -> None:
    assert mask_password(url) == masked


def test_password_forms_are_found_for_scrubbing() -> None:
    assert passwords_in("rediss://user:p%40ss@cache/1") == ["p%40ss", "p@ss"]
    assert passwords_in("postgresql://db/x?password=a%20b") == ["a%20b", "a b"]


def test_sessmap_parameters_are_split_off_and_the_rest_kept_verbatim() -> None:
    url, ours = pop_parameters(
        "redis://h/0?prefix=a%3Ab&socket_keepalive=true&lock_ttl=5s", ["prefix", "lock_ttl"]
    )
    assert (url, ours) == ("redis://h/0?socket_keepalive=true", {"prefix": "a:b", "lock_ttl": "5s"})
    assert pop_parameters("postgresql://h/db", ["schema"]) == ("postgresql://h/db", {})


def test_urls_without_a_password_have_none_to_scrub() -> None:
    assert passwords_in("postgresql://bot@db/map?sslmode=require") == []
    assert passwords_in("redis://cache:6379/0") == []


def test_the_last_repeated_parameter_wins() -> None:
    assert pop_parameters("postgresql://h/db?schema=a&schema=b", ["schema"]) == (
        "postgresql://h/db",
        {"schema": "b"},
    )


def test_redact_replaces_every_secret_longest_first() -> None:
    text = "connect p@ss failed for user:p%40ss (p@ss)"
    assert (
        redact(text, passwords_in("rediss://user:p%40ss@cache/1"))
        == f"connect {MASK} failed for user:{MASK} ({MASK})"
    )
    # Longest first: a secret that contains a shorter one leaves none of itself behind.
    assert redact("ab abc", ["ab", "abc"]) == f"{MASK} {MASK}"
    assert redact("nothing here", ["", "zz"]) == "nothing here"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2.5", timedelta(seconds=2.5)),
        ("1d", timedelta(days=1)),
    ],
)
def test_duration_parameters(text: str, expected: timedelta) -> None:
    assert duration_parameter("lock_ttl", text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "0s", "2d", "86401", "soon"])
def test_duration_parameters_out_of_range_or_not_durations_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match=f"lock_ttl={text!r}|invalid duration"):
        duration_parameter("lock_ttl", text)
