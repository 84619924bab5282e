"""The version of an agent CLI, asked only when a step needs a feature newer CLIs have.

``PROGRAM --version`` costs a process start (about a quarter second for the npm ``codex``),
so it runs only for such a step (codex ``exec fork``), never on a plain start or resume.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence

from sessmap.errors import AgentTooOld

_VERSION = re.compile(r"\b(\d+)\.(\d+)\.(\d+)\b")
_TIMEOUT_SECONDS = 10.0

Version = tuple[int, int, int]


def parse_version(text: str) -> Version | None:
    """The first ``X.Y.Z`` in ``text`` (``codex-cli 0.169.0`` -> ``(0, 169, 0)``)."""
    match = _VERSION.search(text)
    if match is None:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def program_version(program: str, env: Mapping[str, str], cwd: str) -> Version | None:
    """What ``program --version`` says; None when it says nothing sessmap can read (a wrapper
    that does not pass it on, a crash, a hang): then the CLI itself has the last word."""
    try:
        result = subprocess.run(
            [program, "--version"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    return parse_version(result.stdout.decode("utf-8", "replace"))


def require_version(
    provider: str, feature: str, needed: Version, command: Sequence[str], env: Mapping[str, str], cwd: str
) -> None:
    """Raise ``AgentTooOld`` if ``command[0]`` is known to be older than ``needed``."""
    found = program_version(command[0], env, cwd)
    if found is not None and found < needed:
        raise AgentTooOld(provider, feature, _text(found), _text(needed))


def _text(version: Version) -> str:
    return ".".join(str(part) for part in version)
