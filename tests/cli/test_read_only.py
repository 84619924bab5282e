"""Commands that only read never create a store: a mistyped ``--store`` path is an error."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from tests.support import SESSMAP

READERS = [("get", "k1"), ("get", "k1", "--json"), ("show", "k1"), ("list",), ("export",), ("doctor",)]


def sessmap(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("SESSMAP_STORE")}
    return subprocess.run([SESSMAP, *args], capture_output=True, text=True, cwd=cwd, env=env, check=False)


@pytest.mark.parametrize("scheme", ["sqlite", "json"])
@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_a_reader_on_a_missing_store_path_exits_1_and_creates_nothing(
    tmp_path: Path, scheme: str, command: tuple[str, ...]
) -> None:
    store = tmp_path / "typo" / f"sesions.{'db' if scheme == 'sqlite' else 'json'}"
    store.parent.mkdir()
    result = sessmap(tmp_path, "--store", f"{scheme}:{store}", *command)
    assert result.returncode == 1, result.stderr
    assert f"no store at {store}" in result.stdout + result.stderr
    if command[0] != "doctor":  # doctor reports it among its checks
        [line] = result.stderr.splitlines()
        assert line.endswith("create one with `sessmap create KEY`, or check --store and SESSMAP_STORE")
    assert list(store.parent.iterdir()) == []


def test_a_writer_still_creates_the_store_and_then_readers_find_it(tmp_path: Path) -> None:
    url = f"sqlite:{tmp_path / 's.db'}"
    created = sessmap(tmp_path, "--store", url, "create", "k1", "--session-id", "s-1")
    assert created.returncode == 0, created.stderr
    got = sessmap(tmp_path, "--store", url, "get", "k1")
    assert (got.returncode, got.stdout) == (0, "s-1\n")
