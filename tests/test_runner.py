"""``sessmap exec`` against fake agents: sessions, pass-through, signals, locking, bookkeeping.

The fake ``claude`` and ``codex`` (tests/fakeagent) keep session files the way the real CLIs
do; the end-to-end tests with the real CLIs are in tests/e2e.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.fakeagent.harness import FakeAgents, install_fake_agent, wait_for
from tests.support.cli import SESSMAP, sessmap_argv

from sessmap.config import parse_config
from sessmap.errors import Busy, Conflict, InvalidInput, StaleSession
from sessmap.model import Mapping, Parent, now
from sessmap.runner import AgentNotFound, ExecRequest, plan_exec, run_exec
from sessmap.stores import open_store

pytestmark = pytest.mark.usefixtures("needs_sessmap")  # skips, or fails under CI, without it


@pytest.fixture
def agents(tmp_path: Path) -> FakeAgents:
    return FakeAgents.create(tmp_path / "sandbox")


def library_run(agents: FakeAgents, key: str, *command: str, **options: object) -> object:
    request = ExecRequest(key=key, command=command, env=agents.env, capture_output=True, **options)  # type: ignore[arg-type]
    with open_store(agents.store_url) as store:
        return run_exec(request, store)


# -- sessions ------------------------------------------------------------------------------


@pytest.mark.slow
def test_claude_thread_starts_with_a_chosen_id_then_resumes_it(agents: FakeAgents) -> None:
    first = agents.sessmap("exec", "t1", "--", "claude", "-p", "one")
    assert first.returncode == 0, first.stderr
    mapping = agents.mapping("t1")
    assert mapping is not None and mapping.state == "active" and mapping.provider == "claude"
    assert agents.sessmap("exec", "t1", "--", "claude", "-p", "two").returncode == 0
    runs = agents.turns()
    assert runs[0]["argv"] == ["--session-id", mapping.session_id, "-p", "one"]
    assert runs[1]["argv"] == ["--resume", mapping.session_id, "-p", "two"]
    assert runs[1]["history"] == ["one"]


@pytest.mark.slow
def test_threads_are_isolated(agents: FakeAgents) -> None:
    agents.sessmap("exec", "a", "--", "claude", "-p", "for a")
    agents.sessmap("exec", "b", "--", "claude", "-p", "for b")
    agents.sessmap("exec", "b", "--", "claude", "-p", "b again")
    assert agents.turns()[-1]["history"] == ["for b"]
    a, b = agents.mapping("a"), agents.mapping("b")
    assert a and b and a.session_id != b.session_id


@pytest.mark.slow
def test_agents_hold_separate_sessions_for_one_thread(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    agents.sessmap("exec", "t", "-a", "reviewer", "--", "claude", "-p", "y")
    default, reviewer = agents.mapping("t"), agents.mapping("t", "reviewer")
    assert default and reviewer and default.session_id != reviewer.session_id


@pytest.mark.slow
def test_codex_id_is_captured_from_thread_started(agents: FakeAgents) -> None:
    result = agents.sessmap("exec", "c", "--", "codex", "exec", "--json", "one")
    assert result.returncode == 0, result.stderr
    mapping = agents.mapping("c")
    assert mapping and mapping.state == "active"
    assert json.loads(result.stdout.splitlines()[0])["thread_id"] == mapping.session_id
    agents.sessmap("exec", "c", "--", "codex", "exec", "--json", "two")
    last = agents.turns()[-1]
    assert last["argv"] == ["exec", "--json", "resume", mapping.session_id, "two"]
    assert last["history"] == ["one"]


def test_codex_id_is_captured_from_the_session_id_line(agents: FakeAgents) -> None:
    assert agents.sessmap("exec", "c", "--", "codex", "exec", "one").returncode == 0
    mapping = agents.mapping("c")
    assert mapping and mapping.session_id == agents.turns()[0]["session_id"]


@pytest.mark.slow
def test_codex_id_is_captured_from_the_new_rollout_file(agents: FakeAgents) -> None:
    agents.sessmap("exec", "old", "--", "codex", "exec", "--json", "older session")
    result = agents.sessmap("exec", "c", "--", "codex", "exec", "one", env={"FAKEAGENT_QUIET_ID": "1"})
    assert result.returncode == 0, result.stderr
    mapping = agents.mapping("c")
    assert mapping and mapping.state == "active" and mapping.session_id == agents.turns()[-1]["session_id"]


def test_codex_without_any_id_stays_pending_and_says_so(agents: FakeAgents) -> None:
    result = agents.sessmap(
        "exec", "c", "--", "codex", "exec", "--ephemeral", "x", env={"FAKEAGENT_QUIET_ID": "1"}
    )
    assert result.returncode == 0
    assert b"could not learn the id" in result.stderr
    mapping = agents.mapping("c")
    assert mapping and mapping.state == "pending" and mapping.session_id is None and mapping.turns == 1


@pytest.mark.slow
def test_claude_fork_copies_the_parent_under_a_new_id_and_leaves_it_alone(agents: FakeAgents) -> None:
    agents.sessmap("exec", "parent", "--", "claude", "-p", "p1")
    assert agents.sessmap("fork", "parent", "child").returncode == 0
    result = agents.sessmap("exec", "child", "--", "claude", "-p", "c1")
    assert result.returncode == 0, result.stderr
    parent, child = agents.mapping("parent"), agents.mapping("child")
    assert parent and child and child.state == "active" and child.session_id != parent.session_id
    fork_run = agents.turns()[-1]
    assert fork_run["argv"][:5] == [
        "--resume",
        parent.session_id,
        "--fork-session",
        "--session-id",
        child.session_id,
    ]
    assert fork_run["history"] == ["p1"]
    agents.sessmap("exec", "parent", "--", "claude", "-p", "p2")
    assert agents.turns()[-1]["history"] == ["p1"]  # the fork's turn is not in the parent
    agents.sessmap("exec", "child", "--", "claude", "-p", "c2")
    assert agents.turns()[-1]["history"] == ["p1", "c1"]


@pytest.mark.slow
def test_codex_fork_captures_the_new_id(agents: FakeAgents) -> None:
    agents.sessmap("exec", "parent", "--", "codex", "exec", "--json", "p1")
    agents.sessmap("fork", "parent", "child")
    assert agents.sessmap("exec", "child", "--", "codex", "exec", "--json", "c1").returncode == 0
    parent, child = agents.mapping("parent"), agents.mapping("child")
    assert parent and child and child.state == "active" and child.session_id not in (None, parent.session_id)
    assert agents.turns()[-1]["argv"] == ["exec", "--json", "fork", parent.session_id, "c1"]


@pytest.mark.slow
def test_a_mapping_made_by_create_starts_with_its_own_id(agents: FakeAgents) -> None:
    created = agents.sessmap("create", "t", "--provider", "claude")
    session_id = created.stdout.decode().strip()
    assert agents.sessmap("exec", "t", "--", "claude", "-p", "x").returncode == 0
    assert agents.turns()[0]["argv"][:2] == ["--session-id", session_id]


@pytest.mark.slow
def test_new_replaces_the_mapping_but_keeps_its_labels(agents: FakeAgents) -> None:
    agents.sessmap("create", "t", "--provider", "claude", "--label", "team=infra")
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    old = agents.mapping("t")
    assert agents.sessmap("exec", "t", "--new", "--", "claude", "-p", "y").returncode == 0
    new = agents.mapping("t")
    assert old and new and new.session_id != old.session_id
    assert new.turns == 1 and dict(new.labels) == {"team": "infra"}
    assert agents.turns()[-1]["history"] == []


@pytest.mark.slow
def test_pending_codex_mapping_starts_a_new_session(agents: FakeAgents) -> None:
    agents.sessmap("create", "c", "--provider", "codex")
    assert agents.sessmap("exec", "c", "--", "codex", "exec", "--json", "x").returncode == 0
    assert agents.turns()[0]["argv"] == ["exec", "--json", "x"]
    mapping = agents.mapping("c")
    assert mapping and mapping.state == "active"


# -- stale sessions ------------------------------------------------------------------------


def test_missing_transcript_starts_fresh_in_the_same_run(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "one")
    old = agents.mapping("t")
    assert old and old.session_id
    agents.claude_transcript(old.session_id).unlink()
    result = agents.sessmap("exec", "t", "--", "claude", "-p", "two")
    assert result.returncode == 0
    assert b"can no longer be resumed" in result.stderr and b"starting a new session" in result.stderr
    new = agents.mapping("t")
    assert new and new.session_id != old.session_id and new.turns == 2
    assert agents.turns()[-1]["argv"][:2] == ["--session-id", new.session_id]


def test_missing_transcript_with_on_stale_fail_exits_125_and_keeps_the_mapping(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "one")
    old = agents.mapping("t")
    assert old and old.session_id
    agents.claude_transcript(old.session_id).unlink()
    result = agents.sessmap("exec", "t", "--on-stale", "fail", "--", "claude", "-p", "two")
    assert result.returncode == 125
    assert result.stderr.decode().count("\n") == 1 and b"sessmap: error:" in result.stderr
    assert agents.mapping("t") == old
    assert len(agents.turns()) == 1


@pytest.mark.slow
def test_config_on_stale_fail(agents: FakeAgents) -> None:
    agents.sessmap("exec", "c", "--", "codex", "exec", "--json", "one")
    old = agents.mapping("c")
    assert old and old.session_id
    for rollout in Path(agents.env["CODEX_HOME"]).glob(f"sessions/*/*/*/*{old.session_id}.jsonl"):
        rollout.unlink()
    config = agents.root / "config.toml"
    config.write_text('on_stale = "fail"\n')
    result = agents.sessmap("--config", str(config), "exec", "c", "--", "codex", "exec", "--json", "two")
    assert result.returncode == 125
    assert agents.mapping("c") == old


def test_agent_saying_no_conversation_starts_fresh(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "one")
    old = agents.mapping("t")
    assert old and old.session_id
    # The transcript is found, but not where this directory's sessions are: claude refuses it.
    transcript = agents.claude_transcript(old.session_id)
    other = transcript.parent.parent / "-some-other-project"
    other.mkdir()
    transcript.rename(other / transcript.name)
    result = agents.sessmap("exec", "t", "--", "claude", "-p", "two")
    assert result.returncode == 0, result.stderr
    assert b"No conversation found" in result.stderr  # the agent's own words still reach the user
    assert b"starting a new session" in result.stderr
    new = agents.mapping("t")
    assert new and new.session_id != old.session_id and new.turns == 2
    assert [run["argv"][0] for run in agents.turns()] == ["--session-id", "--session-id"]


@pytest.mark.slow
def test_agent_saying_no_conversation_with_on_stale_fail(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "one")
    old = agents.mapping("t")
    assert old and old.session_id
    transcript = agents.claude_transcript(old.session_id)
    (transcript.parent.parent / "-x").mkdir()
    transcript.rename(transcript.parent.parent / "-x" / transcript.name)
    result = agents.sessmap("exec", "t", "--on-stale", "fail", "--", "claude", "-p", "two")
    assert result.returncode == 125
    after = agents.mapping("t")
    # Left as it was, but for the record of the run's start (SPEC §1: last_used_at is the start).
    assert after and after.generation == old.generation + 1
    assert after.evolve(generation=old.generation, last_used_at=old.last_used_at) == old


@pytest.mark.slow
def test_fork_of_a_gone_parent_starts_fresh(agents: FakeAgents) -> None:
    agents.sessmap("exec", "parent", "--", "claude", "-p", "p1")
    agents.sessmap("fork", "parent", "child")
    parent = agents.mapping("parent")
    assert parent and parent.session_id
    agents.claude_transcript(parent.session_id).unlink()
    result = agents.sessmap("exec", "child", "--", "claude", "-p", "c1")
    assert result.returncode == 0 and b"forked from is gone" in result.stderr
    child = agents.mapping("child")
    assert child and child.state == "active" and agents.turns()[-1]["argv"][0] == "--session-id"


# -- command line and dry run --------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["claude", "--resume", "x"],
        ["claude", "-c"],
        ["claude", "--session-id", "x"],
        ["codex", "exec", "resume", "x"],
    ],
)
def test_commands_with_session_flags_are_usage_errors(agents: FakeAgents, command: list[str]) -> None:
    result = agents.sessmap("exec", "t", "--", *command)
    assert result.returncode == 125
    assert result.stderr.decode().count("\n") == 1
    assert agents.mapping("t") is None and agents.turns() == []


@pytest.mark.slow
def test_dry_run_prints_the_argv_and_changes_nothing(agents: FakeAgents) -> None:
    result = agents.sessmap("exec", "t", "--dry-run", "--", "claude", "-p", "x")
    assert result.returncode == 0
    argv = json.loads(result.stdout)
    assert argv[0] == "claude" and argv[1] == "--session-id" and argv[3:] == ["-p", "x"]
    assert agents.mapping("t") is None and agents.turns() == []
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    mapping = agents.mapping("t")
    result = agents.sessmap("exec", "t", "--dry-run", "--", "claude", "-p", "y")
    assert json.loads(result.stdout) == ["claude", "--resume", mapping and mapping.session_id, "-p", "y"]
    assert agents.mapping("t") == mapping


@pytest.mark.slow
def test_provider_comes_from_the_option_then_the_profile(agents: FakeAgents) -> None:
    install_fake_agent(agents.root / "bin", "my-claude")
    assert agents.sessmap("exec", "t", "--", "my-claude", "-p", "x").returncode == 125  # cannot tell
    assert agents.sessmap("exec", "t", "--provider", "claude", "--", "my-claude", "-p", "x").returncode == 0
    config = agents.root / "config.toml"
    config.write_text('[agents.rev]\nprovider = "claude"\nargs = ["--model", "sonnet"]\n')
    result = agents.sessmap("--config", str(config), "exec", "t", "-a", "rev", "--", "my-claude", "-p", "x")
    assert result.returncode == 0, result.stderr
    assert agents.turns()[-1]["argv"][2:] == ["--model", "sonnet", "-p", "x"]


@pytest.mark.slow
def test_another_provider_on_a_mapped_thread_is_a_conflict(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    assert agents.sessmap("exec", "t", "--", "codex", "exec", "x").returncode == 125
    assert agents.sessmap("exec", "t", "--new", "--", "codex", "exec", "x").returncode == 0


@pytest.mark.slow
def test_template_provider_from_the_config(agents: FakeAgents) -> None:
    # The fake claude, driven through a config template as an unknown CLI would be.
    install_fake_agent(agents.root / "bin", "gem")
    config = agents.root / "config.toml"
    config.write_text(
        "[providers.gem]\n"
        'new = ["--session-id", "{session_id}"]\n'
        'resume = ["--resume", "{session_id}"]\n'
        'fork = ["--resume", "{parent_id}", "--fork-session", "--session-id", "{session_id}"]\n'
        "stale = 'No conversation found'\n"
    )
    run = ["--config", str(config), "exec", "t", "--provider", "gem", "--"]
    assert agents.sessmap(*run, "gem", "-p", "one").returncode == 0
    mapping = agents.mapping("t")
    assert mapping and mapping.provider == "gem" and mapping.state == "active"
    assert agents.sessmap(*run, "gem", "-p", "two").returncode == 0
    assert agents.turns()[-1]["argv"][:2] == ["--resume", mapping.session_id]
    assert agents.sessmap(*run, "gem", "--resume", "x").returncode == 125
    # Stale: only the output can tell (templates have no transcript path).
    assert mapping.session_id
    agents.claude_transcript(mapping.session_id).unlink()
    result = agents.sessmap(*run, "gem", "-p", "three")
    assert result.returncode == 0 and b"starting a new session" in result.stderr


# -- running: exit status, pass-through, signals ---------------------------------------------


def test_exit_status_is_the_agents_and_is_recorded(agents: FakeAgents) -> None:
    assert agents.sessmap("exec", "t", "--", "claude", "-p", "x", env={"FAKEAGENT_EXIT": "3"}).returncode == 3
    mapping = agents.mapping("t")
    assert mapping and mapping.last_exit == 3 and mapping.turns == 1 and mapping.state == "active"


def test_command_not_found_is_127_and_records_nothing(agents: FakeAgents) -> None:
    result = agents.sessmap("exec", "t", "--provider", "claude", "--", "no-such-agent-xyz", "-p", "x")
    assert result.returncode == 127
    assert b"not found" in result.stderr
    assert agents.mapping("t") is None


def test_command_not_executable_is_126(agents: FakeAgents) -> None:
    script = agents.work / "claude"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    assert agents.sessmap("exec", "t", "--", "./claude", "-p", "x").returncode == 126
    assert agents.mapping("t") is None


@pytest.mark.slow
def test_stdin_and_stdout_pass_through_byte_for_byte(agents: FakeAgents) -> None:
    payload = bytes(range(256)) * 4000 + b"\x00no newline at the end"
    result = agents.sessmap("exec", "t", "--", "claude", "-p", "x", input=payload, env={"FAKEAGENT_CAT": "1"})
    assert result.returncode == 0 and result.stdout == payload


@pytest.mark.slow
def test_teed_output_is_unchanged(agents: FakeAgents) -> None:
    # A new codex session: sessmap reads stdout and stderr for the id while passing them on.
    payload = bytes(range(256)) * 4000
    err = "résumé\r\npartial line without newline"
    result = agents.sessmap(
        "exec",
        "c",
        "--",
        "codex",
        "exec",
        "--json",
        "x",
        input=payload,
        env={"FAKEAGENT_CAT": "1", "FAKEAGENT_ERR": err},
    )
    assert result.returncode == 0
    mapping = agents.mapping("c")
    assert mapping and mapping.session_id
    started = json.dumps({"type": "thread.started", "thread_id": mapping.session_id}).encode() + b"\n"
    assert result.stdout == started + payload
    assert result.stderr == err.encode()


def test_teed_output_is_not_buffered(agents: FakeAgents) -> None:
    process = agents.start(
        "exec",
        "c",
        "--",
        "codex",
        "exec",
        "--json",
        "x",
        env={"FAKEAGENT_ERR": "early\n", "FAKEAGENT_SLEEP": "30"},
    )
    try:
        assert process.stderr is not None
        ready, _, _ = select.select([process.stderr], [], [], 20)
        assert ready, "stderr did not arrive while the agent was still running"
        assert os.read(process.stderr.fileno(), 100) == b"early\n"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


@pytest.mark.parametrize("number", [signal.SIGTERM, signal.SIGINT])
def test_signals_reach_the_agent_and_the_status_is_128_plus_n(agents: FakeAgents, number: int) -> None:
    ready = agents.root / "ready"
    process = agents.start(
        "exec",
        "t",
        "--",
        "claude",
        "-p",
        "x",
        env={"FAKEAGENT_SIGNALS": "1", "FAKEAGENT_SLEEP": "30", "FAKEAGENT_READY": str(ready)},
    )
    wait_for(ready.exists, what="the agent to start")
    process.send_signal(number)  # to sessmap alone, as `kill` or a supervisor would
    process.communicate(timeout=20)
    assert process.returncode == 128 + number
    assert number in [entry.get("signal") for entry in agents.runs()]
    mapping = agents.mapping("t")
    assert mapping and mapping.last_exit == 128 + number


# Makes the terminal given as stdin the controlling terminal of a new session, then runs argv.
_TAKE_TERMINAL = (
    "import os, sys; os.close(os.open(os.ttyname(0), os.O_RDWR)); os.execv(sys.argv[1], sys.argv[1:])"
)


@pytest.mark.slow
def test_ctrl_c_at_the_terminal_reaches_the_agent_and_sessmap_outlives_it(agents: FakeAgents) -> None:
    ready = agents.root / "ready"
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", _TAKE_TERMINAL, str(SESSMAP), "exec", "t", "--", "claude", "-p", "x"],
        cwd=agents.work,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env={
            **agents.env,
            "FAKEAGENT_SIGNALS": "count",
            "FAKEAGENT_SLEEP": "30",
            "FAKEAGENT_READY": str(ready),
        },
        start_new_session=True,
    )
    os.close(terminal)
    try:
        wait_for(ready.exists, what="the agent to start")
        time.sleep(0.2)
        os.write(controller, b"\x03")  # Ctrl-C: the terminal signals its foreground group
        assert process.wait(timeout=20) == 128 + signal.SIGINT
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    signals = [entry["signal"] for entry in agents.runs() if "signal" in entry]
    assert signals and set(signals) == {signal.SIGINT}


@pytest.mark.slow
def test_the_agent_sees_a_terminal_when_sessmap_runs_in_one(agents: FakeAgents) -> None:
    agents.sessmap("exec", "c", "--", "codex", "exec", "--json", "first")  # so the next one resumes
    for command in (
        ["claude", "-p", "x"],
        ["claude", "-p", "y"],
        ["codex", "exec", "z"],
        ["codex", "exec", "w"],
    ):
        key = "c" if command[0] == "codex" else "t"
        output = run_in_pty(agents, ["exec", key, "--", *command])
        assert output.returncode == 0, output.text
    assert [run["tty"] for run in agents.turns()[1:]] == [[True, True, True]] * 4
    mapping = agents.mapping("c")
    assert mapping and mapping.turns == 3 and mapping.session_id == agents.turns()[0]["session_id"]


class PtyResult:
    def __init__(self, returncode: int, text: str) -> None:
        self.returncode, self.text = returncode, text


def run_in_pty(agents: FakeAgents, args: list[str]) -> PtyResult:
    controller, terminal = os.openpty()
    process = subprocess.Popen(
        sessmap_argv(*args),
        cwd=agents.work,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=agents.env,
        start_new_session=True,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: every holder of the terminal has closed it
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return PtyResult(process.wait(timeout=30), b"".join(chunks).decode(errors="replace"))


@pytest.mark.slow
def test_cwd_is_recorded_on_first_use_and_used_from_anywhere(agents: FakeAgents) -> None:
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    agents.sessmap("exec", "t", "--", "claude", "-p", "y", cwd=agents.root / "elsewhere")
    assert [run["cwd"] for run in agents.turns()] == [str(agents.work.resolve())] * 2
    mapping = agents.mapping("t")
    assert mapping and mapping.cwd == str(agents.work.resolve())


@pytest.mark.slow
def test_cwd_option_on_first_use(agents: FakeAgents) -> None:
    target = agents.root / "elsewhere"
    agents.sessmap("exec", "t", "--cwd", str(target), "--", "claude", "-p", "x")
    agents.sessmap("exec", "t", "--", "claude", "-p", "y")
    assert [run["cwd"] for run in agents.turns()] == [str(target.resolve())] * 2
    assert agents.turns()[1]["argv"][0] == "--resume"
    other = agents.sessmap("exec", "t", "--cwd", str(agents.work), "--", "claude", "-p", "z")
    assert other.returncode == 125  # a conflict is sessmap's failure


# -- one run per thread --------------------------------------------------------------------


@pytest.mark.slow
def test_a_second_exec_waits_for_the_first(agents: FakeAgents) -> None:
    ready = agents.root / "ready"
    first = agents.start(
        "exec",
        "t",
        "--",
        "claude",
        "-p",
        "one",
        env={"FAKEAGENT_SLEEP": "1.5", "FAKEAGENT_READY": str(ready)},
    )
    wait_for(ready.exists, what="the first agent")
    second = agents.sessmap("exec", "t", "--", "claude", "-p", "two")
    first.communicate(timeout=30)
    assert first.returncode == 0 and second.returncode == 0
    one, two = agents.turns()
    assert two["at"] - one["at"] >= 1.4  # started only once the first had finished
    assert two["history"] == ["one"]


@pytest.mark.slow
def test_no_wait_on_a_busy_thread_exits_75(agents: FakeAgents) -> None:
    ready = agents.root / "ready"
    first = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "30", "FAKEAGENT_READY": str(ready)}
    )
    try:
        wait_for(ready.exists, what="the first agent")
        busy = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
        assert busy.returncode == 75 and busy.stderr.decode().count("\n") == 1
        started = time.monotonic()
        timed_out = agents.sessmap("exec", "t", "--wait-timeout", "1s", "--", "claude", "-p", "two")
        assert timed_out.returncode == 75 and 0.9 <= time.monotonic() - started < 15
        other = agents.sessmap("exec", "other", "--no-wait", "--", "claude", "-p", "x")
        assert other.returncode == 0  # only that thread is busy
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()


@pytest.mark.slow
def test_a_killed_holder_keeps_the_thread_until_its_agent_exits(agents: FakeAgents) -> None:
    """The agent inherits the thread's lock: a ``sessmap exec`` killed with -9 leaves an agent
    that still holds its thread, so no second run overlaps it; the moment it exits, the thread
    is free."""
    ready = agents.root / "ready"
    holder = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "3", "FAKEAGENT_READY": str(ready)}
    )
    wait_for(ready.exists, what="the agent")
    holder.kill()  # sessmap only; its agent lives on (and keeps sessmap's output pipes open)
    holder.wait()
    try:
        busy = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
        assert busy.returncode == 75, busy.stderr
        orphan = agents.turns()[-1]["pid"]
        wait_for(lambda: not Path(f"/proc/{orphan}").exists(), what="the orphaned agent to exit")
        result = agents.sessmap("exec", "t", "--no-wait", "--", "claude", "-p", "two")
        assert result.returncode == 0, result.stderr
        assert agents.turns()[-1]["history"] == ["one"]  # recorded before the start: not orphaned
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone with its agent, unless a check failed
            os.killpg(holder.pid, signal.SIGKILL)
        holder.communicate()


@pytest.mark.slow
def test_racing_execs_on_a_new_thread_share_one_session(agents: FakeAgents) -> None:
    processes = [
        agents.start("exec", "race", "--", "claude", "-p", f"turn {n}", env={"FAKEAGENT_SLEEP": "0.3"})
        for n in range(3)
    ]
    for process in processes:
        process.communicate(timeout=60)
        assert process.returncode == 0, process.stderr
    runs = agents.turns()
    assert len({run["session_id"] for run in runs}) == 1
    assert sorted(len(run["history"]) for run in runs) == [0, 1, 2]
    mapping = agents.mapping("race")
    assert mapping and mapping.turns == 3


@pytest.mark.slow
def test_waiting_is_bounded_by_the_config(agents: FakeAgents) -> None:
    config = agents.root / "config.toml"
    config.write_text('wait_timeout = "1s"\n')
    ready = agents.root / "ready"
    first = agents.start(
        "exec", "t", "--", "claude", "-p", "one", env={"FAKEAGENT_SLEEP": "30", "FAKEAGENT_READY": str(ready)}
    )
    try:
        wait_for(ready.exists, what="the first agent")
        assert (
            agents.sessmap("--config", str(config), "exec", "t", "--", "claude", "-p", "2").returncode == 75
        )
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.communicate()


# -- bookkeeping and the library -----------------------------------------------------------


@pytest.mark.slow
def test_bookkeeping_after_each_run(agents: FakeAgents) -> None:
    before = now()
    agents.sessmap("exec", "t", "--", "claude", "-p", "x")
    first = agents.mapping("t")
    assert first and first.turns == 1 and first.last_exit == 0
    assert first.last_used_at and before <= first.last_used_at <= first.updated_at
    assert first.created_at >= before
    agents.sessmap("exec", "t", "--", "claude", "-p", "y", env={"FAKEAGENT_EXIT": "5"})
    second = agents.mapping("t")
    assert second and second.turns == 2 and second.last_exit == 5 and second.created_at == first.created_at


@pytest.mark.slow
def test_library_run_captures_output(agents: FakeAgents) -> None:
    result = library_run(agents, "lib", "claude", "-p", "x", cwd=str(agents.work))
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert result.stdout == b"" and result.session_id  # type: ignore[attr-defined]
    result = library_run(agents, "lib", "codex", "exec", "x", new=True, cwd=str(agents.work))
    assert result.session_id == agents.turns()[-1]["session_id"]  # type: ignore[attr-defined]
    assert b"session id:" in result.stderr  # type: ignore[attr-defined]


def test_library_errors_are_typed(agents: FakeAgents) -> None:
    with open_store(agents.store_url) as store:
        with pytest.raises(InvalidInput):
            run_exec(ExecRequest(key="k", command=[]), store)
        with pytest.raises(AgentNotFound):
            run_exec(ExecRequest(key="k", command=["nope-xyz"], provider="claude", env=agents.env), store)
        store.insert(
            Mapping(
                key="gone",
                provider="claude",
                created_at=now(),
                updated_at=now(),
                session_id="a-b",
                turns=3,
                cwd=str(agents.work),
            )
        )
        with pytest.raises(StaleSession):
            run_exec(ExecRequest(key="gone", command=["claude"], on_stale="fail", env=agents.env), store)
        with pytest.raises(Conflict):
            run_exec(ExecRequest(key="gone", command=["codex", "exec"], env=agents.env), store)
        with store.thread_lock("default", "gone", None), pytest.raises(Busy):
            run_exec(ExecRequest(key="gone", command=["claude"], no_wait=True, env=agents.env), store)


def test_plan_for_a_pending_fork_with_a_pending_parent_in_the_store(agents: FakeAgents) -> None:
    with open_store(agents.store_url) as store:
        store.insert(Mapping(key="p", provider="codex", created_at=now(), updated_at=now(), state="pending"))
        store.insert(
            Mapping(
                key="f",
                provider="codex",
                created_at=now(),
                updated_at=now(),
                state="pending-fork",
                parent=Parent("default", "p", None),
                cwd=str(agents.work),
            )
        )
        request = ExecRequest(key="f", command=["codex", "exec", "hi"], env=agents.env)
        plan = plan_exec(request, store)  # the parent has no session yet: a fresh one
        assert plan.argv == ("codex", "exec", "hi") and plan.step.kind == "new"
        with pytest.raises(StaleSession):
            plan_exec(ExecRequest(key="f", command=["codex", "exec"], on_stale="fail", env=agents.env), store)


def test_config_profile_cwd_is_the_default(agents: FakeAgents) -> None:
    target = agents.root / "elsewhere"
    config = parse_config({"agents": {"bot": {"cwd": str(target)}}}, agents.root / "c.toml")
    with open_store(agents.store_url) as store:
        request = ExecRequest(
            key="k", agent="bot", command=["claude", "-p", "x"], env=agents.env, capture_output=True
        )
        result = run_exec(request, store, config)
    assert result.cwd == str(target.resolve()) and agents.turns()[0]["cwd"] == str(target.resolve())


def test_runner_imports_neither_typer_nor_the_cli() -> None:
    code = (
        "import sys, sessmap.runner; "
        "bad = [m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click')"
        " or m.startswith('sessmap.cli') or m in ('sessmap.providers.codex', 'sessmap.providers.template')]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
