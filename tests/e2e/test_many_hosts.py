"""Conversations that survive: the real claude and codex CLIs on several simulated hosts that
share one sessmap store (SPEC §1, §4, §7).

Each host (hosts.py) is its own HOME, CLAUDE_CONFIG_DIR, CODEX_HOME and host name; the only
way host B knows host A's conversation is the store's copy of the transcript. The fake model
server records every request body: a turn's request carrying an earlier turn's marker proves
the agent resumed that conversation, and one lacking it proves it did not.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest
from hosts import (
    Cluster,
    Host,
    Network,
    Terminal,
    agent_command,
    descendants,
    kill_tree,
    thread_ids,
)
from realagents import Sandbox
from tests.support.backends import SERVER_KINDS, backend_params, store_url_in
from tests.support.cli import sessmap_argv
from tests.support.servers import prefix_of, redis_client

from sessmap.stores import open_store

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

AGENTS = ("claude", "codex")
SERVER_STORES = backend_params(SERVER_KINDS)
STALE = "can no longer be resumed"


def marker(name: str) -> str:
    """A word no other marker, prompt, path or id contains."""
    return f"{name}{uuid.uuid4().hex[:12]}zq"


@pytest.fixture
def store() -> str:
    """The kind of store the hosts share; tests parametrize it."""
    return "sqlite"


@pytest.fixture
def cluster(sandbox: Sandbox, store: str) -> Iterator[Cluster]:
    with store_url_in(store, sandbox.dir("store")) as url:
        cluster = Cluster(sandbox, url, sandbox.dir("work"))
        try:
            yield cluster
        finally:
            cluster.reap()  # before the store goes: a leftover run may hold its locks


def request_text(cluster: Cluster, newest: str) -> str:
    """The whole body of the one model request whose newest user turn is ``newest``."""
    return cluster.sandbox.request_with(newest).text


def stored_sessions(cluster: Cluster) -> set[str]:
    with open_store(cluster.store_url) as opened:
        return {session_id for _, session_id in opened.transcripts.stored()}


# --- 1. one thread, turns alternating between hosts ------------------------------------------


def alternate(cluster: Cluster, a: Host, b: Host, agent: str) -> None:
    """Turns on A, B, A of one thread: each carries every earlier one, in one session."""
    key = "slack:C1:1700000000.000100"
    one, two, three = marker("one"), marker("two"), marker("three")

    on_a = a.turn(key, agent, one)
    first = cluster.mapping(key)
    assert first.session_id and first.state == "active"
    assert (first.host, first.agent_home) == (a.name, str(a.agent_home(agent)))
    assert first.session_id in stored_sessions(cluster), f"the store kept no copy: {on_a.stderr}"

    on_b = b.turn(key, agent, two)
    assert STALE not in on_b.stderr, on_b.stderr
    assert one in request_text(cluster, two), "host B's turn did not carry host A's turn"
    second = cluster.mapping(key)
    assert second.session_id == first.session_id
    assert (second.host, second.agent_home) == (b.name, str(b.agent_home(agent)))
    assert b.transcripts(first.session_id), "nothing was restored into host B's agent home"
    if agent == "codex":
        assert thread_ids(on_b.stdout) == [first.session_id]

    back_on_a = a.turn(key, agent, three)
    assert STALE not in back_on_a.stderr, back_on_a.stderr
    history = request_text(cluster, three)
    assert one in history and two in history, "host A's second turn lost a turn"
    last = cluster.mapping(key)
    assert last.session_id == first.session_id and last.history == ()
    assert (last.host, last.agent_home) == (a.name, str(a.agent_home(agent)))
    assert last.turns == 3 and last.last_exit == 0


@pytest.mark.parametrize("store", SERVER_STORES)
@pytest.mark.agents(*AGENTS)
def test_turns_alternating_between_hosts_carry_every_earlier_turn(cluster: Cluster, agent: str) -> None:
    a, b = cluster.host("host-a"), cluster.host("host-b")
    assert (a.name, b.name) == ("host-a", "host-b")
    alternate(cluster, a, b, agent)


# --- 2. a fork made on another host ---------------------------------------------------------


@pytest.mark.parametrize("store", SERVER_STORES)
@pytest.mark.agents(*AGENTS)
def test_a_fork_made_on_another_host_carries_the_parent_and_travels_back(
    cluster: Cluster, agent: str
) -> None:
    a, b = cluster.host("host-a"), cluster.host("host-b")
    before, in_fork, in_parent, fork_on_a = (marker(n) for n in ("before", "infork", "inparent", "forkona"))

    a.turn("parent", agent, before)
    parent = cluster.mapping("parent")
    b.sessmap_ok("fork", "parent", "child")
    assert cluster.mapping("child").state == "pending-fork"

    b.turn("child", agent, in_fork)
    assert before in request_text(cluster, in_fork), "the fork on host B lost the parent's history"
    child = cluster.mapping("child")
    assert child.state == "active" and child.session_id and child.session_id != parent.session_id
    assert child.parent is not None and child.parent.session_id == parent.session_id
    assert child.host == "host-b"

    a.turn("parent", agent, in_parent)
    text = request_text(cluster, in_parent)
    assert before in text and in_fork not in text, "the parent saw the fork's turn"

    a.turn("child", agent, fork_on_a)
    text = request_text(cluster, fork_on_a)
    assert before in text and in_fork in text, "the fork continued on host A without its history"
    assert in_parent not in text, "the fork saw the parent's later turn"
    assert cluster.mapping("child").session_id == child.session_id
    assert cluster.mapping("child").host == "host-a"
    assert cluster.mapping("parent").session_id == parent.session_id


# --- 3. transcripts = "local": host B cannot see A's transcript -------------------------------


@pytest.mark.parametrize("store", SERVER_STORES)
@pytest.mark.agents(*AGENTS)
def test_local_transcripts_on_another_host_restart_the_session_as_stale(cluster: Cluster, agent: str) -> None:
    config = cluster.sandbox.root / "config.toml"
    config.write_text('transcripts = "local"\n')
    a = cluster.host("host-a", env={"SESSMAP_CONFIG": str(config)})
    b = cluster.host("host-b", env={"SESSMAP_CONFIG": str(config)})
    key = "telegram:42:7"
    one, two, three = marker("one"), marker("two"), marker("three")

    a.turn(key, agent, one)
    s1 = cluster.mapping(key).session_id
    assert s1

    on_b = b.turn(key, agent, two)
    assert f"session {s1} of thread {key!r} {STALE}" in on_b.stderr, on_b.stderr
    assert "no conversation" in on_b.stderr and "starting a new session" in on_b.stderr, on_b.stderr
    assert one not in request_text(cluster, two)
    after_b = cluster.mapping(key)
    s2 = after_b.session_id
    assert s2 and s2 != s1 and after_b.host == "host-b" and after_b.state == "active"
    assert [(h.session_id, h.reason) for h in after_b.history] == [(s1, "stale")]

    # Back on A, the session is B's, which A cannot see either: the same, documented, restart.
    on_a = a.turn(key, agent, three)
    assert f"session {s2} of thread {key!r} {STALE}" in on_a.stderr, on_a.stderr
    text = request_text(cluster, three)
    assert one not in text and two not in text
    last = cluster.mapping(key)
    s3 = last.session_id
    assert s3 and s3 not in (s1, s2) and last.host == "host-a" and last.turns == 3
    assert [(h.session_id, h.reason) for h in last.history] == [(s2, "stale"), (s1, "stale")]
    # "local": the store keeps no copy, and A's own transcript of s1 is still there.
    assert stored_sessions(cluster) == set()
    assert a.transcripts(s1), "host A's transcript of the first session is gone"


# --- 4. a wrapper that moves the agent's home -------------------------------------------------


@pytest.mark.agents("claude")
def test_a_wrapper_setting_claude_config_dir_keeps_one_session(cluster: Cluster) -> None:
    """sessmap sees CLAUDE_CONFIG_DIR of its own environment, not the wrapper's: it cannot see
    the transcript, and must not call the session stale for that."""
    host = cluster.host("bot", hostname=None)
    hidden = cluster.sandbox.root / "wrapped-claude-home"
    wrapper = cluster.work / "claude-wrapper"
    wrapper.write_text(f'#!/bin/sh\nCLAUDE_CONFIG_DIR={hidden} exec claude "$@"\n')
    wrapper.chmod(0o755)
    key = "discord:991"
    markers = [marker("one"), marker("two"), marker("three")]

    for number, text in enumerate(markers):
        result = host.exec(key, ["./claude-wrapper", "-p", text], "--provider", "claude")
        assert result.returncode == 0, result.stderr
        assert STALE not in result.stderr, result.stderr
        sent = request_text(cluster, text)
        assert all(earlier in sent for earlier in markers[:number]), f"turn {number + 1} lost a turn"

    mapping = cluster.mapping(key)
    assert mapping.session_id and mapping.turns == 3 and mapping.history == ()
    assert mapping.agent_home is None  # sessmap never saw the transcript where it looked
    wrapped = list(hidden.glob(f"projects/*/{mapping.session_id}.jsonl"))
    assert wrapped, "the wrapper's home holds no transcript"
    assert not host.transcripts(mapping.session_id)
    assert host.show(key)["transcript"]["state"] == "unknown"
    pruned = json.loads(host.sessmap_ok("prune", "--missing", "--json"))
    assert pruned["removed"] == [] and [k["key"] for k in pruned["kept"]] == [key]
    assert cluster.mapping(key).session_id == mapping.session_id


# --- 5. cron prunes from another HOME, and from another host ----------------------------------


@pytest.mark.agents("claude")
def test_prune_missing_from_cron_or_another_host_keeps_what_it_cannot_prove_gone(cluster: Cluster) -> None:
    bot_home = cluster.sandbox.root / "bot-home"
    bot = cluster.host("bot", hostname="host-a", home=bot_home, agent_dirs=False)
    cron = cluster.host("cron", hostname="host-a", home=cluster.sandbox.root / "cron-home", agent_dirs=False)
    other = cluster.host("host-b")
    key = "slack:C9:1700000000.000900"

    bot.turn(key, "claude", marker("bot"))
    mapping = cluster.mapping(key)
    assert mapping.session_id and mapping.agent_home == str(bot_home / ".claude")
    assert mapping.host == "host-a"
    (transcript,) = bot.transcripts(mapping.session_id)

    quiet = cron.sessmap("-q", "prune", "--missing")
    assert quiet.returncode == 0 and quiet.stdout == "", quiet.stderr
    assert cluster.maybe_mapping(key) is not None, "cron's prune (another HOME) removed a live thread"
    assert cron.show(key)["transcript"]["state"] == "local"

    transcript.unlink()  # the bot's transcript is gone for real now

    for command in (["prune", "--missing", "--json"], ["doctor", "--fix", "--json"]):
        result = other.sessmap(*command)
        assert cluster.maybe_mapping(key) is not None, f"{command[0]} on host B removed host A's thread"
        if command[0] == "prune":
            assert result.returncode == 0, result.stderr
            report = json.loads(result.stdout)
            assert report["removed"] == [] and [k["key"] for k in report["kept"]] == [key]
            assert "host-a" in report["kept"][0]["reason"]

    gone = bot.sessmap("prune", "--missing", "--json")
    assert gone.returncode == 0, gone.stderr
    assert [m["key"] for m in json.loads(gone.stdout)["removed"]] == [key]
    assert cluster.maybe_mapping(key) is None


@pytest.mark.parametrize("then", ["prune", "exec"])
@pytest.mark.agents("claude")
def test_a_session_set_by_hand_is_not_proven_gone_by_the_previous_sessions_home(
    cluster: Cluster, then: str
) -> None:
    """``set --session-id`` points a thread at a session sessmap never saw (here: made by a
    wrapper in another CLAUDE_CONFIG_DIR). The agent home recorded for the *previous* session
    proves nothing about the new one: prune --missing keeps it, exec lets the agent answer."""
    host = cluster.host("bot", hostname=None)
    key = "slack:C7:1700000000.000700"
    host.turn(key, "claude", marker("before"))
    assert cluster.mapping(key).agent_home == str(host.claude_home)

    elsewhere = cluster.sandbox.root / "wrapped-claude-home"
    by_hand, later = marker("byhand"), marker("later")
    session_id = str(uuid.uuid4())
    made = host.run(
        ["claude", "-p", by_hand, "--session-id", session_id],
        env={**host.env, "CLAUDE_CONFIG_DIR": str(elsewhere)},
    )
    assert made.returncode == 0, made.stderr
    host.sessmap_ok("set", key, "--session-id", session_id)

    if then == "prune":
        pruned = json.loads(host.sessmap_ok("prune", "--missing", "--json"))
        assert pruned["removed"] == [], "prune --missing removed a session it never saw"
        assert cluster.mapping(key).session_id == session_id
        return
    wrapper = cluster.work / "claude-wrapper"
    wrapper.write_text(f'#!/bin/sh\nCLAUDE_CONFIG_DIR={elsewhere} exec claude "$@"\n')
    wrapper.chmod(0o755)
    result = host.exec(key, ["./claude-wrapper", "-p", later], "--provider", "claude")
    assert result.returncode == 0, result.stderr
    assert STALE not in result.stderr, result.stderr
    assert by_hand in request_text(cluster, later)
    assert cluster.mapping(key).session_id == session_id


# --- 6. sessmap killed during codex's first turn ---------------------------------------------


@pytest.mark.parametrize("store", ["sqlite", *SERVER_STORES])
@pytest.mark.agents("codex")
def test_a_codex_id_survives_kill_9_of_sessmap_mid_turn(cluster: Cluster) -> None:
    host = cluster.host("bot", hostname=None)
    server = cluster.sandbox.server
    first, second = marker("first"), marker("second")
    key = "slack:C5:1700000000.000500"
    server.slow_marker, server.slow_seconds = first, 30.0

    run = host.start(sessmap_argv("exec", key, "--", *agent_command("codex", first)))
    cluster.wait_for(
        "the store has the new codex session's id",
        lambda: (m := cluster.maybe_mapping(key)) is not None and m.session_id is not None,
    )
    assert server.slow_request_seen.wait(60), "codex never asked the model"
    assert run.poll() is None, "sessmap finished before it could be killed"
    session_id = cluster.mapping(key).session_id
    agents = descendants(run.pid)
    assert agents, "sessmap has no agent process"
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=30)
    kill_tree(agents)  # the orphaned codex: it must not finish the turn behind the test's back
    server.slow_marker = None

    kept = cluster.mapping(key)
    assert kept.session_id == session_id and kept.state == "active"

    result = host.turn(key, "codex", second)
    assert STALE not in result.stderr, result.stderr
    assert thread_ids(result.stdout) == [session_id], "codex did not resume the recorded session"
    assert first in request_text(cluster, second), "the resumed turn lost the first prompt"
    after = cluster.mapping(key)
    assert after.session_id == session_id and after.history == () and after.last_exit == 0


# --- 7. archived and flat codex rollouts ------------------------------------------------------


def codex(host: Host, *args: str) -> subprocess.CompletedProcess[str]:
    """The real codex CLI itself (not through sessmap) on ``host``."""
    return host.run(["codex", *args])


@pytest.mark.parametrize(
    ("store", "how"),
    [
        ("sqlite", "codex-archive"),
        pytest.param("postgres", "codex-archive", marks=pytest.mark.server),
        pytest.param("redis", "codex-archive", marks=pytest.mark.server),
        ("sqlite", "moved-by-hand"),
    ],
)
@pytest.mark.agents("codex")
def test_an_archived_codex_rollout_is_never_stale(cluster: Cluster, how: str) -> None:
    """The rollout in ``$CODEX_HOME/archived_sessions/``: put there by ``codex archive`` (which
    also tells codex's own index), or moved there by hand (what ``codex archive`` does to the
    file). show says archived, and prune --missing and doctor --fix keep it either way."""
    host = cluster.host("bot", hostname=None)
    first, blocked = marker("first"), marker("blocked")
    key = "ticket:77"
    host.turn(key, "codex", first)
    session_id = cluster.mapping(key).session_id
    assert session_id
    (rollout,) = host.transcripts(session_id)

    archived = host.codex_home / "archived_sessions" / rollout.name
    if how == "codex-archive":
        archive = codex(host, "archive", session_id)
        assert archive.returncode == 0, archive.stderr
    else:
        archived.parent.mkdir()
        rollout.rename(archived)
    assert host.transcripts(session_id) == [archived], "codex archive put the rollout elsewhere"
    transcript = host.show(key)["transcript"]
    assert transcript["state"] == "archived" and transcript["archived"] is True, transcript
    assert transcript["path"] == str(archived) and transcript["exists"] is True

    pruned = host.sessmap("prune", "--missing", "--json")
    assert pruned.returncode == 0, pruned.stderr
    assert json.loads(pruned.stdout)["removed"] == []
    host.sessmap("doctor", "--fix")
    assert cluster.mapping(key).session_id == session_id

    resumed = host.exec(key, agent_command("codex", blocked))
    after = cluster.mapping(key)
    if how == "codex-archive":
        # codex answers "is archived": no evidence the session is gone, so sessmap keeps it.
        assert STALE not in resumed.stderr, resumed.stderr
        assert resumed.returncode != 0, resumed.stderr
        assert after.session_id == session_id and after.history == ()
    else:
        # Moved by hand, codex's own index no longer finds it and answers "no rollout found":
        # the agent's answer is evidence (SPEC §4), so a new session starts; the old id stays
        # in history and its file is left where the user put it.
        assert STALE in resumed.stderr and resumed.returncode == 0, resumed.stderr
        assert after.session_id != session_id
        assert [(entry.session_id, entry.reason) for entry in after.history] == [(session_id, "stale")]
    assert archived.exists()


@pytest.mark.parametrize("store", ["sqlite", *SERVER_STORES])
@pytest.mark.agents("codex")
def test_a_flat_codex_rollout_in_a_new_codex_home_is_resumed(cluster: Cluster) -> None:
    """The rollout moved to a fresh CODEX_HOME, directly in ``sessions/`` (a migrated home)."""
    old = cluster.host("old", hostname=None)
    first, second = marker("first"), marker("second")
    key = "ticket:78"
    old.turn(key, "codex", first)
    session_id = cluster.mapping(key).session_id
    assert session_id
    (rollout,) = old.transcripts(session_id)
    assert rollout.parent.parent.parent.parent == old.codex_home / "sessions", rollout

    new = cluster.host("new", hostname=None)
    flat = new.codex_home / "sessions" / rollout.name
    flat.parent.mkdir(parents=True)
    rollout.rename(flat)
    transcript = new.show(key)["transcript"]
    assert transcript["state"] == "local" and transcript["path"] == str(flat), transcript

    result = new.turn(key, "codex", second)
    assert STALE not in result.stderr, result.stderr
    assert thread_ids(result.stdout) == [session_id]
    assert first in request_text(cluster, second), "the flat rollout was not resumed"
    after = cluster.mapping(key)
    assert after.session_id == session_id and after.turns == 2 and after.history == ()
    assert after.agent_home == str(new.codex_home)


@pytest.mark.parametrize("store", ["sqlite", *SERVER_STORES])
@pytest.mark.agents("codex")
def test_a_codex_rollout_moved_flat_in_its_own_home_is_resumed(cluster: Cluster) -> None:
    """The rollout moved from ``sessions/YYYY/MM/DD/`` to ``sessions/`` in the same CODEX_HOME:
    sessmap finds it there (show says local), so the next turn must continue it."""
    host = cluster.host("bot", hostname=None)
    first, second = marker("first"), marker("second")
    key = "ticket:79"
    host.turn(key, "codex", first)
    session_id = cluster.mapping(key).session_id
    assert session_id
    (rollout,) = host.transcripts(session_id)
    flat = host.codex_home / "sessions" / rollout.name
    rollout.rename(flat)
    transcript = host.show(key)["transcript"]
    assert transcript["state"] == "local" and transcript["path"] == str(flat), transcript

    result = host.turn(key, "codex", second)
    assert STALE not in result.stderr, result.stderr
    assert thread_ids(result.stdout) == [session_id]
    assert first in request_text(cluster, second), "the flat rollout was not resumed"
    assert cluster.mapping(key).session_id == session_id


# --- 8. two new threads at once, codex's output unread ----------------------------------------


def _rollout_holds(host: Host, session_id: str, text: str) -> bool:
    return any(text in path.read_text() for path in host.transcripts(session_id))


@pytest.mark.parametrize("store", ["sqlite", *SERVER_STORES])
@pytest.mark.agents("codex")
def test_two_new_codex_threads_on_a_terminal_each_get_their_own_session(cluster: Cluster) -> None:
    """codex without --json, its output on a terminal: sessmap leaves the streams alone and
    learns each new id from the rollout its own run holds open, never from another run's."""
    host = cluster.host("bot", hostname=None)
    m1, m2 = marker("threadone"), marker("threadtwo")
    with Terminal() as terminal:
        runs = []
        for key, text in (("t:1", m1), ("t:2", m2)):
            command = ["codex", "exec", "--skip-git-repo-check", text]
            runs.append(
                host.start(sessmap_argv("exec", key, "--", *command), stdout=terminal.fd, stderr=terminal.fd)
            )
            time.sleep(0.7)
        terminal.release_slave()
        codes = [run.wait(timeout=120) for run in runs]
    assert codes == [0, 0], terminal.output[-3000:]
    # codex colours its header only on a terminal: sessmap handed it the terminal itself.
    assert "\x1b[1msession id:" in terminal.output, terminal.output[-3000:]
    assert "none is recorded" not in terminal.output, terminal.output[-3000:]

    s1, s2 = cluster.mapping("t:1").session_id, cluster.mapping("t:2").session_id
    assert s1 and s2 and s1 != s2, terminal.output[-3000:]
    assert _rollout_holds(host, s1, m1) and not _rollout_holds(host, s1, m2), "t:1 holds t:2's session"
    assert _rollout_holds(host, s2, m2) and not _rollout_holds(host, s2, m1), "t:2 holds t:1's session"
    # codex names its thread in every request (prompt_cache_key): the model saw the same pairing.
    assert cluster.sandbox.request_with(m1).body["prompt_cache_key"] == s1
    assert cluster.sandbox.request_with(m2).body["prompt_cache_key"] == s2

    # And the next turn of each continues its own conversation only.
    for key, mine, theirs, session_id in (("t:1", m1, m2, s1), ("t:2", m2, m1, s2)):
        again = marker("again")
        result = host.turn(key, "codex", again)
        assert thread_ids(result.stdout) == [session_id]
        text = request_text(cluster, again)
        assert mine in text and theirs not in text


# --- 9. rm and prune leave no orphaned transcript copies -------------------------------------


def _postgres_rows(url: str) -> dict[str, tuple[int, int]]:
    """session id -> (rows in transcripts, rows in transcript_entries) of the store at ``url``."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    counts: dict[str, list[int]] = {}
    with psycopg.connect(conninfo, autocommit=True) as connection:
        for column, table in enumerate(("transcripts", "transcript_entries")):
            rows = connection.execute(
                sql.SQL("SELECT session_id, count(*) FROM {} GROUP BY session_id").format(
                    sql.Identifier(schema, table)
                )
            ).fetchall()
            for session_id, count in rows:
                counts.setdefault(session_id, [0, 0])[column] = count
    return {session_id: (info, entries) for session_id, (info, entries) in counts.items()}


def _redis_references(url: str, session_ids: set[str]) -> dict[str, list[str]]:
    """session id -> the transcript keys (or index members) under the store's prefix naming it."""
    client = redis_client()
    prefix = prefix_of(url)
    found: dict[str, list[str]] = {}
    try:
        for name in client.scan_iter(match=f"{prefix}:t*", count=1000):
            kind = client.type(name)
            members: list[str] = []
            if kind == "set":
                members = list(client.smembers(name))
            elif kind == "zset":
                members = list(client.zrange(name, 0, -1))
            elif kind == "hash" and ":tsummaries:" in name:
                members = list(client.hkeys(name))
            for session_id in session_ids:
                spelled = (session_id, session_id.encode().hex())
                if any(s in name for s in spelled) or any(s in m for m in members for s in spelled):
                    found.setdefault(session_id, []).append(name)
    finally:
        client.close()
    return found


def _copies(cluster: Cluster, store: str, session_ids: set[str]) -> dict[str, Any]:
    """What the store still holds of ``session_ids``' transcripts, by its own tables or keys."""
    if store == "postgres":
        rows = _postgres_rows(cluster.store_url)
        return {sid: rows[sid] for sid in session_ids if sid in rows}
    return _redis_references(cluster.store_url, session_ids)


@pytest.mark.parametrize("store", SERVER_STORES)
def test_rm_and_prune_leave_no_orphaned_transcript_copies(cluster: Cluster, store: str) -> None:
    host = cluster.host("bot", hostname=None)
    for key, agent in (("keep:claude", "claude"), ("keep:codex", "codex")):
        host.turn(key, agent, marker("keep"), "-a", "keeper")
    host.turn("rm:claude", "claude", marker("rm"))
    host.turn("rm:codex", "codex", marker("rm"))
    host.turn("reset", "codex", marker("reset"))
    host.turn("reset", "codex", marker("reset"), "--new")
    host.turn("parent", "claude", marker("parent"))
    host.sessmap_ok("fork", "parent", "fork")
    host.turn("fork", "claude", marker("fork"))

    def ids(key: str, agent: str = "default") -> set[str]:
        return cluster.mapping(key, agent).session_ids()

    kept = ids("keep:claude", "keeper") | ids("keep:codex", "keeper")
    removed_by_rm = ids("rm:claude") | ids("rm:codex")
    pruned = ids("reset") | ids("parent") | ids("fork")
    assert len(ids("reset")) == 2, "exec --new left no history entry"
    everything = kept | removed_by_rm | pruned
    assert len(everything) == 8
    assert set(_copies(cluster, store, everything)) == everything, "some turn was never stored"

    host.sessmap_ok("rm", "rm:claude", "rm:codex")
    assert _copies(cluster, store, removed_by_rm) == {}, "rm left transcript copies behind"
    assert set(_copies(cluster, store, kept | pruned)) == kept | pruned, "rm deleted copies still needed"

    time.sleep(1.1)  # times are whole seconds: "older than 0s" needs the last turn's second past
    report = json.loads(host.sessmap_ok("prune", "--older-than", "0s", "-a", "default", "--json"))
    assert sorted(m["key"] for m in report["removed"]) == ["fork", "parent", "reset"]
    assert _copies(cluster, store, pruned) == {}, "prune left transcript copies behind"
    assert set(_copies(cluster, store, kept)) == kept, "prune deleted the kept threads' copies"
    assert stored_sessions(cluster) == kept
    if store == "postgres":
        for session_id, (info, entries) in _copies(cluster, store, kept).items():
            assert info == 1 and entries > 0, session_id


# --- 10. hosts on networks of their own -------------------------------------------------------


@pytest.fixture
def networked(sandbox: Sandbox, store: str) -> Iterator[Cluster]:
    """A cluster whose hosts may each get a network namespace of their own."""
    network = Network()
    try:
        with store_url_in(store, sandbox.dir("store")) as url:
            cluster = Cluster(sandbox, url, sandbox.dir("work"), network)
            try:
                yield cluster
            finally:
                cluster.reap()
    finally:
        network.close()


@pytest.mark.parametrize("store", SERVER_STORES)
@pytest.mark.agents(*AGENTS)
def test_hosts_on_networks_of_their_own_share_a_thread_through_the_store(
    networked: Cluster, agent: str
) -> None:
    a = networked.host("host-a", own_network=True)
    b = networked.host("host-b", own_network=True)
    # Each host reaches the store and the model only through its relay: this machine's
    # 127.0.0.1 (where the servers listen) is not there.
    server = urlsplit(networked.store_url)
    probe = f"import socket; socket.create_connection(({server.hostname!r}, {server.port}), timeout=3)"
    isolated = a.run([sys.executable, "-c", probe])
    assert isolated.returncode != 0, "host A reaches the store's server directly"
    alternate(networked, a, b, agent)
