"""The two command-line mistakes people make most get a line that says how to fix them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.support import SESSMAP


def sessmap(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SESSMAP, *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"SESSMAP_STORE": f"sqlite:{tmp_path / 's.db'}", "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_an_agent_command_without_the_separator_says_to_put_it_after_it(tmp_path: Path) -> None:
    result = sessmap(tmp_path, "exec", "k1", "claude", "-p", "hi")
    assert result.returncode == 125  # exec's own failures (SPEC §6)
    [line] = result.stderr.splitlines()
    assert "No such option: -p" in line
    assert "put the agent's command after --: sessmap exec KEY -- claude -p hi" in line


def test_a_misspelt_exec_option_before_the_separator_points_to_help(tmp_path: Path) -> None:
    result = sessmap(tmp_path, "exec", "k1", "--stroe", "x", "--", "true")
    [line] = result.stderr.splitlines()
    assert line.endswith("try: sessmap exec --help")


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (("list", "--store", "sqlite:x.db"), "--store"),
        (("list", "-q"), "-q"),
        (("get", "k1", "--config=c.toml"), "--config"),
        (("exec", "k1", "-q", "--", "true"), "-q"),
    ],
)
def test_a_global_option_after_the_command_says_to_move_it(
    tmp_path: Path, args: tuple[str, ...], option: str
) -> None:
    result = sessmap(tmp_path, *args)
    assert result.returncode == (125 if args[0] == "exec" else 2)
    [line] = result.stderr.splitlines()
    assert f"{option} is a global option: put it before the command (sessmap {option} … {args[0]})" in line
    assert not (tmp_path / "s.db").exists()
