"""Host names of their own (UTS namespaces), for simulated hosts."""

from __future__ import annotations

import functools
import shutil
import subprocess

from tests.support.skips import unavailable

SET_HOSTNAME = 'hostname "$0" && exec "$@"'
"""``sh -c SET_HOSTNAME NAME CMD…`` under ``unshare --uts``: CMD runs on a host called NAME."""


@functools.cache
def uts_problem() -> str | None:
    """Why a command cannot be run under a host name of its own here, or None if it can."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare (util-linux) is not installed: cannot give a simulated host its own host name"
    try:
        probe = subprocess.run(
            [unshare, "--uts", "sh", "-c", SET_HOSTNAME, "sessmap-probe", "hostname"],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unshare --uts failed to run: {error}"
    if probe.returncode != 0 or probe.stdout.strip() != "sessmap-probe":
        why = " ".join((probe.stderr or probe.stdout).split()) or f"exit {probe.returncode}"
        return f"unshare --uts cannot set a host name here (needs root or user namespaces): {why}"
    return None


def require_host_names() -> None:
    """Skip (fail under CI) unless commands can run under a host name of their own."""
    problem = uts_problem()
    if problem is not None:
        unavailable(problem)
