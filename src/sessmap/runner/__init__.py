"""``sessmap exec`` as a library: run an agent CLI on a thread's own session.

One run, in order: take the thread's lock (one run per ``(agent, key)`` across processes),
read the mapping, choose the session step (start, resume or fork) and record a new session
before the agent starts, run the agent in the mapping's working directory with stdin, stdout,
stderr and the terminal passed through, then record the turn.

Library use (a bot)::

    from sessmap import open_store
    from sessmap.runner import ExecRequest, run_exec

    with open_store("sqlite:/var/lib/bot/sessions.db") as store:
        result = run_exec(
            ExecRequest(key="slack:C024BE91L:1700000000.000100",
                        command=["claude", "-p", "fix the build"],
                        cwd="/srv/app", capture_output=True),
            store,
        )
    print(result.exit_code, result.session_id, result.stdout.decode())

Errors are ``SessmapError`` subclasses: ``Busy`` (thread busy), ``StaleSession`` (the session
is gone and ``on_stale`` is ``fail``), ``InvalidInput`` (bad command line), ``Conflict``
(another provider or directory is bound to the thread), ``AgentNotFound`` / ``AgentNotExecutable``.
Nothing here prints: messages for the user go to the ``notify`` callback.
"""

from __future__ import annotations

import os
from pathlib import Path

from sessmap.config import Config
from sessmap.runner.process import AgentNotExecutable, AgentNotFound
from sessmap.runner.request import ExecPlan, ExecRequest, ExecResult, Notify
from sessmap.runner.run import Run
from sessmap.stores.base import OnWait, Store
from sessmap.validation import validate_agent, validate_key

__all__ = [
    "AgentNotExecutable",
    "AgentNotFound",
    "ExecPlan",
    "ExecRequest",
    "ExecResult",
    "Notify",
    "plan_exec",
    "run_exec",
]


def plan_exec(request: ExecRequest, store: Store, config: Config | None = None) -> ExecPlan:
    """What ``run_exec`` would run now, changing nothing (``--dry-run``). A new session's id
    is drawn here and not kept; ``StaleSession`` if the session is gone and on_stale is fail."""
    run = _open(request, store, config, _ignore)
    step = run.choose_step()
    return ExecPlan(tuple(run.argv(step)), run.cwd, run.provider.name, step)


def run_exec(
    request: ExecRequest,
    store: Store,
    config: Config | None = None,
    notify: Notify | None = None,
    on_wait: OnWait | None = None,
) -> ExecResult:
    """Run the agent for one turn of the thread, holding the thread's lock throughout.

    Runs queued on a busy thread are served in arrival order; ``on_wait`` hears once whom this
    one waits for. The agent inherits the lock (it outlives a killed sessmap) and is stopped
    if the store loses it (``ExecResult.error`` says so)."""
    validate_key(request.key)
    validate_agent(request.agent)
    config = config or _default_config()
    timeout = _lock_timeout(request, config)
    with store.thread_lock(request.agent, request.key, timeout, on_wait) as lock:
        # Read inside the lock: two runs racing on a new thread must agree on one session.
        return _open(request, store, config, notify or _ignore).run(lock)


def _open(request: ExecRequest, store: Store, config: Config | None, notify: Notify) -> Run:
    validate_key(request.key)
    validate_agent(request.agent)
    return Run.open(request, store, config or _default_config(), notify)


def _ignore(message: str) -> None:
    pass


def _default_config() -> Config:
    return Config(path=Path(os.devnull))


def _lock_timeout(request: ExecRequest, config: Config) -> float | None:
    if request.no_wait:
        return 0.0
    wait = request.wait_timeout if request.wait_timeout is not None else config.wait_timeout
    return None if wait is None else wait.total_seconds()
