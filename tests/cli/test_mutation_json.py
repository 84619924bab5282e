"""Every command that changes data prints, with --json, one summary object with the documented
fields; --json with another --format is a usage error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.cli.trust_helpers import FILE_STORES, NEW, gone_row, row, run, seed, store_url


@pytest.fixture(params=FILE_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = store_url(str(request.param), tmp_path)
    seed(url, [row("a"), row("b"), row("fresh", seen=NEW), row("pin", labels={"pin": "true"})])
    return url


def summary(store: str, *args: str, code: int = 0, input: str | None = None) -> Any:
    done = run(store, *args, "--json", input=input)
    assert done.returncode == code, done.stderr
    return json.loads(done.stdout)


def test_rm(store: str) -> None:
    got = summary(store, "rm", "a", "nope", code=3)
    assert got["dry_run"] is False and got["count"] == 1
    assert [m["key"] for m in got["removed"]] == ["a"]
    assert got["missing"] == [{"agent": "default", "key": "nope"}]


def test_rename(store: str) -> None:
    got = summary(store, "rename", "a", "z")
    assert {k: got[k] for k in ("dry_run", "agent", "old_key", "new_key")} == {
        "dry_run": False,
        "agent": "default",
        "old_key": "a",
        "new_key": "z",
    }
    assert got["mapping"]["key"] == "z"


def test_import(store: str) -> None:
    lines = "".join(json.dumps(r) + "\n" for r in (row("a", session_id="s-2"), row("new")))
    got = summary(store, "import", "--on-conflict", "skip", "-", input=lines)
    assert got == {
        "dry_run": False,
        "inserted": 1,
        "replaced": 0,
        "skipped": 1,
        "conflicts": [],
        "transcript_lines": 0,
    }
    got = summary(store, "import", "--dry-run", "-", input=lines, code=4)
    assert got["conflicts"] == [{"agent": "default", "key": "a"}, {"agent": "default", "key": "new"}]


def test_prune(store: str) -> None:
    got = summary(store, "prune", "--older-than", "30d")
    assert got["dry_run"] is False and got["count"] == 2 and got["scanned"] == 4 and got["pinned"] == 1
    assert got["older_than"] == "30d" and got["cutoff"].endswith("Z")
    assert [m["key"] for m in got["removed"]] == ["a", "b"] and got["kept"] == []


def test_doctor_fix(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    seed(url, [gone_row("gone", tmp_path / "h")])
    got = summary(url, "doctor", "--fix", "--dry-run")
    assert got["dry_run"] is True and [m["key"] for m in got["fixed"]] == ["gone"]
    got = summary(url, "doctor", "--fix")
    assert got["dry_run"] is False and got["healthy"] is True and got["pinned"] == []


def test_json_with_another_format_is_a_usage_error(store: str) -> None:
    done = run(store, "prune", "--json", "-f", "tsv")
    assert done.returncode == 2 and "use one" in done.stderr
    assert run(store, "prune", "--json", "-f", "json", "--dry-run").returncode == 0
