"""Odd environments get one clear line and exit 2, not "unexpected …" (issue 14 items 14, 22).

* ``list >&-`` and ``exec … >&-`` crashed on ``sys.stdout`` being None; worse, the first file
  opened (the store) took descriptor 1, and the agent would have inherited it as its stdout.
  Closed stdout is now a usage error (exit 2; 125 in ``exec``) before anything is opened.
* ``--store 'sqlite:~nosuchuser/x.db'`` was "unexpected RuntimeError".
* ``set -o pipefail; sessmap list | head -1`` exited 1: a reader that stopped reading is no
  error, so sessmap now stops quietly with exit 0, on a real pipe.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from tests.support.cli import SESSMAP, run_sessmap, sessmap_env
from tests.support.mappings import make_mapping

from sessmap.stores import open_store

ROWS = 3000  # ~300 kB of tsv: far more than a pipe holds


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'sessions.db'}"
    with open_store(url) as opened:
        opened.insert_many(iter(make_mapping(f"k{n:05}") for n in range(ROWS)), "fail")
    return url


def _sh(script: str, store: str) -> subprocess.CompletedProcess[str]:
    env = sessmap_env({"SESSMAP_STORE": store, "SM": str(SESSMAP)})
    return subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("command", ["list", "get k00001", "show k00001", "export"])
def test_closed_stdout_is_a_usage_error_in_one_line(store: str, command: str) -> None:
    result = _sh(f'"$SM" {command} >&-', store)
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr
        == "sessmap: error: standard output is closed; give it a file, or /dev/null to discard it\n"
    )


def test_exec_with_closed_stdout_is_125_and_the_agent_never_runs(store: str, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = _sh(f'"$SM" exec k00001 --provider claude -- touch {marker} >&-', store)
    assert result.returncode == 125, result.stderr
    assert "standard output is closed" in result.stderr
    assert not marker.exists()


def test_closed_stdin_and_stderr_are_plugged_not_handed_to_the_store(store: str, tmp_path: Path) -> None:
    # The store opened on descriptor 0 or 2 would be read or scribbled on; it stays healthy.
    result = _sh('"$SM" get k00001 <&- 2>&-; "$SM" get nosuch <&- 2>&-; echo "exit $?"', store)
    assert result.stdout.splitlines() == [make_mapping("k00001").session_id, "exit 3"]
    db = sqlite3.connect(store.removeprefix("sqlite:"))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--store", "sqlite:~nosuchuser-h14/x.db", "list"], {}),
        (["--config", "~nosuchuser-h14/c.toml", "list"], {}),
        (["--config", "~nosuchuser-h14/c.toml", "get", "k"], {}),
        (["list"], {"SESSMAP_STORE": "~nosuchuser-h14/x.db"}),
        (["get", "k"], {"SESSMAP_CONFIG": "~nosuchuser-h14/c.toml"}),
        (["create", "k", "--cwd", "~nosuchuser-h14/w"], {}),
    ],
)
def test_an_unknown_user_in_a_path_is_a_usage_error(args: list[str], env: dict[str, str]) -> None:
    result = run_sessmap(*args, env=env)
    assert result.returncode == 2, result.stderr
    assert "cannot expand '~nosuchuser-h14/" in result.stderr
    assert "unexpected" not in result.stderr


def test_exec_with_an_unknown_user_in_the_store_is_125(tmp_path: Path) -> None:
    result = run_sessmap(
        "exec", "k", "--provider", "claude", "--", "true", store="sqlite:~nosuchuser-h14/x.db"
    )
    assert result.returncode == 125
    assert "cannot expand" in result.stderr


@pytest.mark.parametrize(
    "command", ["list", "list --format json", "list --format jsonl", "export", "list --format keys"]
)
def test_a_reader_that_stops_early_is_no_error_under_pipefail(store: str, command: str) -> None:
    result = _sh(f'set -o pipefail; "$SM" {command} | head -1 >/dev/null', store)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("command", [["get", "k00001"], ["show", "k00001"], ["list"]])
def test_a_pipe_closed_before_the_first_write_is_exit_0_quietly(store: str, command: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first write gets EPIPE
    try:
        process = subprocess.run(
            [str(SESSMAP), *command],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env=sessmap_env({"SESSMAP_STORE": store}),
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert (process.returncode, process.stderr) == (0, "")
