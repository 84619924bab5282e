"""``-s/--sandbox`` on a resumed or forked codex turn (codex#40149 asked whether it applies).

``codex exec resume`` refuses ``-s`` after ``resume``, so sessmap leaves the user's ``-s``
where it was, before ``resume <id>``/``fork <id>``. The fake model asks codex's shell tool to
write a file; whether the file appears is what the sandbox let the turn do. Measured on 0.169.0
and 0.171.0: the ``-s`` given before ``resume``/``fork`` governs that turn, so sessmap needs no
``-c sandbox_mode=…`` rewrite.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pytest
from realagents import Sandbox
from tests.support.cli import sessmap_argv

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.agents("codex")]


class Writer:
    """Turns that each ask codex to write a file of their own, under an optional ``-s``."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.marker = f"writeplease{uuid.uuid4().hex[:10]}zq"
        sandbox.server.shell_marker = self.marker
        self.turns = 0
        # Without -s, a turn may write in its directory: what a read-only turn must not do.
        config = Path(sandbox.env["CODEX_HOME"], "config.toml")
        config.write_text('sandbox_mode = "workspace-write"\n' + config.read_text())

    def turn(self, key: str, *sandbox_option: str) -> Path:
        self.turns += 1
        target = self.sandbox.dir("work") / f"written-{self.turns}.txt"
        self.sandbox.server.shell_command = f"echo written > {target}"
        command = ["codex", "exec", "--json", "--skip-git-repo-check", *sandbox_option]
        result = subprocess.run(
            sessmap_argv("exec", key, "--", *command, f"{self.marker} turn {self.turns}"),
            cwd=self.sandbox.dir("work"),
            env=self.sandbox.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert self.tool_ran(f"call_{self.tool_call_number(self.turns)}"), "codex never ran the tool"
        return target

    def tool_call_number(self, turn: int) -> int:
        asked = [
            number
            for number, request in enumerate(self.sandbox.server.requests, 1)
            if request.path == "/v1/responses" and f"{self.marker} turn {turn}" in _last_input(request.body)
        ]
        assert asked, f"turn {turn} never reached the model"
        return asked[-1]

    def tool_ran(self, call_id: str) -> bool:
        """codex sent the shell call's output back: it got the call and ran (or refused) it."""
        return any(
            item.get("type") == "function_call_output" and item.get("call_id") == call_id
            for request in self.sandbox.server.model_requests()
            for item in request.body.get("input") or []
            if isinstance(item, dict)
        )


def _last_input(body: dict[str, object]) -> str:
    items = body.get("input")
    return json.dumps(items[-1]) if isinstance(items, list) and items else ""


def test_read_only_before_resume_keeps_the_resumed_turn_from_writing(sandbox: Sandbox) -> None:
    writer = Writer(sandbox)
    assert writer.turn("t").exists()  # a new session under the default: it writes
    assert not writer.turn("t", "-s", "read-only").exists()
    assert not writer.turn("t", "--sandbox", "read-only").exists()
    assert writer.turn("t").exists()  # the read-only was that turn's, not the session's
    assert sandbox.mapping("t").turns == 4


def test_read_only_before_fork_keeps_the_forked_turn_from_writing(sandbox: Sandbox) -> None:
    writer = Writer(sandbox)
    assert writer.turn("parent").exists()
    assert sandbox.sessmap("fork", "parent", "child").returncode == 0
    assert not writer.turn("child", "-s", "read-only").exists()
    child = sandbox.mapping("child")
    assert child.state == "active" and child.session_id != sandbox.mapping("parent").session_id
    assert writer.turn("child", "-s", "workspace-write").exists()
