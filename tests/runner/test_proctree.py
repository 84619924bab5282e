"""The files a process tree holds open, from /proc (runner/proctree.py): how a run proves which
session file it created. Real processes: ``python -c`` children that open a file and sleep."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessmap.runner.proctree import descendants, open_files

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")

# Opens argv[1], says so on stdout, and sleeps until killed. With argv[2], it first renames
# itself (its /proc command name) to that.
HOLDER = textwrap.dedent(
    """
    import sys, time
    if len(sys.argv) > 2:
        with open("/proc/self/comm", "w") as comm:
            comm.write(sys.argv[2])
    held = open(sys.argv[1], "a")
    print("ready", flush=True)
    time.sleep(60)
    """
)
# Starts a HOLDER child of its own, passes on its "ready", and waits for it.
PARENT = textwrap.dedent(
    """
    import subprocess, sys
    child = subprocess.Popen([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], stdout=subprocess.PIPE)
    print(child.stdout.readline().decode().strip(), child.pid, flush=True)
    child.wait()
    """
)


class Tree:
    """A process started in its own group, killed with all its descendants afterwards."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", *args], stdout=subprocess.PIPE, start_new_session=True
        )
        assert self.process.stdout is not None
        self.ready = self.process.stdout.readline().decode().split()
        assert self.ready[:1] == ["ready"], self.ready

    @property
    def pid(self) -> int:
        return self.process.pid

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        assert self.process.stdout is not None
        self.process.stdout.close()


@pytest.fixture
def trees() -> Iterator[list[Tree]]:
    started: list[Tree] = []
    yield started
    for tree in started:
        tree.kill()


def start(trees: list[Tree], *args: str) -> Tree:
    tree = Tree(*args)
    trees.append(tree)
    return tree


def real(path: Path) -> str:
    return os.path.realpath(path)


def test_a_childs_open_file_is_seen_through_its_tree(trees: list[Tree], tmp_path: Path) -> None:
    held = tmp_path / "rollout-held.jsonl"
    tree = start(trees, HOLDER, str(held))
    assert real(held) in set(open_files(tree.pid))


def test_a_grandchilds_open_file_is_seen_through_the_top(trees: list[Tree], tmp_path: Path) -> None:
    held = tmp_path / "deep.jsonl"
    tree = start(trees, PARENT, HOLDER, str(held))
    grandchild = int(tree.ready[1])
    assert descendants(tree.pid)[0] == tree.pid
    assert grandchild in descendants(tree.pid)
    assert real(held) in set(open_files(tree.pid))
    assert real(held) in set(open_files(grandchild))


def test_a_command_name_with_spaces_and_parentheses_is_parsed(trees: list[Tree], tmp_path: Path) -> None:
    # /proc/<pid>/stat is "pid (comm) state ppid …": a comm of ") 1 (" must not fool the parse.
    held = tmp_path / "odd.jsonl"
    tree = start(trees, PARENT, HOLDER, str(held), "x) 1 (y)")
    grandchild = int(tree.ready[1])
    assert Path(f"/proc/{grandchild}/comm").read_text().strip() == "x) 1 (y)"
    assert grandchild in descendants(tree.pid)
    assert real(held) in set(open_files(tree.pid))


def test_another_trees_files_are_not_seen(trees: list[Tree], tmp_path: Path) -> None:
    mine, theirs = tmp_path / "mine.jsonl", tmp_path / "theirs.jsonl"
    tree = start(trees, HOLDER, str(mine))
    other = start(trees, HOLDER, str(theirs))
    seen = set(open_files(tree.pid))
    assert real(mine) in seen and real(theirs) not in seen
    assert other.pid not in descendants(tree.pid)


def test_only_paths_are_yielded_not_pipes_or_sockets(trees: list[Tree], tmp_path: Path) -> None:
    tree = start(trees, HOLDER, str(tmp_path / "f.jsonl"))  # its stdout is a pipe
    assert any(target.startswith("pipe:") for target in _raw_fd_targets(tree.pid))
    assert all(path.startswith("/") for path in open_files(tree.pid))


def _raw_fd_targets(pid: int) -> list[str]:
    return [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]


def test_this_processes_own_open_file(tmp_path: Path) -> None:
    path = tmp_path / "own.jsonl"
    with path.open("w"):
        assert real(path) in set(open_files(os.getpid()))
    assert real(path) not in set(open_files(os.getpid()))


def test_a_finished_tree_yields_nothing(tmp_path: Path) -> None:
    held = tmp_path / "done.jsonl"
    process = subprocess.Popen([sys.executable, "-c", f"open({str(held)!r}, 'a')"])
    assert process.wait(10) == 0
    assert held.exists()
    assert list(open_files(process.pid)) == []
