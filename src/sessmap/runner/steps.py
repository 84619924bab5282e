"""Which session step a run takes (start, resume, fork), or why its session is stale: pure.

Plain values in, a decision out: the thread's mapping as read (or None), the request's ``new``
flag, whether the provider chooses new sessions' ids (``chooses_id``), what the caller could
prove of the transcripts (a ``Presence`` each, for the mapping's own session and, for a
pending fork, its parent's), and ``on_stale``. No I/O, no store, no clock: an id for a new
session comes from the ``new_id`` callable, called only when one is needed. ``started`` is
what taking a step writes to the mapping, as a change for the caller's store update;
``fence`` and ``finished`` decide what the end of a turn may write, and what.

"Stale means stale" (SPEC §7): only a transcript proven gone (``Presence.resumable is
False``) makes a session stale; one that cannot be seen (unknown) is resumed, and the agent
answers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from sessmap.errors import Superseded
from sessmap.providers import Step

if TYPE_CHECKING:
    from datetime import datetime

    from sessmap.config import OnStale
    from sessmap.model import Mapping
    from sessmap.transcripts.presence import Presence

NewId = Callable[[], str]
"""Draws the id of a new session sessmap chooses (a uuid4, in ``Run``)."""


class Stale(NamedTuple):
    """The session to resume (or fork from) is gone: ``session_id`` (None: there was none) and
    ``why``, for the message. ``then``: the new step to take instead (``on_stale`` fresh), or
    None when the run must fail (``on_stale`` fail)."""

    session_id: str | None
    why: str
    then: Step | None


Decision = Step | Stale


class ForkParent(NamedTuple):
    """The session a pending fork copies: its id (None: the parent thread has none) and what
    is known of its transcript (None when there is no id to look for)."""

    session_id: str | None
    presence: Presence | None = None


def parent_session_id(mapping: Mapping, parent: Mapping | None) -> str | None:
    """The session a pending fork copies: the one recorded at ``fork`` time, else the parent
    thread's (``parent``, its mapping as read, or None)."""
    recorded = mapping.parent.session_id if mapping.parent else None
    if recorded is None and parent is not None:
        return parent.session_id
    return recorded


def needs_parent(mapping: Mapping, found: Presence | None) -> bool:
    """Whether ``choose`` will look at a pending fork's parent: not when the fork itself can
    be resumed (a run that died after forking, before recording)."""
    return mapping.state == "pending-fork" and not (found is not None and found.resumable)


def new_step(chooses_id: bool, new_id: NewId, session_id: str | None = None) -> Step:
    """Start a session: ``session_id`` when one was chosen already, else a new one when the
    provider lets sessmap choose (None: the CLI picks it)."""
    if session_id is None and chooses_id:
        session_id = new_id()
    return Step.new(session_id)


def stale(session_id: str | None, why: str, on_stale: OnStale, chooses_id: bool, new_id: NewId) -> Stale:
    """``session_id`` is gone: start over (fresh) or fail."""
    then = None if on_stale == "fail" else new_step(chooses_id, new_id)
    return Stale(session_id, why, then)


def choose(
    mapping: Mapping | None,
    *,
    new: bool,
    chooses_id: bool,
    found: Presence | None,
    parent: ForkParent | None,
    on_stale: OnStale,
    new_id: NewId,
    chooses_fork_id: bool | None = None,
) -> Decision:
    """The step for this run, or why its session is stale.

    ``chooses_fork_id``: whether sessmap may choose a fork's id too (default ``chooses_id``);
    qwen takes a chosen id for a new session but picks its forks' ids itself.

    ``found``: what is known of ``mapping.session_id``'s transcript (None when it has none, or
    it was not looked at). ``parent``: for a pending fork, its parent session, when
    ``needs_parent`` (None otherwise).
    """
    if mapping is None or new:
        return new_step(chooses_id, new_id)
    if mapping.state == "pending":
        if mapping.session_id and found is not None and found.resumable:
            return Step.resume(mapping.session_id)
        return new_step(chooses_id, new_id, mapping.session_id)
    if mapping.state == "pending-fork":
        fork_id = chooses_id if chooses_fork_id is None else chooses_fork_id
        return _fork(mapping, chooses_id, fork_id, found, parent, on_stale, new_id)
    session_id = mapping.session_id
    assert session_id is not None  # active mappings always have one (Mapping.validate)
    resumable = found.resumable if found is not None else None
    if mapping.turns == 0 and chooses_id and not resumable:
        return Step.new(session_id)  # chosen by `create`, never started
    if resumable is False:
        reason = found.reason if found is not None else None
        return stale(session_id, reason or "its transcript is gone", on_stale, chooses_id, new_id)
    return Step.resume(session_id)  # here, restorable, or unseen: the agent will answer


def _fork(
    mapping: Mapping,
    chooses_id: bool,
    chooses_fork_id: bool,
    found: Presence | None,
    parent: ForkParent | None,
    on_stale: OnStale,
    new_id: NewId,
) -> Decision:
    if mapping.session_id and found is not None and found.resumable:
        return Step.resume(mapping.session_id)  # forked by a run that died before recording
    if parent is None or parent.session_id is None:
        return stale(None, "the thread it was forked from has no session", on_stale, chooses_id, new_id)
    if parent.presence is not None and parent.presence.resumable is False:
        why = f"the session it was forked from is gone: {parent.presence.reason}"
        return stale(parent.session_id, why, on_stale, chooses_id, new_id)
    session_id = mapping.session_id
    if chooses_id and not chooses_fork_id:
        session_id = None  # the CLI picks the fork's id (qwen): it is captured from the run
    if session_id is None and chooses_fork_id:
        session_id = new_id()
    return Step.fork(parent.session_id, session_id)


def started(
    step: Step, cwd: str, host: str, stamp: datetime, *, retiring: bool
) -> Callable[[Mapping], Mapping]:
    """What taking ``step`` at ``stamp`` writes to the mapping before the agent starts (a store
    update's change): a new run generation and the start itself, and the step's session.
    ``retiring``: the session it replaces is stale (kept in the history)."""

    def change(mapping: Mapping) -> Mapping:
        mapping = mapping.evolve(generation=mapping.generation + 1, last_used_at=stamp)
        if step.kind == "resume" and (mapping.state, mapping.cwd, mapping.host) == ("active", cwd, host):
            return mapping.validate()  # the usual turn: only the start itself is news
        if step.kind == "new":
            state = "active" if step.session_id else "pending"
            if retiring:
                mapping = mapping.retired("stale", stamp, replacement=step.session_id)
            return mapping.evolve(
                session_id=step.session_id, state=state, cwd=cwd, host=host, updated_at=stamp
            ).validate()
        if step.kind == "fork":
            # Stays pending-fork until the fork exists; the chosen id is kept for a retry.
            return mapping.evolve(session_id=step.session_id, cwd=cwd, host=host, updated_at=stamp).validate()
        return mapping.evolve(
            cwd=cwd, state="active", session_id=step.session_id, host=host, updated_at=stamp
        ).validate()

    return change


def fence(mapping: Mapping, key: str, generation: int, ours: str | None) -> None:
    """Raise ``Superseded`` (inside a store update: nothing is written) unless ``mapping`` is
    still the one the run started from (``generation``, session ``ours``): another run started
    since (this run's lock was lost), the mapping was created over (a new generation), or
    someone switched it to another session. The turn belongs to none of those, so it is
    recorded nowhere."""
    if mapping.generation != generation:
        raise Superseded(
            f"another run started on thread {key!r}, or it was created anew, while this one ran",
            reason="superseded",
            key=key,
        )
    if ours is not None and mapping.session_id != ours:
        raise Superseded(
            f"thread {key!r} was switched to session {mapping.session_id} while this run used {ours}",
            reason="superseded",
            key=key,
            expected=ours,
            found=mapping.session_id,
        )


class Turn(NamedTuple):
    """How a turn ended: its step's kind, the session it materialised (None: it did not),
    the agent's exit code and when it started."""

    kind: str
    materialised: str | None
    exit_code: int
    started: datetime


def finished(mapping: Mapping, turn: Turn, host: str, agent_home: str | None, stamp: datetime) -> Mapping:
    """The mapping after a turn: counted, stamped, and pointing at the session it made."""
    changes: dict[str, object] = {
        "turns": mapping.turns + 1,
        "last_used_at": turn.started,
        "last_exit": turn.exit_code,
        "updated_at": stamp,
        "host": host,
        "agent_home": agent_home,
    }
    if turn.materialised is not None:
        changes.update(state="active", session_id=turn.materialised)
    elif turn.kind == "new":
        changes.update(state="pending", session_id=None)  # never started: choose anew
    return mapping.evolve(**changes).validate()
