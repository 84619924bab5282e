"""The real ``claude`` and ``codex`` CLIs, installed from npm into a cache, talking to a fake
model server on 127.0.0.1 with throwaway homes: no network beyond the npm registry, no keys.
Which versions: agents.toml and ``SESSMAP_E2E_AGENTS`` (agentversions.py).

Fixtures (registered by this folder's conftest): ``agent_bin``, ``model_server``, ``sandbox``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from agentversions import AgentVersion, versions
from fakemodel import FakeModelServer, RecordedRequest
from tests.support.cli import run_sessmap, sessmap_argv

from sessmap.model import Mapping
from sessmap.stores import open_store

# Variables of the machine that must not reach the agents: real endpoints, keys, settings.
_KEEP = ("PATH", "LANG", "LC_ALL", "TERM", "TMPDIR", "SYSTEMROOT")


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "sessmap-test-agents"


def install_agent(agent: AgentVersion) -> Path:
    """``node_modules/.bin`` holding ``agent``; each package@version is installed once."""
    npm = shutil.which("npm")
    if npm is None:
        reason = f"npm is not installed: the end-to-end tests need it to install {agent.name}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = agent.spec.replace("/", "+")
    target = _cache_root() / name
    bin_dir = target / "node_modules" / ".bin"
    if (bin_dir / agent.name).exists():
        return bin_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    # Install beside the target and rename, so an interrupted install is never reused.
    staging = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=target.parent))
    try:
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging), agent.spec],
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            pytest.fail(f"npm install {agent.spec} failed:\n{result.stderr[-3000:]}")
        try:
            staging.rename(target)
        except OSError:  # another test run finished first: use its copy
            if not (bin_dir / agent.name).exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return bin_dir


@pytest.fixture(scope="session")
def agent_bin(agent_set: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with every agent of ``agent_set`` (agents.toml): what goes first on PATH."""
    linked = tmp_path_factory.mktemp(f"agents-{agent_set}")
    for agent in versions(agent_set):
        for program in sorted(install_agent(agent).iterdir()):
            if not (linked / program.name).exists():
                (linked / program.name).symlink_to(program.resolve())
    return linked


@pytest.fixture
def model_server() -> Iterator[FakeModelServer]:
    server = FakeModelServer().start()
    yield server
    server.stop()


@dataclass
class Sandbox:
    """Throwaway homes for both CLIs, a store, and the installed ``sessmap`` to run there."""

    root: Path
    env: dict[str, str]
    server: FakeModelServer
    started: list[subprocess.Popen[str]] = field(default_factory=list)

    def dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    def command(self, agent: str, message: str) -> list[str]:
        if agent == "claude":
            return ["claude", "-p", message]
        return ["codex", "exec", "--json", "--skip-git-repo-check", message]

    def exec_args(self, key: str, agent: str, message: str, *options: str) -> list[str]:
        return sessmap_argv("exec", key, *options, "--", *self.command(agent, message))

    def exec(
        self, key: str, agent: str, message: str, *options: str, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.exec_args(key, agent, message, *options),
            cwd=cwd or self.dir("work"),
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, key: str, agent: str, message: str, *options: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            self.exec_args(key, agent, message, *options),
            cwd=self.dir("work"),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.started.append(process)
        return process

    def reap(self) -> None:
        """Kill what a failed test left running and close its pipes, so no later test sees it."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.communicate()

    def sessmap(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_sessmap(*args, cwd=self.root, base_env=self.env)

    def mapping(self, key: str) -> Mapping:
        with open_store(self.env["SESSMAP_STORE"]) as store:
            mapping = store.get("default", key)
        assert mapping is not None, f"no mapping for {key}"
        return mapping

    def request_with(self, marker: str) -> RecordedRequest:
        """The one model request that carried ``marker`` as the newest user turn."""
        found = [r for r in self.server.model_requests() if marker in _last_user_turn(r)]
        assert len(found) == 1, f"{len(found)} requests end with {marker}"
        return found[0]


def _last_user_turn(request: RecordedRequest) -> str:
    """The text of the last user message (Messages API) or input item (Responses API)."""
    items = request.body.get("messages") or request.body.get("input") or []
    users = [item for item in items if isinstance(item, dict) and item.get("role") == "user"]
    return json.dumps(users[-1]) if users else ""


def write_codex_config(codex_home: Path, model_url: str) -> Path:
    """``$CODEX_HOME/config.toml`` pointing codex at the fake model server at ``model_url``."""
    codex_home.mkdir(parents=True, exist_ok=True)
    path = codex_home / "config.toml"
    path.write_text(
        'model_provider = "fake"\nmodel = "gpt-5"\n\n[model_providers.fake]\nname = "fake"\n'
        f'base_url = "{model_url}/v1"\nenv_key = "OPENAI_API_KEY"\nwire_api = "responses"\n'
        "supports_websockets = false\n"
    )
    return path


@pytest.fixture
def sandbox(tmp_path: Path, agent_bin: Path, model_server: FakeModelServer) -> Iterator[Sandbox]:
    home = tmp_path / "home"
    codex_home = home / ".codex"
    codex_home.mkdir(parents=True)
    write_codex_config(codex_home, model_server.url)
    env = {name: os.environ[name] for name in _KEEP if name in os.environ}
    env.update(
        PATH=f"{agent_bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}",
        HOME=str(home),
        CLAUDE_CONFIG_DIR=str(home / ".claude"),
        CODEX_HOME=str(codex_home),
        ANTHROPIC_BASE_URL=model_server.url,
        ANTHROPIC_API_KEY="sk-ant-fake",
        CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
        OPENAI_API_KEY="sk-fake",
        SESSMAP_HOME=str(tmp_path / "sessmap"),
        SESSMAP_STORE=f"sqlite:{tmp_path / 'sessions.db'}",
    )
    sandbox = Sandbox(tmp_path, env, model_server)
    yield sandbox
    sandbox.reap()
