"""runner.steps: the session step for every state of a thread, from plain values (no store,
no files, no processes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sessmap.config import OnStale
from sessmap.model import Mapping, Parent
from sessmap.providers import Step
from sessmap.runner import steps
from sessmap.runner.steps import Decision, ForkParent, Stale
from sessmap.transcripts.presence import Presence

T0 = datetime(2025, 1, 1, tzinfo=UTC)
OWN = "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f"
PARENT = "0199a2b1-7c3e-7d10-9f00-000000000001"
DRAWN = "0199a2b1-7c3e-7d10-9f00-00000000d4a3"

LOCAL = Presence("local")
STORED = Presence("stored")
ARCHIVED = Presence("archived")
UNKNOWN = Presence("unknown", reason="it ran on another host (h2)")
GONE = Presence("gone", reason="its transcript is gone from /home/u/.claude")


def drawn() -> str:
    return DRAWN


def never() -> str:
    raise AssertionError("no new id is needed here")


def mapping(**changes: Any) -> Mapping:
    fields: dict[str, Any] = {
        "key": "k",
        "provider": "claude",
        "created_at": T0,
        "updated_at": T0,
        "session_id": OWN,
        "turns": 3,
    }
    fields.update(changes)
    return Mapping(**fields).validate()


def fork(session_id: str | None = None, parent_id: str | None = PARENT) -> Mapping:
    return mapping(
        state="pending-fork", session_id=session_id, turns=0, parent=Parent("claude", "p", parent_id)
    )


def choose(
    recorded: Mapping | None,
    found: Presence | None = None,
    *,
    new: bool = False,
    chooses_id: bool = True,
    parent: ForkParent | None = None,
    on_stale: OnStale = "fresh",
    new_id: steps.NewId = drawn,
) -> Decision:
    return steps.choose(
        recorded,
        new=new,
        chooses_id=chooses_id,
        found=found,
        parent=parent,
        on_stale=on_stale,
        new_id=new_id,
    )


# -- no mapping, --new ---------------------------------------------------------------------


def test_no_mapping_starts_a_session_with_an_id_sessmap_draws() -> None:
    assert choose(None) == Step.new(DRAWN)


def test_no_mapping_lets_the_cli_pick_the_id_when_the_provider_does() -> None:
    assert choose(None, chooses_id=False, new_id=never) == Step.new(None)


@pytest.mark.parametrize("found", [LOCAL, GONE, None])
def test_new_starts_over_whatever_the_mapping_and_its_transcript(found: Presence | None) -> None:
    assert choose(mapping(), found, new=True) == Step.new(DRAWN)
    assert choose(mapping(), found, new=True, chooses_id=False, new_id=never) == Step.new(None)


# -- pending -------------------------------------------------------------------------------


def test_pending_without_a_session_starts_one() -> None:
    assert choose(mapping(state="pending", session_id=None, turns=0)) == Step.new(DRAWN)
    assert choose(mapping(state="pending", session_id=None), chooses_id=False, new_id=never) == Step.new()


@pytest.mark.parametrize("found", [LOCAL, STORED])
def test_pending_with_a_resumable_transcript_resumes_it(found: Presence) -> None:
    # A run that chose the id, started the agent and died before recording the turn.
    assert choose(mapping(state="pending", turns=0), found, new_id=never) == Step.resume(OWN)


@pytest.mark.parametrize("found", [UNKNOWN, GONE, ARCHIVED, None])
def test_pending_without_a_resumable_transcript_starts_the_chosen_id(found: Presence | None) -> None:
    assert choose(mapping(state="pending", turns=0), found, new_id=never) == Step.new(OWN)
    assert choose(mapping(state="pending"), found, chooses_id=False, new_id=never) == Step.new(OWN)


# -- pending-fork --------------------------------------------------------------------------


@pytest.mark.parametrize("parent", [ForkParent(PARENT, LOCAL), ForkParent(PARENT, STORED)])
def test_a_fork_of_a_resumable_parent_draws_its_id(parent: ForkParent) -> None:
    assert choose(fork(), parent=parent) == Step.fork(PARENT, DRAWN)
    assert choose(fork(), parent=parent, chooses_id=False, new_id=never) == Step.fork(PARENT, None)


def test_a_fork_of_an_unseen_parent_is_tried_the_agent_decides() -> None:
    assert choose(fork(), parent=ForkParent(PARENT, UNKNOWN)) == Step.fork(PARENT, DRAWN)


def test_a_fork_whose_id_a_dead_run_chose_keeps_it() -> None:
    # The fork was not made (its transcript is not here): fork again, into the same id.
    decision = choose(fork(OWN), UNKNOWN, parent=ForkParent(PARENT, LOCAL), new_id=never)
    assert decision == Step.fork(PARENT, OWN)


@pytest.mark.parametrize("found", [LOCAL, STORED])
def test_a_fork_a_dead_run_made_is_resumed(found: Presence) -> None:
    assert choose(fork(OWN), found, new_id=never) == Step.resume(OWN)


def test_a_fork_of_a_gone_parent_is_stale() -> None:
    decision = choose(fork(), parent=ForkParent(PARENT, GONE))
    why = f"the session it was forked from is gone: {GONE.reason}"
    assert decision == Stale(PARENT, why, Step.new(DRAWN))
    failed = choose(fork(), parent=ForkParent(PARENT, GONE), on_stale="fail", new_id=never)
    assert isinstance(failed, Stale) and failed.session_id == PARENT and failed.then is None


@pytest.mark.parametrize("parent", [ForkParent(None), None])
def test_a_fork_of_a_thread_without_a_session_is_stale(parent: ForkParent | None) -> None:
    why = "the thread it was forked from has no session"
    assert choose(fork(parent_id=None), parent=parent) == Stale(None, why, Step.new(DRAWN))
    failed = choose(fork(parent_id=None), parent=parent, on_stale="fail", new_id=never)
    assert failed == Stale(None, why, None)


def test_the_parent_is_looked_at_only_when_the_fork_cannot_be_resumed() -> None:
    assert not steps.needs_parent(fork(OWN), LOCAL)
    assert not steps.needs_parent(fork(OWN), STORED)
    assert steps.needs_parent(fork(OWN), UNKNOWN)
    assert steps.needs_parent(fork(OWN), GONE)
    assert steps.needs_parent(fork(), None)
    assert not steps.needs_parent(mapping(), None)
    assert not steps.needs_parent(mapping(state="pending"), UNKNOWN)


def test_the_parent_session_is_the_one_recorded_at_fork_time_else_the_parent_threads() -> None:
    parent_thread = mapping(key="p", session_id="0199a2b1-7c3e-7d10-9f00-0000000000aa")
    assert steps.parent_session_id(fork(), parent_thread) == PARENT
    assert steps.parent_session_id(fork(parent_id=None), parent_thread) == parent_thread.session_id
    assert steps.parent_session_id(fork(parent_id=None), None) is None
    pending = mapping(key="p", state="pending", session_id=None)
    assert steps.parent_session_id(fork(parent_id=None), pending) is None


# -- active --------------------------------------------------------------------------------


@pytest.mark.parametrize("found", [LOCAL, STORED])
def test_active_with_a_resumable_transcript_resumes(found: Presence) -> None:
    assert choose(mapping(), found, new_id=never) == Step.resume(OWN)


@pytest.mark.parametrize("found", [UNKNOWN, ARCHIVED, None])
def test_active_unseen_is_resumed_anyway_stale_only_on_evidence(found: Presence | None) -> None:
    assert choose(mapping(), found, new_id=never) == Step.resume(OWN)
    assert choose(mapping(), found, chooses_id=False, new_id=never) == Step.resume(OWN)


def test_active_proven_gone_is_stale_and_fresh_starts_over() -> None:
    assert choose(mapping(), GONE) == Stale(OWN, str(GONE.reason), Step.new(DRAWN))
    assert choose(mapping(), GONE, chooses_id=False, new_id=never) == Stale(OWN, str(GONE.reason), Step.new())


def test_active_proven_gone_fails_on_stale_fail() -> None:
    assert choose(mapping(), GONE, on_stale="fail", new_id=never) == Stale(OWN, str(GONE.reason), None)


def test_a_gone_transcript_without_a_reason_says_so() -> None:
    decision = choose(mapping(), Presence("gone"), on_stale="fail")
    assert decision == Stale(OWN, "its transcript is gone", None)


@pytest.mark.parametrize("found", [UNKNOWN, GONE, None])
def test_created_never_started_starts_the_id_create_chose(found: Presence | None) -> None:
    assert choose(mapping(turns=0), found, new_id=never) == Step.new(OWN)
    assert choose(mapping(turns=0), found, on_stale="fail", new_id=never) == Step.new(OWN)


def test_created_and_already_started_elsewhere_is_resumed() -> None:
    assert choose(mapping(turns=0), LOCAL, new_id=never) == Step.resume(OWN)


def test_turns_zero_of_a_cli_picked_id_is_not_a_create() -> None:
    # The provider does not take an id from sessmap: the id came from the CLI, which started it.
    assert choose(mapping(turns=0), UNKNOWN, chooses_id=False, new_id=never) == Step.resume(OWN)
    gone = Stale(OWN, str(GONE.reason), None)
    assert choose(mapping(turns=0), GONE, chooses_id=False, on_stale="fail") == gone


# -- stale after the agent said so, new_step -----------------------------------------------


def test_stale_fresh_draws_a_new_session_and_fail_does_not() -> None:
    why = "the agent has no conversation with that id"
    assert steps.stale(OWN, why, "fresh", True, drawn) == Stale(OWN, why, Step.new(DRAWN))
    assert steps.stale(OWN, why, "fresh", False, never) == Stale(OWN, why, Step.new())
    assert steps.stale(OWN, why, "fail", True, never) == Stale(OWN, why, None)


def test_new_step_keeps_an_id_already_chosen() -> None:
    assert steps.new_step(True, never, OWN) == Step.new(OWN)
    assert steps.new_step(False, never, OWN) == Step.new(OWN)
    assert steps.new_step(True, drawn) == Step.new(DRAWN)
    assert steps.new_step(False, never) == Step.new()


# -- started: what a step's start writes -----------------------------------------------------

LATER = T0 + timedelta(hours=1)


def test_the_usual_resume_writes_only_the_start() -> None:
    before = mapping(cwd="/w", host="h", generation=4)
    after = steps.started(Step.resume(OWN), "/w", "h", LATER, retiring=False)(before)
    assert after == before.evolve(generation=5, last_used_at=LATER)
    assert after.updated_at == T0


def test_a_resume_elsewhere_records_where() -> None:
    before = mapping(state="pending", cwd="/w", host="h", turns=0)
    after = steps.started(Step.resume(OWN), "/x", "h2", LATER, retiring=False)(before)
    assert (after.state, after.cwd, after.host, after.updated_at) == ("active", "/x", "h2", LATER)
    assert after.generation == 1


def test_a_stale_restart_keeps_the_gone_session_in_the_history() -> None:
    after = steps.started(Step.new(DRAWN), "/w", "h", LATER, retiring=True)(mapping())
    assert (after.session_id, after.state) == (DRAWN, "active")
    assert [(e.session_id, e.reason) for e in after.history] == [(OWN, "stale")]
    picked = steps.started(Step.new(), "/w", "h", LATER, retiring=False)(mapping())
    assert (picked.session_id, picked.state, picked.history) == (None, "pending", ())


def test_a_fork_stays_pending_fork_with_its_chosen_id() -> None:
    after = steps.started(Step.fork(PARENT, DRAWN), "/w", "h", LATER, retiring=False)(fork())
    assert (after.state, after.session_id, after.cwd, after.host) == ("pending-fork", DRAWN, "/w", "h")
