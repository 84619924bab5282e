"""First come, first served, on every store (SPEC §4): real ``sessmap exec`` processes queued on
one thread run their agents in the order they arrived, with and without ``--wait-timeout``.

Eight runs start a quarter of a second apart while each agent takes 0.3 s, so a queue of two
or three builds up; a lock that lets waiters race for it (polling, or a kernel that wakes them
all) serves some of them out of turn, and three trials make a lucky pass unlikely (0.1.0's file lock,
which polls every 50 ms with a limit, served 8 trials of 8 out of order; without a limit it
blocks in flock(2), which Linux since 5.0 happens to serve in order, as other kernels need not).

The start order must be the arrival order, but on a busy machine Python's start-up alone varies
by more than the spacing (seen: 0.6 s). So each run's stderr is a terminal, where a waiting exec
says that it waits (SPEC §4), and the next run starts only once the one before it waits, or
runs, and at least the spacing after it.
"""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.support import SET_HOSTNAME, require_host_names
from tests.support.backends import SERVER_KINDS, backend_params, store_url
from tests.support.cli import sessmap_argv

from sessmap.stores import open_store

RUNS = 8
SPACING = 0.25  # seconds between two starts
TRIALS = 3
AGENT_SECONDS = 0.3
ARRIVAL_TIMEOUT = 10.0  # a run not seen waiting by then is started after anyway

# The fake agent: note which run this is, then work a little. exec adds its session flags to
# the arguments; the script ignores them.
AGENT = f"""#!/bin/sh
printf '%s\\n' "$FAIR_QUEUE_RUN" >> "$FAIR_QUEUE_LOG"
sleep "${{FAIR_QUEUE_SLEEP:-{AGENT_SECONDS}}}"
"""
CONFIG = """\
[providers.fake]
new = ["--session-id", "{session_id}"]
resume = ["--resume", "{session_id}"]
"""

WAIT_MODES = {"no-limit": (), "wait-timeout": ("--wait-timeout", "5m")}


def ran(log: Path) -> list[str]:
    """The runs whose agent started, in the order they started."""
    try:
        return log.read_text().split()
    except FileNotFoundError:
        return []


@dataclass
class Run:
    """One ``sessmap exec`` through the console script, its stderr a terminal we read."""

    name: str
    log: Path
    process: subprocess.Popen[bytes]
    terminal: int
    stderr: bytes = field(default=b"")

    def _read(self, timeout: float) -> None:
        readable, _, _ = select.select([self.terminal], [], [], timeout)
        if readable:
            with contextlib.suppress(OSError):  # EIO: the process and its agent are gone
                self.stderr += os.read(self.terminal, 4096)

    def wait_arrival(self) -> None:
        """Until it says it waits, or its agent runs (the thread was free), or it ended."""
        deadline = time.monotonic() + ARRIVAL_TIMEOUT
        while time.monotonic() < deadline:
            if b"\n" in self.stderr or self.name in ran(self.log) or self.process.poll() is not None:
                return
            self._read(0.005)

    def finish(self) -> tuple[int, str]:
        code = self.process.wait(timeout=60)
        self._read(0)
        return code, self.stderr.decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.terminal)


@dataclass
class World:
    url: str
    folder: Path
    started: list[Run] = field(default_factory=list)

    def start(
        self,
        key: str,
        name: str,
        log: Path,
        *options: str,
        host: str | None = None,
        sleep: float | None = None,
    ) -> Run:
        """``sessmap exec`` on ``key``; on a host of that name (a UTS namespace of its own)."""
        argv = sessmap_argv("--config", str(self.folder / "config.toml"), store=self.url)
        argv += ["exec", key, "--provider", "fake", "--cwd", str(self.folder), *options]
        terminal, child_side = os.openpty()
        try:
            on_host = ["unshare", "--uts", "sh", "-c", SET_HOSTNAME, host] if host else []
            process = subprocess.Popen(
                [*on_host, *argv, "--", str(self.folder / "agent")],
                env={
                    **os.environ,
                    "FAIR_QUEUE_RUN": name,
                    "FAIR_QUEUE_LOG": str(log),
                    **({"FAIR_QUEUE_SLEEP": str(sleep)} if sleep is not None else {}),
                },
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=child_side,
            )
        finally:
            os.close(child_side)
        run = Run(name, log, process, terminal)
        self.started.append(run)
        return run


@pytest.fixture(params=backend_params())
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    folder = tmp_path / "world"
    folder.mkdir()
    agent = folder / "agent"
    agent.write_text(AGENT)
    agent.chmod(0o755)
    (folder / "config.toml").write_text(CONFIG)
    with store_url(request.param, tmp_path) as url:
        made = World(url, folder)
        yield made
        for run in made.started:
            run.close()


def succeeded(done: list[tuple[int, str]]) -> bool:
    return all(code == 0 and "error" not in stderr for code, stderr in done)


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(WAIT_MODES))
def test_queued_execs_run_in_arrival_order(world: World, mode: str) -> None:
    for trial in range(TRIALS):
        key, log = f"fair:{mode}:{trial}", world.folder / f"{mode}-{trial}.log"
        runs: list[Run] = []
        last_start = -SPACING
        for number in range(RUNS):
            time.sleep(max(0.0, SPACING - (time.monotonic() - last_start)))
            last_start = time.monotonic()
            runs.append(world.start(key, str(number), log, *WAIT_MODES[mode]))
            runs[-1].wait_arrival()
        done = [run.finish() for run in runs]
        assert succeeded(done), done
        assert ran(log) == [str(number) for number in range(RUNS)], f"trial {trial}"


@pytest.mark.slow
@pytest.mark.parametrize("world", backend_params(SERVER_KINDS), indirect=True)
def test_waiters_from_two_hosts_are_served_in_arrival_order(world: World) -> None:
    """A server store's queue spans hosts: runs alternating between two hosts (each its own
    UTS namespace, so sessmap records and reports another host name) keep their order."""
    require_host_names()
    key, log = "fair:hosts", world.folder / "hosts.log"
    runs: list[Run] = []
    last_start = -SPACING
    for number in range(RUNS):
        time.sleep(max(0.0, SPACING - (time.monotonic() - last_start)))
        last_start = time.monotonic()
        # An agent that outlasts a server store's start-up (~0.5 s): each next run arrives
        # while the one before still runs, so it must say whom it waits for.
        host = ("host-a", "host-b")[number % 2]
        runs.append(world.start(key, str(number), log, host=host, sleep=1.5))
        runs[-1].wait_arrival()
    done = [run.finish() for run in runs]
    assert succeeded(done), done
    assert ran(log) == [str(number) for number in range(RUNS)]
    waiting = [stderr for _, stderr in done[1:] if "waiting for" in stderr]
    assert waiting and all(" on host-" in line for line in waiting)  # whom each waited for
    with open_store(world.url) as store:
        mapping = store.get("default", key)
    assert mapping is not None and mapping.turns == RUNS and mapping.host == "host-b"


@pytest.mark.slow
def test_a_waiter_whose_time_runs_out_exits_75_and_leaves_its_place(world: World) -> None:
    key, log = "fair:timeout", world.folder / "timeout.log"
    with open_store(world.url) as store:
        with store.thread_lock("default", key, 0):
            first = world.start(key, "first", log)
            first.wait_arrival()
            impatient = world.start(key, "impatient", log, "--wait-timeout", "1s")
            impatient.wait_arrival()
            started = time.monotonic()
            last = world.start(key, "last", log)
            last.wait_arrival()
            code, stderr = impatient.finish()  # while the thread is still held
            assert (code, "busy" in stderr) == (75, True), stderr
            assert time.monotonic() - started < 3  # its limit was 1 s
            assert first.process.poll() is None and last.process.poll() is None  # still in line
        done = [first.finish(), last.finish()]
    assert succeeded(done), done
    assert ran(log) == ["first", "last"]
