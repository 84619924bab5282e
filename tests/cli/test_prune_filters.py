"""prune selects with list's filters, keeps pin=true mappings unless it names that label, and
says one summary line on stderr (none with -q) while its stdout rows stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.cli.trust_helpers import FILE_STORES, NEW, gone_row, pairs, row, run, seed, store_url


@pytest.fixture(params=FILE_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = store_url(str(request.param), tmp_path)
    rows = [
        row("tmp:1"),
        row("tmp:2", "other"),
        row("tmp:pinned", labels={"pin": "true"}),
        row("keep:1", labels={"team": "infra"}),
        row("keep:2", provider="codex"),
        row("tmp:new", seen=NEW),
        row("pend:1", session_id=None, state="pending"),
    ]
    seed(url, rows)
    return url


def pruned(store: str, *args: str) -> set[tuple[str, str]]:
    before = pairs(store)
    done = run(store, "prune", *args)
    assert done.returncode == 0, done.stderr
    return before - pairs(store)


@pytest.mark.slow
def test_prefix_and_agent(store: str) -> None:
    assert pruned(store, "--prefix", "tmp:", "-a", "other") == {("other", "tmp:2")}
    assert pruned(store, "--prefix", "tmp:") == {("default", "tmp:1")}


@pytest.mark.slow
def test_match_label_provider_state(store: str) -> None:
    assert pruned(store, "--match", "keep:*", "--label", "team=infra") == {("default", "keep:1")}
    assert pruned(store, "--provider", "codex") == {("default", "keep:2")}
    assert pruned(store, "--state", "pending") == {("default", "pend:1")}


@pytest.mark.slow
def test_pinned_kept_unless_named(store: str) -> None:
    done = run(store, "prune")
    assert done.returncode == 0, done.stderr
    assert ("default", "tmp:pinned") in pairs(store)
    assert "kept 1 labelled pin=true" in done.stderr
    assert pruned(store, "--label", "pin=true") == {("default", "tmp:pinned")}


def test_summary_line_on_stderr_and_rows_on_stdout(store: str) -> None:
    done = run(store, "prune", "--older-than", "30d")
    assert done.returncode == 0
    assert done.stderr == "removed 5 of 7 mappings older than 30d; kept 1 labelled pin=true\n"
    assert sorted(line.split("\t")[0] for line in done.stdout.splitlines()) == [
        "keep:1",
        "keep:2",
        "pend:1",
        "tmp:1",
        "tmp:2",
    ]


@pytest.mark.slow
def test_dry_run_summary_and_quiet(store: str) -> None:
    done = run(store, "prune", "--dry-run", "--prefix", "tmp:")
    assert done.stderr == "would remove 2 of 4 mappings older than 30d; kept 1 labelled pin=true\n"
    quiet = run(store, "-q", "prune")
    assert quiet.returncode == 0 and quiet.stderr == "" and quiet.stdout == ""


@pytest.mark.slow
def test_doctor_fix_keeps_pinned(tmp_path: Path) -> None:
    url = store_url("sqlite", tmp_path)
    seed(url, [gone_row("gone", tmp_path / "h"), gone_row("pinned", tmp_path / "h", labels={"pin": "true"})])
    done = run(url, "doctor", "--fix")
    assert done.returncode == 0, done.stdout + done.stderr
    assert pairs(url) == {("default", "pinned")}
    assert "kept pinned (agent default, pin=true)" in done.stdout


@pytest.mark.slow
def test_quiet_prune_keeps_pinned_too(store: str) -> None:
    # -q skips the count, so the pinned ones are found another way: they must still stay.
    done = run(store, "-q", "prune")
    assert done.returncode == 0 and done.stderr == ""
    assert pairs(store) == {("default", "tmp:pinned"), ("default", "tmp:new")}
