"""Copied stdout and stderr keep their relative order when both go to one file (issue 14 item 20).

With ``> log 2>&1`` sessmap copied the agent's two pipes in turn, so 2,000 alternating writes
came out with 1,630 inversions. When stdout and stderr are the same file, the agent now gets
one pipe for both, as the shell would have given it one file; separate files stay separate.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.cli import SESSMAP, sessmap_env

WRITES = 1000  # of each stream, alternating
# A provider whose session id is captured from the output: sessmap must read (tee) both streams.
CONFIG = """\
[providers.fake]
new = []
resume = ["--resume", "{session_id}"]
capture = 'session (?P<id>[a-z0-9-]+)'
"""
AGENT = f"""\
import os
os.write(1, b"session abc-123\\n")
for n in range({WRITES}):
    os.write(1, b"out %d\\n" % n)
    os.write(2, b"err %d\\n" % n)
"""


def _exec(tmp_path: Path, redirect: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    agent = tmp_path / "agent.py"
    agent.write_text(AGENT)
    script = f'"$SM" exec t1 --provider fake -- "$PY" {agent} {redirect}'
    env = sessmap_env({"SM": str(SESSMAP), "PY": sys.executable, "SESSMAP_CONFIG": str(config)})
    return subprocess.run(
        ["bash", "-c", script],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _expected() -> list[str]:
    return ["session abc-123", *(line for n in range(WRITES) for line in (f"out {n}", f"err {n}"))]


@pytest.mark.parametrize("redirect", ["> log 2>&1", "2>&1 | cat > log", "&> log"])
def test_one_file_for_both_keeps_their_order(tmp_path: Path, redirect: str) -> None:
    result = _exec(tmp_path, redirect)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "log").read_text().splitlines() == _expected()
    # The id was still captured from the one stream.
    shown = subprocess.run(
        [str(SESSMAP), "get", "t1"],
        env=sessmap_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.stdout.strip() == "abc-123", shown.stderr


def test_two_files_stay_two(tmp_path: Path) -> None:
    result = _exec(tmp_path, "> out 2> err")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out").read_text().splitlines() == [
        "session abc-123",
        *(f"out {n}" for n in range(WRITES)),
    ]
    assert (tmp_path / "err").read_text().splitlines() == [f"err {n}" for n in range(WRITES)]
