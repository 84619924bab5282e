"""``config set`` and ``config unset`` lose no concurrent update (issue 14 item 16).

16 parallel ``config set agents.aN.provider claude`` used to leave 3 agents: each read the same
old file and wrote it back with only its own change. The read-modify-write now runs under a
lock on ``<config>.lock``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.support.cli import sessmap_argv, sessmap_env

from sessmap.config import read_toml

PARALLEL = 16


def _all_at_once(argvs: list[list[str]]) -> None:
    env = sessmap_env()
    processes = [
        subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for argv in argvs
    ]
    for process in processes:
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err


@pytest.mark.slow
def test_parallel_config_sets_keep_every_change(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "sessmap.toml"
    _all_at_once(
        [
            sessmap_argv("--config", str(config), "config", "set", f"agents.a{n}.provider", "claude")
            for n in range(PARALLEL)
        ]
    )
    agents = read_toml(config)["agents"]
    assert sorted(agents) == sorted(f"a{n}" for n in range(PARALLEL))
    assert (config.parent / "sessmap.toml.lock").stat().st_mode & 0o777 == 0o600


@pytest.mark.slow
def test_parallel_unsets_and_sets_keep_every_change(tmp_path: Path) -> None:
    config = tmp_path / "sessmap.toml"
    config.write_text("".join(f'[agents.old{n}]\nprovider = "claude"\n' for n in range(PARALLEL // 4)))
    unsets = [
        sessmap_argv("--config", str(config), "config", "unset", f"agents.old{n}")
        for n in range(PARALLEL // 4)
    ]
    sets = [
        sessmap_argv("--config", str(config), "config", "set", f"agents.new{n}.provider", "codex")
        for n in range(PARALLEL // 4)
    ]
    _all_at_once([argv for pair in zip(unsets, sets, strict=True) for argv in pair])
    agents = read_toml(config)["agents"]
    assert sorted(agents) == sorted(f"new{n}" for n in range(PARALLEL // 4))
