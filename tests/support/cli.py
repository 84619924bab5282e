"""Running sessmap in tests: the installed command in a process of its own (``run_sessmap``,
``sessmap_argv``), or the app in this process (``Sessmap``), and reading what it printed.

Both run with the test's environment: tests/conftest.py gives every test its own HOME,
CLAUDE_CONFIG_DIR, CODEX_HOME, XDG folders and SESSMAP_HOME, and clears sessmap's variables, so
nothing of the real user's can change a result. ``env`` adds to that environment; ``base_env``
replaces it (a sandbox that built a whole environment of its own).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    from typer.testing import Result

SESSMAP = Path(sys.executable).with_name("sessmap")
"""The console script installed next to this interpreter, run as users run it."""

TIMEOUT = 60.0

Stdin = int | IO[Any] | None


def installed_sessmap() -> str:
    """The installed console script's path (asserting it is there), as users run it."""
    assert SESSMAP.exists(), SESSMAP
    return str(SESSMAP)


def sessmap_argv(*args: str, store: str | None = None) -> list[str]:
    """``sessmap [--store URL] ARGS…`` as an argv, for ``subprocess`` or a wrapper that runs it
    somewhere else (a terminal, another user, a host of its own)."""
    return [str(SESSMAP), *(("--store", store) if store is not None else ()), *args]


def sessmap_env(
    env: Mapping[str, str] | None = None, base_env: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment a command runs with: ``base_env`` (default: this test's) plus ``env``."""
    return {**(os.environ if base_env is None else base_env), **(env or {})}


@overload
def run_sessmap(
    *args: str,
    store: str | None = ...,
    env: Mapping[str, str] | None = ...,
    base_env: Mapping[str, str] | None = ...,
    cwd: Path | str | None = ...,
    input: str | None = ...,
    stdin: Stdin = ...,
    check: bool = ...,
    timeout: float = ...,
    text: Literal[True] = ...,
    prefix: Sequence[str] = ...,
    preexec_fn: Callable[[], None] | None = ...,
) -> subprocess.CompletedProcess[str]: ...


@overload
def run_sessmap(
    *args: str,
    store: str | None = ...,
    env: Mapping[str, str] | None = ...,
    base_env: Mapping[str, str] | None = ...,
    cwd: Path | str | None = ...,
    input: bytes | None = ...,
    stdin: Stdin = ...,
    check: bool = ...,
    timeout: float = ...,
    text: Literal[False],
    prefix: Sequence[str] = ...,
    preexec_fn: Callable[[], None] | None = ...,
) -> subprocess.CompletedProcess[bytes]: ...


def run_sessmap(
    *args: str,
    store: str | None = None,
    env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    cwd: Path | str | None = None,
    input: str | bytes | None = None,
    stdin: Stdin = subprocess.DEVNULL,
    check: bool = False,
    timeout: float = TIMEOUT,
    text: bool = True,
    prefix: Sequence[str] = (),
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[Any]:
    """``sessmap [--store URL] ARGS…``, the installed command, in a process of its own; stdout
    and stderr captured (text unless ``text=False``).

    ``input`` is its stdin (else ``stdin``: /dev/null unless told); ``prefix`` runs it through
    another command (``runuser -u nobody --``); ``check`` asserts it exited 0.
    """
    done = subprocess.run(
        [*prefix, *sessmap_argv(*args, store=store)],
        input=input,
        stdin=None if input is not None else stdin,
        capture_output=True,
        text=text,
        timeout=timeout,
        env=sessmap_env(env, base_env),
        cwd=cwd,
        preexec_fn=preexec_fn,
    )
    if check:
        assert done.returncode == 0, (args, done.returncode, done.stdout, done.stderr)
    return done


def show_json(store: str, key: str) -> dict[str, Any]:
    """``sessmap --store STORE show KEY --json``, parsed; the command must succeed."""
    shown: dict[str, Any] = json.loads(run_sessmap("show", key, "--json", store=store, check=True).stdout)
    return shown


def one_error_line(result: Result | subprocess.CompletedProcess[str]) -> str:
    """The stderr of a failed command (in process or not): exactly one ``sessmap: error:``
    line, no traceback."""
    exit_code = result.returncode if isinstance(result, subprocess.CompletedProcess) else result.exit_code
    seen = (getattr(result, "args", None), exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, seen
    lines = result.stderr.splitlines()
    assert len(lines) == 1, seen
    assert lines[0].startswith("sessmap: error: "), seen
    return lines[0]


@dataclass
class Sessmap:
    """Runs ``sessmap --store URL ARGS…`` in-process (Typer's CliRunner), for the CLI tests
    that need no process of their own."""

    store_url: str
    store_path: Path

    def __call__(self, *args: str, input: str | bytes | None = None, store: bool = True) -> Result:
        from typer.testing import CliRunner

        from sessmap.cli.app import app

        argv = ["--store", self.store_url, *args] if store else list(args)
        return CliRunner().invoke(app, argv, input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def import_rows(self, *rows: dict[str, Any]) -> None:
        lines = "".join(json.dumps(row) + "\n" for row in rows)
        self.ok("import", "-", input=lines)

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.ok("export").stdout.splitlines()]
