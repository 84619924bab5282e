"""Over-long session ids: refused on input, and one left by an older sessmap never stops a
command that reads the whole store (they used to fail with "File name too long")."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from tests.support import sha256
from tests.support.cli import Sessmap

LONG = "x" * 250


def test_an_over_long_id_is_refused_on_input(sessmap: Sessmap) -> None:
    sessmap.ok("create", "k")
    before = sha256(sessmap.store_path)
    for args in (("create", "new", "--session-id", LONG), ("set", "k", "--session-id", "y" * 129)):
        result = sessmap(*args)
        assert result.exit_code == 2 and "at most 128 characters" in result.stderr
    line = json.dumps({"key": "imported", "provider": "claude", "session_id": LONG})
    assert sessmap("import", "-", input=line + "\n").exit_code == 2
    assert sha256(sessmap.store_path) == before


def store_legacy_id(sessmap: Sessmap, key: str) -> None:
    """What sessmap 0.1.0 allowed: a 250-character id, written straight into the store file."""
    if sessmap.store_url.startswith("sqlite:"):
        with sqlite3.connect(sessmap.store_path) as db:
            db.execute("UPDATE mappings SET session_id = ?, turns = 1 WHERE key = ?", (LONG, key))
        return
    document = json.loads(sessmap.store_path.read_text())
    for entry in document["mappings"]:
        if entry["key"] == key:
            entry.update(session_id=LONG, turns=1)
    sessmap.store_path.write_text(json.dumps(document))


def test_a_stored_over_long_id_never_breaks_whole_store_commands(
    sessmap: Sessmap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    sessmap.ok("create", "fine", "--cwd", "/w")
    sessmap.ok("create", "legacy", "--cwd", "/w")
    sessmap.ok("create", "legacy-codex", "--provider", "codex", "--cwd", "/w")
    store_legacy_id(sessmap, "legacy")
    store_legacy_id(sessmap, "legacy-codex")
    assert sessmap.ok("list", "--sort", "key", "--format", "keys").stdout.split() == [
        "fine",
        "legacy",
        "legacy-codex",
    ]
    for key in ("legacy", "legacy-codex"):
        shown = json.loads(sessmap.ok("show", key, "--json").stdout)
        assert shown["session_id"] == LONG and shown["transcript"]["state"] == "unknown"
    assert sessmap.ok("prune", "--missing", "--dry-run").stdout == ""
    assert sessmap.ok("doctor").exit_code == 0
    assert sessmap.ok("get", "legacy").stdout.strip() == LONG
