"""The suite cannot see its runner's own home: a test run from a hostile one passes alike.

The hostile home holds what broke the suite for people who use the agents themselves: a real-
looking ``~/.claude`` with a session folder for every project and an over-long project name
(``File name too long`` before), a ``~/.codex`` with rollouts, a sessmap config naming a store
that does not exist, and sessmap's variables set to wrong values. A child pytest runs the tests
that look at agent homes and the config with that environment, and must pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The tests that read agent homes, the config and the default store.
SUBSET = [
    "tests/transcripts",
    "tests/runner/test_evidence.py",
    "tests/cli/test_long_ids.py",
    "tests/test_service.py",
    "tests/test_config.py",
    "tests/test_config_file.py",
    "tests/test_runner.py",
]


def hostile_home(root: Path) -> Path:
    home = root / "hostile"
    projects = home / ".claude" / "projects"
    for name in ("-tmp", "-work", "-" + "x" * 250):
        folder = projects / name[:255]
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            (folder / f"{uuid.uuid4()}.jsonl").write_text('{"type":"user","message":"not yours"}\n')
    rollouts = home / ".codex" / "sessions" / "2026" / "11" / "30"
    rollouts.mkdir(parents=True)
    (rollouts / f"rollout-2026-11-30T10-00-00-{uuid.uuid4()}.jsonl").write_text("{}\n")
    config = home / ".config" / "sessmap" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('store = "postgresql://nobody@203.0.113.1:1/none"\nwait_timeout = "1s"\n')
    return home


def test_the_suite_passes_from_a_hostile_home(tmp_path: Path) -> None:
    home = hostile_home(tmp_path)
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "SESSMAP_STORE": "json:/nonexistent/hostile.json",
        "SESSMAP_AGENT": "hostile",
        "SESSMAP_CONFIG": str(home / ".config" / "sessmap" / "config.toml"),
        "HYPOTHESIS_PROFILE": "dev",
    }
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "SESSMAP_HOME"):
        env.pop(name, None)  # a developer's shell usually has none: the defaults under HOME apply
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *SUBSET],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout.splitlines()[-1]
    assert (home / ".claude" / "projects" / "-tmp").exists()  # and nothing of it was touched
    assert len(list((home / ".claude" / "projects").glob("*/*.jsonl"))) == 9
