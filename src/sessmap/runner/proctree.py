"""The files a process and its descendants hold open, read from /proc (Linux).

How sessmap learns which session file a run created when the agent prints no id it can read:
only a file the run's own process tree has open is provably that run's (two threads' agents
starting in one directory a moment apart each create one). Elsewhere nothing is found.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

_PROC = Path("/proc")


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, as /proc shows them now."""
    children: dict[int, list[int]] = {}
    try:
        entries = [entry.name for entry in _PROC.iterdir() if entry.name.isdigit()]
    except OSError:
        return [root]
    for entry in entries:
        parent = _parent_of(entry)
        if parent is not None:
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


def _parent_of(pid: str) -> int | None:
    try:
        stat = (_PROC / pid / "stat").read_bytes()
    except OSError:
        return None
    # The command name (in parentheses) may hold spaces and parentheses: the state and the
    # parent id follow its last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def open_files(root: int) -> Iterator[str]:
    """Paths of the regular files open in ``root``'s process tree (sockets and pipes skipped)."""
    for pid in descendants(root):
        try:
            fds = list((_PROC / str(pid) / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = str(fd.readlink())
            except OSError:
                continue
            if target.startswith("/"):
                yield target
