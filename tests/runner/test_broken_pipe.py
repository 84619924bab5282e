"""``sessmap exec … | head -1``: when the reader of the copied output goes away, the agent
gets the broken pipe as it would without sessmap, the run ends and is recorded.

sessmap copies a codex's stdout through a pipe to read the ``thread.started`` id. It used to
stop reading at EPIPE but keep the pipe's read end open until the agent exited: the agent
filled the pipe, blocked on its next write for ever, and held the thread's lock all along.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support import SESSMAP
from tests.support.cli import show_json

TIMEOUT = 30  # seconds: a hang fails the test instead of blocking the suite

# A codex that says its thread id, then writes far more than two pipe buffers. SIGPIPE at its
# default, as a C or Rust program that does not ignore it: the gone reader kills it (141).
FAKE_CODEX = """#!{python}
import json, os, signal, sys, uuid
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
sys.stdout.write(json.dumps({{"type": "thread.started", "thread_id": str(uuid.uuid4())}}) + "\\n")
sys.stdout.flush()
for number in range(int(os.environ.get("FA_LINES", "10"))):
    sys.stdout.write(f"line {{number}} {{'x' * 60}}\\n")
sys.stdout.flush()
"""


def install_codex(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    codex = folder / "codex"
    codex.write_text(FAKE_CODEX.format(python=sys.executable))
    codex.chmod(0o755)
    return codex


@pytest.mark.slow
def test_exec_piped_into_head_ends_and_records_the_run(tmp_path: Path) -> None:
    codex = install_codex(tmp_path / "bin")
    store = f"sqlite:{tmp_path / 'sessions.db'}"
    work = tmp_path / "work"
    work.mkdir()
    argv = [str(SESSMAP), "--store", store, "exec", "p1", "--provider", "codex"]
    env = {**os.environ, "FA_LINES": "100000"}  # about 7 MB
    # sessmap | head -1, as a shell would make it; its own session so cleanup can reach the agent.
    sessmap = subprocess.Popen(
        [*argv, "--", str(codex), "exec", "--json", "hi"],
        cwd=work,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert sessmap.stdout is not None
        head = subprocess.Popen(["head", "-1"], stdin=sessmap.stdout, stdout=subprocess.PIPE)
        sessmap.stdout.close()  # head holds the only read end: when it exits, the reader is gone
        first_line, _ = head.communicate(timeout=TIMEOUT)
        code = sessmap.wait(timeout=TIMEOUT)  # before the fix: never returns
        stderr = sessmap.stderr.read().decode() if sessmap.stderr else ""
    finally:
        if sessmap.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sessmap.pid, signal.SIGKILL)  # sessmap and the agent it started
            sessmap.wait()
        for pipe in (sessmap.stdout, sessmap.stderr):
            if pipe is not None:
                pipe.close()

    started = json.loads(first_line)
    assert started["type"] == "thread.started"
    # The agent died of SIGPIPE, as `codex … | head -1` does, and its status is exec's.
    assert code == 128 + signal.SIGPIPE, (code, stderr)
    shown = show_json(store, "p1")
    assert shown["session_id"] == started["thread_id"]  # captured from the line head printed
    assert shown["state"] == "active"
    assert shown["turns"] == 1
    assert shown["last_exit"] == 128 + signal.SIGPIPE

    # The thread is free again: --no-wait would exit 75 if anything still held its lock.
    again = subprocess.run(
        [*argv, "--no-wait", "--", str(codex), "exec", "--json", "hi"],
        cwd=work,
        env={**os.environ, "FA_LINES": "3"},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert again.returncode == 0, again.stderr
    shown = show_json(store, "p1")
    assert shown["turns"] == 2 and shown["last_exit"] == 0
    assert shown["session_id"] == started["thread_id"]  # resumed, not replaced
