"""Which versions of the agent CLIs the end-to-end suite runs: ``agents.toml`` holds a pinned
(and optionally a newest) version per agent; ``SESSMAP_E2E_AGENTS=pinned|newest|both`` picks
the set(s). Tests take ``agent_set`` (through ``agent_bin``/``sandbox``), parametrised by
this folder's conftest so that every test id names the versions it ran.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

AGENTS_FILE = Path(__file__).with_name("agents.toml")
SETS = ("pinned", "newest")
CHOICES = {"pinned": ("pinned",), "newest": ("newest",), "both": SETS}
DEFAULT_AGENTS = ("claude", "codex")
ENV = "SESSMAP_E2E_AGENTS"


@dataclass(frozen=True)
class AgentVersion:
    name: str
    package: str
    version: str

    @property
    def spec(self) -> str:
        """What ``npm install`` takes."""
        return f"{self.package}@{self.version}"

    @property
    def id(self) -> str:
        return f"{self.name}-{self.version}"


@cache
def table() -> dict[str, dict[str, str]]:
    with AGENTS_FILE.open("rb") as file:
        return tomllib.load(file)


def selected_sets() -> tuple[str, ...]:
    choice = os.environ.get(ENV, "").strip() or "pinned"
    if choice not in CHOICES:
        raise pytest.UsageError(f"{ENV}={choice!r}: expected one of {', '.join(CHOICES)}")
    return CHOICES[choice]


def version(name: str, agent_set: str) -> AgentVersion:
    """``name``'s version in ``agent_set``; an agent without a newest one runs its pinned one."""
    try:
        entry = table()[name]
    except KeyError:
        raise pytest.UsageError(f"{AGENTS_FILE.name} has no [{name}] table") from None
    return AgentVersion(name, entry["package"], entry.get(agent_set) or entry["pinned"])


def versions(agent_set: str, names: Sequence[str] | None = None) -> tuple[AgentVersion, ...]:
    return tuple(version(name, agent_set) for name in (names or tuple(table())))


def sets_for(names: Sequence[str]) -> list[str]:
    """The selected sets, without one that runs the very same versions of ``names`` again."""
    chosen: list[str] = []
    for agent_set in selected_sets():
        if all(versions(agent_set, names) != versions(other, names) for other in chosen):
            chosen.append(agent_set)
    return chosen


def set_id(agent_set: str, names: Sequence[str]) -> str:
    return "+".join(v.id for v in versions(agent_set, names))
