"""--dry-run on every command that deletes or replaces: it says what would happen and the
store's content stays byte for byte (JSON) or row for row (SQLite) what it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.cli.trust_helpers import FILE_STORES, NEW, gone_row, row, run, seed, snapshot, store_url


@pytest.fixture(params=FILE_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = store_url(str(request.param), tmp_path)
    rows = [
        row("a"),
        row("b"),
        row("b", "other"),
        row("fresh", seen=NEW),
        gone_row("gone", tmp_path / "home"),
    ]
    seed(url, rows)
    return url


def unchanged(store: str, *args: str, code: int = 0, input: str | None = None) -> str:
    before = snapshot(store)
    done = run(store, *args, input=input)
    assert done.returncode == code, done.stderr
    assert snapshot(store) == before, args
    return done.stdout + done.stderr


@pytest.mark.slow
def test_rm_dry_run(store: str) -> None:
    said = unchanged(store, "rm", "--dry-run", "a", "b")
    assert said.startswith("a\tdefault\t") and "would remove 2 mappings; nothing changed" in said
    unchanged(store, "rm", "--dry-run", "-", input="a\nb\tother\n")


def test_prune_dry_run(store: str) -> None:
    said = unchanged(store, "prune", "--dry-run", "--missing")
    assert "would remove 5 of 5 mappings" not in said  # fresh stays
    assert "would remove 4 of 5 mappings older than 30d or whose transcript is gone" in said


def test_doctor_fix_dry_run(store: str) -> None:
    said = unchanged(store, "doctor", "--fix", "--dry-run")
    assert "would remove gone (agent default)" in said


@pytest.mark.slow
def test_import_dry_run_every_policy(store: str, tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in (row("a", session_id="s-new"), row("new"))))
    said = unchanged(store, "import", "--dry-run", "--on-conflict", "replace", str(source))
    assert "would import 2 mapping(s): 1 new, 1 replaced, 0 skipped; nothing changed" in said
    said = unchanged(store, "import", "--dry-run", "--on-conflict", "skip", str(source))
    assert "1 new, 0 replaced, 1 skipped" in said
    said = unchanged(store, "import", "--dry-run", str(source), code=4)
    assert "the import would fail: 1 mapping(s) exist already" in said
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{nope\n")
    unchanged(store, "import", "--dry-run", str(bad), code=2)


@pytest.mark.slow
def test_rename_and_create_force_dry_run(store: str) -> None:
    said = unchanged(store, "rename", "--dry-run", "a", "z")
    assert "would rename 'a' to 'z' (agent default)" in said
    unchanged(store, "rename", "--dry-run", "a", "fresh", code=4)
    unchanged(store, "rename", "--dry-run", "nope", "z", code=3)
    said = unchanged(store, "create", "--force", "--dry-run", "a")
    assert "would replace the mapping for 'a'" in said
    unchanged(store, "create", "--dry-run", "a", code=4)
