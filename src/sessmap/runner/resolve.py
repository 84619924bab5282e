"""Resolving a request against the thread's mapping: which provider, which directory."""

from __future__ import annotations

import os
from collections.abc import Mapping as EnvMapping
from pathlib import Path

from sessmap.config import AgentProfile
from sessmap.errors import Conflict, InvalidInput, SessmapError
from sessmap.model import Mapping
from sessmap.providers import BUILTIN_PROVIDERS
from sessmap.runner.process import AgentNotExecutable, AgentNotFound
from sessmap.runner.request import ExecRequest
from sessmap.validation import expand_home, validate_provider


def provider_name(request: ExecRequest, profile: AgentProfile, mapping: Mapping | None) -> str:
    """The request's provider, else the profile's, else the mapping's, else the command's name."""
    program = Path(request.command[0]).name
    named = request.provider or profile.provider
    if named is None and mapping is not None and not request.new:
        named = mapping.provider
        if program in BUILTIN_PROVIDERS and program != named:
            raise _provider_conflict(request, mapping.provider, program)
    if named is None:
        if program not in BUILTIN_PROVIDERS:
            raise InvalidInput(
                f"cannot tell which provider {request.command[0]!r} is",
                reason="unknown-provider",
                hint="name the provider, or set provider in the agent's [agents.NAME] profile",
                agent=request.agent,
                key=request.key,
                found=request.command[0],
            )
        named = program
    validate_provider(named)
    if mapping is not None and not request.new and mapping.provider != named:
        raise _provider_conflict(request, mapping.provider, named)
    return named


def _provider_conflict(request: ExecRequest, mapped: str, wanted: str) -> SessmapError:
    return Conflict(
        f"thread {request.key!r} has a {mapped} session, not {wanted}",
        reason="provider-mismatch",
        agent=request.agent,
        key=request.key,
        expected=mapped,
        found=wanted,
    )


def working_directory(request: ExecRequest, profile: AgentProfile, mapping: Mapping | None) -> str:
    """The mapping's directory; on first use (or ``new``) the request's, the profile's, or the
    current one."""
    asked = _real_directory(request.cwd) if request.cwd else None
    recorded = mapping.cwd if mapping is not None else None
    if (
        recorded is not None
        and asked is not None
        and asked != str(Path(recorded).resolve())
        and not request.new
    ):
        raise Conflict(
            f"thread {request.key!r} runs in {recorded}, not {asked}",
            reason="cwd-mismatch",
            agent=request.agent,
            key=request.key,
            expected=recorded,
            found=asked,
        )
    cwd = asked or recorded
    if cwd is None:
        cwd = _real_directory(profile.cwd) if profile.cwd else str(Path.cwd())
    if not Path(cwd).is_dir():
        raise SessmapError(
            f"the working directory of thread {request.key!r}, {cwd}, does not exist",
            reason="cwd-missing",
            hint="create it, or start the thread over elsewhere",
            agent=request.agent,
            key=request.key,
            path=cwd,
        )
    return cwd


def _real_directory(path: str) -> str:
    # The agents key their session stores on the real path (what getcwd reports), so do we.
    resolved = str(expand_home(path).resolve())
    if not Path(resolved).is_dir():
        raise InvalidInput(f"working directory {path!r} is not a directory")
    return resolved


def in_callers_directory(program: str, env: EnvMapping[str, str] | None) -> str:
    """``program`` as the caller's shell would find it, from the caller's directory: the agent
    runs in the thread's directory, where ``./agent`` or a relative PATH entry (``bin``, or an
    empty one) would name another file, or none. An absolute path, or a name found on a PATH of
    absolute entries only, is kept as written (argv[0] is what the agent sees)."""
    if "/" in program:
        return str(Path(program).absolute())  # no-op for an absolute path
    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    if all(Path(entry).is_absolute() for entry in search.split(os.pathsep)):
        return program
    import shutil

    found = shutil.which(program, path=search)  # looked up here, in the caller's directory
    return str(Path(found).absolute()) if found is not None else program


STORE_VARIABLE = "SESSMAP_STORE"


def agent_environment(env: EnvMapping[str, str]) -> dict[str, str]:
    """What the agent inherits: ``env`` with the password of sessmap's store URL masked.

    Masked rather than dropped: a ``sessmap`` the agent runs (a hook) then fails on the masked
    password, loudly, instead of quietly using another store. A URL without a password, and
    ``SESSMAP_CONFIG`` (a path), pass unchanged."""
    agent_env = dict(env)
    store = agent_env.get(STORE_VARIABLE)
    if store and "://" in store:
        from sessmap.urls import mask_password

        agent_env[STORE_VARIABLE] = mask_password(store)
    return agent_env


def runnable(command: list[str], cwd: str, env: EnvMapping[str, str] | None) -> list[str]:
    """``command`` with its program found from the caller's directory, checked to run."""
    program = in_callers_directory(command[0], env)
    check_runnable(program, cwd, env)
    return [program, *command[1:]]


def check_runnable(program: str, cwd: str, env: EnvMapping[str, str] | None) -> None:
    """127/126 before anything is recorded, the way a shell would decide."""
    if "/" in program:
        path = Path(cwd, program)
        if not path.exists():
            raise AgentNotFound(f"{program}: no such file")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise AgentNotExecutable(f"{program}: not executable")
        return
    import shutil

    search = (env if env is not None else os.environ).get("PATH", os.defpath)
    if shutil.which(program, path=search) is None:
        raise AgentNotFound(f"{program}: command not found")
