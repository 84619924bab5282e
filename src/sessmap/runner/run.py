"""One run of ``exec``: choose the session step, keep the mapping and the transcript in step.

Everything here happens under the thread's lock. What must survive sessmap dying mid-run is
written before the agent starts (a new mapping, a chosen id) or the moment it is seen (an id
the CLI picked, read from its output or from the session file it holds open).

Choosing the session step is Run's base, ``StepChooser`` (choose.py); the rest is here.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sessmap.config import AgentProfile, Config
from sessmap.errors import InvalidInput, NotFound, SessmapError, StoreError, Superseded
from sessmap.model import Mapping, now
from sessmap.providers import Provider, Step, get_provider
from sessmap.providers.base import ChecksVersion
from sessmap.runner import process, steps
from sessmap.runner.capture import Capture
from sessmap.runner.choose import StepChooser, new_session_id
from sessmap.runner.guard import AgentGuard
from sessmap.runner.process import Launch, Outcome, SignalForwarder
from sessmap.runner.request import Action, ExecRequest, ExecResult, Notify
from sessmap.runner.resolve import agent_environment, provider_name, runnable, working_directory
from sessmap.stores.base import HeldLock, Store

if TYPE_CHECKING:
    from sessmap.runner.stdin import StdinReplay
    from sessmap.transcripts.sync import TranscriptSync

# The transcript and stdin machinery load where a run needs them: a provider without a
# transcript locator (a config template) needs neither, and every module costs start-up.

_ACTIONS: dict[str, Action] = {"new": "started", "resume": "resumed", "fork": "forked"}


class Run(StepChooser):
    """One thread's run: the mapping as read, and what was resolved around it.

    A plain class: exec defines it on every start (see runner/process.py)."""

    def __init__(
        self,
        request: ExecRequest,
        store: Store,
        config: Config,
        notify: Notify,
        mapping: Mapping | None,
        provider: Provider,
        command: list[str],
        cwd: str,
        home: Path | None,
        sync: TranscriptSync | None,
        keep_copies: bool,
    ) -> None:
        self.request = request
        self.store = store
        self.config = config
        self.notify = notify
        self.mapping = mapping
        self.provider = provider
        self.command = command
        self.cwd = cwd
        self.home = home
        self.sync = sync
        """Restores the store's copy when it has one (an imported map has them on any store)."""
        self.keep_copies = keep_copies
        """Append what each run adds to the store's copy (``transcripts = "store"``)."""
        self.host = os.uname().nodename  # as presence.this_host()
        self.stale_id: str | None = None
        self.attempts: list[Step] = []
        self.generation = 0
        """The mapping's run generation this run wrote at its start: its fencing token."""

    @classmethod
    def open(cls, request: ExecRequest, store: Store, config: Config, notify: Notify) -> Run:
        if not request.command:
            raise InvalidInput("no agent command given", reason="no-command")
        profile = config.agents.get(request.agent, AgentProfile())
        mapping = store.get(request.agent, request.key)
        provider = get_provider(provider_name(request, profile, mapping), config)
        command = provider.prepare_command(request.command, profile.args)
        cwd = working_directory(request, profile, mapping)
        locator = provider.locator
        home = locator.home(request.env) if locator is not None else None
        sync = None
        if locator is not None and home is not None:
            from sessmap.transcripts.sync import TranscriptSync

            sync = TranscriptSync(locator, store.transcripts, home, notify)
        keep = config.keeps_transcripts(store.shared)
        return cls(request, store, config, notify, mapping, provider, command, cwd, home, sync, keep)

    # -- running -------------------------------------------------------------------------

    def run(self, lock: HeldLock | None = None) -> ExecResult:
        """Run the agent (under ``lock``, the thread's, when given) and record the turn."""
        previous = self.mapping.session_id if self.mapping is not None and self.request.new else None
        step = self.choose_step()
        env = agent_environment(os.environ if self.request.env is None else self.request.env)
        self.command = runnable(self.command, self.cwd, env)
        if isinstance(self.provider, ChecksVersion):  # before anything is recorded
            self.provider.check_version(self.command, step, env, self.cwd)
        started = now()
        replay = None
        if step.kind != "new":  # the agent may read stdin before it answers "no such conversation"
            from sessmap.runner.stdin import StdinReplay

            if StdinReplay.wanted(self.request.stdin):
                replay = StdinReplay(0 if self.request.stdin is None else self.request.stdin)
        with SignalForwarder(self.request.forward_signals) as forwarder:
            outcome = self.attempt(step, env, forwarder, replay, lock)
            if (
                step.kind != "new"
                and outcome.exit_code != 0
                and outcome.lock_lost is None
                and self.provider.is_stale(outcome.output)
            ):
                stale_id = step.parent_id if step.kind == "fork" else step.session_id
                why = "the agent has no conversation with that id"
                chooses_id = self.provider.chooses_id
                step = self.stale(steps.stale(stale_id, why, self.on_stale, chooses_id, new_session_id))
                outcome = self.attempt(step, env, forwarder, replay, lock)
        mapping: Mapping | None = self.mapping
        error: str | None = None
        if outcome.lock_lost is not None:
            error = self.lock_lost(outcome.lock_lost)
        else:
            mapping, error = self.record_turn(step, outcome, started)
        action: Action = "stale-restarted" if self.stale_id is not None else _ACTIONS[step.kind]
        return ExecResult(
            exit_code=outcome.exit_code,
            argv=tuple(outcome.argv),
            cwd=self.cwd,
            provider=self.provider.name,
            mapping=mapping,
            key=self.request.key,
            agent=self.request.agent,
            action=action,
            session_id=mapping.session_id if mapping else outcome.new_session_id or step.session_id,
            previous_session_id=self.stale_id if self.stale_id is not None else previous,
            error=error,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
        )

    def attempt(
        self,
        step: Step,
        env: dict[str, str],
        forwarder: SignalForwarder,
        replay: StdinReplay | None,
        lock: HeldLock | None,
    ) -> Outcome:
        self.record_start(step)
        self.restore(step)
        request = self.request
        capture = Capture(self, step) if step.creates_session and step.session_id is None else None
        stdin = replay.attach() if replay is not None else request.stdin
        # What the agent (or a hook it runs) learns of its thread; empty while a CLI-picked id is unknown.
        session = step.session_id or ""
        env = {
            **env,
            "SESSMAP_KEY": request.key,
            "SESSMAP_AGENT": request.agent,
            "SESSMAP_SESSION_ID": session,
        }
        launch = Launch(
            self.argv(step),
            self.cwd,
            env,
            stdin,
            request.stdout,
            request.stderr,
            request.capture_output,
            self.provider.watch(step),
        )
        guard = AgentGuard(lock) if lock is not None else None
        try:
            outcome = process.spawn(launch, forwarder, capture, guard)
        finally:
            if replay is not None:
                replay.detach()
        if guard is not None and guard.lost is not None:
            outcome.lock_lost = guard.lost.reason
        if capture is not None:
            outcome.new_session_id = capture.session_id(outcome.output)
        return outcome

    def restore(self, step: Step) -> None:
        """The store's copy of the session to resume or fork, where the agent will look."""
        session_id = step.parent_id if step.kind == "fork" else step.session_id
        if self.sync is None or step.kind == "new" or session_id is None:
            return
        try:
            self.sync.restore(session_id, self.cwd)
        except OSError as err:
            raise SessmapError(f"cannot restore the transcript of session {session_id}: {err}") from None

    def record_start(self, step: Step) -> None:
        """Write what must survive sessmap dying during the run: the new mapping, a chosen id,
        the working directory, the host; and the start itself (``last_used_at``, a new run
        ``generation``), so a running thread counts as in use and a run that lost its lock
        cannot overwrite the one that took it."""
        request, mapping = self.request, self.mapping
        stamp = now()
        if mapping is None or (request.new and not self.attempts):
            previous = mapping.retired("new", stamp) if mapping is not None else None
            self.generation = mapping.generation + 1 if mapping is not None else 1
            fresh = Mapping(
                key=request.key,
                agent=request.agent,
                provider=self.provider.name,
                session_id=step.session_id,
                state="active" if step.session_id else "pending",
                cwd=self.cwd,
                created_at=stamp,
                updated_at=stamp,
                labels=previous.labels if previous else {},
                host=self.host,
                history=previous.history if previous else (),
                last_used_at=stamp,
                generation=self.generation,
            ).validate()
            self.store.insert(fresh, replace=mapping is not None)
            self.mapping = fresh
        else:
            change = steps.started(step, self.cwd, self.host, stamp, retiring=self.stale_id is not None)
            self.mapping = self.store.update(request.agent, request.key, change)
            self.generation = self.mapping.generation
        self.attempts.append(step)
        if step.creates_session and step.session_id is not None:
            self.note_started(step.session_id)

    def note_started(self, session_id: str) -> None:
        """Record that this run started ``session_id`` (stores/started.py), the proof that
        lets a purge delete its files. A failure is told, not raised: the agent must still run,
        and a session with no record is only ever kept."""
        from sessmap.stores.started import StartedSession

        home = str(self.home) if self.home is not None else None
        request = self.request
        record = StartedSession(
            session_id, self.provider.name, request.agent, request.key, self.host, home, self.cwd, now()
        )
        try:
            self.store.started.add(record)
        except StoreError as err:
            self.notify(
                f"could not record that sessmap started session {session_id} ({err.line}); "
                "its files will never be purged"
            )

    def fence(self, mapping: Mapping) -> None:
        ours = self.mapping.session_id if self.mapping is not None else None
        steps.fence(mapping, self.request.key, self.generation, ours)

    def record_id(self, step: Step, session_id: str) -> None:
        """An id the CLI picked, stored the moment it is seen (a fork stays pending-fork)."""

        def change(mapping: Mapping) -> Mapping:
            self.fence(mapping)
            state = "active" if step.kind == "new" else mapping.state
            return mapping.evolve(session_id=session_id, state=state, updated_at=now()).validate()

        try:
            self.mapping = self.store.update(self.request.agent, self.request.key, change)
        except SessmapError as err:
            self.notify(f"could not record session {session_id} yet ({err.line}); will retry after the run")

    def lock_lost(self, reason: str) -> str:
        """The agent was stopped because the thread's lock went; after that, another run may
        own the thread, so nothing more is written (the id and the start were, before)."""
        message = (
            f"lost the lock of thread {self.request.key!r} while the agent ran ({reason}); "
            "the agent was stopped and the turn is not recorded"
        )
        self.notify(message)
        return message

    def record_turn(
        self, step: Step, outcome: Outcome, started: datetime
    ) -> tuple[Mapping | None, str | None]:
        """Record the turn; a store failure is retried once, then reported, never raised: the
        agent ran, and its exit status is what the caller must see."""
        try:
            return self._record_turn(step, outcome, started), None
        except Superseded as err:
            return None, self.not_recorded(err)
        except StoreError:
            pass  # once more: a server's first query after a restart fails, the next reconnects
        try:
            return self._record_turn(step, outcome, started), None
        except (StoreError, Superseded) as err:
            return None, self.not_recorded(err)

    def not_recorded(self, err: SessmapError) -> str:
        message = f"the turn of thread {self.request.key!r} was not recorded: {err.line}"
        self.notify(message)
        return message

    def _record_turn(self, step: Step, outcome: Outcome, started: datetime) -> Mapping | None:
        session_id = outcome.new_session_id or step.session_id
        found = self.upload(session_id)
        materialised = step.kind == "resume" or (
            session_id is not None and (outcome.exit_code == 0 or outcome.new_session_id is not None or found)
        )
        if step.creates_session and session_id is None:
            self.notify(
                f"could not learn the id of the new {self.provider.name} session; "
                f"thread {self.request.key!r} stays pending"
            )
        agent_home = str(self.home) if found and self.home is not None else None

        def finish(mapping: Mapping) -> Mapping:
            self.fence(mapping)
            return steps.finished(
                mapping,
                steps.Turn(step.kind, session_id if materialised else None, outcome.exit_code, started),
                self.host,
                agent_home,
                now(),
            )

        try:
            recorded = self.store.update(self.request.agent, self.request.key, finish)
        except NotFound:
            self.notify(f"thread {self.request.key!r} was removed during the run; the turn is not recorded")
            return None
        if outcome.new_session_id is not None and materialised:
            self.note_started(outcome.new_session_id)  # an id the agent picked: known only now
        return recorded

    def upload(self, session_id: str | None) -> bool:
        """Store the lines the run added; whether the transcript is where the agent keeps it."""
        locator = self.provider.locator
        if session_id is None or locator is None or self.home is None:
            return False
        if self.sync is None or not self.keep_copies:
            return locator.find(self.home, session_id, self.cwd) is not None
        try:
            return self.sync.upload(session_id, self.cwd) is not None
        except (StoreError, OSError) as err:
            reason = err.line if isinstance(err, SessmapError) else str(err)
            self.notify(
                f"could not store the new lines of session {session_id}'s transcript ({reason}); "
                "the next run stores them"
            )
            return locator.find(self.home, session_id, self.cwd) is not None
