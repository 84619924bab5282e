"""The man page: the committed man/sessmap.1 is what ``python -m sessmap.cli.manpage`` makes,
it names every command and long option ``--help`` shows, ``man`` renders it without a warning,
and the wheel installs it as share/man/man1/sessmap.1."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.support import SESSMAP

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "man" / "sessmap.1"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


def generated() -> str:
    done = subprocess.run(
        [sys.executable, "-m", "sessmap.cli.manpage"], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout


def help_of(*argv: str) -> str:
    if not SESSMAP.exists():
        unavailable(f"the sessmap command is not installed ({SESSMAP})")
    done = subprocess.run(
        [str(SESSMAP), *argv, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, COLUMNS="200"),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def commands(text: str) -> list[str]:
    """The command names of a group's --help."""
    _, _, listing = text.partition("\nCommands:\n")
    return [line.split()[0] for line in listing.splitlines() if line.startswith("  ") and line.split()]


def test_committed_page_is_current() -> None:
    assert PAGE.read_text() == generated(), "regenerate: python -m sessmap.cli.manpage --write man/sessmap.1"


@pytest.mark.slow
def test_every_command_and_long_option_of_help_is_in_the_page() -> None:
    page = PAGE.read_text().replace("\\-", "-")
    root = help_of()
    names = commands(root)
    assert "exec" in names and "completion" in names and "help" in names
    todo = [(name,) for name in names]
    seen: list[tuple[str, ...]] = [()]
    while todo:
        argv = todo.pop(0)
        text = help_of(*argv)
        subcommands = commands(text)
        if subcommands:
            todo += [(*argv, sub) for sub in subcommands]
        else:
            seen.append(argv)
    for argv in seen:
        if argv:
            assert f".SS {' '.join(argv)}\n" in page, argv
        for option in set(re.findall(r"(?<![\w-])--[a-z][a-z-]+", help_of(*argv))):
            assert option in page, (argv, option)


def test_man_renders_it_without_warnings() -> None:
    man = shutil.which("man")
    if man is None:
        pytest.skip("man is not installed")
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
    done = subprocess.run(
        [man, "--warnings", "-l", str(PAGE)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    sections = ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "ENVIRONMENT", "FILES")
    for section in (*sections, "EXAMPLES"):
        assert f"\n{section}\n" in done.stdout, section


@pytest.mark.slow
def test_the_wheel_installs_the_page(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        unavailable(f"pip wheel could not build (the build backend needs the index?): {done.stderr[-500:]}")
    (wheel,) = tmp_path.glob("sessmap-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(re.fullmatch(r"sessmap-[^/]+\.data/data/share/man/man1/sessmap\.1", n) for n in names), names
    for path in (
        "share/bash-completion/completions/sessmap",
        "share/zsh/site-functions/_sessmap",
        "share/fish/vendor_completions.d/sessmap.fish",
    ):
        assert any(n.endswith(f".data/data/{path}") for n in names), path
