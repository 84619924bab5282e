"""What the hot commands load at start-up, read from ``python -X importtime`` of the installed
``sessmap`` command, as users run it.

``sessmap get`` and ``sessmap exec`` answer on the fast path (``sessmap.cli.fast``): no Typer
(nor the Click and pydantic it brings), no Rich, no server drivers, no provider but the one the
command runs, no lock library for a read.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from tests.fakeagent.harness import install_fake_agent
from tests.support import SESSMAP

from sessmap.model import Mapping, now
from sessmap.providers import BUILTIN_PROVIDERS
from sessmap.stores import open_store

KEY = "slack:C1:1700000000.000100"
SESSION_ID = "0199a2b1-7c3e-7d10-9f00-5a3b2c1d0e4f"

# Never on the fast path, whatever the command.
HEAVY = ("typer", "click", "pydantic", "rich", "psycopg", "redis", "sessmap.cli.app", "sessmap.cli.render")
# Each costs a cold start more than its lookup: dataclasses imports inspect, hashlib OpenSSL.
SLOW_TO_LOAD = ("dataclasses", "inspect", "_hashlib")
OTHER_STORES = ("sessmap.stores.jsonfile", "sessmap.stores.postgres", "sessmap.stores.redis")


def imported_modules(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> set[str]:
    """The modules ``sessmap ARGV…`` imports; the command must succeed."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(SESSMAP), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    lines = done.stderr.splitlines()
    messages = [line for line in lines if not line.startswith("import time:")]
    assert done.returncode == 0, (done.returncode, done.stdout, messages)
    names = {match.group(1) for line in lines if (match := re.match(r"import time:.*\|\s*(\S+)$", line))}
    assert "sessmap.cli.fast" in names  # the parse worked: this is really what ran
    return names


def loaded(names: set[str], *prefixes: str) -> list[str]:
    return sorted(name for name in names if name.split(".")[0] in prefixes or name.startswith(prefixes))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SESSMAP_", "PYTHONDONTWRITEBYTECODE"))
    }
    environment["SESSMAP_HOME"] = str(tmp_path / "home")
    return environment


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:{tmp_path / 'sessions.db'}"
    stamp = now()
    with open_store(url) as store:
        store.insert(
            Mapping(key=KEY, provider="claude", session_id=SESSION_ID, created_at=stamp, updated_at=stamp)
        )
    return url


def test_get_loads_no_typer_rich_driver_provider_or_lock(env: dict[str, str], store_url: str) -> None:
    names = imported_modules(["--store", store_url, "get", KEY], env)
    assert loaded(names, *HEAVY) == []
    assert loaded(names, *OTHER_STORES) == []
    assert loaded(names, "sessmap.providers") == []
    assert loaded(names, "filelock", "platformdirs", "tomllib", "uuid", "tempfile") == []
    assert loaded(names, *SLOW_TO_LOAD, "sessmap.stores.file_queue", "threading") == []
    assert "sessmap.stores.sqlite" in names


def test_get_without_sessmap_home_needs_no_platformdirs_when_the_store_is_given(
    env: dict[str, str], store_url: str, tmp_path: Path
) -> None:
    del env["SESSMAP_HOME"]
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg-config"), XDG_DATA_HOME=str(tmp_path / "xdg-data"))
    assert loaded(imported_modules(["--store", store_url, "get", KEY], env), "platformdirs") == []


def test_get_through_the_config_reads_it_without_typer(
    env: dict[str, str], store_url: str, tmp_path: Path
) -> None:
    home = Path(env["SESSMAP_HOME"])
    home.mkdir()
    (home / "config.toml").write_text(f'store = "{store_url}"\n')
    names = imported_modules(["get", "-a", "default", KEY], env)
    assert "tomllib" in names
    assert loaded(names, *HEAVY) == []


@pytest.mark.parametrize("agent, other", [("claude", "codex"), ("codex", "claude")])
@pytest.mark.slow
def test_exec_loads_only_its_own_provider(
    env: dict[str, str], store_url: str, tmp_path: Path, agent: str, other: str
) -> None:
    bin_dir = tmp_path / "bin"
    install_fake_agent(bin_dir, agent)
    work = tmp_path / "work"
    work.mkdir()
    env.update(
        PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}",
        HOME=str(tmp_path),
        CLAUDE_CONFIG_DIR=str(tmp_path / ".claude"),
        CODEX_HOME=str(tmp_path / ".codex"),
    )
    command = [agent, "-p", "hi"] if agent == "claude" else [agent, "exec", "--json", "hi"]
    names = imported_modules(["--store", store_url, "exec", "new:thread", "--", *command], env, cwd=work)
    assert f"sessmap.providers.{agent}" in names
    others = [f"sessmap.providers.{name}" for name in BUILTIN_PROVIDERS if name != agent]
    assert loaded(names, *others, "sessmap.providers.template", "sessmap.transcripts.locate_agents") == []
    assert loaded(names, *HEAVY) == []
    assert loaded(names, *OTHER_STORES) == []
    assert loaded(names, "filelock", "platformdirs") == []
    assert loaded(names, *SLOW_TO_LOAD) == []


# What each prints that sessmap reads (a fork's or a new session's id): enough to run once.
_TINY_AGENTS = {
    "qwen": ["qwen", "-o", "json", "-p", "hi"],
    "copilot": ["copilot", "-p", "hi"],
    "opencode": ["opencode", "run", "--format", "json", "hi"],
}


@pytest.mark.parametrize("agent", sorted(_TINY_AGENTS))
def test_exec_of_qwen_copilot_or_opencode_loads_no_other_provider(
    env: dict[str, str], store_url: str, tmp_path: Path, agent: str
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    program = bin_dir / agent
    program.write_text('#!/bin/sh\necho \'{"sessionID":"ses_abc123"}\'\n')
    program.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', os.defpath)}", HOME=str(tmp_path))
    names = imported_modules(
        ["--store", store_url, "exec", "new:thread", "--", *_TINY_AGENTS[agent]], env, cwd=work
    )
    assert f"sessmap.providers.{agent}" in names
    others = [f"sessmap.providers.{name}" for name in BUILTIN_PROVIDERS if name != agent]
    assert loaded(names, *others, "sessmap.providers.template") == []
    assert loaded(names, *HEAVY) == []
    assert loaded(names, *OTHER_STORES) == []
    assert loaded(names, *SLOW_TO_LOAD) == []
