"""The version matrix of the end-to-end suite: agents.toml holds one table per agent, and
``SESSMAP_E2E_AGENTS`` picks the set each test runs against (the ids name the versions)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import agentversions
import pytest
from agentversions import sets_for, table, version

VERSION = re.compile(r"^\d+\.\d+\.\d+$")
E2E = Path(__file__).parent


def test_every_agent_names_its_package_and_a_pinned_version() -> None:
    assert {"claude", "codex"} <= set(table())
    for name, entry in table().items():
        assert entry["package"] and VERSION.match(entry["pinned"]), name
        assert VERSION.match(entry.get("newest", entry["pinned"])), name


def test_claude_and_codex_have_a_newest_version_to_check() -> None:
    for name in ("claude", "codex"):
        assert version(name, "newest") != version(name, "pinned")


@pytest.mark.parametrize(
    ("choice", "sets"),
    [("", ["pinned"]), ("pinned", ["pinned"]), ("newest", ["newest"]), ("both", ["pinned", "newest"])],
)
def test_the_variable_picks_the_sets(monkeypatch: pytest.MonkeyPatch, choice: str, sets: list[str]) -> None:
    monkeypatch.setenv(agentversions.ENV, choice)
    assert sets_for(["claude", "codex"]) == sets


def test_an_agent_without_a_newest_version_runs_once_under_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(agentversions.ENV, "both")
    monkeypatch.setattr(agentversions, "table", lambda: {"tool": {"package": "tool-cli", "pinned": "1.2.3"}})
    assert sets_for(["tool"]) == ["pinned"]
    assert version("tool", "newest").spec == "tool-cli@1.2.3"


def test_a_wrong_value_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(agentversions.ENV, "latest")
    with pytest.raises(pytest.UsageError, match="pinned, newest, both"):
        sets_for(["claude"])


def collected(choice: str, *paths: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *paths],
        cwd=E2E.parents[1],
        env={**os.environ, agentversions.ENV: choice},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_test_ids_name_the_versions_they_run() -> None:
    claude, codex = (version(name, s).id for name, s in (("claude", "pinned"), ("codex", "pinned")))
    new_claude = version("claude", "newest").id
    name = "test_a_thread_remembers_its_turns_and_another_thread_does_not_see_them"
    target = f"tests/e2e/test_real_agents.py::{name}"
    assert collected("pinned", target) == [f"{target}[{claude}]", f"{target}[{codex}]"]
    both = collected("both", target)
    assert len(both) == 4 and f"{target}[{new_claude}]" in both
