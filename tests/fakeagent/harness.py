"""Test helpers: fake ``claude``/``codex`` executables and the installed ``sessmap`` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.cli import run_sessmap, sessmap_argv

from sessmap.model import Mapping
from sessmap.stores import open_store

AGENT_SCRIPT = Path(__file__).with_name("agent.py")


def install_fake_agent(bin_dir: Path, name: str) -> Path:
    """An executable ``bin_dir/name`` running the fake agent (its name picks claude or codex)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(AGENT_SCRIPT.parent)!r})\n"
        "import agent\nagent.main()\n"
    )
    path.chmod(0o755)
    return path


@dataclass
class FakeAgents:
    """A sandbox: fake agents on PATH, their homes, a log of their runs, and one store."""

    root: Path
    env: dict[str, str]

    @classmethod
    def create(cls, root: Path) -> FakeAgents:
        bin_dir = root / "bin"
        for name in ("claude", "codex"):
            install_fake_agent(bin_dir, name)
        env = dict(os.environ)
        env.update(
            PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}",
            HOME=str(root / "home"),
            CLAUDE_CONFIG_DIR=str(root / "home" / ".claude"),
            CODEX_HOME=str(root / "home" / ".codex"),
            FAKEAGENT_LOG=str(root / "agent.log"),
            SESSMAP_STORE=f"sqlite:{root / 'sessions.db'}",
        )
        for name in ("home", "work", "elsewhere"):
            (root / name).mkdir(exist_ok=True)
        return cls(root, env)

    @property
    def store_url(self) -> str:
        return self.env["SESSMAP_STORE"]

    @property
    def work(self) -> Path:
        return self.root / "work"

    def sessmap(
        self,
        *args: str,
        cwd: Path | None = None,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run the installed ``sessmap`` as users do."""
        return run_sessmap(
            *args,
            cwd=cwd or self.work,
            input=input if input is not None else b"",
            base_env=self.env,
            env=env,
            timeout=timeout,
            text=False,
        )

    def start(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start ``sessmap`` in the background, in its own session (no controlling terminal)."""
        return subprocess.Popen(
            sessmap_argv(*args),
            cwd=cwd or self.work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self.env, **(env or {})},
            start_new_session=True,
        )

    def runs(self) -> list[dict[str, Any]]:
        """The fake agent's log: one entry per run (and one per signal it received)."""
        path = Path(self.env["FAKEAGENT_LOG"])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def turns(self) -> list[dict[str, Any]]:
        return [entry for entry in self.runs() if "argv" in entry]

    def mapping(self, key: str, agent: str = "default") -> Mapping | None:
        with open_store(self.store_url) as store:
            return store.get(agent, key)

    def claude_transcript(self, session_id: str) -> Path:
        projects = Path(self.env["CLAUDE_CONFIG_DIR"]) / "projects"
        return next(projects.glob(f"*/{session_id}.jsonl"))


def wait_for(condition: Callable[[], object], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
