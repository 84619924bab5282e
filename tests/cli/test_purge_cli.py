"""``rm --purge``, ``prune --purge`` and ``doctor --fix --purge`` at the command line (issue 12),
and ``rename`` of a running thread (issue 14, item 3)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from tests.cli.trust_helpers import in_terminal
from tests.support.cli import Sessmap
from tests.support.mappings import record_started

from sessmap.sdk_keys import project_key_for
from sessmap.stores import Query, open_store

CWD = "/tmp/purge-cli"


def _transcript(home: Path, session_id: str) -> Path:
    folder = home / "projects" / project_key_for(CWD)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session_id}.jsonl"
    path.write_text('{"type":"user"}\n' * 4)
    return path


def _row(key: str, session_id: str, home: Path, **fields: object) -> dict[str, object]:
    return {
        "key": key,
        "provider": "claude",
        "session_id": session_id,
        "cwd": CWD,
        "host": os.uname().nodename,
        "agent_home": str(home),
        "turns": 1,
        "created_at": "2020-01-01T00:00:00Z",
        **fields,
    }


def _import_started(sessmap: Sessmap, *rows: dict[str, object]) -> None:
    """Import ``rows`` and record their sessions as ones sessmap started, as ``exec`` does (an
    imported session alone is never sessmap's to delete)."""
    sessmap.import_rows(*rows)
    with open_store(sessmap.store_url) as store:
        record_started(store, *store.query(Query()))


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path).encode() + (path.read_bytes() if path.is_file() else b""))
    return digest.hexdigest()


def test_rm_purge_dry_run_lists_files_and_bytes(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    path = _transcript(home, "s-1")
    _import_started(sessmap, _row("k", "s-1", home))
    before = _digest(home)
    result = sessmap("rm", "k", "--purge", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert f"would delete {path}" in result.stderr
    assert f"would free {path.stat().st_size:,} bytes: 1 file(s) of 1 session(s)" in result.stderr
    assert _digest(home) == before
    sessmap.ok("get", "k")


def test_rm_purge_deletes_and_says_what_it_kept(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    ours, shared = _transcript(home, "s-1"), _transcript(home, "s-2")
    history = [{"session_id": "s-2", "ended_at": "2020-01-02T00:00:00Z", "reason": "new"}]
    _import_started(sessmap, _row("k", "s-1", home, history=history), _row("other", "s-2", home))
    result = sessmap("rm", "k", "--purge", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [s["session_id"] for s in summary["purge"]["purged"]] == ["s-1"]
    assert summary["purge"]["kept"][0]["referenced_by"] == {"agent": "default", "key": "other"}
    assert not ours.exists() and shared.exists()
    assert "kept 1 session another mapping still holds" in result.stderr


def test_rm_without_purge_leaves_the_agent_home_alone(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    _transcript(home, "s-1")
    sessmap.import_rows(_row("k", "s-1", home))
    before = _digest(home)
    sessmap.ok("rm", "k")
    assert _digest(home) == before


def test_prune_purge(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    path = _transcript(home, "s-1")
    _import_started(sessmap, _row("k", "s-1", home))
    result = sessmap("prune", "--older-than", "1d", "--purge")
    assert result.exit_code == 0, result.stderr
    assert not path.exists()
    assert "freed" in result.stderr


def test_doctor_reports_then_fix_purge_deletes(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    earlier, current = _transcript(home, "s-old"), _transcript(home, "s-now")
    history = [{"session_id": "s-old", "ended_at": "2020-01-02T00:00:00Z", "reason": "new"}]
    _import_started(sessmap, _row("k", "s-now", home, history=history))
    report = sessmap("doctor")
    assert "1 session(s) sessmap started that no mapping uses still take 64 bytes" in report.stderr
    assert earlier.exists()
    done = sessmap("doctor", "--fix", "--purge", "--yes", "--json")
    assert json.loads(done.stdout)["orphaned_transcripts"]["deleted"] is True
    assert not earlier.exists() and current.exists()


def test_an_imported_session_is_kept_and_the_purge_says_why(sessmap: Sessmap, tmp_path: Path) -> None:
    home = tmp_path / "claude"
    path = _transcript(home, "s-mine")
    sessmap.import_rows(_row("k", "s-mine", home))
    before = _digest(home)
    result = sessmap("rm", "k", "--purge", "--json")
    assert result.exit_code == 0, result.stderr
    kept = json.loads(result.stdout)["purge"]["kept"]
    assert kept == [
        {
            "session_id": "s-mine",
            "reason": "sessmap did not start it (attached or imported)",
            "referenced_by": None,
        }
    ]
    assert "kept 1 session: sessmap did not start it (attached or imported) (first: s-mine)" in result.stderr
    assert path.exists() and _digest(home) == before
    assert "no mapping uses" not in sessmap("doctor").stderr  # not sessmap's: not reported either


def test_rename_of_a_running_thread_exits_4(sessmap: Sessmap) -> None:
    sessmap.ok("create", "old")
    with open_store(sessmap.store_url) as store, store.thread_lock("default", "old", timeout=0):
        result = sessmap("rename", "old", "new")
    assert result.exit_code == 4
    assert "running" in result.stderr
    sessmap.ok("get", "old")


@pytest.mark.slow
def test_the_question_at_a_terminal_says_what_purge_deletes(sessmap: Sessmap, tmp_path: Path) -> None:
    """In a real pseudo-terminal: ``rm A B --purge`` asks about the files too; no keeps them."""
    home = tmp_path / "claude"
    paths = [_transcript(home, "s-1"), _transcript(home, "s-2")]
    _import_started(sessmap, _row("a", "s-1", home), _row("b", "s-2", home))
    size = sum(path.stat().st_size for path in paths)
    code, _, shown = in_terminal(sessmap.store_url, "rm", "a", "b", "--purge", answer="n")
    assert code == 1, shown
    assert f"Remove 2 mappings and delete 2 files of their sessions ({size:,} bytes)? [y/N]" in shown
    assert all(path.exists() for path in paths)
    code, _, shown = in_terminal(sessmap.store_url, "prune", "--older-than", "1d", "--purge", answer="y")
    assert code == 0, shown
    assert f"Remove 2 mappings and delete 2 files of their sessions ({size:,} bytes)? [y/N]" in shown
    assert not any(path.exists() for path in paths)
