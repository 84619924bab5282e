"""A relative CMD is found from the caller's directory, as the shell would (issue 14 item 12).

``exec`` runs the agent in the thread's directory, and ``./agent`` (or a name on a relative
PATH entry: ``bin``, or an empty entry meaning ".") was looked up there, so another program, or
none, ran. CMD is now resolved in the caller's directory before the agent changes into the
thread's.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cli import run_sessmap


def _agent(folder: Path, name: str, says: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    script.write_text(f'#!/bin/sh\necho {says} "$(pwd)"\n')
    script.chmod(0o755)
    return script


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    caller, thread = tmp_path / "caller", tmp_path / "thread"
    caller.mkdir()
    thread.mkdir()
    return caller, thread


def test_dot_slash_cmd_is_the_callers(tmp_path: Path) -> None:
    caller, thread = _folders(tmp_path)
    _agent(caller, "agent", "caller-agent")
    _agent(thread, "agent", "thread-agent")
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--cwd", str(thread), "--", "./agent", cwd=caller
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["caller-agent", str(thread.resolve())]  # the caller's, run there


def test_a_relative_cmd_missing_from_the_callers_directory_is_127(tmp_path: Path) -> None:
    caller, thread = _folders(tmp_path)
    _agent(thread / "sub", "agent", "thread-agent")
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--cwd", str(thread), "--", "sub/agent", cwd=caller
    )
    assert result.returncode == 127, result.stdout
    assert "thread-agent" not in result.stdout


def test_a_relative_path_entry_is_the_callers(tmp_path: Path) -> None:
    caller, thread = _folders(tmp_path)
    _agent(caller / "bin", "fa", "caller-bin")
    _agent(thread / "bin", "fa", "thread-bin")
    path = f"bin{os.pathsep}{os.environ['PATH']}"
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--cwd", str(thread), "--", "fa", cwd=caller, env={"PATH": path}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "caller-bin"


def test_an_empty_path_entry_means_the_callers_directory(tmp_path: Path) -> None:
    caller, thread = _folders(tmp_path)
    _agent(caller, "fa", "caller-dot")
    path = f"{os.environ['PATH']}{os.pathsep}"  # a trailing ':' is "." to execvp and the shell
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--cwd", str(thread), "--", "fa", cwd=caller, env={"PATH": path}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "caller-dot"


def test_a_name_on_an_absolute_path_keeps_its_argv0(tmp_path: Path) -> None:
    caller, thread = _folders(tmp_path)
    bin_dir = _agent(tmp_path / "abs-bin", "fa", "x").parent
    (bin_dir / "fa").write_text('#!/bin/sh\necho "$0"\n')
    path = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    result = run_sessmap(
        "exec", "t1", "--provider", "claude", "--cwd", str(thread), "--", "fa", cwd=caller, env={"PATH": path}
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(bin_dir / "fa")  # the shell's $0 from a PATH lookup
