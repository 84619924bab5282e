"""``kill -9`` of processes writing through the installed CLI, for SQLite and JSON.

Several ``sessmap create/set --label/rm`` processes run at once and are killed after a random
small delay, so kills land before, during and after their writes. A command that exited 0
before its kill was acknowledged to its caller; every such write must survive, whatever was
killed around it. A killed command's write may or may not have happened, but never halfway:
the store must open, pass SQLite's ``PRAGMA integrity_check`` (or parse as JSON), and hold
only complete, valid mappings.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from reliability_support import ok
from tests.support.backends import store_path
from tests.support.cli import sessmap_argv

PROCESSES_PER_ROUND = 4
# Rounds go on until both numbers are reached (at most MAX_ROUNDS).
MIN_KILLS = 24
MIN_ACKNOWLEDGED_CREATES = 10
MAX_ROUNDS = 60
KILLED_PER_ROUND = 2
# Kill delays are uniform over this span of a round's measured run time, so kills land before,
# during and after writes.
DELAY_SPAN = (0.05, 1.1)


@dataclass
class Expected:
    """What the acknowledged commands promise about the store."""

    session_ids: dict[str, str] = field(default_factory=dict)  # acknowledged creates
    labels: dict[str, dict[str, str]] = field(default_factory=dict)  # acknowledged labels
    maybe_labels: dict[str, dict[str, str]] = field(default_factory=dict)  # from killed sets
    removed: set[str] = field(default_factory=set)  # acknowledged rm
    uncertain: set[str] = field(default_factory=set)  # killed create/rm: there or not

    def usable(self, busy: set[str]) -> list[str]:
        """Keys known to exist, not touched by another command this round."""
        return sorted(k for k in self.session_ids if k not in self.removed | self.uncertain | busy)


@dataclass
class Command:
    op: str
    key: str
    args: list[str]
    label: tuple[str, str] | None = None
    process: subprocess.Popen[str] | None = None


def plan_round(number: int, expected: Expected, rng: random.Random) -> list[Command]:
    commands: list[Command] = []
    busy: set[str] = set()
    for slot in range(PROCESSES_PER_ROUND):
        choices = expected.usable(busy)
        # Two creates a round, then label changes and removals of keys known to exist.
        op = "create" if slot < 2 or not choices else rng.choice(["set", "set", "rm"])
        if op == "create":
            key = f"r{number}-{slot}"
            label = ("born", f"r{number}")
            args = ["create", key, "-l", "=".join(label)]
        else:
            key = rng.choice(choices)
            label = (f"r{number}s{slot}", f"v{rng.randrange(10**6)}") if op == "set" else None
            args = ["set", key, "-l", "=".join(label)] if label else ["rm", key]
        busy.add(key)
        commands.append(Command(op, key, args, label))
    return commands


def settle(command: Command, expected: Expected) -> bool:
    """Record what a finished command promises; True if it was killed."""
    assert command.process is not None
    stdout, stderr = command.process.communicate(timeout=60)
    code = command.process.returncode
    if code == -signal.SIGKILL:
        if command.op == "set" and command.label:
            expected.maybe_labels.setdefault(command.key, {}).update([command.label])
        elif command.op in ("create", "rm"):
            expected.uncertain.add(command.key)
            if command.op == "create":
                expected.maybe_labels.setdefault(command.key, {}).update([command.label or ("", "")])
        return True
    # Not killed: it ran to the end, and nothing here should fail.
    assert code == 0, (command.args, code, stdout, stderr)
    if command.op == "create":
        expected.session_ids[command.key] = stdout.strip()
        expected.labels[command.key] = dict([command.label or ("", "")])
    elif command.op == "set" and command.label:
        expected.labels[command.key].update([command.label])
    else:
        expected.removed.add(command.key)
    return False


def check_store(url: str, path: Path, kind: str, expected: Expected) -> None:
    if kind == "sqlite":
        db = sqlite3.connect(path)
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()
    else:
        json.loads(path.read_text(encoding="utf-8"))
    # The CLI opens the store and reads every mapping (a damaged one would fail the export).
    rows = {row["key"]: row for row in map(json.loads, ok("--store", url, "export").stdout.splitlines())}
    for key, session_id in expected.session_ids.items():
        if key in expected.removed:
            assert key not in rows, key
        elif key not in expected.uncertain:
            assert key in rows, f"acknowledged create of {key!r} was lost"
            assert rows[key]["session_id"] == session_id
    for key, row in rows.items():
        assert key in expected.session_ids or key in expected.uncertain, f"{key!r} came from nowhere"
        promised = expected.labels.get(key, {})
        assert promised.items() <= row["labels"].items(), f"acknowledged label of {key!r} was lost"
        allowed = {**promised, **expected.maybe_labels.get(key, {})}
        assert row["labels"].items() <= allowed.items(), f"{key!r} has labels nobody wrote"


def start_all(commands: list[Command], url: str) -> None:
    for command in commands:
        command.process = subprocess.Popen(
            sessmap_argv(*command.args, store=url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def temp_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.slow
def test_kill_9_during_writes_loses_no_acknowledged_write(tmp_path: Path, file_kind: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    path = store_path(tmp_path, file_kind)
    url = f"{file_kind}:{path}"
    expected = Expected()
    # The store exists (migrated) first: the kills are about writes, not the first open.
    first = Command("create", "first", ["create", "first", "-l", "born=r-2"], ("born", "r-2"))
    start_all([first], url)
    settle(first, expected)

    kills = number = 0
    round_time = 1.0  # seconds until a round's unkilled commands are done; measured each round
    while kills < MIN_KILLS or len(expected.session_ids) < MIN_ACKNOWLEDGED_CREATES:
        number += 1
        assert number <= MAX_ROUNDS, f"{kills} kills, {len(expected.session_ids)} acks (seed {seed})"
        commands = plan_round(number, expected, rng)
        # Half the commands are killed, each after its own random delay over a round's run time
        # (measured, as machines and their load differ); the others run to the end.
        doomed = rng.sample(range(len(commands)), KILLED_PER_ROUND)
        kill_at = sorted((rng.uniform(*DELAY_SPAN) * round_time, index) for index in doomed)
        started = time.monotonic()
        start_all(commands, url)
        for delay, index in kill_at:
            time.sleep(max(0.0, started + delay - time.monotonic()))
            process = commands[index].process
            assert process is not None
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
        for index, command in enumerate(commands):
            if index not in doomed:
                assert command.process is not None
                command.process.wait(timeout=60)
        round_time = time.monotonic() - started
        kills += sum(settle(command, expected) for command in commands)

    print(f"seed {seed}: {number} rounds (the last {round_time:.2f}s), {kills} killed")
    check_store(url, path, file_kind, expected)
    # The next write sweeps temp files that killed JSON writers left, and works.
    ok("--store", url, "create", "after-the-storm")
    assert temp_files(tmp_path) == []
    expected.session_ids["after-the-storm"] = ok("--store", url, "get", "after-the-storm").stdout.strip()
    expected.labels["after-the-storm"] = {}
    check_store(url, path, file_kind, expected)


@pytest.mark.slow
def test_temp_file_of_a_json_writer_killed_mid_write_is_swept(tmp_path: Path) -> None:
    """Kill a JSON writer between creating its temp file and replacing the store with it.

    A big store makes that window wide enough to hit: the test watches the folder and kills
    the writer the moment its temp file appears. The store must be untouched, the temp file
    left behind, and the next write must remove it.
    """
    path = tmp_path / "sessions.json"
    url = f"json:{path}"
    rows = "".join(
        json.dumps(
            {"key": f"bulk:{n}", "provider": "claude", "session_id": f"s{n}", "labels": {"pad": "x" * 200}}
        )
        + "\n"
        for n in range(4000)
    )
    ok("--store", url, "import", "-", input=rows)

    for attempt in range(40):
        before = path.read_bytes()
        writer = subprocess.Popen(
            sessmap_argv("set", "bulk:1", "-l", f"try={attempt}", store=url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        while writer.poll() is None and not temp_files(tmp_path):
            pass
        if writer.poll() is None:
            os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=60)
        if writer.returncode == -signal.SIGKILL and temp_files(tmp_path):
            break
    else:
        pytest.fail("never caught a writer between its temp file and the replace in 40 tries")

    assert path.read_bytes() == before, "a writer killed before its replace changed the store"
    json.loads(before)
    leftovers = temp_files(tmp_path)
    assert len(leftovers) == 1 and leftovers[0].startswith(".sessions.json.")
    ok("--store", url, "set", "bulk:2", "-l", "next=write")
    assert temp_files(tmp_path) == []
    assert json.loads(ok("--store", url, "show", "bulk:2", "--json").stdout)["labels"]["next"] == "write"
