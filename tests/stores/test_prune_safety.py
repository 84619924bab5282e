"""prune, rename and doctor leave alone what they must (issue 14, items 3 and 5), on every store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sessmap import service, service_maintenance
from sessmap.errors import Conflict, ExitCode
from sessmap.model import Mapping
from sessmap.stores import Store
from sessmap.transcripts.presence import this_host

MakeMapping = Callable[..., Mapping]


def test_prune_skips_a_running_thread(store: Store, make_mapping: MakeMapping) -> None:
    """An old mapping whose thread lock is held is kept, and the result says so (item 3)."""
    store.insert(make_mapping("running"))
    store.insert(make_mapping("idle"))
    with store.thread_lock("default", "running", timeout=0):
        pruned = service.prune(store, None, older_than=timedelta(0))
    assert [m.key for m in pruned.removed] == ["idle"]
    assert [m.key for m in pruned.busy] == ["running"]
    assert store.get("default", "running") is not None


def test_prune_dry_run_says_a_running_thread_stays(store: Store, make_mapping: MakeMapping) -> None:
    store.insert(make_mapping("running"))
    with store.thread_lock("default", "running", timeout=0):
        pruned = service.prune(store, None, older_than=timedelta(0), dry_run=True)
    assert pruned.removed == [] and [m.key for m in pruned.busy] == ["running"]


def test_rename_refuses_a_running_thread(store: Store, make_mapping: MakeMapping) -> None:
    """exit 4, and the mapping keeps its key (item 3)."""
    store.insert(make_mapping("old"))
    with store.thread_lock("default", "old", timeout=0):
        with pytest.raises(Conflict) as caught:
            service.rename(store, agent="default", old_key="old", new_key="new")
        with pytest.raises(Conflict):
            service.rename(store, agent="default", old_key="old", new_key="new", dry_run=True)
    assert caught.value.exit_code == ExitCode.CONFLICT
    assert "running" in str(caught.value)
    assert store.get("default", "old") is not None and store.get("default", "new") is None
    service.rename(store, agent="default", old_key="old", new_key="new")  # free again: renamed
    assert store.get("default", "new") is not None


def _recorded_here(make_mapping: MakeMapping, key: str, home: Path, **fields: Any) -> Mapping:
    """A claude mapping whose run was recorded in ``home`` on this host, with no transcript there."""
    return make_mapping(key, host=this_host(), agent_home=str(home), cwd="/tmp/w", **fields)


def test_prune_missing_keeps_never_used_mappings(
    store: Store, make_mapping: MakeMapping, tmp_path: Path
) -> None:
    """turns == 0 and no transcript: not started, not gone (item 5). One that ran is gone."""
    home = tmp_path / "claude"
    (home / "projects").mkdir(parents=True)
    store.insert(_recorded_here(make_mapping, "fresh", home, turns=0))
    store.insert(_recorded_here(make_mapping, "ran", home, turns=3))
    pruned = service.prune(store, None, older_than=timedelta(days=36500), missing=True)
    assert [m.key for m in pruned.removed] == ["ran"]
    assert store.get("default", "fresh") is not None
    health = service.doctor(lambda: store, tmp_path / "none.toml", fix=True)
    assert [m.mapping.key for m in health.fixed] == []
    assert store.get("default", "fresh") is not None


def test_prune_missing_rechecks_the_row_it_scanned(
    store: Store, make_mapping: MakeMapping, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``exec --new`` that re-creates the mapping between the scan and the delete is not
    deleted (item 5): the delete compares the row it judged."""
    home = tmp_path / "claude"
    (home / "projects").mkdir(parents=True)
    scanned = _recorded_here(make_mapping, "k", home, turns=2)
    store.insert(scanned)
    judge = service_maintenance.transcript_of

    def judged_then_recreated(mapping: Mapping, *args: Any, **kwargs: Any) -> Any:
        verdict = judge(mapping, *args, **kwargs)
        renewed = mapping.retired("new", mapping.updated_at).evolve(
            session_id="s-new", generation=mapping.generation + 1, turns=0
        )
        store.insert(renewed, replace=True)
        return verdict

    monkeypatch.setattr(service_maintenance, "transcript_of", judged_then_recreated)
    pruned = service.prune(store, None, older_than=timedelta(days=36500), missing=True)
    assert pruned.removed == []
    kept = store.get("default", "k")
    assert kept is not None and kept.session_id == "s-new"


def test_doctor_fix_rechecks_the_row_it_scanned(
    store: Store, make_mapping: MakeMapping, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "claude"
    (home / "projects").mkdir(parents=True)
    store.insert(_recorded_here(make_mapping, "k", home, turns=2))
    judge = service_maintenance.transcript_of

    def judged_then_used(mapping: Mapping, *args: Any, **kwargs: Any) -> Any:
        verdict = judge(mapping, *args, **kwargs)
        store.insert(mapping.evolve(generation=mapping.generation + 1), replace=True)  # a run started
        return verdict

    monkeypatch.setattr(service_maintenance, "transcript_of", judged_then_used)
    health = service.doctor(lambda: store, tmp_path / "none.toml", fix=True)
    assert health.fixed == []
    assert store.get("default", "k") is not None
