"""A Python bot on the Claude Agent SDK keeping its sessions in a sessmap store
(``sessmap.sdk.ClaudeSessionStore``), and ``sessmap exec`` continuing them, both ways (SPEC §7).

The bot runs the SDK's ``query`` in this process; the SDK runs its own bundled claude CLI. The
``exec`` side runs the claude CLI of agents.toml. Every "host" is a CLAUDE_CONFIG_DIR
of its own that starts empty, so a later turn can only know an earlier one through the store.
What each turn sent to the fake model proves which conversation it continued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import claude_agent_sdk
import pytest
from claude_agent_sdk import (
    ClaudeAgentOptions,
    MirrorErrorMessage,
    ResultMessage,
    list_sessions_from_store,
    query,
)
from realagents import Sandbox
from tests.support.backends import backend_params, store_url_in
from tests.support.cli import run_sessmap

from sessmap.sdk import ClaudeSessionStore
from sessmap.sdk_keys import project_key_for
from sessmap.stores import Store, open_store
from sessmap.stores.base import TranscriptKey

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.agents("claude")]

TURN_TIMEOUT = 180.0


def marker(name: str) -> str:
    """A word no other marker, prompt, path or id contains."""
    return f"{name}{uuid.uuid4().hex[:12]}zq"


@dataclass
class World:
    """A sandbox whose sessmap store keeps transcripts, the bot's handle on that store, and
    the project folder both the bot and ``exec`` work in."""

    sandbox: Sandbox
    store: Store
    work: Path
    hosts: Iterator[int]

    def host(self) -> Path:
        """A new host: an empty claude config dir (and nothing else of a previous one)."""
        path = self.sandbox.root / "hosts" / f"host{next(self.hosts)}"
        path.mkdir(parents=True)
        return path

    def env_on(self, host: Path) -> dict[str, str]:
        return {**self.sandbox.env, "CLAUDE_CONFIG_DIR": str(host)}

    def bot_turn(self, prompt: str, host: Path, resume: str | None = None) -> str:
        """One turn of the SDK bot on ``host``; its session id."""

        async def run() -> str:
            options = ClaudeAgentOptions(
                session_store=ClaudeSessionStore(self.store),
                cwd=str(self.work),
                env=self.env_on(host),
                resume=resume,
            )
            results: list[ResultMessage] = []
            async for message in query(prompt=prompt, options=options):
                assert not isinstance(message, MirrorErrorMessage), message.error
                if isinstance(message, ResultMessage):
                    results.append(message)
            assert len(results) == 1 and not results[0].is_error, results
            return results[0].session_id

        return asyncio.run(asyncio.wait_for(run(), TURN_TIMEOUT))

    def exec_turn(self, key: str, prompt: str, host: Path) -> subprocess.CompletedProcess[str]:
        """``sessmap exec KEY -- claude -p PROMPT`` on ``host``; must succeed."""
        command = self.sandbox.command("claude", prompt)
        result = run_sessmap(
            "exec", key, "--", *command, cwd=self.work, base_env=self.env_on(host), timeout=TURN_TIMEOUT
        )
        assert result.returncode == 0, result.stderr
        return result

    def sessmap(self, *args: str) -> str:
        result = self.sandbox.sessmap(*args)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def stored_lines(self, session_id: str) -> int:
        info = self.store.transcripts.info(TranscriptKey(project_key_for(self.work), session_id))
        return 0 if info is None else info.lines


@pytest.fixture
def bot_environment(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """The SDK starts its CLI with this process's environment under ``options.env``: make it
    the sandbox's, so no real endpoint, key, setting or home reaches it."""
    for name in list(os.environ):
        if name not in sandbox.env:
            monkeypatch.delenv(name)
    for name, value in sandbox.env.items():
        monkeypatch.setenv(name, value)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(sandbox.root / "home" / name.lower()))


@pytest.fixture(params=backend_params(["sqlite", "postgres"], ids={"sqlite": "sqlite-transcripts-store"}))
def world(
    request: pytest.FixtureRequest, sandbox: Sandbox, bot_environment: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            # Server stores keep transcripts by default: no config needed.
            sandbox.env["SESSMAP_STORE"] = stack.enter_context(
                store_url_in("postgres", sandbox.dir("postgres"))
            )
            monkeypatch.setenv("SESSMAP_STORE", sandbox.env["SESSMAP_STORE"])
        else:
            done = sandbox.sessmap("config", "set", "transcripts", "store")
            assert done.returncode == 0, done.stderr
        store = stack.enter_context(open_store(sandbox.env["SESSMAP_STORE"]))
        yield World(sandbox, store, sandbox.dir("work"), iter(range(1, 100)))


def test_the_bot_resumes_its_session_from_the_store_on_another_host(world: World) -> None:
    one, two = marker("one"), marker("two")
    first_host = world.host()
    session = world.bot_turn(f"remember {one}", first_host)
    assert world.stored_lines(session) > 0, "the SDK mirrored nothing into the sessmap store"
    (info,) = asyncio.run(
        list_sessions_from_store(ClaudeSessionStore(world.store), directory=str(world.work))
    )
    assert info.session_id == session and one in (info.first_prompt or "")
    # The first host is gone: only the store knows turn 1 now.
    shutil.rmtree(first_host)
    assert world.bot_turn(f"and {two}", world.host(), resume=session) == session
    assert one in world.sandbox.request_with(two).text


def test_sessmap_exec_continues_what_the_bot_wrote_and_the_bot_sees_it(world: World) -> None:
    by_bot, by_exec, bot_again = marker("bybot"), marker("byexec"), marker("botagain")
    session = world.bot_turn(f"remember {by_bot}", world.host())
    bot_lines = world.stored_lines(session)
    assert bot_lines > 0, "the SDK mirrored nothing into the sessmap store"
    world.sessmap("create", "chat:sdk:1", "--session-id", session, "--cwd", str(world.work))
    world.exec_turn("chat:sdk:1", f"go on {by_exec}", world.host())  # a fresh host: restored
    assert by_bot in world.sandbox.request_with(by_exec).text
    mapping = world.sandbox.mapping("chat:sdk:1")
    assert mapping.session_id == session and mapping.turns == 1 and mapping.last_exit == 0
    assert world.stored_lines(session) > bot_lines, "exec appended nothing to the store"
    # And back: the bot, on yet another host, sees the turn sessmap exec added.
    assert world.bot_turn(f"finally {bot_again}", world.host(), resume=session) == session
    history = world.sandbox.request_with(bot_again).text
    assert by_bot in history and by_exec in history


def test_the_bot_continues_a_thread_sessmap_exec_started_and_exec_sees_it(world: World) -> None:
    by_exec, by_bot, exec_again = marker("byexec"), marker("bybot"), marker("execagain")
    exec_host = world.host()
    world.exec_turn("chat:cli:1", f"remember {by_exec}", exec_host)
    session = world.sandbox.mapping("chat:cli:1").session_id
    assert session
    exec_lines = world.stored_lines(session)
    assert exec_lines > 0, (
        f"sessmap exec uploaded no transcript under {project_key_for(world.work)!r}/{session}; "
        f"stored: {sorted(world.store.transcripts.stored())}"
    )
    assert world.bot_turn(f"go on {by_bot}", world.host(), resume=session) == session
    assert by_exec in world.sandbox.request_with(by_bot).text
    assert world.stored_lines(session) > exec_lines
    # Back on the host that started the thread: its local transcript lacks the bot's turn,
    # so exec restores the longer stored copy before claude resumes.
    world.exec_turn("chat:cli:1", f"and {exec_again}", exec_host)
    history = world.sandbox.request_with(exec_again).text
    assert by_exec in history and by_bot in history
    assert world.sandbox.mapping("chat:cli:1").turns == 2


def test_the_bot_and_exec_on_one_host_keep_one_clean_copy(world: World) -> None:
    """The SDK mirrors a subset of claude's lines, re-serialised (``type`` first), so the
    bot's host holds a local transcript that is no byte prefix of the stored copy, nor the
    stored copy of it. ``exec`` there must neither lose the bot's turn nor store a line twice."""
    by_bot, by_exec, bot_again = marker("bybot"), marker("byexec"), marker("botagain")
    host = world.host()
    session = world.bot_turn(f"remember {by_bot}", host)
    world.sessmap("create", "chat:same:1", "--session-id", session, "--cwd", str(world.work))
    world.exec_turn("chat:same:1", f"go on {by_exec}", host)
    assert by_bot in world.sandbox.request_with(by_exec).text
    assert world.bot_turn(f"finally {bot_again}", world.host(), resume=session) == session
    history = world.sandbox.request_with(bot_again).text
    assert by_bot in history and by_exec in history
    key = TranscriptKey(project_key_for(world.work), session)
    uuids = [entry["uuid"] for entry in map(json.loads, world.store.transcripts.read(key)) if "uuid" in entry]
    assert len(uuids) == len(set(uuids)), "the store holds some transcript entries twice"


BUNDLED_CLAUDE = Path(claude_agent_sdk.__file__).parent / "_bundled" / "claude"


@pytest.mark.parametrize("cli", ["pinned", "bundled"])
def test_project_keys_are_the_folders_claude_makes(sandbox: Sandbox, cli: str) -> None:
    """project_key_for(cwd) is the folder the real CLIs (the pinned one ``exec`` runs, and the
    SDK's bundled one) write the transcript to: where exec restores it, and the key the SDK's
    mirror stores it under."""
    claude = shutil.which("claude", path=sandbox.env["PATH"]) if cli == "pinned" else str(BUNDLED_CLAUDE)
    assert claude is not None
    directories = {
        "short": sandbox.root / "dirs" / "my.app",
        "long": sandbox.root / "dirs" / ("x" * 120) / ("y" * 120),
        "accents": sandbox.root / "dirs" / "żółw café",
        "emoji": sandbox.root / "dirs" / "crab 🦀",
        "emoji-long": sandbox.root / "dirs" / ("🦀" * 30) / ("z" * 150),
    }
    for name, work in directories.items():
        work.mkdir(parents=True)
        config = sandbox.dir(f"config-{name}")
        done = subprocess.run(
            [claude, "-p", "hello"],
            cwd=work,
            env={**sandbox.env, "CLAUDE_CONFIG_DIR": str(config)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TURN_TIMEOUT,
        )
        assert done.returncode == 0, done.stderr
        folders = [path.name for path in (config / "projects").iterdir()]
        assert folders == [project_key_for(work)], name
