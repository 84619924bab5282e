"""``rm --purge``, ``prune --purge`` and ``doctor --fix --purge`` on transcripts the real claude
and codex wrote (issue 12): what sessmap started goes, a session the user attached stays.

codex 0.169.0 (pinned) and 0.171.0 (newest) both list ``delete`` in ``codex --help``, so the
real codex takes the ``codex delete --force`` path; the fallback for a codex without it (unlink
the rollout) runs against a stand-in script in tests/transcripts/test_purge.py.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from realagents import Sandbox

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _ok(sandbox: Sandbox, key: str, agent: str, *options: str) -> None:
    result = sandbox.exec(key, agent, f"hello {uuid.uuid4().hex[:8]}", *options)
    assert result.returncode == 0, result.stderr


def _files_of(home: Path, session_id: str) -> list[Path]:
    return sorted(p for p in home.rglob(f"*{session_id}*") if p.is_file() or p.is_dir())


def _transcripts_of(home: Path, session_id: str) -> list[Path]:
    return [path for path in _files_of(home, session_id) if path.suffix == ".jsonl"]


def _digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path).encode())
        if path.is_file() and not path.is_symlink():
            digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.mark.agents("claude", "codex")
def test_purge_deletes_exactly_the_sessions_of_the_removed_thread(sandbox: Sandbox, agent: str) -> None:
    home = sandbox.root / "home"
    _ok(sandbox, "gone", agent)
    earlier = sandbox.mapping("gone").session_id
    _ok(sandbox, "gone", agent, "--new")  # the first session goes to history: purged too
    current = sandbox.mapping("gone").session_id
    _ok(sandbox, "other", agent)
    kept = sandbox.mapping("other").session_id
    assert earlier and current and kept
    for session in (earlier, current, kept):
        assert _files_of(home, session), f"the agent wrote nothing for {session}"

    before = _digest(home)
    dry = sandbox.sessmap("rm", "gone", "--purge", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)["purge"]
    assert {s["session_id"] for s in plan["purged"]} == {earlier, current}
    assert plan["bytes"] > 0 and "would free" in dry.stderr
    assert _digest(home) == before  # a dry run changes nothing of the agent's

    done = sandbox.sessmap("rm", "gone", "--purge", "--json")
    assert done.returncode == 0, done.stderr
    purged = json.loads(done.stdout)["purge"]["purged"]
    if agent == "codex":
        assert {s["via"] for s in purged} == {"codex delete"}
    for session in (earlier, current):
        assert not _transcripts_of(home, session), session
    assert _transcripts_of(home, kept)
    _ok(sandbox, "other", agent)  # the thread left alone still resumes


@pytest.mark.agents("claude", "codex")
def test_prune_purge_keeps_a_session_another_mapping_holds(sandbox: Sandbox, agent: str) -> None:
    home = sandbox.root / "home"
    _ok(sandbox, "a", agent)
    shared = sandbox.mapping("a").session_id
    assert shared
    set_other = sandbox.sessmap("create", "b", "--provider", agent, "--session-id", shared)
    assert set_other.returncode == 0, set_other.stderr
    time.sleep(1.1)  # times are whole seconds: "older than 0s" needs the turn's second to be past
    done = sandbox.sessmap("prune", "--older-than", "0s", "--prefix", "a", "--purge")
    assert done.returncode == 0, done.stderr
    assert "another mapping still holds" in done.stderr
    assert _transcripts_of(home, shared)


def _own_session(sandbox: Sandbox, agent: str) -> str:
    """A session the user started with the agent itself, not through sessmap; its id."""
    session_id = str(uuid.uuid4())
    argv = sandbox.command(agent, "my own session")
    if agent == "claude":
        argv = [*argv, "--session-id", session_id]
    done = subprocess.run(
        argv,
        cwd=sandbox.dir("work"),
        env=sandbox.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if agent == "codex":  # codex picks the id: its first JSON event names it
        events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        session_id = next(event["thread_id"] for event in events if event.get("type") == "thread.started")
    return session_id


@pytest.mark.agents("claude", "codex")
def test_a_users_own_session_attached_to_a_thread_is_never_purged(sandbox: Sandbox, agent: str) -> None:
    """Started by the real CLI, attached with ``create --session-id``, even resumed through
    sessmap: it is the user's, so ``rm --purge`` keeps its files and says why."""
    home = sandbox.root / "home"
    own = _own_session(sandbox, agent)
    work = str(sandbox.dir("work"))
    attached = sandbox.sessmap("create", "mine", "--provider", agent, "--session-id", own, "--cwd", work)
    assert attached.returncode == 0, attached.stderr
    _ok(sandbox, "mine", agent)
    assert sandbox.mapping("mine").session_id == own  # resumed, not replaced
    files = [p for p in _files_of(home, own) if p.is_file()]
    assert files, f"the agent wrote nothing for {own}"
    before = {path: path.read_bytes() for path in files}
    done = sandbox.sessmap("rm", "mine", "--purge", "--json")
    assert done.returncode == 0, done.stderr
    purge = json.loads(done.stdout)["purge"]
    assert purge["purged"] == []
    assert [(k["session_id"], k["reason"]) for k in purge["kept"]] == [
        (own, "sessmap did not start it (attached or imported)")
    ]
    assert {path: path.read_bytes() for path in files} == before


@pytest.mark.agents("claude", "codex")
def test_doctor_finds_what_rm_left_and_fix_purge_frees_it(sandbox: Sandbox, agent: str) -> None:
    home = sandbox.root / "home"
    _ok(sandbox, "left", agent)
    session = sandbox.mapping("left").session_id
    assert session
    assert sandbox.sessmap("rm", "left").returncode == 0  # no --purge: the files stay
    assert _transcripts_of(home, session)
    report = sandbox.sessmap("doctor", "--json")
    orphaned = json.loads(report.stdout)["orphaned_transcripts"]
    assert [s["session_id"] for s in orphaned["purged"]] == [session] and orphaned["bytes"] > 0
    fixed = sandbox.sessmap("doctor", "--fix", "--purge", "--yes")
    assert "deleted the transcripts of 1 session(s)" in fixed.stderr
    assert not _transcripts_of(home, session)
