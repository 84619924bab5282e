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
from sessmap.validation import validate_provider


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
    resolved = str(Path(path).expanduser().resolve())
    if not Path(resolved).is_dir():
        raise InvalidInput(f"working directory {path!r} is not a directory")
    return resolved


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
