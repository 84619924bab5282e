"""``rm -`` reads bare keys (of --agent) or the tsv lines list prints (key, agent, …), so a pipe
from list removes exactly what it listed, of every agent, and nothing else."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.cli.trust_helpers import FILE_STORES, pairs, row, run, seed, store_url
from tests.support import SESSMAP


@pytest.fixture(params=FILE_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = store_url(str(request.param), tmp_path)
    seed(url, [row("tmp:a"), row("tmp:a", "other"), row("tmp:b", "other"), row("keep"), row("keep", "other")])
    return url


def test_a_pipe_from_list_removes_exactly_the_listed_mappings(store: str) -> None:
    listing = subprocess.Popen(
        [str(SESSMAP), "--store", store, "list", "-f", "tsv", "--prefix", "tmp:"], stdout=subprocess.PIPE
    )
    removing = subprocess.run(
        [str(SESSMAP), "--store", store, "rm", "-"], stdin=listing.stdout, capture_output=True, text=True
    )
    assert listing.stdout is not None
    listing.stdout.close()
    assert listing.wait(timeout=60) == 0
    assert removing.returncode == 0, removing.stderr
    assert pairs(store) == {("default", "keep"), ("other", "keep")}


@pytest.mark.slow
def test_bare_keys_are_of_the_agent_and_blank_lines_are_skipped(store: str) -> None:
    done = run(store, "rm", "-a", "other", "-", input="\ntmp:b\n\n  \n")
    assert done.returncode == 0, done.stderr
    assert ("other", "tmp:b") not in pairs(store) and ("default", "tmp:a") in pairs(store)


@pytest.mark.slow
def test_missing_lines_exit_3_naming_their_agents(store: str) -> None:
    done = run(store, "rm", "-", input="nope\tother\tclaude\nnope2\n")
    assert done.returncode == 3
    assert "'nope', 'nope2' (agents default, other)" in done.stderr
    assert run(store, "rm", "--missing-ok", "-", input="nope\tother\n").returncode == 0
