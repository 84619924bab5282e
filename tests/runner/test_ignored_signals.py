"""A signal ignored by whoever started sessmap stays ignored, in sessmap and in the agent.

``nohup sessmap exec …`` (SIGHUP ignored) and ``sessmap exec … &`` in a script (SIGINT ignored)
must behave as ``nohup agent`` and ``agent &`` do: a hang-up or an interrupt sent to sessmap
neither kills it nor reaches the agent. sessmap used to install its forwarding handler over
the ignored disposition, so the agent started with the signal at SIG_DFL and then got it
forwarded: ``kill -HUP`` killed a nohup'd agent (exit 129).

sessmap is started through a wrapper that sets the signal's disposition (ignored, or default
for the control case) and then execs it, as nohup or a shell would; it runs in a session of
its own, so no terminal decides what it forwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.support import SESSMAP
from tests.support.cli import show_json

TIMEOUT = 30  # seconds for any one process: a hang fails the test
AGENT_SECONDS = 1.5

# What nohup (or a shell starting a background job) does: set the disposition, then exec.
WRAPPER = (
    "import os, signal, sys; "
    "signal.signal(getattr(signal, sys.argv[1]), getattr(signal, sys.argv[2])); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)

# The agent says whether it inherited the signal ignored; with CATCH it then handles it (as
# claude and codex handle SIGINT) and notes each delivery, so forwarding shows even then.
AGENT = """#!{python}
import json, os, pathlib, signal, time
marks = pathlib.Path(os.environ["MARKS"])
number = getattr(signal, os.environ["WATCH_SIGNAL"])
state = {{"ignored": signal.getsignal(number) == signal.SIG_IGN, "pid": os.getpid()}}
if os.environ.get("CATCH"):
    signal.signal(number, lambda n, f: (marks / "received").write_text(str(n)))
(marks / "started.tmp").write_text(json.dumps(state))
(marks / "started.tmp").rename(marks / "started")
time.sleep({seconds})
(marks / "done").touch()
"""


def install_agent(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    agent = folder / "fa"
    agent.write_text(AGENT.format(python=sys.executable, seconds=AGENT_SECONDS))
    agent.chmod(0o755)
    return agent


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def run_and_signal(
    tmp_path: Path, name: str, disposition: str, *, catch: bool
) -> tuple[int, str, dict[str, Any], Path]:
    """Start ``sessmap exec`` with signal ``name`` at ``disposition``, send it that signal once
    the agent runs; sessmap's exit code and stderr, what the agent saw, and its marks folder."""
    agent = install_agent(tmp_path / "bin")
    marks = tmp_path / "marks"
    marks.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    store = f"sqlite:{tmp_path / 'sessions.db'}"
    env = {**os.environ, "MARKS": str(marks), "WATCH_SIGNAL": name}
    if catch:
        env["CATCH"] = "1"
    command = [str(SESSMAP), "--store", store, "exec", "h1", "--provider", "claude", "--", str(agent)]
    sessmap = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, name, disposition, *command],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # no controlling terminal: sessmap forwards what it gets
    )
    try:
        wait_for(marks / "started")
        seen: dict[str, Any] = json.loads((marks / "started").read_text())
        os.kill(sessmap.pid, getattr(signal, name))  # the wrapper exec'd: this pid is sessmap
        _, stderr = sessmap.communicate(timeout=TIMEOUT)
    finally:
        if sessmap.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sessmap.pid, signal.SIGKILL)  # sessmap and the agent it started
            sessmap.wait()
        if sessmap.stderr is not None:
            sessmap.stderr.close()
    shown = show_json(store, "h1")
    assert shown["turns"] == 1
    return (
        sessmap.returncode,
        stderr.decode(errors="replace"),
        {**seen, "last_exit": shown["last_exit"]},
        marks,
    )


SIGNALS = ["SIGHUP", "SIGINT"]


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.slow
def test_an_ignored_signal_stays_ignored_in_the_agent(tmp_path: Path, name: str) -> None:
    code, stderr, seen, marks = run_and_signal(tmp_path, name, "SIG_IGN", catch=False)
    assert seen["ignored"], "the agent must inherit the signal ignored, as under nohup"
    assert code == 0, (code, stderr)
    assert (marks / "done").exists()  # the agent ran to its end
    assert seen["last_exit"] == 0


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.slow
def test_an_ignored_signal_is_never_forwarded(tmp_path: Path, name: str) -> None:
    # The agent handles the signal itself: only forwarding could make it arrive.
    code, stderr, seen, marks = run_and_signal(tmp_path, name, "SIG_IGN", catch=True)
    assert code == 0, (code, stderr)
    assert not (marks / "received").exists(), "sessmap forwarded a signal its caller ignores"
    assert (marks / "done").exists()
    assert seen["ignored"] and seen["last_exit"] == 0


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.slow
def test_a_signal_not_ignored_is_still_forwarded(tmp_path: Path, name: str) -> None:
    code, stderr, seen, marks = run_and_signal(tmp_path, name, "SIG_DFL", catch=False)
    assert not seen["ignored"]
    # The agent died of it; exec's status is the agent's, as a shell reports it (SPEC §6).
    number = getattr(signal, name)
    assert code == 128 + number, (code, stderr)
    assert seen["last_exit"] == 128 + number
    assert not (marks / "done").exists()


@pytest.mark.parametrize("name", SIGNALS)
@pytest.mark.slow
def test_a_signal_not_ignored_reaches_an_agent_that_handles_it(tmp_path: Path, name: str) -> None:
    code, stderr, seen, marks = run_and_signal(tmp_path, name, "SIG_DFL", catch=True)
    assert code == 0, (code, stderr)
    assert (marks / "received").read_text() == str(int(getattr(signal, name)))
    assert (marks / "done").exists()
    assert seen["last_exit"] == 0
