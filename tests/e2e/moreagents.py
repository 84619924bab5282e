"""The real qwen, copilot and opencode CLIs (versions: agents.toml), each pointed at the fake
model server with a throwaway home: qwen and opencode speak Chat Completions (fake_chat.py),
copilot Anthropic Messages through its bring-your-own-key provider.

``more_sandbox`` is realagents' ``Sandbox`` for the test's ``agent``, with that agent's
variables and config added and its command line in ``command``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fakemodel import FakeModelServer
from realagents import Sandbox

MORE_AGENTS = ("qwen", "copilot", "opencode")


@dataclass
class AgentSandbox(Sandbox):
    agent: str = ""

    def command(self, agent: str, message: str) -> list[str]:
        if agent == "qwen":
            # JSON output: it names the session, which is how a fork's id is learnt.
            return ["qwen", "--auth-type", "openai", "-o", "json", "-p", message]
        if agent == "copilot":
            return ["copilot", "-p", message, "--allow-all-tools"]
        if agent == "opencode":
            # A given title: no title request to the model, so one request per turn.
            return ["opencode", "run", "--format", "json", "--title", "t", message]
        return super().command(agent, message)


def agent_env(agent: str, server: FakeModelServer, root: Path) -> dict[str, str]:
    """What points ``agent`` at ``server`` with no login and no other network."""
    if agent == "qwen":
        # No background memory extraction: one model request per turn.
        settings = root / "home" / ".qwen" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"memory": {"enableManagedAutoMemory": False}}))
        return {
            "OPENAI_BASE_URL": f"{server.url}/v1",
            "OPENAI_API_KEY": "sk-fake",
            "OPENAI_MODEL": "fake-model",
        }
    if agent == "copilot":
        return {
            "COPILOT_PROVIDER_BASE_URL": server.url,
            "COPILOT_PROVIDER_TYPE": "anthropic",
            "COPILOT_PROVIDER_API_KEY": "sk-ant-fake",
            "COPILOT_MODEL": "claude-sonnet-4-5",
        }
    if agent == "opencode":
        config = root / "opencode.json"
        provider = {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Fake",
            "options": {"baseURL": f"{server.url}/v1", "apiKey": "sk-fake"},
            "models": {"fake-model": {"name": "Fake"}},
        }
        config.write_text(json.dumps({"model": "fake/fake-model", "provider": {"fake": provider}}))
        quiet = ("MODELS_FETCH", "AUTOUPDATE", "DEFAULT_PLUGINS", "LSP_DOWNLOAD", "SHARE")
        return {"OPENCODE_CONFIG": str(config), **{f"OPENCODE_DISABLE_{name}": "1" for name in quiet}}
    raise ValueError(f"no fake-server setup for {agent}")


@pytest.fixture(scope="module")
def shared_server() -> Iterator[FakeModelServer]:
    """One fake server for a module's tests: markers are unique, so tests never mix."""
    server = FakeModelServer().start()
    yield server
    server.stop()


@pytest.fixture
def more_sandbox(sandbox: Sandbox, agent: str) -> AgentSandbox:
    env = {**sandbox.env, **agent_env(agent, sandbox.server, sandbox.root)}
    return AgentSandbox(sandbox.root, env, sandbox.server, sandbox.started, agent)
