"""A mistyped store URL is an error, never another store (issue 14 item 15).

``--store SQLITE:$TMP/x.db`` created a file named ``SQLITE:…`` in the current folder, and
``redis://host/abc`` wrote to database 0. An unknown scheme (in any case) and a database that
is not a number are now usage errors (exit 2) that touch nothing; plain paths work as SPEC §2
says.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.support.cli import run_sessmap

from sessmap.errors import InvalidInput
from sessmap.stores import store_kind
from sessmap.urls import check_redis_database


@pytest.mark.parametrize(
    "url",
    [
        "SQLITE:{tmp}/x.db",
        "Sqlite:{tmp}/x.db",
        "JSON:{tmp}/x.json",
        "sqlte:{tmp}/x.db",
        "sqlte:x.db",
        "file:{tmp}/x.db",
    ],
)
def test_an_unknown_scheme_is_a_usage_error_and_creates_nothing(tmp_path: Path, url: str) -> None:
    work = tmp_path / "cwd"
    work.mkdir()
    result = run_sessmap("create", "k", "--provider", "claude", store=url.format(tmp=tmp_path), cwd=work)
    assert result.returncode == 2, result.stderr
    assert "unknown store" in result.stderr
    assert os.listdir(work) == []
    assert not (tmp_path / "x.db").exists()


def test_an_upper_case_known_scheme_says_how_to_write_it() -> None:
    with pytest.raises(InvalidInput, match="lower case, sqlite:"):
        store_kind("SQLITE:/tmp/x.db")


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:/tmp/x.db", "sqlite"),
        ("sqlite:relative/x", "sqlite"),
        ("json:/tmp/x", "json"),
        ("/tmp/x.db", "sqlite"),
        ("x.sqlite3", "sqlite"),
        ("./a:b.db", "sqlite"),
        ("dir/a:b.json", "json"),
        ("~/x.db", "sqlite"),
        ("postgresql:///db?host=/run/postgresql", "postgres"),
        ("redis://h/0", "redis"),
    ],
)
def test_plain_paths_and_known_schemes_still_work(url: str, kind: str) -> None:
    assert store_kind(url)[0] == kind


@pytest.mark.parametrize(
    "url",
    [
        "redis://h/abc",
        "redis://h/3/4",
        "redis://h/-1",
        "redis://h/1x",
        "redis://h?db=x",
        "redis://h/0?db=",
        "redis://h/٣",
    ],
)
def test_a_redis_database_that_is_not_a_number_is_refused(url: str) -> None:
    with pytest.raises(InvalidInput, match="invalid Redis database"):
        check_redis_database(url)


@pytest.mark.parametrize(
    "url", ["redis://h", "redis://h/", "redis://h/0", "redis://h/15", "redis://:pw@h/2?db=3"]
)
def test_a_redis_database_number_is_accepted(url: str) -> None:
    check_redis_database(url)


def test_the_cli_refuses_a_bad_redis_database_before_connecting() -> None:
    # No server needed: port 9 has none, so a connection attempt would show as exit 1 instead.
    result = run_sessmap("list", store="redis://127.0.0.1:9/abc")
    assert result.returncode == 2, result.stderr
    assert "invalid Redis database '/abc'" in result.stderr
