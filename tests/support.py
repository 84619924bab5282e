"""Helpers the test folders share."""

from __future__ import annotations

import functools
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from servers import unavailable

# The console script installed next to this interpreter, run as users run it.
SESSMAP = Path(sys.executable).with_name("sessmap")


def sha256(path: Path) -> str:
    """The file's content hash, to show a command left it byte for byte as it was."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- host names of their own (UTS namespaces), for simulated hosts ----------------------------

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


# --- property-test sizes that follow the Hypothesis profile (tests/conftest.py) ----------------


def examples(thorough: int) -> int:
    """``max_examples`` for a property test sized ``thorough`` under the ``ci`` profile (100
    examples by default): scaled with the loaded profile, so ``dev`` runs about a tenth."""
    from hypothesis import settings

    return max(2, round(thorough * settings.default.max_examples / 100))
