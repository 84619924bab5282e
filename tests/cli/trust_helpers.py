"""Shared by the tests of confirmations, dry runs, prune filters, ``rm -``, JSON summaries and
progress bars: the installed ``sessmap`` run in a subprocess (or on a pseudo-terminal), a
store seeded in one import, and a snapshot of a store's whole content to compare."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import sqlite3
import subprocess
import termios
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tests.support import SESSMAP
from tests.support.terminal import read_terminal

FILE_STORES = ("sqlite", "json")
OLD = "2020-01-01T00:00:00Z"  # old enough for any --older-than
NEW = "2999-01-01T00:00:00Z"  # never old
TIMEOUT = 60


def store_url(kind: str, folder: Path) -> str:
    return f"sqlite:{folder / 'map.db'}" if kind == "sqlite" else f"json:{folder / 'map.json'}"


def run(
    store: str, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``sessmap --store STORE ARGS…``, not at a terminal (stdin a pipe or /dev/null)."""
    return subprocess.run(
        [str(SESSMAP), "--store", store, *args],
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=TIMEOUT,
    )


def row(key: str, agent: str = "default", *, seen: str = OLD, **fields: Any) -> dict[str, Any]:
    digest = hashlib.sha256(f"{agent}/{key}".encode()).hexdigest()
    session_id = f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
    return {
        "key": key,
        "agent": agent,
        "provider": "claude",
        "session_id": session_id,
        "created_at": seen,
        **fields,
    }


def seed(store: str, rows: Iterable[dict[str, Any]]) -> None:
    done = run(store, "import", "-", input="".join(json.dumps(r) + "\n" for r in rows))
    assert done.returncode == 0, done.stderr


def pairs(store: str) -> set[tuple[str, str]]:
    """(agent, key) of every mapping in the store."""
    done = run(store, "export")
    assert done.returncode == 0, done.stderr
    return {(m["agent"], m["key"]) for m in map(json.loads, done.stdout.splitlines())}


def snapshot(store: str) -> Any:
    """The store's whole content: every table's rows (SQLite), or the file's bytes (JSON)."""
    kind, _, path = store.partition(":")
    if kind == "json":
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        return list(connection.iterdump())


def gone_row(key: str, home: Path, **fields: Any) -> dict[str, Any]:
    """A mapping whose transcript is proven gone: it ran (a turn) on this host from ``home`` (a
    folder that exists), and no transcript file is there. (Never used, it would be "not started".)"""
    home.mkdir(parents=True, exist_ok=True)
    fields.setdefault("turns", 1)
    return row(key, host=os.uname().nodename, agent_home=str(home), cwd=str(home), **fields)


def in_terminal(
    store: str,
    *args: str,
    answer: str | None = None,
    env: Mapping[str, str] | None = None,
    stdin_terminal: bool = True,
    piped: bytes | None = None,
) -> tuple[int, str, str]:
    """Run sessmap with stderr (and stdin, unless ``stdin_terminal`` is false or ``piped``
    input is given) on a pseudo-terminal; type ``answer`` once the question ``[y/N]`` shows.
    The pseudo-terminal is the process's controlling terminal (``/dev/tty``), as the shell
    makes a terminal for what a person types there. Returns the exit code, stdout and what
    the terminal showed."""
    controller, follower = pty.openpty()
    stdin: int = follower if stdin_terminal else subprocess.DEVNULL
    if piped is not None:
        stdin = subprocess.PIPE
    process = subprocess.Popen(
        [str(SESSMAP), "--store", store, *args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(2, termios.TIOCSCTTY, 0),
    )
    os.close(follower)
    if process.stdin is not None:
        with process.stdin:
            process.stdin.write(piped or b"")
    answered = False

    def answer_the_question(shown: bytes) -> None:
        nonlocal answered
        if answer is not None and not answered and b"[y/N] " in shown:
            os.write(controller, answer.encode() + b"\n")
            answered = True

    shown = read_terminal(controller, on_output=answer_the_question, process=process, timeout=TIMEOUT)
    os.close(controller)
    assert process.stdout is not None
    with process.stdout:
        out = process.stdout.read().decode()
    code = process.wait(timeout=TIMEOUT)
    return code, out, shown.decode(errors="replace").replace("\r\n", "\n")
