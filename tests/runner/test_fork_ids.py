"""runner.steps for a provider that chooses new sessions' ids but not its forks' (qwen): the
fork's id is left to the CLI, and captured from the run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sessmap.config import parse_config
from sessmap.model import Mapping, Parent
from sessmap.providers import Step, get_provider
from sessmap.runner import steps
from sessmap.runner.steps import ForkParent
from sessmap.transcripts.presence import Presence

T0 = datetime(2025, 1, 1, tzinfo=UTC)
OWN = "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f"
PARENT = "0199a2b1-7c3e-7d10-9f00-000000000001"
DRAWN = "0199a2b1-7c3e-7d10-9f00-00000000d4a3"
LOCAL = Presence("local")


def drawn() -> str:
    return DRAWN


def never() -> str:
    raise AssertionError("no new id is needed here")


def pending_fork(session_id: str | None = None) -> Mapping:
    return Mapping(
        key="k",
        provider="qwen",
        created_at=T0,
        updated_at=T0,
        session_id=session_id,
        state="pending-fork",
        turns=0,
        parent=Parent("default", "p", PARENT),
    ).validate()


def choose(recorded: Mapping, *, chooses_fork_id: bool | None, found: Presence | None = None) -> object:
    return steps.choose(
        recorded,
        new=False,
        chooses_id=True,
        chooses_fork_id=chooses_fork_id,
        found=found,
        parent=ForkParent(PARENT, LOCAL),
        on_stale="fresh",
        new_id=drawn if chooses_fork_id is not False else never,
    )


def test_a_fork_the_cli_names_gets_no_drawn_id_so_that_its_id_is_captured() -> None:
    assert choose(pending_fork(), chooses_fork_id=False) == Step.fork(PARENT, None)


def test_an_id_an_earlier_run_left_that_cannot_be_resumed_is_not_passed_on_as_the_forks() -> None:
    assert choose(pending_fork(OWN), chooses_fork_id=False, found=None) == Step.fork(PARENT, None)


def test_by_default_a_fork_is_chosen_as_new_sessions_are() -> None:
    assert choose(pending_fork(), chooses_fork_id=None) == Step.fork(PARENT, DRAWN)


@pytest.mark.parametrize(("name", "forks_chosen"), [("claude", True), ("codex", False), ("qwen", False)])
def test_the_providers_say_who_names_a_fork(name: str, forks_chosen: bool) -> None:
    assert get_provider(name).chooses_fork_id is forks_chosen


def test_a_template_names_a_forks_id_only_when_its_fork_list_carries_one() -> None:
    def template(fork: list[str]) -> bool:
        table = {"new": ["--id", "{session_id}"], "resume": ["--resume", "{session_id}"], "fork": fork}
        config = parse_config({"providers": {"mine": table}}, Path("config.toml"))
        return get_provider("mine", config).chooses_fork_id

    assert template(["--from", "{parent_id}", "--id", "{session_id}"])
    assert not template(["--from", "{parent_id}"])  # the CLI picks it: captured, not drawn
