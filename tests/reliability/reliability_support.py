"""Shared helpers for the reliability tests: fingerprints of store folders, and running the CLI
as an unprivileged user. The CLI itself runs through ``tests.support.cli.run_sessmap``.

A module of its own (not ``conftest``) so the test modules can import plain functions from it;
pytest puts this folder on ``sys.path`` when it imports them.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from tests.support import SESSMAP, sha256
from tests.support.cli import run_sessmap


def ok(*args: str, **options: object) -> subprocess.CompletedProcess[str]:
    """``run_sessmap(*args, **options)``, asserting it exited 0."""
    return run_sessmap(*args, check=True, **options)  # type: ignore[call-overload, no-any-return]


def fingerprint(folder: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under ``folder``: (kind, mode, content hash or link target), by relative path.

    Compares whole folders byte for byte: a new temp file, a -wal left behind, a changed mode
    or a rewritten file all show up.
    """
    entries: dict[str, tuple[str, int, str]] = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        name = str(path.relative_to(folder))
        if path.is_symlink():
            entries[name] = ("link", stat.st_mode & 0o7777, os.readlink(path))
        elif path.is_dir():
            entries[name] = ("dir", stat.st_mode & 0o7777, "")
        else:
            entries[name] = ("file", stat.st_mode & 0o7777, sha256(path))
    return entries


# --- running as an unprivileged user ---------------------------------------------------------


@dataclass(frozen=True)
class Unprivileged:
    """Where and how to run sessmap as a user that file permissions apply to."""

    folder: Path  # empty, owned by that user
    prefix: list[str]  # command prefix that runs the rest as that user ([] when we are one)

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.folder), "SESSMAP_HOME": str(self.folder / "sessmap-home")}


UNPRIVILEGED_USER = "nobody"


def _first_closed_ancestor(path: Path) -> Path | None:
    """The highest folder above ``path`` that other users cannot enter (no o+x), if any."""
    closed = None
    for folder in reversed(path.parents):
        if folder != Path("/") and not folder.stat().st_mode & 0o001:
            closed = folder
            break
    return closed


def _paths_the_cli_needs() -> list[Path]:
    """Folders the interpreter and the sessmap package are loaded from (symlinks resolved)."""
    import sessmap

    needed = {
        Path(os.path.realpath(sys.base_prefix)),
        Path(os.path.realpath(sys.prefix)),
        Path(os.path.realpath(sysconfig.get_paths()["purelib"])),
        Path(os.path.realpath(Path(sessmap.__file__).parent.parent)),
        Path(os.path.realpath(SESSMAP)).parent,
    }
    return sorted(needed)


def as_unprivileged(stage: Path) -> list[str]:
    """A command prefix that runs what follows as ``nobody`` (root only).

    ``runuser`` alone is enough when ``nobody`` can reach the interpreter. When the interpreter
    lives under a folder closed to other users (a pyenv Python under /root, say), the command
    runs in a private mount namespace (``unshare --mount``) where that folder is covered by an
    empty, world-enterable tmpfs into which only the needed folders are bind-mounted. Nothing
    outside that namespace changes. ``stage`` is an empty folder for the temporary mounts.
    """
    runuser = ["runuser", "-u", UNPRIVILEGED_USER, "--"]
    blocked: dict[Path, list[Path]] = {}
    for needed in _paths_the_cli_needs():
        closed = _first_closed_ancestor(needed)
        if closed is not None:
            blocked.setdefault(closed, []).append(needed)
    if not blocked:
        return runuser
    if shutil.which("unshare") is None:
        raise RuntimeError("unshare is not installed")
    steps: list[str] = []
    number = 0
    for closed, inside in blocked.items():
        staged = []
        for needed in inside:
            holder = stage / f"m{number}"
            number += 1
            steps += [f"mkdir -p {shlex.quote(str(holder))}", f"mount --bind {q(needed)} {q(holder)}"]
            staged.append((holder, needed))
        steps.append(f"mount -t tmpfs -o mode=0755,size=1m sessmap-test {q(closed)}")
        for holder, needed in staged:
            steps += [f"mkdir -p {q(needed)}", f"mount --move {q(holder)} {q(needed)}"]
    script = " && ".join(steps) + ' && exec "$@"'
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *runuser]


def q(path: Path) -> str:
    return shlex.quote(str(path))


def unprivileged_ids() -> tuple[int, int]:
    import pwd

    entry = pwd.getpwnam(UNPRIVILEGED_USER)
    return entry.pw_uid, entry.pw_gid
