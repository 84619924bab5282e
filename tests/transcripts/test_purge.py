"""``--purge`` deletes exactly the agent files of the sessions sessmap started for removed
mappings (issue 12): claude's ``.jsonl`` and ``<id>/`` folder, codex's rollout (by ``codex
delete`` when codex has it), never a file another mapping holds, one no mapping names, or one
of a session attached by hand (no record in ``Store.started``)."""

from __future__ import annotations

import hashlib
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.support.mappings import make_mapping, record_started

from sessmap import service
from sessmap.model import HistoryEntry, Mapping
from sessmap.sdk_keys import project_key_for
from sessmap.stores import Store, open_store
from sessmap.transcripts.presence import this_host
from sessmap.transcripts.purge import codex_with_delete

CWD = "/tmp/purge-work"
WHEN = datetime(2026, 11, 1, tzinfo=UTC)


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _claude_session(home: Path, session_id: str, *, side: bool = False) -> list[Path]:
    folder = home / "projects" / project_key_for(CWD)
    folder.mkdir(parents=True, exist_ok=True)
    main = folder / f"{session_id}.jsonl"
    main.write_text('{"type":"user"}\n' * 10)
    made = [main]
    if side:
        sub = folder / session_id / "subagents"
        sub.mkdir(parents=True)
        (sub / "agent-1.jsonl").write_text("{}\n")
        made.append(sub / "agent-1.jsonl")
    return made


@pytest.fixture
def claude_home(tmp_path: Path) -> Path:
    home = tmp_path / "claude-home"
    home.mkdir()
    return home


def _insert_started(store: Store, *mappings: Mapping) -> None:
    for mapping in mappings:
        store.insert(mapping)
    record_started(store, *mappings)


def _mapping(key: str, session_id: str, home: Path, provider: str = "claude", **fields: object) -> Mapping:
    return make_mapping(
        key,
        provider=provider,
        session_id=session_id,
        host=this_host(),
        agent_home=str(home),
        cwd=CWD,
        turns=2,
        **fields,
    )


def test_rm_purge_deletes_exactly_sessmaps_files(tmp_path: Path, claude_home: Path) -> None:
    ours = _claude_session(claude_home, "sess-current", side=True)
    earlier = _claude_session(claude_home, "sess-earlier")
    shared = _claude_session(claude_home, "sess-shared")
    users_own = _claude_session(claude_home, "sess-users-own")  # no mapping names it
    history = (HistoryEntry("sess-earlier", WHEN, "new"), HistoryEntry("sess-shared", WHEN, "new"))
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(
            store,
            _mapping("gone", "sess-current", claude_home, history=history),
            _mapping("other", "sess-shared", claude_home),
        )
        result = service.remove(store, keys=["gone"], purge=True)
        assert store.started.get_many(["sess-current", "sess-earlier", "sess-shared"]).keys() == {
            "sess-shared"
        }
    assert result.purge is not None
    purged = {s.session_id for s in result.purge.purged}
    assert purged == {"sess-current", "sess-earlier"}
    for path in (*ours, *earlier):
        assert not path.exists()
    assert not (ours[0].with_suffix("")).exists()  # the <id>/ side folder
    for path in (*shared, *users_own):
        assert path.exists()
    kept = {k.session_id: k.by for k in result.purge.kept}
    assert kept == {"sess-shared": ("default", "other")}
    assert result.purge.bytes == sum(len('{"type":"user"}\n') * 10 for _ in range(2)) + 3


def test_without_purge_nothing_of_the_agent_is_touched(tmp_path: Path, claude_home: Path) -> None:
    _claude_session(claude_home, "sess-current", side=True)
    before = _tree_digest(claude_home)
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        store.insert(_mapping("gone", "sess-current", claude_home))
        assert service.remove(store, keys=["gone"]).purge is None
    assert _tree_digest(claude_home) == before


def test_dry_run_lists_files_and_bytes_and_changes_nothing(tmp_path: Path, claude_home: Path) -> None:
    made = _claude_session(claude_home, "sess-current", side=True)
    before = _tree_digest(claude_home)
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(store, _mapping("gone", "sess-current", claude_home))
        result = service.remove(store, keys=["gone"], purge=True, dry_run=True)
        pruned = service.prune(store, None, older_than=timedelta(0), purge=True, dry_run=True)
        assert store.get("default", "gone") is not None
    assert _tree_digest(claude_home) == before
    for plan in (result.purge, pruned.purge):
        assert plan is not None
        assert set(plan.purged[0].files) == set(made)
        assert plan.bytes == sum(p.stat().st_size for p in made)


def test_prune_purge_deletes_the_removed_sessions(tmp_path: Path, claude_home: Path) -> None:
    made = _claude_session(claude_home, "sess-old")
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(store, _mapping("old", "sess-old", claude_home))
        pruned = service.prune(store, None, older_than=timedelta(0), purge=True)
    assert pruned.purge is not None and [s.session_id for s in pruned.purge.purged] == ["sess-old"]
    assert not made[0].exists()


def _codex_rollout(home: Path, session_id: str) -> Path:
    folder = home / "sessions" / "2026" / "11" / "01"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-2026-11-01T10-00-00-{session_id}.jsonl"
    path.write_text('{"type":"session_meta"}\n')
    return path


def _fake_codex(folder: Path, *, with_delete: bool) -> Path:
    """A stand-in for codex, not the real CLI: ``--help`` lists a ``delete`` command or not, and
    ``delete --force ID`` removes that rollout from $CODEX_HOME and logs its argv."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "codex"
    commands = "  exec    Run Codex non-interactively\n" + (
        "  delete  Delete a session\n" if with_delete else ""
    )
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--help" ]; then\n'
        f'  printf "Usage: codex [OPTIONS] [PROMPT]\\n\\nCommands:\\n{commands}"; exit 0\n'
        "fi\n"
        'if [ "$1" = "delete" ] && [ "$2" = "--force" ]; then\n'
        '  echo "$@" >> "$CODEX_HOME/delete.log"\n'
        '  find "$CODEX_HOME/sessions" -name "rollout-*-$3.jsonl" -delete; exit 0\n'
        "fi\n"
        "exit 2\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.parametrize("with_delete", [True, False], ids=["codex-delete", "no-delete-subcommand"])
def test_codex_purge_with_and_without_a_delete_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_delete: bool
) -> None:
    """Fake codex (a stand-in script, labelled so): with ``delete`` sessmap asks codex to delete
    the session; without, it unlinks the rollout itself."""
    home = tmp_path / "codex-home"
    rollout = _codex_rollout(home, "cx-1")
    kept = _codex_rollout(home, "cx-users-own")
    bin_dir = tmp_path / "bin"
    _fake_codex(bin_dir, with_delete=with_delete)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert (codex_with_delete() is not None) is with_delete
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(store, _mapping("cx", "cx-1", home, provider="codex"))
        result = service.remove(store, keys=["cx"], purge=True)
    assert result.purge is not None
    assert [s.via for s in result.purge.purged] == (["codex delete"] if with_delete else ["unlink"])
    assert not rollout.exists() and kept.exists()
    log = home / "delete.log"
    assert (log.read_text() == "delete --force cx-1\n") if with_delete else not log.exists()


def test_doctor_reports_history_only_transcripts_and_fix_purge_deletes(
    tmp_path: Path, claude_home: Path
) -> None:
    earlier = _claude_session(claude_home, "sess-earlier")
    current = _claude_session(claude_home, "sess-now")
    config = tmp_path / "config.toml"
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(
            store,
            _mapping("k", "sess-now", claude_home, history=(HistoryEntry("sess-earlier", WHEN, "new"),)),
        )
        health = service.doctor(lambda: store, config, fix=False)
        assert health.orphaned is not None
        assert [s.session_id for s in health.orphaned.purged] == ["sess-earlier"]
        assert health.orphaned.purged[0].bytes == earlier[0].stat().st_size
        assert earlier[0].exists()
        service.doctor(lambda: store, config, fix=True, purge=True)
    assert not earlier[0].exists() and current[0].exists()


def test_a_session_sessmap_did_not_start_is_never_purged(tmp_path: Path, claude_home: Path) -> None:
    """Attached by hand (``create``/``set --session-id``) or imported: no record, so its files
    stay, whatever removes the mapping, and the purge says why."""
    attached = _claude_session(claude_home, "sess-attached", side=True)
    ours = _claude_session(claude_home, "sess-ours")
    history = (HistoryEntry("sess-ours", WHEN, "set"),)
    before = _tree_digest(claude_home / "projects" / project_key_for(CWD) / "sess-attached")
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        mapping = _mapping("by-hand", "sess-attached", claude_home, history=history)
        store.insert(mapping)
        record_started(
            store, _mapping("by-hand", "sess-ours", claude_home)
        )  # sessmap started the earlier one
        result = service.remove(store, keys=["by-hand"], purge=True)
    assert result.purge is not None
    assert [s.session_id for s in result.purge.purged] == ["sess-ours"]
    assert [(k.session_id, k.reason) for k in result.purge.kept] == [
        ("sess-attached", "sessmap did not start it (attached or imported)")
    ]
    assert all(path.exists() for path in attached) and not ours[0].exists()
    assert _tree_digest(claude_home / "projects" / project_key_for(CWD) / "sess-attached") == before


def test_doctor_finds_what_rm_without_purge_left_and_fix_purge_frees_it(
    tmp_path: Path, claude_home: Path
) -> None:
    """The record outlives its mapping: ``rm`` leaves the files, ``doctor`` still knows they are
    sessmap's; ``--fix --purge`` deletes them and forgets them, and a record whose files are
    gone already is forgotten too, unless a mapping still names the session. A file of a
    session sessmap did not start is not reported."""
    left = _claude_session(claude_home, "sess-left", side=True)
    _claude_session(claude_home, "sess-attached")
    _claude_session(claude_home, "sess-current")
    config = tmp_path / "config.toml"
    with open_store(f"sqlite:{tmp_path / 'map.db'}") as store:
        _insert_started(store, _mapping("gone", "sess-left", claude_home))
        record_started(store, _mapping("vanished", "sess-vanished", claude_home))  # no file any more
        earlier = (HistoryEntry("sess-earlier-gone", WHEN, "new"),)  # no file, but a mapping names it
        _insert_started(store, _mapping("moved-on", "sess-current", claude_home, history=earlier))
        store.insert(_mapping("attached", "sess-attached-2", claude_home))
        service.remove(store, keys=["gone", "attached"])
        assert all(path.exists() for path in left)
        health = service.doctor(lambda: store, config, fix=False)
        assert health.orphaned is not None
        assert [s.session_id for s in health.orphaned.purged] == ["sess-left"]
        assert health.orphaned.bytes == sum(path.stat().st_size for path in left)
        assert "sess-left" in {r.session_id for r in store.started.all()}
        service.doctor(lambda: store, config, fix=True, purge=True)
        assert {r.session_id for r in store.started.all()} == {"sess-current", "sess-earlier-gone"}
    assert not any(path.exists() for path in left)
    assert (claude_home / "projects" / project_key_for(CWD) / "sess-attached.jsonl").exists()
